"""Crashes lose nothing: SIGKILL and rerun resumes exactly; NaN stops with the last good
checkpoint kept; files are written atomically; config mistakes fail before training."""

import json
import os
import signal
import subprocess
import sys
import time

import gin
import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import io_utils
from tfpose_ssl import training as train_lib
from tfpose_ssl.trainers import callbacks as callbacks_lib

SMOKE = ["train.epochs = 3", "train.steps_per_epoch = 10", "train.checkpoint_every_steps = 5",
         "train.eval_every_epochs = 0", "train.verbose = 0", "train.num_visualized = 0",
         "train.image_every_epochs = 0"]


def _command(workdir, data_root, bindings=()):
  command = [sys.executable, "-m", "tfpose_ssl.train", "--config=configs/smoke.gin",
             f"--workdir={workdir}",
             f"--gin_bindings=train/synthetic_coco.root = '{data_root}'",
             f"--gin_bindings=val/synthetic_coco.root = '{data_root}'"]
  return command + [f"--gin_bindings={b}" for b in list(SMOKE) + list(bindings)]


def _env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
              PYTHONPATH=testing.REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _latest_step(workdir):
  latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
  return int(latest.rsplit("-", 1)[1]) if latest else 0


def _weights(workdir):
  """Every variable of the latest checkpoint: students' weights and BatchNorm statistics,
  Adam slots, step (a checkpoint stores a student's trainable weights once, under its
  optimizer). Only the save counter is left out (a resumed run saved more often)."""
  reader = tf.train.load_checkpoint(os.path.join(workdir, "checkpoints"))
  names = sorted(n for n in reader.get_variable_to_shape_map()
                 if not n.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH")))
  return {n: reader.get_tensor(n) for n in names}


class KillAndResumeTest(tf.test.TestCase):

  def test_sigkill_mid_epoch_then_rerun_ends_with_the_uninterrupted_weights(self):
    tmp = self.get_temp_dir()
    data = os.path.join(tmp, "data")
    testing.make_synthetic(data)  # before the processes: a run only reads its data
    uninterrupted = os.path.join(tmp, "uninterrupted")
    subprocess.run(_command(uninterrupted, data), cwd=testing.REPO_ROOT, env=_env(), check=True,
                   capture_output=True, timeout=1200)
    self.assertEqual(_latest_step(uninterrupted), 30)

    killed = os.path.join(tmp, "killed")
    process = subprocess.Popen(_command(killed, data), cwd=testing.REPO_ROOT, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while _latest_step(killed) < 15 and process.poll() is None and time.time() < deadline:
      time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stopped_at = _latest_step(killed)
    self.assertBetween(stopped_at, 15, 29, "the kill should land mid-run")
    self.assertFalse(os.path.exists(os.path.join(killed, "summary.json")))

    result = subprocess.run(_command(killed, data), cwd=testing.REPO_ROOT, env=_env(),
                            check=True, capture_output=True, text=True, timeout=1200)
    self.assertIn("resumed from", result.stdout + result.stderr)
    self.assertEqual(_latest_step(killed), 30)
    want, got = _weights(uninterrupted), _weights(killed)
    self.assertEqual(sorted(want), sorted(got))
    self.assertGreater(sum("_trainable_variables" in n for n in want), 100)
    for name in want:
      self.assertAllEqual(want[name], got[name], msg=name)


class NonFiniteLossTest(tf.test.TestCase):

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def _supervised_run(self, name, learning_rate):
    """Parses a supervised smoke run with a checkpoint every step; returns its workdir."""
    data = os.path.join(self.get_temp_dir(), "data")
    testing.make_synthetic(data)
    testing.parse_config("smoke.gin", [
        "include 'configs/modes/supervised.gin'",
        f"train/synthetic_coco.root = '{data}'", f"val/synthetic_coco.root = '{data}'",
        f"train.learning_rate = {learning_rate}", "train.checkpoint_every_steps = 1",
        *SMOKE[:1], *SMOKE[3:]])
    return os.path.join(self.get_temp_dir(), name)

  def test_nan_stops_training_naming_the_step_and_keeps_the_last_good_checkpoint(self):
    workdir = self._supervised_run("nan", "1e30")
    with self.assertRaisesRegex(callbacks_lib.NonFiniteLossError,
                                r"loss became (nan|inf) at step (\d+).*Last good checkpoint"):
      train_lib.train(workdir=workdir)
    last = _latest_step(workdir)
    self.assertGreaterEqual(last, 1)
    for name, value in _weights(workdir).items():
      self.assertTrue(np.all(np.isfinite(value)), name)

  def test_weights_an_update_made_non_finite_are_never_saved(self):
    # A learning rate of 1e39 is inf in float32: step 1's loss (computed before the update) is
    # finite, and the update makes the weights inf/NaN. Before, the step-1 checkpoint kept them
    # (the loss check saw them only at step 2) and resume or evaluation read a broken model.
    workdir = self._supervised_run("inf", "1e39")
    with self.assertRaisesRegex(callbacks_lib.NonFiniteLossError,
                                r"variables became NaN or Inf at step 1 \(first: student_1/.*"
                                r"nothing saved. Last good checkpoint: None"):
      train_lib.train(workdir=workdir)
    self.assertIsNone(tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")))

  def test_non_finite_variables_names_exactly_the_broken_ones(self):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="dense"),
                              keras.layers.BatchNormalization(name="bn")])
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    items = {"student_1": model, "optimizer_1": optimizer}
    self.assertEqual(callbacks_lib.non_finite_variables(items), [])
    broken = [model.get_layer("dense").bias, model.get_layer("bn").moving_variance,
              optimizer.variables[-1]]
    for variable, value in zip(broken, (np.inf, np.nan, -np.inf)):
      variable.assign(np.where(np.arange(variable.shape[0]) == 1, value, 0.5))
    self.assertEqual(callbacks_lib.non_finite_variables(items),
                     [f"student_1/{broken[0].path}", f"student_1/{broken[1].path}",
                      f"optimizer_1/{broken[2].path}"])


class AtomicWriteTest(tf.test.TestCase):

  def test_a_failed_write_leaves_the_old_file_and_no_temporary(self):
    path = os.path.join(self.get_temp_dir(), "results.json")
    io_utils.atomic_write_text(path, json.dumps({"AP": 0.5}))

    with self.assertRaises(TypeError):  # the write itself fails (not bytes) midway
      io_utils.atomic_write_bytes(path, "not bytes")
    with open(path) as f:
      self.assertEqual(json.load(f), {"AP": 0.5})
    self.assertEqual(os.listdir(self.get_temp_dir()), ["results.json"])


class ConfigMistakesTest(tf.test.TestCase):

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def test_a_split_file_for_other_annotations_fails_before_training(self):
    data = os.path.join(self.get_temp_dir(), "data")
    testing.make_synthetic(data)
    split = os.path.join(self.get_temp_dir(), "split.json")
    with open(split, "w") as f:
      json.dump({"num_labeled": 12, "seed": 0, "mode": "random",
                 "labeled": list(range(90000, 90012)), "unlabeled": []}, f)
    workdir = os.path.join(self.get_temp_dir(), "w")
    testing.parse_config("smoke.gin", [f"train/synthetic_coco.root = '{data}'",
                                       f"val/synthetic_coco.root = '{data}'",
                                       f"train.split_file = '{split}'"])
    with self.assertRaisesRegex(ValueError, "split .*split.json.* another annotation file"):
      train_lib.train(workdir=workdir)
    self.assertFalse(os.path.exists(os.path.join(workdir, "checkpoints")))


if __name__ == "__main__":
  tf.test.main()
