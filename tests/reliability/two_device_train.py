"""The training binary with 2 logical CPU devices (MirroredStrategy over both), for comparing a
single process with 2 workers of one device each. Logical devices must be configured before
TensorFlow initializes, hence a separate entry point."""

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from absl import app  # pylint: disable=g-import-not-at-top,wrong-import-position

from tfpose_ssl import train  # pylint: disable=g-import-not-at-top,wrong-import-position

if __name__ == "__main__":
  train.define_flags()
  app.run(train.main)
