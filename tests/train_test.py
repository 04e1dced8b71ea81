"""Smoke tests of the real training function from the real configs, shrunk to tiny data."""

import json
import os

import gin
import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import api
from tfpose_ssl import config as config_lib
from tfpose_ssl import task as task_lib
from tfpose_ssl import training as train_lib
from tfpose_ssl.evaluation import evaluator


class SupervisedTrainTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data_root = os.path.join(tf.compat.v1.test.get_temp_dir(), "smoke_data")
    testing.make_synthetic(cls.data_root)

  def _run(self, workdir, bindings=()):
    testing.parse_config("smoke.gin", [
        "include 'configs/modes/supervised.gin'",
        f"train/synthetic_coco.root = '{self.data_root}'",
        f"val/synthetic_coco.root = '{self.data_root}'",
        "train.epochs = 3", "train.steps_per_epoch = 4", "train.eval_every_epochs = 0",
        "train.verbose = 0", *bindings])
    return train_lib.train(workdir=workdir)

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def test_loss_finite_decreasing_and_outputs_written(self):
    workdir = os.path.join(self.get_temp_dir(), "run")
    result = self._run(workdir)
    losses = [epoch["loss"] for epoch in result.history]
    self.assertLen(losses, 3)
    self.assertTrue(np.all(np.isfinite(losses)))
    self.assertLess(losses[-1], losses[0])
    for name in ("config.gin", "summary.json", "summary.md", "skeletons.png",
                 "results/student_1_results.json", "checkpoints/checkpoint"):
      self.assertTrue(os.path.exists(os.path.join(workdir, name)), name)
    with open(os.path.join(workdir, "summary.json")) as f:
      summary = json.load(f)
    self.assertEqual(summary["step"], 12)
    self.assertAlmostEqual(summary["metrics"]["student_1"]["AP"],
                           testing.recomputed_ap(workdir, summary["val_set"]), places=6)
    self.assertEqual(summary["metrics"]["student_1"]["AP"],
                     result.report.metrics["student_1"]["AP"])

  def test_seeded_runs_repeat_and_rerun_resumes(self):
    a = self._run(os.path.join(self.get_temp_dir(), "a"))
    b = self._run(os.path.join(self.get_temp_dir(), "b"))
    self.assertEqual([e["loss"] for e in a.history], [e["loss"] for e in b.history])
    # The same command again finds the finished run: nothing left to train, same weights.
    again = self._run(os.path.join(self.get_temp_dir(), "a"))
    self.assertEqual(again.history, [])
    self.assertEqual(again.report.metrics["student_1"]["AP"], a.report.metrics["student_1"]["AP"])
    # Another config in the same workdir is refused (before: trained 0 steps and reported the
    # first run's model under the new config), and leaves the saved config alone.
    config_path = os.path.join(self.get_temp_dir(), "a", "config.gin")
    with open(config_path) as f:
      saved = f.read()
    with self.assertRaisesRegex(config_lib.ConfigMismatchError,
                                r"train.num_labeled: 12 \(checkpoints\) -> 8 \(now\)"):
      self._run(os.path.join(self.get_temp_dir(), "a"), ["train.num_labeled = 8"])
    with open(config_path) as f:
      self.assertEqual(f.read(), saved)
    # Asked for on purpose, one more epoch continues from step 12, not from scratch.
    more = self._run(os.path.join(self.get_temp_dir(), "a"),
                     ["train.epochs = 4", "train.allow_config_change = True"])
    self.assertLen(more.history, 1)
    with open(os.path.join(self.get_temp_dir(), "a", "summary.json")) as f:
      self.assertEqual(json.load(f)["step"], 16)

  def test_a_damaged_newest_checkpoint_and_state_file_resume_from_the_previous(self):
    workdir = os.path.join(self.get_temp_dir(), "damaged")
    first = self._run(workdir)
    folder = os.path.join(workdir, "checkpoints")
    with open(os.path.join(folder, "ckpt-12.data-00000-of-00001"), "wb") as f:
      f.write(b"\0" * 3)
    open(os.path.join(folder, "checkpoint"), "w").close()  # empty: the manager raised on it
    again = self._run(workdir)
    self.assertLen(again.history, 1)  # epoch 3 again, from ckpt-8 (not from step 0)
    self.assertTrue(os.path.isfile(os.path.join(folder, "damaged", "ckpt-12.index")))
    latest = tf.train.latest_checkpoint(folder)
    self.assertEndsWith(latest, "ckpt-12")  # written anew, and it restores
    reader = tf.train.load_checkpoint(latest)
    self.assertNotEmpty(reader.get_variable_to_shape_map())
    # Seeded and step-keyed: the repaired run ends with the uninterrupted run's model.
    self.assertAllClose(again.report.metrics["student_1"]["AP"],
                        first.report.metrics["student_1"]["AP"])

  def test_eval_restores_the_checkpoint_from_its_workdir(self):
    workdir = os.path.join(self.get_temp_dir(), "for_eval")
    result = self._run(workdir)
    gin.clear_config()
    # As `python -m tfpose_ssl.eval --checkpoint=<workdir>`: the saved config.gin is used.
    config_lib.parse([], [], workdir=workdir)
    task = task_lib.PoseTask()
    students, path = evaluator.restore_students(task, workdir)
    self.assertEndsWith(path, "ckpt-12")
    again = evaluator.evaluate(students, task).metrics["student_1"]
    trained = result.report.metrics["student_1"]
    self.assertAllClose(again["AP"], trained["AP"])
    self.assertAllClose(again["PCK"], trained["PCK"])
    # The Python API: the same student from the workdir alone, as a keras.Model.
    student, api_task = api.load_student(workdir)
    self.assertIsInstance(student, keras.Model)
    self.assertAllClose(evaluator.evaluate([student], api_task).metrics["student_1"]["AP"],
                        trained["AP"])
    with self.assertRaisesRegex(ValueError, "student_2"):
      api.load_student(workdir, "student_2")  # a supervised run has one student
    # Without the data (a run copied elsewhere): the same weights, the saved keypoints.
    bare, bare_task = api.load_student(workdir, with_data=False)
    self.assertIsNone(bare_task.val_set)
    self.assertEqual(bare_task.schema, api_task.schema)
    self.assertEqual(bare_task.category_id, 1)
    for a, b in zip(bare.weights, student.weights):
      self.assertAllEqual(a, b)


if __name__ == "__main__":
  tf.test.main()
