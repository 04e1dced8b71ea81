"""The real training function with the method (configs/smoke.gin, shrunk): repeatable, resumable."""

import json
import os

import gin
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import training as train_lib


class SemiSupervisedTrainTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data_root = os.path.join(tf.compat.v1.test.get_temp_dir(), "ssl_smoke_data")
    testing.make_synthetic(cls.data_root)

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def _run(self, workdir, epochs=3, bindings=()):
    testing.parse_config("smoke.gin", [
        f"train/synthetic_coco.root = '{self.data_root}'",
        f"val/synthetic_coco.root = '{self.data_root}'",
        f"train.epochs = {epochs}", "train.eval_every_epochs = 0", "train.verbose = 0",
        "train.num_visualized = 0", *bindings])
    return train_lib.train(workdir=workdir)

  def test_seeded_runs_repeat_and_a_resumed_run_continues_exactly(self):
    tmp = self.get_temp_dir()
    full = self._run(os.path.join(tmp, "full"))
    again = self._run(os.path.join(tmp, "again"))
    self.assertEqual(full.history, again.history)
    for name in ("student_1", "student_2", "ensemble"):
      self.assertIn(name, full.report.metrics)
    losses = [e["loss"] for e in full.history]
    self.assertTrue(np.all(np.isfinite(losses)))
    # Stop inside epoch 2 (step 5 of 9), rerun the same command: it continues from step 5 and
    # ends where the uninterrupted run ended (same data positions, same schedule).
    stopped = self._run(os.path.join(tmp, "resumed"), bindings=["train.max_steps_per_run = 5"])
    self.assertEqual(stopped.step, 5)
    resumed = self._run(os.path.join(tmp, "resumed"))
    self.assertLen(resumed.history, 2)  # the rest of epoch 2, then epoch 3
    self.assertEqual(resumed.history[-1], full.history[-1])
    with open(os.path.join(tmp, "resumed", "summary.json")) as f:
      self.assertEqual(json.load(f)["step"], 9)
    self.assertEqual(resumed.report.metrics["student_2"]["AP"],
                     full.report.metrics["student_2"]["AP"])


if __name__ == "__main__":
  tf.test.main()
