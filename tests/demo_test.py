"""The demo protocol end to end on tiny data: shared burn-in, supervised baseline, method."""

import os

import tensorflow as tf

from tests import testing
from tfpose_ssl import demo


class DemoTest(tf.test.TestCase):

  def test_burn_in_then_both_runs_and_a_side_by_side_summary(self):
    workdir = os.path.join(self.get_temp_dir(), "demo")
    data = os.path.join(self.get_temp_dir(), "data")
    bindings = [f"train/synthetic_coco.root = '{data}'", f"val/synthetic_coco.root = '{data}'",
                "train.epochs = 1", "train.steps_per_epoch = 5", "train.verbose = 0",
                "DualStudentTrainer.burn_in_steps = 3", "train.num_visualized = 0"]
    lines = []
    summaries = demo.run_protocol([os.path.join(testing.REPO_ROOT, "configs", "smoke.gin")],
                                  workdir, bindings, echo=lines.append)
    self.assertEqual(sorted(summaries), ["method", "supervised"])
    self.assertEqual([s["step"] for s in summaries.values()], [5, 5])
    self.assertEqual([s["steps_this_run"] for s in summaries.values()], [2, 2])  # after 3
    self.assertEqual(sorted(summaries["method"]["metrics"]),
                     ["ensemble", "student_1", "student_2"])
    self.assertEqual(sorted(summaries["supervised"]["metrics"]), ["student_1"])
    self.assertTrue(os.path.exists(os.path.join(workdir, "burn_in", "checkpoints",
                                                "ckpt-3.index")))
    self.assertFalse(os.path.exists(os.path.join(workdir, "burn_in", "summary.json")))
    with open(os.path.join(workdir, "train.log")) as f:
      log = f.read()
    self.assertEqual(log.count("warm start from"), 2)
    text = demo.comparison(summaries)
    self.assertIn("| supervised | student_1 |", text)
    self.assertIn("| method | ensemble |", text)
    self.assertLen(lines, 3)
    # Rerunning reuses the finished runs: no training process, the same summaries.
    again = demo.run_protocol([os.path.join(testing.REPO_ROOT, "configs", "smoke.gin")],
                              workdir, bindings, echo=lines.append)
    self.assertEqual(again, summaries)
    with open(os.path.join(workdir, "train.log")) as f:
      self.assertEqual(f.read(), log)

  def test_a_config_without_burn_in_is_refused(self):
    smoke = [os.path.join(testing.REPO_ROOT, "configs", "smoke.gin")]
    with self.assertRaisesRegex(ValueError, "burn_in_steps"):
      demo.schedule(smoke, ["DualStudentTrainer.burn_in_steps = 0"])
    # smoke.gin: 2 epochs of 3 steps; a burn-in as long as that would compare it with itself.
    with self.assertRaisesRegex(ValueError, "must end before"):
      demo.schedule(smoke, ["DualStudentTrainer.burn_in_steps = 6"])
    self.assertEqual(demo.schedule(smoke, ["DualStudentTrainer.burn_in_steps = 5"]), (5, 6))


if __name__ == "__main__":
  tf.test.main()
