"""Pseudo-heatmap math of the paper (Sec. 3.2-3.3): ensemble, uncertainty, threshold-and-refine,
cross-student selection. Channels-last; `views` is `[V, B, H, W, J]`, V views already aligned
to one frame. Every function runs eagerly, inside `tf.function` and under `jit_compile=True`
with identical results.
"""

import tensorflow as tf

from tfpose_ssl.ops import codec as codec_lib

AGGREGATES = ("max", "mean")


def ensemble(views, mode="max"):
  """Eq. 4: per-pixel maximum over the V views -> `[B, H, W, J]`; `mode="mean"` averages.

  The mean is the paper's Table 6 "avg" aggregate.
  """
  views = tf.convert_to_tensor(views, tf.float32)
  if mode == "max":
    return tf.reduce_max(views, axis=0)
  if mode == "mean":
    return tf.reduce_mean(views, axis=0)
  raise ValueError(f"unknown ensemble mode {mode!r}; expected one of {AGGREGATES}")


def uncertainty(views):
  """Eq. 6: per joint, the maximum over pixels of the pixel-wise population std over views.

  `[V, B, H, W, J]` -> `[B, J]`. With a single view the uncertainty is 0.
  """
  views = tf.convert_to_tensor(views, tf.float32)
  mean = tf.reduce_mean(views, axis=0)
  std = tf.sqrt(tf.reduce_mean(tf.square(views - mean[None]), axis=0))
  return tf.reduce_max(std, axis=[1, 2])


def first_argmax(heatmaps):
  """(x, y) `[B, J, 2]` of each joint's maximum; ties go to the first in row-major order."""
  heatmaps = tf.convert_to_tensor(heatmaps, tf.float32)
  shape = tf.shape(heatmaps)
  batch, height, width, joints = shape[0], shape[1], shape[2], shape[3]
  flat = tf.reshape(tf.transpose(heatmaps, [0, 3, 1, 2]), [batch, joints, height * width])
  peak = tf.reduce_max(flat, axis=-1, keepdims=True)
  positions = tf.range(height * width, dtype=tf.int32)
  index = tf.reduce_min(tf.where(flat >= peak, positions, height * width), axis=-1)
  return tf.cast(tf.stack([index % width, index // width], axis=-1), tf.float32)


def threshold_and_refine(heatmaps, threshold=0.1, sigma=codec_lib.SIGMA, refine=True,
                         frame=None):
  """Sec. 3.2 threshold-and-refine: `[B, H, W, J]` -> (targets `[B, h, w, J]`, weights `[B, J]`).

  `heatmaps` may cover more than the frame the targets are for: `frame` = (top, left, h, w)
  is that frame inside them (None: all of `heatmaps`). Ensembling in a frame that holds every
  view lets a joint outside the loss view keep its peak outside, instead of leaving the border
  pixel of its Gaussian's tail as the loss view's maximum.

  `weights` is 1 where a joint's maximum response is strictly above `threshold` (every joint
  when `threshold` is None: no thresholding, as DualPose). With `refine` the target is the
  unnormalized Gaussian of `sigma` centred at the integer pixel of the maximum (first maximum
  in row-major order on ties), and a joint whose maximum lies outside `frame` gets weight 0:
  its location is known not to be in the frame, which a Gaussian cut at the border would
  contradict. Without `refine` the target is the heatmap itself cropped to `frame` (a tail
  at the border, or zeros, as the codec's targets and DualPose's warped heatmaps). Targets are
  zero where the weight is 0, so such joints contribute nothing to the unsupervised loss.
  """
  heatmaps = tf.convert_to_tensor(heatmaps, tf.float32)
  shape = tf.shape(heatmaps)
  top, left, height, width = frame if frame is not None else (0, 0, shape[1], shape[2])
  peak = tf.reduce_max(heatmaps, axis=[1, 2])
  if threshold is None:
    weights = tf.ones_like(peak)
  else:
    weights = tf.cast(peak > threshold, tf.float32)
  if refine:
    xy = first_argmax(heatmaps) - tf.cast(tf.stack([left, top]), tf.float32)
    inside = ((xy[..., 0] >= 0.0) & (xy[..., 0] <= tf.cast(width, tf.float32) - 1.0) &
              (xy[..., 1] >= 0.0) & (xy[..., 1] <= tf.cast(height, tf.float32) - 1.0))
    weights *= tf.cast(inside, tf.float32)
    targets = codec_lib.gaussian_heatmaps(xy, height, width, sigma)
  else:
    targets = heatmaps[:, top:top + height, left:left + width]
  return targets * weights[:, None, None, :], weights


# Eq. 7's selection margin Delta (the paper's 0.05).
MARGIN = 0.05


def select(own, other, u_own, u_other, margin=MARGIN):
  """Eq. 7, cross-student selection: per joint, a student keeps its own pseudo-heatmap where it
  is more certain than the other student by the margin, `u_own + margin < u_other`, and takes
  the other student's otherwise (equal uncertainties take the other's).

  One decision per joint selects the target and its weight, and is returned as well, so that
  statistics of the selection count what it did.

  Args:
    own: the student's (targets `[B, H, W, J]`, weights `[B, J]`).
    other: the other student's (targets, weights), the same shapes.
    u_own, u_other: their uncertainties `[B, J]` (Eq. 6).
    margin: Delta.

  Returns:
    ((targets, weights) selected joint by joint, `kept` `[B, J]`: True where the own was kept).
  """
  kept = tf.convert_to_tensor(u_own, tf.float32) + margin < tf.convert_to_tensor(
      u_other, tf.float32)
  (own_targets, own_weights), (other_targets, other_weights) = own, other
  targets = tf.where(kept[:, None, None, :], own_targets, other_targets)
  return (targets, tf.where(kept, own_weights, other_weights)), kept
