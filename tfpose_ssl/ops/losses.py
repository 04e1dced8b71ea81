"""Heatmap losses: the supervised loss (Eq. 1) and the unsupervised loss (Eq. 8) share it."""

import tensorflow as tf


def heatmap_mse(predictions, targets, weights):
  """Per-example weighted heatmap MSE (SimpleBaseline's JointsMSELoss), Eq. 1 / Eq. 8.

  `0.5 * mean_{h, w, j} (w_j * (p - t))^2` for predictions/targets `[B, h, w, J]` and joint
  weights `[B, J]`; weight-0 joints contribute nothing. Returns `[B]`; callers average over
  the global batch (so replicas sum to the single-device value).
  """
  predictions = tf.cast(predictions, tf.float32)
  diff = (predictions - targets) * weights[:, None, None, :]
  return 0.5 * tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])
