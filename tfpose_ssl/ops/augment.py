"""The labeled-crop augmentation, which is also the weak view of unlabeled crops.

One `TopDownAugment` drives both (`training.train` hands the same object to the labeled pipeline
and to the multi-view augmentation): the paper keeps its weak augmentation "the same as
DualPose" (Sec. 4.2, footnote 1), and DualPose's code draws the unlabeled image's weak view
with the labeled crops' own augmentation, flip included
(xierc/Semi_Human_Pose, lib/dataset/mix_coco_coco.py). A student whose labeled crops were
augmented more mildly than its teacher views would be asked for targets on views it was never
trained on.
"""

import dataclasses

import gin
import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import keypoints as kp


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TopDownAugment:
  """SimpleBaseline/HRNet training augmentation (also DualPose's weak view).

  scale ~ clip(N(1, scale_factor), 1 -/+ scale_factor) (> 1 shows a larger region: the
  person looks smaller); rotation ~ clip(N(0, rotation_factor), -/+ 2 rotation_factor) deg
  with probability `rotation_prob`, else 0; horizontal flip with probability `flip_prob`.
  Defaults: DualPose's COCO configs (ROT_FACTOR 30, SCALE_FACTOR 0.25, FLIP), as the paper.
  Labeled crops may first be re-centred on half the body (`half_body`; SimpleBaseline/HRNet
  COCO: probability 0.3, more than 8 joints; configs/base.gin sets it for COCO).
  """
  scale_factor: float = 0.25
  rotation_factor: float = 30.0
  rotation_prob: float = 0.6
  flip_prob: float = 0.5
  half_body_prob: float = 0.0
  half_body_min_joints: int = 8
  half_body_padding: float = 1.5

  def half_body(self, keypoints, aspect_ratio, seed, upper_body=kp.COCO_PERSON.upper_body):
    """HRNet's `half_body_transform` for one person `[J, 3]`: (applied, center `[2]`, scale
    `[2]` in pixels), the region that replaces the person's box when `applied`.

    Applied with probability `half_body_prob` to people with more than `half_body_min_joints`
    labeled joints: the upper body (the joints `upper_body`, the keypoint schema's; COCO's
    0-10 by default) when a standard normal draw is below 0.5
    and it has more than 2 labeled joints, else the lower body when it has more than 2, else
    the upper; not applied when the chosen half has fewer than 2. The region is centred on the
    mean of the chosen labeled joints and spans their extent grown to `aspect_ratio`
    (width / height) and by `half_body_padding` (not applied when they all coincide). Only
    labeled crops get it: unlabeled people have no labels to choose a half from (as in
    DualPose's code). `seed`: stateless `[2]`.
    """
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    labeled = keypoints[:, 2] > 0
    upper = tf.constant(np.isin(np.arange(keypoints.shape[0]), upper_body))
    count = lambda mask: tf.reduce_sum(tf.cast(mask, tf.int32))
    seeds = tf.random.experimental.stateless_split(seed, 2)
    take_upper = ((tf.random.stateless_normal([], seeds[0]) < 0.5) &
                  (count(labeled & upper) > 2)) | (count(labeled & ~upper) <= 2)
    chosen = labeled & tf.where(take_upper, upper, ~upper)
    applied = ((count(labeled) > self.half_body_min_joints) &
               (tf.random.stateless_uniform([], seeds[1]) < self.half_body_prob) &
               (count(chosen) >= 2))
    xy = keypoints[:, :2]
    mask = chosen[:, None]
    center = tf.reduce_sum(tf.where(mask, xy, 0.0), 0) / tf.maximum(
        tf.cast(count(chosen), tf.float32), 1.0)
    extent = (tf.reduce_max(tf.where(mask, xy, -1e9), 0) -
              tf.reduce_min(tf.where(mask, xy, 1e9), 0))
    applied &= tf.reduce_max(extent) > 0.0  # joints on one point: no region to crop
    w, h = extent[0], extent[1]
    wider = w > aspect_ratio * h
    scale = tf.stack([tf.where(wider, w, h * aspect_ratio),
                      tf.where(wider, w / aspect_ratio, h)]) * self.half_body_padding
    return applied, center, scale

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
