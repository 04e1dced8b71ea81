"""The pseudo-label benchmark: its measures on hand-made heatmaps, and a run on a tiny workdir."""

import json
import os

import gin
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import task as task_lib
from tfpose_ssl.benchmarks import pseudo_labels
from tfpose_ssl.trainers import dual_student


def peak_map(peaks, size=8):
  """`[1, size, size, 1]` zeros with value v at (x, y) for each (x, y, v) in `peaks`."""
  heatmap = np.zeros((1, size, size, 1), np.float32)
  for x, y, value in peaks:
    heatmap[0, y, x, 0] = value
  return heatmap


class LabelHelpersTest(tf.test.TestCase):

  def test_labels_in_view_maps_joints_and_scales_the_radius(self):
    view = tf.constant([[[2.0, 0.0, 4.0], [0.0, 2.0, -8.0], [0.0, 0.0, 1.0]]])  # zoom 2x
    keypoints = tf.constant([[[10.0, 20.0, 2.0], [0.0, 0.0, 0.0]]])
    truth, radius = dual_student.labels_in_view(keypoints, tf.constant([5.0]), view, 4.0)
    # (2 * 10 + 4) / 4 = 6, (2 * 20 - 8) / 4 = 8; radius 5 * 2 / 4.
    self.assertAllClose(truth[0, 0], [6.0, 8.0, 2.0])
    self.assertAllClose(truth[0, 1, 2], 0.0)
    self.assertAllClose(radius, [2.5])

  def test_pseudo_label_pck_counts_and_corrects(self):
    heatmaps = np.zeros((1, 8, 8, 4), np.float32)
    heatmaps[0, 2, 3, :] = 1.0  # every joint's maximum at (x=3, y=2)
    truth = tf.constant([[[3.0, 3.0, 2.0],     # 1 px away: correct
                          [6.0, 6.0, 2.0],     # 4.2 px away: wrong
                          [3.0, -1.0, 2.0],    # 3 px away but outside the frame: wrong
                          [3.0, 2.0, 0.0]]])   # unlabeled: not counted
    correct, counted = dual_student.pseudo_label_pck(
        heatmaps, tf.constant([[1.0, 1.0, 1.0, 1.0]]), truth, tf.constant([3.5]))
    self.assertAllEqual(correct, [[1.0, 0.0, 0.0, 0.0]])
    self.assertAllEqual(counted, [[1.0, 1.0, 1.0, 0.0]])
    # A joint without a target (weight 0) is not counted.
    _, counted = dual_student.pseudo_label_pck(
        heatmaps, tf.constant([[0.0, 1.0, 1.0, 1.0]]), truth, tf.constant([3.5]))
    self.assertAllEqual(counted, [[0.0, 1.0, 1.0, 0.0]])


class EnsembleMeasuresTest(tf.test.TestCase):
  """K = 2: views [weak 1, weak 2, weak 3, strong 1, strong 2]; the label is at (2, 2)."""

  def setUp(self):
    super().setUp()
    self.aligned = tf.constant(np.stack([
        peak_map([(2, 2, 0.5)]),              # weak 1: right
        peak_map([(2, 2, 0.2), (5, 5, 0.3)]),  # weak 2: wrong, weakly
        peak_map([(2, 2, 0.6)]),              # weak 3: right
        peak_map([(5, 5, 0.8)]),              # strong 1: wrong and confident
        peak_map([(2, 2, 0.4)]),              # strong 2: right
    ]))
    self.truth = tf.constant([[[2.0, 2.0, 2.0]]])
    self.radius = tf.constant([1.0])

  def test_table6_ensembles(self):
    rows = pseudo_labels.ensembles(self.aligned, num_strong=2)
    self.assertCountEqual(rows, ["1 weak", "1 weak + 2 strong, max", "1 weak + 2 strong, mean",
                                 "3 weak, max", "3 weak, mean"])
    expected = {  # PCK of each ensemble, by hand
        "1 weak": 1.0,
        "1 weak + 2 strong, max": 0.0,   # 0.8 at (5, 5) beats 0.5
        "1 weak + 2 strong, mean": 1.0,  # (0.5 + 0.4) / 3 = 0.3 at (2, 2) > 0.8 / 3
        "3 weak, max": 1.0,              # 0.6 at (2, 2)
        "3 weak, mean": 1.0,             # 1.3 / 3 at (2, 2) > 0.3 / 3
    }
    for name, heatmaps in rows.items():
      correct, counted = dual_student.pseudo_label_pck(heatmaps, tf.ones([1, 1]), self.truth,
                                                       self.radius)
      self.assertAllEqual(counted, [[1.0]])
      self.assertAllEqual(correct, [[expected[name]]], msg=name)
    self.assertAllClose(tf.reduce_max(rows["1 weak + 2 strong, mean"]), 0.3)

  def test_winner_statistics(self):
    strong, weak_ok, strong_ok = pseudo_labels.winner_statistics(self.aligned, 2, self.truth,
                                                                 self.radius)
    self.assertAllEqual([strong, weak_ok, strong_ok], [[[1.0]], [[0.0]], [[0.0]]])
    # Without the confident strong view, the weak view holds the max and is right.
    aligned = tf.concat([self.aligned[:3], tf.zeros_like(self.aligned[3:4]), self.aligned[4:]],
                        0)
    strong, weak_ok, strong_ok = pseudo_labels.winner_statistics(aligned, 2, self.truth,
                                                                 self.radius)
    self.assertAllEqual([strong, weak_ok, strong_ok], [[[0.0]], [[1.0]], [[0.0]]])


class TinyRunTest(tf.test.TestCase):

  def test_run_on_a_tiny_workdir(self):
    root = os.path.join(self.get_temp_dir(), "data")
    testing.make_synthetic(root)
    testing.parse_config("smoke.gin", [f"train/synthetic_coco.root = '{root}'",
                                       f"val/synthetic_coco.root = '{root}'",
                                       "train.num_labeled = 4"])
    task = task_lib.PoseTask()
    workdir = os.path.join(self.get_temp_dir(), "run")
    students = [task.build_model() for _ in range(2)]
    tf.train.Checkpoint(student_1=students[0], student_2=students[1]).save(
        os.path.join(workdir, "checkpoints", "ckpt"))
    out = os.path.join(self.get_temp_dir(), "out")
    report = pseudo_labels.run(workdir, num_strong=1, num_batches=2, batch_size=4, seed=0,
                               out_dir=out)
    self.assertEqual(report["crops"], 8)
    with open(os.path.join(out, "pseudo_labels.json")) as f:
      self.assertEqual(json.load(f)["students"].keys(), {"student_1", "student_2"})
    for measures in report["students"].values():
      labeled = measures["1 weak"]["count"]
      self.assertGreater(labeled, 0)
      for name in ("own prediction on the loss view", "single weak view 1",
                   "single strong view 3", "1 weak + 1 strong, max", "2 weak, mean",
                   "strong view holds the max"):
        self.assertEqual(measures[name]["count"], labeled, name)
        self.assertBetween(measures[name]["value"], 0.0, 1.0)
      # Every labeled joint is won by the weak or by the strong view.
      self.assertEqual(measures["max PCK when the weak view holds it"]["count"] +
                       measures["max PCK when a strong view holds it"]["count"], labeled)
      self.assertEqual(measures["max PCK when a strong view holds it"]["count"],
                       round(measures["strong view holds the max"]["value"] * labeled))
    with open(os.path.join(out, "pseudo_labels.md")) as f:
      self.assertIn("| 1 weak + 1 strong, max |", f.read())

  def test_workdir_of_a_workdir_folder_or_prefix(self):
    workdir = os.path.join(self.get_temp_dir(), "w")
    os.makedirs(os.path.join(workdir, "checkpoints"))
    for given in (workdir, workdir + "/", os.path.join(workdir, "checkpoints"),
                  os.path.join(workdir, "checkpoints", "ckpt-20")):
      self.assertEqual(pseudo_labels.workdir_of(given), workdir, given)

  def test_refuses_a_run_without_held_back_labels(self):
    testing.parse_config("smoke.gin", ["train.num_labeled = None"])
    with self.assertRaisesRegex(ValueError, "held-back labels"):
      pseudo_labels.run(self.get_temp_dir(), 1, 1, 4, 0, self.get_temp_dir())

  def tearDown(self):
    gin.clear_config()
    super().tearDown()


if __name__ == "__main__":
  tf.test.main()
