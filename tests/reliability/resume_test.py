"""Resuming a workdir: only under the config its checkpoints were trained with, from the newest
checkpoint that restores (never from step 0 over existing ones), and one run at a time."""

import os

import gin
import tensorflow as tf

from tests import testing
from tfpose_ssl import config as config_lib
from tfpose_ssl import io_utils
from tfpose_ssl import training as train_lib

SAVED = """# Macros:
# ==============================================================================
K = 2

# Parameters for train:
# ==============================================================================
train.init_checkpoint = \\
    '/runs/burn_in'
train.num_labeled = 300
train.verbose = 2
MultiViewAugment.strong_scale = (0.5,
 1.5)
MultiViewAugment.num_strong = %K
"""


class ConfigChangesTest(tf.test.TestCase):

  def test_parse_bindings_joins_continued_lines(self):
    self.assertEqual(config_lib.parse_bindings(SAVED), {
        "K": "2", "train.init_checkpoint": "'/runs/burn_in'", "train.num_labeled": "300",
        "train.verbose": "2", "MultiViewAugment.strong_scale": "(0.5, 1.5)",
        "MultiViewAugment.num_strong": "%K"})

  def test_changes_name_bindings_and_macros_but_not_run_control(self):
    now = (SAVED.replace("K = 2", "K = 3").replace("num_labeled = 300", "num_labeled = 500")
           .replace("verbose = 2", "verbose = 0") + "train.seed = 1\n"
           + "set_thread_pools.intra_op = 1\n")  # how the run executes, not what it trains
    self.assertEqual(config_lib.config_changes(SAVED, now), [
        ("MultiViewAugment.num_strong", "2", "3"), ("train.num_labeled", "300", "500"),
        ("train.seed", "0", "1")])
    self.assertEqual(config_lib.config_changes(SAVED, SAVED), [])

  def test_values_are_compared_with_their_macros_resolved(self):
    # The same value through a macro or written out is no change (the mode files now set
    # `K = 0` where they bound `num_strong = 0`); a macro no binding uses (K_PLUS_1 in
    # configs saved before it was removed) is no change either.
    now = SAVED.replace("K = 2", "K = 0").replace("num_strong = %K", "num_strong = 0")
    old = SAVED.replace("K = 2", "K = 2\nK_PLUS_1 = 3\nM = %K").replace(
        "num_strong = %K", "num_strong = 0")
    self.assertEqual(config_lib.config_changes(old, now), [])
    self.assertEqual(config_lib.config_changes(SAVED, SAVED.replace("%K", "%M") + "M = %K\n"),
                     [])

  def test_a_binding_to_the_default_and_init_checkpoint_are_no_change(self):
    # e.g. a workdir trained before a config file bound a new parameter to its default value;
    # the warm-start source is never read on a resume (a rerun may spell its path otherwise).
    now = (SAVED.replace("'/runs/burn_in'", "'./runs/burn_in'") +
           "TopDownAugment.half_body_prob = 0.0\ntrain.seed = 0\n")
    self.assertEqual(config_lib.config_changes(SAVED, now), [])
    changed = SAVED + "TopDownAugment.half_body_prob = 0.3\n"
    self.assertEqual(config_lib.config_changes(SAVED, changed),
                     [("TopDownAugment.half_body_prob", "0.0", "0.3")])

  def test_checkpoint_prefixes_newest_first(self):
    folder = self.get_temp_dir()
    for name in ("ckpt-5.index", "ckpt-40.index", "ckpt-300.index", "ckpt-7.data-00000-of-00001",
                 "other-9.index", "checkpoint"):
      open(os.path.join(folder, name), "w").close()
    self.assertEqual(io_utils.checkpoint_prefixes(folder),
                     [os.path.join(folder, f"ckpt-{s}") for s in (300, 40, 5)])


class RestoreNewestTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.folder = os.path.join(self.get_temp_dir(), self._testMethodName, "checkpoints")
    self.value = tf.Variable(0.0)
    checkpoint = tf.train.Checkpoint(value=self.value)
    manager = tf.train.CheckpointManager(checkpoint, self.folder, max_to_keep=5)
    for step in (10, 20, 30):
      self.value.assign(float(step))
      manager.save(checkpoint_number=step)
    self.value.assign(-1.0)
    self.checkpoint = checkpoint

  def restored(self):
    prefix = train_lib.restore_newest(self.checkpoint, self.folder)
    return os.path.basename(prefix), float(self.value.numpy())

  def test_state_file_names_the_newest(self):
    self.assertEqual(self.restored(), ("ckpt-30", 30.0))

  def test_unreadable_state_file_falls_back_to_the_files_and_is_rewritten(self):
    for text in ("", "garbage {{{"):  # before: step 0 (garbage) or a ValueError (empty)
      with open(os.path.join(self.folder, "checkpoint"), "w") as f:
        f.write(text)
      self.assertEqual(self.restored(), ("ckpt-30", 30.0))
      # The manager the training loop builds next reads the repaired state (an empty one made
      # its constructor raise) and knows all three checkpoints.
      manager = tf.train.CheckpointManager(self.checkpoint, self.folder, max_to_keep=5)
      self.assertEqual([os.path.basename(p) for p in manager.checkpoints],
                       ["ckpt-10", "ckpt-20", "ckpt-30"])

  def test_damaged_newest_checkpoint_falls_back_to_the_previous(self):
    with open(os.path.join(self.folder, "ckpt-30.data-00000-of-00001"), "wb") as f:
      f.write(b"\0" * 3)
    self.assertEqual(self.restored(), ("ckpt-20", 20.0))
    # Kept aside, not deleted, and no longer named: saving step 30 again writes a good one.
    self.assertCountEqual(os.listdir(os.path.join(self.folder, "damaged")),
                          ["ckpt-30.index", "ckpt-30.data-00000-of-00001"])
    self.assertEndsWith(tf.train.latest_checkpoint(self.folder), "ckpt-20")
    manager = tf.train.CheckpointManager(self.checkpoint, self.folder, max_to_keep=5)
    self.assertEqual([os.path.basename(p) for p in manager.checkpoints], ["ckpt-10", "ckpt-20"])

  def test_without_repair_nothing_is_touched(self):  # other workers of a multi-worker run
    with open(os.path.join(self.folder, "ckpt-30.data-00000-of-00001"), "wb") as f:
      f.write(b"\0" * 3)
    prefix = train_lib.restore_newest(self.checkpoint, self.folder, repair=False)
    self.assertEndsWith(prefix, "ckpt-20")
    self.assertFalse(os.path.exists(os.path.join(self.folder, "damaged")))
    self.assertEndsWith(tf.train.latest_checkpoint(self.folder), "ckpt-30")

  def test_no_restorable_checkpoint_is_an_error_not_a_fresh_start(self):
    for step in (10, 20, 30):
      os.remove(os.path.join(self.folder, f"ckpt-{step}.data-00000-of-00001"))
    with self.assertRaisesRegex(RuntimeError, "none of the 3 checkpoints .* restores"):
      train_lib.restore_newest(self.checkpoint, self.folder)

  def test_empty_folder_is_a_fresh_start(self):
    self.assertIsNone(train_lib.restore_newest(self.checkpoint,
                                               os.path.join(self.get_temp_dir(), "nothing")))


class WorkdirLockTest(tf.test.TestCase):

  def test_second_holder_is_refused_until_the_first_releases(self):
    workdir = self.get_temp_dir()
    with io_utils.WorkdirLock(workdir):
      with self.assertRaisesRegex(RuntimeError, f"pid {os.getpid()}.*another --workdir"):
        with io_utils.WorkdirLock(workdir):
          pass
    with io_utils.WorkdirLock(workdir):  # released
      pass

  def test_workers_lock_their_own_files(self):
    workdir = self.get_temp_dir()
    with io_utils.WorkdirLock(workdir, ".lock_worker_0"):
      with io_utils.WorkdirLock(workdir, ".lock_worker_1"):  # another worker of the same run
        with self.assertRaisesRegex(RuntimeError, "another training run"):
          with io_utils.WorkdirLock(workdir, ".lock_worker_1"):  # a second run's worker 1
            pass
    self.assertEqual(train_lib.lock_name(tf.distribute.get_strategy()), ".lock")

  def test_train_refuses_a_locked_workdir_before_writing(self):
    workdir = os.path.join(self.get_temp_dir(), "locked")
    os.makedirs(workdir)
    root = os.path.join(self.get_temp_dir(), "data")
    testing.make_synthetic(root)
    testing.parse_config("smoke.gin", [f"train/synthetic_coco.root = '{root}'",
                                       f"val/synthetic_coco.root = '{root}'"])
    try:
      with io_utils.WorkdirLock(workdir):
        with self.assertRaisesRegex(RuntimeError, "another training run"):
          train_lib.train(workdir=workdir)
    finally:
      gin.clear_config()
    self.assertEqual(os.listdir(workdir), [".lock"])

  def test_default_workdir_names_every_config(self):
    self.assertEqual(train_lib.default_workdir(["configs/synthetic.gin",
                                                "/x/configs/modes/supervised.gin"]),
                     os.path.join("runs", "synthetic+supervised"))


if __name__ == "__main__":
  tf.test.main()
