"""Half-body augmentation (HRNet's `half_body_transform`) on hand-made people."""

import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import augment as augment_lib


def person(labeled):
  """`[17, 3]`: joint j at (10 + 5 j, 20 + 7 j), labeled (v = 2) where j is in `labeled`."""
  keypoints = np.zeros((17, 3), np.float32)
  for j in range(17):
    keypoints[j] = [10 + 5 * j, 20 + 7 * j, 2.0 if j in labeled else 0.0]
  return keypoints


def expected_region(keypoints, joints, aspect_ratio, padding=1.5):
  """NumPy reference: HRNet's centre and scale (in pixels) of the chosen `joints`."""
  xy = keypoints[joints, :2]
  w, h = xy.max(0) - xy.min(0)
  if w > aspect_ratio * h:
    h = w / aspect_ratio
  elif w < aspect_ratio * h:
    w = h * aspect_ratio
  return xy.mean(0), np.array([w, h]) * padding


class HalfBodyTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.augment = augment_lib.TopDownAugment(half_body_prob=1.0)
    self.seeds = [tf.constant([3, i], tf.int64) for i in range(20)]

  def test_only_the_upper_half_is_labeled_enough(self):
    # 9 upper-body joints and 2 lower-body ones: always the upper half (lower has <= 2).
    labeled = [0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14]
    keypoints = person(labeled)
    center, scale = expected_region(keypoints, [0, 1, 2, 3, 4, 5, 6, 7, 8], 0.75)
    for seed in self.seeds:
      applied, c, s = self.augment.half_body(keypoints, 0.75, seed)
      self.assertTrue(bool(applied))
      self.assertAllClose(c, center)
      self.assertAllClose(s, scale)
    # The region holds exactly the chosen half's labeled joints plus the padding: their extent
    # times 1.5 along the longer side (at the model's aspect ratio).
    chosen = keypoints[[0, 1, 2, 3, 4, 5, 6, 7, 8], :2]
    half_extent = (chosen.max(0) - chosen.min(0)) / 2
    self.assertAllClose(np.max(half_extent * 1.5 / (scale / 2)), 1.0)

  def test_only_the_lower_half_is_labeled_enough(self):
    # Upper: 0, 5 (2 joints); lower: 6. With the default (more than 8 joints) never applied;
    # with a lower minimum always the lower half (the upper has <= 2).
    keypoints = person([0, 5, 11, 12, 13, 14, 15, 16])
    self.assertFalse(any(bool(self.augment.half_body(keypoints, 0.75, seed)[0])
                         for seed in self.seeds))
    augment = augment_lib.TopDownAugment(half_body_prob=1.0, half_body_min_joints=4)
    center, scale = expected_region(keypoints, [11, 12, 13, 14, 15, 16], 0.75)
    for seed in self.seeds:
      applied, c, s = augment.half_body(keypoints, 0.75, seed)
      self.assertTrue(bool(applied))
      self.assertAllClose(c, center)
      self.assertAllClose(s, scale)

  def test_the_upper_body_is_the_schemas(self):
    # A 6-joint schema whose upper body is joints 3-5, not COCO's first 11: with joints 0 and 1
    # labeled below (2, too few) the upper half 3-5 is always chosen.
    keypoints = person(range(17))[:6]
    keypoints[2, 2] = 0.0
    augment = augment_lib.TopDownAugment(half_body_prob=1.0, half_body_min_joints=4)
    center, scale = expected_region(keypoints, [3, 4, 5], 0.75)
    for seed in self.seeds:
      applied, c, s = augment.half_body(keypoints, 0.75, seed, upper_body=(3, 4, 5))
      self.assertTrue(bool(applied))
      self.assertAllClose(c, center)
      self.assertAllClose(s, scale)

  def test_not_applied_when_the_chosen_joints_coincide(self):
    keypoints = person(list(range(17)))
    keypoints[:11, :2] = [30.0, 40.0]  # the whole upper body on one pixel
    keypoints[11:, 2] = 0.0
    keypoints[11:13, 2] = 2.0  # lower: 2 joints, so the upper half is chosen
    for seed in self.seeds:
      self.assertFalse(bool(self.augment.half_body(keypoints, 0.75, seed)[0]))

  def test_random_half_when_both_qualify(self):
    labeled = [5, 6, 11, 12, 13, 14, 15, 16, 9, 10]  # upper: 5, 6, 9, 10 (4); lower: 6
    keypoints = person(labeled)
    upper_center, _ = expected_region(keypoints, [5, 6, 9, 10], 0.75)
    lower_center, lower_scale = expected_region(keypoints, [11, 12, 13, 14, 15, 16], 0.75)
    chosen = set()
    for seed in self.seeds:
      applied, c, s = self.augment.half_body(keypoints, 0.75, seed)
      self.assertTrue(bool(applied))
      if np.allclose(c, lower_center):
        self.assertAllClose(s, lower_scale)
        chosen.add("lower")
      else:
        self.assertAllClose(c, upper_center)
        chosen.add("upper")
    self.assertEqual(chosen, {"upper", "lower"})  # both halves qualify: a random choice

  def test_not_applied_to_people_with_8_joints_or_when_off(self):
    keypoints = person([0, 1, 2, 3, 4, 5, 6, 7])
    for seed in self.seeds:
      self.assertFalse(bool(self.augment.half_body(keypoints, 0.75, seed)[0]))
    off = augment_lib.TopDownAugment()
    full = person(list(range(17)))
    self.assertFalse(any(bool(off.half_body(full, 0.75, seed)[0]) for seed in self.seeds))

  def test_probability(self):
    augment = augment_lib.TopDownAugment(half_body_prob=0.3)
    full = person(list(range(17)))
    rate = np.mean([bool(augment.half_body(full, 0.75, tf.constant([9, i], tf.int64))[0])
                    for i in range(400)])
    self.assertBetween(rate, 0.22, 0.38)


if __name__ == "__main__":
  tf.test.main()
