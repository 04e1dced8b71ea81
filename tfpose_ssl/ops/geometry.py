"""Affine geometry of top-down crops, as 3x3 matrices acting on pixel coordinates.

Convention: pixel (column x, row y) has its centre at integer coordinates (as cv2.warpAffine
and SimpleBaseline). A matrix `dst_from_src` maps a point in the source frame to the
destination frame; keypoints are moved with `apply_affine`, pixels with
`tfpose_ssl.ops.warp.warp_affine`, both taking the same matrix, so they always move together.
All functions are batched over leading dimensions and run in graph mode and under XLA.
"""

import math

import tensorflow as tf


def box_to_center_scale(boxes, aspect_ratio, padding=1.25):
  """COCO boxes `[..., 4]` (x, y, w, h) -> centers `[..., 2]`, scales `[..., 2]` in pixels.

  The box is grown to the model's aspect ratio (width / height) and padded by `padding`,
  as SimpleBaseline's `_xywh2cs` (without its 200-pixel unit). Graph-mode (the exported
  image-level signature uses it); NumPy inputs are accepted.
  """
  boxes = tf.convert_to_tensor(boxes, tf.float32)
  x, y, w, h = tf.unstack(boxes, num=4, axis=-1)
  center = tf.stack([x + 0.5 * w, y + 0.5 * h], axis=-1)
  wider = w > aspect_ratio * h
  w2 = tf.where(wider, w, h * aspect_ratio)
  h2 = tf.where(wider, w / aspect_ratio, h)
  return center, tf.stack([w2, h2], axis=-1) * padding


def _as_float(x):
  return tf.convert_to_tensor(x, dtype=tf.float32)


def affine_from_params(center, scale, rotation, output_size, flip=None):
  """Matrix `[..., 3, 3]` taking image pixels to crop pixels.

  The crop is the region of width `scale[..., 0]` centred at `center` `[..., 2]`, rotated by
  `rotation` degrees (counter-clockwise as seen on screen), resized to `output_size` (h, w).
  With `flip` true the crop is mirrored exactly: crop column x -> (w - 1) - x.
  """
  center, scale, rotation = _as_float(center), _as_float(scale), _as_float(rotation)
  out_h, out_w = output_size
  s = out_w / scale[..., 0]
  theta = rotation * (math.pi / 180.0)
  cos, sin = tf.cos(theta), tf.sin(theta)
  # Rotating content counter-clockwise on screen (y down) is the matrix [[c, s], [-s, c]].
  a, b = s * cos, s * sin
  c, d = -s * sin, s * cos
  tx = out_w / 2.0 - (a * center[..., 0] + b * center[..., 1])
  ty = out_h / 2.0 - (c * center[..., 0] + d * center[..., 1])
  if flip is not None:
    sign = tf.where(tf.cast(flip, tf.bool), -1.0, 1.0)
    a, b = sign * a, sign * b
    tx = tf.where(tf.cast(flip, tf.bool), (out_w - 1.0) - tx, tx)
  zeros, ones = tf.zeros_like(a), tf.ones_like(a)
  rows = [tf.stack([a, b, tx], -1), tf.stack([c, d, ty], -1), tf.stack([zeros, zeros, ones], -1)]
  return tf.stack(rows, axis=-2)


def rotate_scale_about(center, rotation, scale):
  """Matrix `[..., 3, 3]` rotating by `rotation` degrees and zooming by 1/`scale` about `center`.

  This is how a view is made from a crop: `scale` > 1 shows a larger region (the person looks
  smaller), as the scale factor of SimpleBaseline's augmentation.
  """
  center, rotation, scale = _as_float(center), _as_float(rotation), _as_float(scale)
  theta = rotation * (math.pi / 180.0)
  s = 1.0 / scale
  a, b = s * tf.cos(theta), s * tf.sin(theta)
  c, d = -b, a
  tx = center[..., 0] - (a * center[..., 0] + b * center[..., 1])
  ty = center[..., 1] - (c * center[..., 0] + d * center[..., 1])
  zeros, ones = tf.zeros_like(a), tf.ones_like(a)
  rows = [tf.stack([a, b, tx], -1), tf.stack([c, d, ty], -1), tf.stack([zeros, zeros, ones], -1)]
  return tf.stack(rows, axis=-2)


def scaling(factor):
  """Matrix `[3, 3]` scaling pixel coordinates by `factor` (e.g. 1/stride: input -> heatmap)."""
  return tf.constant([[factor, 0.0, 0.0], [0.0, factor, 0.0], [0.0, 0.0, 1.0]], tf.float32)


def invert_affine(matrix):
  """Closed-form inverse of affine matrices `[..., 3, 3]` (XLA-friendly, no MatrixInverse)."""
  matrix = _as_float(matrix)
  a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
  c, d, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
  det = a * d - b * c
  ia, ib = d / det, -b / det
  ic, id_ = -c / det, a / det
  itx = -(ia * tx + ib * ty)
  ity = -(ic * tx + id_ * ty)
  zeros, ones = tf.zeros_like(a), tf.ones_like(a)
  rows = [tf.stack([ia, ib, itx], -1), tf.stack([ic, id_, ity], -1),
          tf.stack([zeros, zeros, ones], -1)]
  return tf.stack(rows, axis=-2)


def apply_affine(points, matrix):
  """Moves points `[..., N, 2]` by matrices `[..., 3, 3]` (broadcast over leading dims)."""
  points, matrix = _as_float(points), _as_float(matrix)
  linear = matrix[..., :2, :2]
  offset = matrix[..., :2, 2]
  return tf.einsum("...ij,...nj->...ni", linear, points) + offset[..., None, :]
