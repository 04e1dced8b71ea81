"""tfpose_ssl: semi-supervised top-down human pose estimation in TensorFlow/Keras."""
