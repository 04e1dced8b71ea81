"""`python -m tfpose_ssl.tools.make_synthetic`: the synthetic splits a gin config names."""

import os
import subprocess
import sys

import gin
import tensorflow as tf

from tests import testing
from tfpose_ssl import task as task_lib
from tfpose_ssl.tools import make_synthetic


def _key(split):
  return (split["root"], split["split"], split["num_images"], split["seed"], split["width"],
          split["height"], split["max_people"])


class ConfiguredSplitsTest(tf.test.TestCase):

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def test_the_arguments_gin_gives_each_split(self):
    testing.parse_config("synthetic.gin")
    self.assertEqual([_key(s) for s in make_synthetic.configured_splits()],
                     [("data/synthetic", "train", 1500, 0, 288, 224, 3),
                      ("data/synthetic", "val", 150, 0, 288, 224, 3)])
    # Unscoped bindings reach every scope, scoped ones override them; macros are resolved.
    testing.parse_config("smoke.gin", ["synthetic_coco.seed = 4", "val/synthetic_coco.seed = 5",
                                       "PEOPLE = 2", "synthetic_coco.max_people = %PEOPLE"])
    self.assertEqual([_key(s) for s in make_synthetic.configured_splits()],
                     [("data/synthetic_smoke", "train", 12, 4, 288, 224, 2),
                      ("data/synthetic_smoke", "val", 4, 5, 288, 224, 2)])

  def test_a_config_on_coco_names_none(self):
    testing.parse_config("partial_2k.gin")
    self.assertEqual(make_synthetic.configured_splits(), [])

  def test_one_split_with_two_parameter_sets_is_an_error(self):
    # Validating on the train split with other parameters: one would replace the other.
    testing.parse_config("smoke.gin", ["val/synthetic_coco.split = 'train'"])
    with self.assertRaisesRegex(ValueError, "split 'train' under .*synthetic_smoke twice"):
      make_synthetic.configured_splits()
    testing.parse_config("smoke.gin", ["val/synthetic_coco.split = 'train'",
                                       "val/synthetic_coco.num_images = 12"])
    self.assertLen(make_synthetic.configured_splits(), 1)  # the same split twice


class MakeForConfigTest(tf.test.TestCase):

  def test_the_command_generates_what_the_run_loads_and_a_rerun_writes_nothing(self):
    root = os.path.join(self.get_temp_dir(), "data")
    bindings = [f"train/synthetic_coco.root = '{root}'", f"val/synthetic_coco.root = '{root}'",
                "train/synthetic_coco.num_images = 2", "val/synthetic_coco.num_images = 1"]
    subprocess.run([sys.executable, "-m", "tfpose_ssl.tools.make_synthetic",
                    "--config=configs/smoke.gin"] + [f"--gin_bindings={b}" for b in bindings],
                   cwd=testing.REPO_ROOT, check=True, capture_output=True, timeout=600,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=testing.REPO_ROOT))
    annotations = os.path.join(root, "annotations")
    stamps = {name: os.stat(os.path.join(annotations, name)).st_mtime_ns
              for name in os.listdir(annotations)}
    made = make_synthetic.make_for_config([os.path.join("configs", "smoke.gin")], bindings)
    self.assertEqual(gin.config_str(), "")  # cleared
    self.assertEqual({name: os.stat(os.path.join(annotations, name)).st_mtime_ns
                      for name in os.listdir(annotations)}, stamps)
    testing.parse_config("smoke.gin", bindings)
    try:
      task = task_lib.PoseTask()
    finally:
      gin.clear_config()
    self.assertEqual([task.train_set.annotation_path, task.val_set.annotation_path],
                     [dataset.annotation_path for dataset in made])


if __name__ == "__main__":
  tf.test.main()
