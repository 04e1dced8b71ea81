"""The one affine warp of the project: bilinear, batched, XLA-compilable.

Serves image crops (tf.data), the weak/strong views of unlabeled crops (all views of an image
in one call), and the alignment of heatmaps between views. The core
`ImageProjectiveTransformV3` op has no XLA kernel (TF 2.21, measured), so sampling is
written with `tf.gather(..., batch_dims=1)`.
"""

import tensorflow as tf

from tfpose_ssl.ops import geometry


def warp_affine(images, dst_from_src, output_size):
  """Warps `images` `[B, H, W, C]` by affine matrices into float32 outputs of `output_size`.

  `dst_from_src` is `[B, 3, 3]` (one warp per image -> `[B, h, w, C]`) or `[B, V, 3, 3]`
  (V warps of each image -> `[B, V, h, w, C]`, without copying the image V times). Output
  pixel (x, y) is the bilinear sample of the source at `inv(dst_from_src) @ (x, y, 1)`; taps
  outside the source contribute zero (constant zero fill, as cv2.warpAffine's default).
  `images` may be uint8 or float.
  """
  images = tf.convert_to_tensor(images)
  dst_from_src = tf.convert_to_tensor(dst_from_src, tf.float32)
  several = dst_from_src.shape.rank == 4
  matrices = dst_from_src if several else dst_from_src[:, None]
  shape = tf.shape(images)
  batch, height, width = shape[0], shape[1], shape[2]
  num_views = tf.shape(matrices)[1]
  channels = images.shape[-1]
  out_h, out_w = output_size
  src_from_dst = geometry.invert_affine(matrices)  # [B, V, 3, 3]

  ys, xs = tf.meshgrid(tf.range(out_h, dtype=tf.float32), tf.range(out_w, dtype=tf.float32),
                       indexing="ij")
  grid = tf.reshape(tf.stack([xs, ys], axis=-1), [1, 1, out_h * out_w, 2])
  grid = tf.broadcast_to(grid, tf.stack([batch, num_views, out_h * out_w, 2]))
  src = geometry.apply_affine(grid, src_from_dst)  # [B, V, hw, 2]
  src = tf.reshape(src, [batch, -1, 2])
  sx, sy = src[..., 0], src[..., 1]
  x0, y0 = tf.floor(sx), tf.floor(sy)
  fx, fy = sx - x0, sy - y0

  flat = tf.reshape(images, [batch, -1, channels])
  w_f, h_f = tf.cast(width, tf.float32), tf.cast(height, tf.float32)

  def tap(x, y, weight):
    inside = (x >= 0.0) & (x <= w_f - 1.0) & (y >= 0.0) & (y <= h_f - 1.0)
    xi = tf.cast(tf.clip_by_value(x, 0.0, w_f - 1.0), tf.int32)
    yi = tf.cast(tf.clip_by_value(y, 0.0, h_f - 1.0), tf.int32)
    values = tf.cast(tf.gather(flat, yi * width + xi, batch_dims=1), tf.float32)
    return values * (weight * tf.cast(inside, tf.float32))[..., None]

  out = (tap(x0, y0, (1.0 - fx) * (1.0 - fy)) + tap(x0 + 1.0, y0, fx * (1.0 - fy)) +
         tap(x0, y0 + 1.0, (1.0 - fx) * fy) + tap(x0 + 1.0, y0 + 1.0, fx * fy))
  out = tf.reshape(out, tf.stack([batch, num_views, out_h, out_w, channels]))
  return out if several else out[:, 0]
