"""Tests of keypoint schemas: COCO's person and schemas read from COCO categories."""

import tensorflow as tf

from tfpose_ssl.ops import keypoints as kp

# A small quadruped-like category: 1-based skeleton, two left/right pairs.
CRITTER = {
    "id": 3, "name": "critter",
    "keypoints": ["snout", "left_ear", "right_ear", "tail", "left_paw", "right_paw"],
    "skeleton": [[1, 2], [1, 3], [1, 4], [4, 5], [4, 6]],
}
CRITTER_SIGMAS = (0.1, 0.2, 0.2, 0.3, 0.4, 0.4)


class CocoPersonTest(tf.test.TestCase):

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
    self.assertEqual(kp.SKELETON[0], (16, 14))
    self.assertEqual(kp.LIMBS[0], (15, 13))

  def test_constants_are_coco_person_fields(self):
    schema = kp.COCO_PERSON
    self.assertEqual(schema.num_joints, kp.NUM_JOINTS)
    self.assertEqual(schema.names, kp.KEYPOINT_NAMES)
    self.assertEqual(schema.flip_permutation(), kp.FLIP_PERMUTATION)
    self.assertAllEqual(schema.oks_sigmas, kp.OKS_SIGMAS)
    self.assertEqual(kp.OKS_SIGMAS[0], .26 / 10.0)  # pycocotools' value, bit for bit
    self.assertEqual(list(kp.META_JOINTS), ["ankle", "knee", "hip", "wrist", "elbow",
                                            "shoulder", "head"])
    self.assertEqual(schema.upper_body, tuple(range(11)))

  def test_coco_category_round_trips(self):
    category = kp.COCO_PERSON.coco_category()
    self.assertEqual(category["skeleton"][0], [16, 14])
    self.assertEqual(kp.KeypointSchema.from_coco_category(category), kp.COCO_PERSON)
    # A category without keypoint names is COCO's person, as before schemas.
    self.assertEqual(kp.KeypointSchema.from_coco_category({"id": 1, "name": "person"}),
                     kp.COCO_PERSON)


class FromCocoCategoryTest(tf.test.TestCase):

  def test_hand_computed_schema(self):
    schema = kp.KeypointSchema.from_coco_category(CRITTER, oks_sigmas=list(CRITTER_SIGMAS))
    self.assertEqual(schema.num_joints, 6)
    self.assertEqual(schema.names[3], "tail")
    self.assertEqual(schema.skeleton, ((0, 1), (0, 2), (0, 3), (3, 4), (3, 5)))
    self.assertEqual(schema.flip_pairs, ((1, 2), (4, 5)))
    self.assertEqual(schema.flip_permutation(), (0, 2, 1, 3, 5, 4))
    self.assertEqual(schema.oks_sigmas, CRITTER_SIGMAS)
    self.assertEqual(schema.meta_joints, (("snout", (0,)), ("ear", (1, 2)), ("tail", (3,)),
                                          ("paw", (4, 5))))
    self.assertEqual(schema.upper_body, ())  # no half-body crops unless given
    self.assertEqual(schema.coco_category(3, "critter", "animal")["skeleton"],
                     CRITTER["skeleton"])

  def test_given_flip_pairs_and_meta_joints_by_name(self):
    schema = kp.KeypointSchema.from_coco_category(
        CRITTER, oks_sigmas=CRITTER_SIGMAS, flip_pairs=[("left_paw", "right_paw")],
        meta_joints={"head": ["snout", "left_ear", "right_ear"], "rest": [3, 4, 5]},
        upper_body=["snout", "left_ear", "right_ear"])
    self.assertEqual(schema.flip_pairs, ((4, 5),))
    self.assertEqual(schema.upper_body, (0, 1, 2))
    self.assertEqual(schema.flip_permutation(), (0, 1, 2, 3, 5, 4))
    self.assertEqual(schema.meta_joints, (("head", (0, 1, 2)), ("rest", (3, 4, 5))))

  def test_no_skeleton_means_no_limbs_and_unpaired_names_do_not_flip(self):
    hand = {"name": "hand", "keypoints": ["wrist", "thumb", "index"]}
    schema = kp.KeypointSchema.from_coco_category(hand, oks_sigmas=[0.1, 0.2, 0.3])
    self.assertEqual(schema.skeleton, ())
    self.assertEqual(schema.flip_permutation(), (0, 1, 2))

  def test_sided_names_not_written_left_right_need_flip_pairs(self):
    # AP-10K's own spelling: a flip would mirror the eyes without swapping their labels.
    for names in (["L_Eye", "R_Eye", "Nose"], ["eye_l", "eye_r", "nose"],
                  ["LeftEye", "RightEye", "nose"], ["front left paw", "front right paw", "tail"],
                  ["LShoulder", "RShoulder", "Neck"], ["FrontLeftPaw", "FrontRightPaw", "Tail"]):
      with self.subTest(names=names):
        with self.assertRaisesRegex(ValueError, r"look like left/right joints.*flip_pairs"):
          kp.KeypointSchema.from_coco_category({"name": "x", "keypoints": names},
                                               oks_sigmas=[0.1] * 3)
        given = kp.KeypointSchema.from_coco_category({"name": "x", "keypoints": names},
                                                     oks_sigmas=[0.1] * 3,
                                                     flip_pairs=[names[:2]])
        self.assertEqual(given.flip_permutation(), (1, 0, 2))
    # Words merely containing the letters are not sides.
    for names in (["lower_lip", "rear", "shoulder"], ["upright", "leftover", "rightmost"]):
      plain = kp.KeypointSchema.from_coco_category({"name": "x", "keypoints": names},
                                                   oks_sigmas=[0.1] * 3)
      self.assertEqual(plain.flip_permutation(), (0, 1, 2))
    # No flips at all: an empty list of pairs.
    none = kp.KeypointSchema.from_coco_category({"name": "x", "keypoints": ["L_Eye", "R_Eye"]},
                                                oks_sigmas=[0.1] * 2, flip_pairs=[])
    self.assertEqual(none.flip_permutation(), (0, 1))

  def test_errors_name_what_to_give(self):
    with self.assertRaisesRegex(ValueError, r"'critter' has 6 keypoints.*oks_sigmas"):
      kp.KeypointSchema.from_coco_category(CRITTER)
    lonely = dict(CRITTER, keypoints=["snout", "left_ear", "right_ear", "tail", "left_paw",
                                      "hind_paw"])
    with self.assertRaisesRegex(ValueError, r"'left_paw' has no 'right_paw'.*flip_pairs"):
      kp.KeypointSchema.from_coco_category(lonely, oks_sigmas=CRITTER_SIGMAS)
    with self.assertRaisesRegex(ValueError, r"skeleton limb \[4, 7\].*1\.\.6"):
      kp.KeypointSchema.from_coco_category(dict(CRITTER, skeleton=[[4, 7]]),
                                           oks_sigmas=CRITTER_SIGMAS)
    with self.assertRaisesRegex(ValueError, "oks_sigmas must be 6 positive values"):
      kp.KeypointSchema.from_coco_category(CRITTER, oks_sigmas=[0.1] * 5)
    with self.assertRaisesRegex(ValueError, "unknown joint 'paw'"):
      kp.KeypointSchema.from_coco_category(CRITTER, oks_sigmas=CRITTER_SIGMAS,
                                           flip_pairs=[("paw", "right_paw")])
    with self.assertRaisesRegex(ValueError, "more than one flip pair"):
      kp.KeypointSchema.from_coco_category(CRITTER, oks_sigmas=CRITTER_SIGMAS,
                                           flip_pairs=[(1, 2), (2, 4)])
    with self.assertRaisesRegex(ValueError, "upper_body .* is not a proper subset"):
      kp.KeypointSchema.from_coco_category(CRITTER, oks_sigmas=CRITTER_SIGMAS,
                                           upper_body=range(6))
    with self.assertRaisesRegex(ValueError, "repeated joint names"):
      kp.KeypointSchema(names=("a", "a"), skeleton=(), flip_pairs=(), oks_sigmas=(1, 1),
                        meta_joints=())

  def test_schema_is_hashable_and_compares_by_value(self):
    a = kp.KeypointSchema.from_coco_category(CRITTER, oks_sigmas=CRITTER_SIGMAS)
    b = kp.KeypointSchema.from_coco_category(CRITTER, oks_sigmas=list(CRITTER_SIGMAS))
    self.assertEqual(a, b)
    self.assertEqual(hash(a), hash(b))
    self.assertNotEqual(a, kp.COCO_PERSON)


if __name__ == "__main__":
  tf.test.main()
