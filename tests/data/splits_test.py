"""Tests of COCO-Partial splits."""

import os

import numpy as np
import tensorflow as tf

from tfpose_ssl.data import coco
from tfpose_ssl.data import splits


def _instances(ids):
  n = len(ids)
  return coco.Instances(
      image_paths=np.array(["x.jpg"] * n, dtype=object), image_ids=np.arange(n),
      ann_ids=np.array(ids, np.int64), boxes=np.ones((n, 4), np.float32),
      keypoints=np.ones((n, 17, 3), np.float32), areas=np.ones(n, np.float32),
      scores=np.ones(n, np.float32))


class SplitsTest(tf.test.TestCase):

  def test_random_split_is_seeded_and_partitions(self):
    inst = _instances(range(100, 200))
    a = splits.make_partial_split(inst, 10, seed=3)
    b = splits.make_partial_split(inst, 10, seed=3)
    c = splits.make_partial_split(inst, 10, seed=4)
    self.assertEqual(a, b)
    self.assertNotEqual(a["labeled"], c["labeled"])
    self.assertLen(a["labeled"], 10)
    self.assertLen(a["unlabeled"], 90)
    self.assertEmpty(set(a["labeled"]) & set(a["unlabeled"]))
    self.assertEqual(sorted(a["labeled"] + a["unlabeled"]), list(range(100, 200)))

  def test_first_n_takes_annotation_order(self):
    inst = _instances([9, 3, 7, 1, 5])
    split = splits.make_partial_split(inst, 2, mode="first_n")
    self.assertEqual(split["labeled"], [3, 9])
    self.assertEqual(split["unlabeled"], [1, 5, 7])

  def test_saved_split_reloads_and_is_checked(self):
    inst = _instances(range(50))
    path = os.path.join(self.get_temp_dir(), "split.json")
    made = splits.get_or_make_split(inst, path, 5, seed=1)
    again = splits.get_or_make_split(inst, path, 5, seed=999)  # reloaded: seed not used
    self.assertEqual(made, again)
    labeled, unlabeled = splits.apply_split(inst, again)
    self.assertEqual(sorted(labeled.ann_ids.tolist()), made["labeled"])
    self.assertLen(unlabeled, 45)
    with self.assertRaisesRegex(ValueError, "num_labeled=5"):
      splits.get_or_make_split(inst, path, 10)
    with self.assertRaisesRegex(ValueError, "another annotation file"):
      splits.apply_split(_instances(range(1000, 1050)), made, source=path)

  def test_bad_arguments(self):
    inst = _instances(range(5))
    with self.assertRaisesRegex(ValueError, "pool has 5"):
      splits.make_partial_split(inst, 6)
    with self.assertRaisesRegex(ValueError, "unknown split mode"):
      splits.make_partial_split(inst, 2, mode="every_other")


if __name__ == "__main__":
  tf.test.main()
