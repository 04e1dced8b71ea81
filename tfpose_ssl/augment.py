"""The labeled-crop augmentation, which is also the weak view of unlabeled crops.

One `TopDownAugment` drives both (`train.train` hands the same object to the labeled pipeline
and to the multi-view augmentation): the paper keeps its weak augmentation "the same as
DualPose" (Sec. 4.2, footnote 1), and DualPose's code draws the unlabeled image's weak view
with the labeled crops' own augmentation, flip included
(xierc/Semi_Human_Pose, lib/dataset/mix_coco_coco.py). A student whose labeled crops were
augmented more mildly than its teacher views would be asked for targets on views it was never
trained on.
"""

import dataclasses

import gin
import tensorflow as tf


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TopDownAugment:
  """SimpleBaseline/HRNet training augmentation (also DualPose's weak view).

  scale ~ clip(N(1, scale_factor), 1 -/+ scale_factor) (> 1 shows a larger region: the
  person looks smaller); rotation ~ clip(N(0, rotation_factor), -/+ 2 rotation_factor) deg
  with probability `rotation_prob`, else 0; horizontal flip with probability `flip_prob`.
  Defaults: DualPose's COCO configs (ROT_FACTOR 30, SCALE_FACTOR 0.25, FLIP), as the paper.
  """
  scale_factor: float = 0.25
  rotation_factor: float = 30.0
  rotation_prob: float = 0.6
  flip_prob: float = 0.5

  def sample(self, seed, shape=()):
    """(scales, rotations in degrees, flips) of `shape` from the stateless `seed` `[2]`."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    scale = tf.clip_by_value(
        1.0 + self.scale_factor * tf.random.stateless_normal(shape, seeds[0]),
        1.0 - self.scale_factor, 1.0 + self.scale_factor)
    rotation = tf.clip_by_value(
        self.rotation_factor * tf.random.stateless_normal(shape, seeds[1]),
        -2.0 * self.rotation_factor, 2.0 * self.rotation_factor)
    rotation = tf.where(tf.random.stateless_uniform(shape, seeds[2]) < self.rotation_prob,
                        rotation, 0.0)
    flip = tf.random.stateless_uniform(shape, seeds[3]) < self.flip_prob
    return scale, rotation, flip
