"""The keypoint codec: keypoints <-> Gaussian heatmaps at stride 4 (MSRA / SimpleBaseline).

One object holds input size, heatmap size, stride and sigma; the data pipeline encodes targets
with it, the loss reads its weights, evaluation and export decode with it.
"""

import tensorflow as tf


def gaussian_heatmaps(centers, height, width, sigma):
  """Unnormalized Gaussians `exp(-((x - cx)^2 + (y - cy)^2) / (2 sigma^2))`.

  Args:
    centers: `[..., J, 2]` (x, y) in heatmap pixels.
    height, width: heatmap size.
    sigma: Gaussian sigma in heatmap pixels.
  Returns:
    `[..., height, width, J]` float32 (channels-last).
  """
  centers = tf.convert_to_tensor(centers, tf.float32)
  xs = tf.range(width, dtype=tf.float32)
  ys = tf.range(height, dtype=tf.float32)
  cx = centers[..., None, None, :, 0]  # [..., 1, 1, J]
  cy = centers[..., None, None, :, 1]
  dx2 = tf.square(xs[:, None] - cx)  # [..., 1, w, J]
  dy2 = tf.square(ys[:, None, None] - cy)  # [..., h, 1, J]
  return tf.exp(-(dx2 + dy2) / (2.0 * sigma * sigma))


# The target Gaussian's sigma in heatmap pixels (SimpleBaseline's 2 at 256x192): the codec's
# default, also the default of the pseudo-targets' refinement (pseudo_heatmaps.py).
SIGMA = 2.0


class KeypointCodec:
  """MSRA heatmap codec (Xiao et al. 2018), channels-last.

  `encode` puts an unnormalized Gaussian at the integer heatmap pixel nearest to each joint;
  a joint gets target weight 0 when it is unlabeled (v = 0) or its 3-sigma window misses the
  heatmap (SimpleBaseline's rule). `decode` takes the arg-max and shifts it a quarter pixel
  toward the higher neighbour; keypoints come back in input (crop) pixels.
  """

  def __init__(self, input_size=(256, 192), stride=4, sigma=SIGMA):
    self.input_size = tuple(int(v) for v in input_size)
    self.stride = int(stride)
    if self.input_size[0] % self.stride or self.input_size[1] % self.stride:
      raise ValueError(f"input_size {self.input_size} is not divisible by stride {stride}")
    self.heatmap_size = (self.input_size[0] // self.stride, self.input_size[1] // self.stride)
    self.sigma = float(sigma)

  @property
  def aspect_ratio(self):
    """Width / height of the model input."""
    return self.input_size[1] / self.input_size[0]

  def encode(self, keypoints):
    """Keypoints `[..., J, 3]` (x, y, v) in input pixels -> (heatmaps `[..., h, w, J]`, weights `[..., J]`)."""
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    h, w = self.heatmap_size
    mu = tf.floor(keypoints[..., :2] / self.stride + 0.5)
    radius = 3.0 * self.sigma
    ul = tf.floor(mu - radius)
    br = tf.floor(mu + radius + 1.0)
    misses = ((ul[..., 0] >= w) | (ul[..., 1] >= h) | (br[..., 0] < 0) | (br[..., 1] < 0))
    labeled = keypoints[..., 2] > 0
    weights = tf.cast(labeled & ~misses, tf.float32)
    heatmaps = gaussian_heatmaps(mu, h, w, self.sigma) * weights[..., None, None, :]
    return heatmaps, weights

  def decode(self, heatmaps):
    """Heatmaps `[B, h, w, J]` -> (keypoints `[B, J, 2]` in input pixels, scores `[B, J]`).

    Scores are the heatmap maxima; joints whose maximum is not positive decode to (0, 0).
    """
    heatmaps = tf.convert_to_tensor(heatmaps, tf.float32)
    shape = tf.shape(heatmaps)
    batch, h, w, joints = shape[0], shape[1], shape[2], shape[3]
    flat = tf.reshape(tf.transpose(heatmaps, [0, 3, 1, 2]), [batch, joints, h * w])
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)
    scores = tf.reduce_max(flat, axis=-1)
    px, py = index % w, index // w

    def at(x, y):
      x = tf.clip_by_value(x, 0, w - 1)
      y = tf.clip_by_value(y, 0, h - 1)
      return tf.gather(flat, y * w + x, batch_dims=2)

    dx = at(px + 1, py) - at(px - 1, py)
    dy = at(px, py + 1) - at(px, py - 1)
    interior_x = tf.cast((px > 0) & (px < w - 1), tf.float32)
    interior_y = tf.cast((py > 0) & (py < h - 1), tf.float32)
    x = tf.cast(px, tf.float32) + 0.25 * tf.sign(dx) * interior_x
    y = tf.cast(py, tf.float32) + 0.25 * tf.sign(dy) * interior_y
    coords = tf.stack([x, y], axis=-1) * float(self.stride)
    coords = coords * tf.cast(scores > 0, tf.float32)[..., None]
    return coords, scores
