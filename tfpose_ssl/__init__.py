"""tfpose_ssl: semi-supervised top-down human pose estimation in TensorFlow/Keras."""

from tfpose_ssl import runtime as _runtime

# Before TensorFlow loads: its oneDNN kernels on every x86 CPU (see runtime.py).
_runtime.configure()
