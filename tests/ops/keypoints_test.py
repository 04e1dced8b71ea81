"""Tests of the COCO keypoint constants."""

import tensorflow as tf

from tfpose_ssl.ops import keypoints as kp


class KeypointsTest(tf.test.TestCase):

  def test_flip_pairs_swap_left_and_right_names(self):
    for a, b in kp.FLIP_PAIRS:
      self.assertTrue(kp.KEYPOINT_NAMES[a].startswith("left_"))
      self.assertEqual(kp.KEYPOINT_NAMES[b], kp.KEYPOINT_NAMES[a].replace("left_", "right_"))
    self.assertEqual(len(kp.FLIP_PAIRS), 8)

  def test_flip_permutation_is_an_involution_fixing_the_nose(self):
    perm = kp.FLIP_PERMUTATION
    self.assertEqual([perm[p] for p in perm], list(range(17)))
    self.assertEqual(perm[0], 0)
    self.assertEqual(perm[5], 6)

  def test_meta_joints_cover_every_joint_once(self):
    joints = sorted(j for group in kp.META_JOINTS.values() for j in group)
    self.assertEqual(joints, list(range(17)))

  def test_skeleton_is_cocos(self):
    self.assertLen(kp.SKELETON, 19)
    self.assertEqual(kp.LIMBS[0], (15, 13))


if __name__ == "__main__":
  tf.test.main()
