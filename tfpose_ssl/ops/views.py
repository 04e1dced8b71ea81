"""Weak and strong affine views of unlabeled crops, and heatmap alignment between views (Sec. 3.2).

Every view is an affine image of the unlabeled person's base crop (the crop cut from its box,
unaugmented): `view_from_base` matrices `[B, V, 3, 3]` in input pixels relate each view to that
common frame. Views are ordered `[weak_1..weak_W, strong_1..strong_K, (extra loss view)]`.
Weak views are drawn with the labeled crops' augmentation (`augment.TopDownAugment`, flips
included); a mirrored view's heatmaps swap left and right joints when aligned.
Each view is warped from the full image in one interpolation (view_from_base @ base_from_image),
as DualPose does with cv2: warping an already-warped crop blurs it, and a student trained on
single-interpolation crops lost half its PCK on crops shifted by half a pixel (54% -> 16%).
The warps of images (tf.data) and of heatmaps (train step) are the same XLA-compiled function,
`tfpose_ssl.ops.warp.warp_affine`.
"""

import dataclasses
from typing import Tuple

import gin
import tensorflow as tf

from tfpose_ssl.ops import augment as augment_lib
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import warp

LOSS_VIEWS = ("strong", "extra")


@gin.configurable
def one_plus(k):
  """1 + k. Table 6's "(1 + K) weak views" in a config, following K wherever it is set:
  `MultiViewAugment.num_weak = @one_plus()` with `one_plus.k = %K`."""
  return 1 + k


@gin.configurable(denylist=["weak"])
@dataclasses.dataclass(frozen=True)
class MultiViewAugment:
  """Which views each unlabeled crop gets and how they are drawn (paper Sec. 4.2).

  Weak views: the labeled crops' augmentation `weak` (rotation, scale, flip; `training.train`
  passes the same `TopDownAugment` it gives the labeled pipeline, so one setting drives both).
  Strong views: rotation and scale ~ Beta(beta, beta) mapped onto [-strong_rotation,
  strong_rotation] and [strong_scale], not mirrored.

  Attributes:
    num_weak: weak views whose predictions enter the pseudo-heatmap ensemble (paper: 1).
    num_strong: K strong views entering the ensemble.
    loss_view: where the unsupervised loss (Eq. 8) is taken. 'strong': on the first strong
      view, whose gradient pass also provides its ensemble member (no extra forward pass);
      'extra': on one more strong view that is not part of the ensemble (DualPose's setting,
      and required by JointCutout and by ensembles without strong views).
    weak: the weak views' `TopDownAugment`.
  """
  num_weak: int = 1
  num_strong: int = 2
  loss_view: str = "strong"
  strong_rotation: float = 60.0
  strong_scale: Tuple[float, float] = (0.5, 1.5)
  beta: float = 0.75
  weak: augment_lib.TopDownAugment = augment_lib.TopDownAugment()

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
    """Rotations (deg), scales and flips `[B, V]` from the stateless `seed` (shape [2])."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    num_weak, num_strong = self.num_weak, self.num_views - self.num_weak
    weak_s, weak_r, weak_f = self.weak.sample(seeds[0], [batch_size, num_weak])
    beta_seeds = tf.random.experimental.stateless_split(seeds[1], 2)
    strong_r = -self.strong_rotation + 2.0 * self.strong_rotation * _stateless_beta(
        [batch_size, num_strong], self.beta, beta_seeds[0])
    low, high = self.strong_scale
    strong_s = low + (high - low) * _stateless_beta([batch_size, num_strong], self.beta,
                                                    beta_seeds[1])
    strong_f = tf.zeros([batch_size, num_strong], tf.bool)
    return (tf.concat([weak_r, strong_r], axis=1), tf.concat([weak_s, strong_s], axis=1),
            tf.concat([weak_f, strong_f], axis=1))


def _stateless_beta(shape, concentration, seed):
  """Beta(c, c) samples as X / (X + Y) with X, Y ~ Gamma(c)."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  x = tf.random.stateless_gamma(shape, seeds[0], alpha=concentration)
  y = tf.random.stateless_gamma(shape, seeds[1], alpha=concentration)
  return x / (x + y)


def view_matrices(rotations, scales, input_size, flips=None):
  """`view_from_base` matrices `[B, V, 3, 3]`: rotate/zoom about the crop centre, then mirror
  (crop column x -> (w - 1) - x, as `geometry.affine_from_params`) where `flips` is true."""
  height, width = input_size
  center = tf.broadcast_to(tf.constant([width / 2.0, height / 2.0]),
                           tf.concat([tf.shape(rotations), [2]], 0))
  matrices = geometry.rotate_scale_about(center, rotations, scales)
  if flips is None:
    return matrices
  mirror = tf.constant([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
  return tf.where(tf.convert_to_tensor(flips)[..., None, None], tf.matmul(mirror, matrices),
                  matrices)


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


def padded_frame(heatmap_size):
  """(top, left, h, w) of the loss view's heatmap frame inside the ensemble frame, and the
  ensemble frame's size: the loss view's frame grown by half its size on every side.

  Views zoom in by up to 2x (strong scale 0.5), so a joint the other views see can lie up to
  half a frame beyond the loss view's border; the Gaussian tail of one farther out no longer
  reaches into the loss view.
  """
  height, width = heatmap_size
  top, left = height // 2, width // 2
  return (top, left, height, width), (height + 2 * top, width + 2 * left)


@tf.function(jit_compile=True)
def align_heatmaps(heatmaps, source_from_base, target_from_base, stride, output_size=None,
                   offset=(0, 0), flip_permutation=kp.FLIP_PERMUTATION):
  """Warps heatmaps predicted on views into one target view's frame, XLA-compiled.

  Args:
    heatmaps: `[N, B, h, w, J]`, predictions on N views.
    source_from_base: `[B, N, 3, 3]` view matrices (input pixels) of those views.
    target_from_base: `[B, 3, 3]` matrix of the frame to align to (the loss view).
    stride: input pixels per heatmap pixel.
    output_size: (H, W) of the output frame (default (h, w)).
    offset: (top, left): heatmap pixel (0, 0) of the target view lands at (left, top) of the
      output, so a larger output frame holds the target view with a margin around it.
    flip_permutation: the keypoint schema's left/right joint permutation (a tuple).
  Returns:
    `[N, B, H, W, J]`, zero where a view did not see the output frame's pixel. Where a view is
    mirrored relative to the target, left and right joints are swapped.
  """
  if heatmaps.shape[-1] != len(flip_permutation):
    raise ValueError(f"align_heatmaps swaps left and right joints of mirrored views: its flip "
                     f"permutation has {len(flip_permutation)} joints, the heatmaps "
                     f"{heatmaps.shape[-1]} channels")
  shape = tf.shape(heatmaps)
  n, batch = shape[0], shape[1]
  out_h, out_w = output_size or (heatmaps.shape[2], heatmaps.shape[3])
  top, left = offset
  to_heatmap = tf.constant([[1.0 / stride, 0.0, float(left)], [0.0, 1.0 / stride, float(top)],
                            [0.0, 0.0, 1.0]])
  to_input = geometry.scaling(float(stride))
  target_from_source = tf.einsum(
      "ij,bjk,bnkl,lm->nbim", to_heatmap, target_from_base,
      geometry.invert_affine(source_from_base), to_input)
  flat = tf.reshape(heatmaps, tf.concat([[n * batch], shape[2:]], 0))
  warped = warp.warp_affine(flat, tf.reshape(target_from_source, [-1, 3, 3]), (out_h, out_w))
  warped = tf.reshape(warped, tf.stack([n, batch, out_h, out_w, shape[4]]))
  linear = target_from_source[..., :2, :2]
  mirrored = linear[..., 0, 0] * linear[..., 1, 1] - linear[..., 0, 1] * linear[..., 1, 0] < 0.0
  swapped = tf.gather(warped, flip_permutation, axis=-1)
  return tf.where(mirrored[:, :, None, None, None], swapped, warped)
