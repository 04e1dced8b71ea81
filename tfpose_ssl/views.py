"""Weak and strong affine views of unlabeled crops, and heatmap alignment between views (Sec. 3.2).

Every view is an affine image of the unlabeled person's base crop (the crop cut from its box,
unaugmented): `view_from_base` matrices `[B, V, 3, 3]` in input pixels relate each view to that
common frame. Views are ordered `[weak_1..weak_W, strong_1..strong_K, (extra loss view)]`.
Each view is warped from the full image in one interpolation (view_from_base @ base_from_image),
as DualPose does with cv2: warping an already-warped crop blurs it, and a student trained on
single-interpolation crops lost half its PCK on crops shifted by half a pixel (54% -> 16%).
The warps of images (tf.data) and of heatmaps (train step) are the same XLA-compiled function,
`tfpose_ssl.warp.warp_affine`.
"""

import dataclasses
from typing import Tuple

import gin
import tensorflow as tf

from tfpose_ssl import geometry
from tfpose_ssl import warp

LOSS_VIEWS = ("strong", "extra")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class MultiViewAugment:
  """Which views each unlabeled crop gets and how they are drawn (paper Sec. 4.2).

  Weak views: rotation ~ U[-weak_rotation, weak_rotation] deg, scale ~ U[weak_scale].
  Strong views: rotation and scale ~ Beta(beta, beta) mapped onto [-strong_rotation,
  strong_rotation] and [strong_scale].

  Attributes:
    num_weak: weak views whose predictions enter the pseudo-heatmap ensemble (paper: 1).
    num_strong: K strong views entering the ensemble.
    loss_view: where the unsupervised loss (Eq. 8) is taken. 'strong': on the first strong
      view, whose gradient pass also provides its ensemble member (no extra forward pass);
      'extra': on one more strong view that is not part of the ensemble (DualPose's setting,
      and required by JointCutout and by ensembles without strong views).
  """
  num_weak: int = 1
  num_strong: int = 2
  loss_view: str = "strong"
  weak_rotation: float = 30.0
  weak_scale: Tuple[float, float] = (0.75, 1.25)
  strong_rotation: float = 60.0
  strong_scale: Tuple[float, float] = (0.5, 1.5)
  beta: float = 0.75

  def __post_init__(self):
    if self.loss_view not in LOSS_VIEWS:
      raise ValueError(f"loss_view must be one of {LOSS_VIEWS}, got {self.loss_view!r}")
    if self.loss_view == "strong" and self.num_strong < 1:
      raise ValueError("loss_view='strong' needs num_strong >= 1; use loss_view='extra'")
    if self.num_weak + self.num_strong < 1:
      raise ValueError("the ensemble needs at least one view")

  @property
  def num_targets(self):
    """Views whose predictions make the pseudo-heatmaps."""
    return self.num_weak + self.num_strong

  @property
  def num_views(self):
    return self.num_targets + (1 if self.loss_view == "extra" else 0)

  @property
  def loss_index(self):
    return self.num_targets if self.loss_view == "extra" else self.num_weak

  @property
  def loss_view_in_ensemble(self):
    return self.loss_view == "strong"

  def sample(self, seed, batch_size):
    """Rotations (deg) and scales `[B, V]` from the stateless `seed` (shape [2])."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    num_weak, num_strong = self.num_weak, self.num_views - self.num_weak
    weak_r = tf.random.stateless_uniform([batch_size, num_weak], seeds[0], -self.weak_rotation,
                                         self.weak_rotation)
    weak_s = tf.random.stateless_uniform([batch_size, num_weak], seeds[1], self.weak_scale[0],
                                         self.weak_scale[1])
    strong_r = -self.strong_rotation + 2.0 * self.strong_rotation * _stateless_beta(
        [batch_size, num_strong], self.beta, seeds[2])
    low, high = self.strong_scale
    strong_s = low + (high - low) * _stateless_beta([batch_size, num_strong], self.beta, seeds[3])
    return tf.concat([weak_r, strong_r], axis=1), tf.concat([weak_s, strong_s], axis=1)


def _stateless_beta(shape, concentration, seed):
  """Beta(c, c) samples as X / (X + Y) with X, Y ~ Gamma(c)."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  x = tf.random.stateless_gamma(shape, seeds[0], alpha=concentration)
  y = tf.random.stateless_gamma(shape, seeds[1], alpha=concentration)
  return x / (x + y)


def view_matrices(rotations, scales, input_size):
  """`view_from_base` matrices `[B, V, 3, 3]`: rotate/zoom about the crop centre."""
  height, width = input_size
  center = tf.broadcast_to(tf.constant([width / 2.0, height / 2.0]),
                           tf.concat([tf.shape(rotations), [2]], 0))
  return geometry.rotate_scale_about(center, rotations, scales)


@tf.function(jit_compile=True)
def make_views(images, view_from_base, base_from_image, output_size):
  """Views `[B, V, h, w, C]` (float32) of the people in `images`, XLA-compiled.

  Args:
    images: `[B, H, W, C]` (uint8 or float): the full images (padded to one canvas size), or
      the base crops themselves with `base_from_image` the identity.
    view_from_base: `[B, V, 3, 3]`.
    base_from_image: `[B, 3, 3]`: each person's crop matrix.
    output_size: (h, w).
  """
  matrices = tf.matmul(view_from_base, base_from_image[:, None])
  return warp.warp_affine(images, matrices, output_size)


@tf.function(jit_compile=True)
def align_heatmaps(heatmaps, source_from_base, target_from_base, stride):
  """Warps heatmaps predicted on views into one target view's frame, XLA-compiled.

  Args:
    heatmaps: `[N, B, h, w, J]`, predictions on N views.
    source_from_base: `[B, N, 3, 3]` view matrices (input pixels) of those views.
    target_from_base: `[B, 3, 3]` matrix of the frame to align to (the loss view).
    stride: input pixels per heatmap pixel.
  Returns:
    `[N, B, h, w, J]`, zero where a view did not see the target frame's pixel.
  """
  shape = tf.shape(heatmaps)
  n, batch = shape[0], shape[1]
  to_heatmap = geometry.scaling(1.0 / stride)
  to_input = geometry.scaling(float(stride))
  target_from_source = tf.einsum(
      "ij,bjk,bnkl,lm->nbim", to_heatmap, target_from_base,
      geometry.invert_affine(source_from_base), to_input)
  flat = tf.reshape(heatmaps, tf.concat([[n * batch], shape[2:]], 0))
  warped = warp.warp_affine(flat, tf.reshape(target_from_source, [-1, 3, 3]),
                            (heatmaps.shape[2], heatmaps.shape[3]))
  return tf.reshape(warped, shape)
