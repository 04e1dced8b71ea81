"""Tests of the keypoint schema saved beside a run's checkpoints (task.write_schema)."""

import dataclasses
import json
import os

import gin
import tensorflow as tf

from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl import task as task_lib
from tfpose_ssl.data.synthetic import quadruped
from tfpose_ssl.ops import keypoints as kp


class SavedSchemaTest(tf.test.TestCase):

  def test_round_trip_and_refusal_of_other_keypoints(self):
    checkpoints = os.path.join(self.get_temp_dir(), "run", "checkpoints")
    prefix = os.path.join(checkpoints, "ckpt-3")
    self.assertIsNone(task_lib.read_schema(prefix))  # a run before the file: the data's
    task_lib.write_schema(checkpoints, quadruped.QUADRUPED)
    self.assertEqual(task_lib.read_schema(prefix), quadruped.QUADRUPED)
    with open(os.path.join(checkpoints, task_lib.SCHEMA_FILE)) as f:
      self.assertEqual(json.load(f)["names"][:3], ["left_eye", "right_eye", "nose"])
    task_lib.write_schema(checkpoints, quadruped.QUADRUPED)  # a resumed run: the same
    task_lib.check_schema(checkpoints, quadruped.QUADRUPED)  # what every worker runs first
    with self.assertRaisesRegex(ValueError, "use another workdir"):
      task_lib.check_schema(checkpoints, kp.COCO_PERSON)
    with self.assertRaisesRegex(ValueError, r"trained on the keypoints \('left_eye'.*another "
                                            "workdir"):
      task_lib.write_schema(checkpoints, kp.COCO_PERSON)
    # Same names, other sigmas (the annotation file or the config edited): refused too.
    edited = kp.KeypointSchema(**dict(vars(quadruped.QUADRUPED), oks_sigmas=(0.1,) * 13))
    with self.assertRaises(ValueError):
      task_lib.write_schema(checkpoints, edited)
    self.assertEqual(task_lib.read_schema(prefix), quadruped.QUADRUPED)  # left as it was

  def test_the_category_id_is_saved_too(self):
    checkpoints = self.get_temp_dir()
    prefix = os.path.join(checkpoints, "ckpt-1")
    task_lib.write_schema(checkpoints, quadruped.QUADRUPED, category_id=2)
    self.assertEqual(task_lib.read_category_id(prefix), 2)
    self.assertEqual(task_lib.read_schema(prefix), quadruped.QUADRUPED)
    # A file written before the id was saved: the schema, no id.
    with open(os.path.join(checkpoints, task_lib.SCHEMA_FILE), "w") as f:
      json.dump(dataclasses.asdict(quadruped.QUADRUPED), f)
    self.assertEqual(task_lib.read_schema(prefix), quadruped.QUADRUPED)
    self.assertIsNone(task_lib.read_category_id(prefix))
    with open(os.path.join(checkpoints, task_lib.SCHEMA_FILE), "w") as f:
      json.dump(dict(dataclasses.asdict(quadruped.QUADRUPED), category_id="2"), f)
    with self.assertRaisesRegex(ValueError, "category_id '2' is not an integer"):
      task_lib.read_category_id(prefix)

  def test_a_damaged_file_is_a_clear_error(self):
    checkpoints = self.get_temp_dir()
    with open(os.path.join(checkpoints, task_lib.SCHEMA_FILE), "w") as f:
      json.dump({"names": ["a"]}, f)
    with self.assertRaisesRegex(ValueError, "keypoint_schema.json: not a keypoint schema"):
      task_lib.read_schema(os.path.join(checkpoints, "ckpt-1"))


class ForCheckpointTest(tf.test.TestCase):
  """`task.for_checkpoint`: restoring and serving a checkpoint without its datasets."""

  def setUp(self):
    super().setUp()
    gin.clear_config()
    # A config whose data is a synthetic split that is not on this machine.
    missing = os.path.join(self.get_temp_dir(), "no_data_here")
    gin.parse_config(["PoseTask.val_set = @synthetic_coco()",
                      f"synthetic_coco.root = '{missing}'",
                      "PoseTask.input_size = (64, 48)"])
    self.checkpoints = os.path.join(self.get_temp_dir(), "run", "checkpoints")
    tf.train.Checkpoint(v=tf.Variable(1.0)).save(os.path.join(self.checkpoints, "ckpt"))

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def test_the_saved_schema_and_category_without_the_data(self):
    with self.assertRaisesRegex(FileNotFoundError, "no synthetic split 'train'"):
      task_lib.PoseTask()  # the data's task needs the split
    task_lib.write_schema(self.checkpoints, quadruped.QUADRUPED, category_id=2)
    workdir = os.path.dirname(self.checkpoints)
    task = task_lib.for_checkpoint(workdir)
    self.assertIsNone(task.val_set)
    self.assertIsNone(task.train_set)
    self.assertEqual(task.schema, quadruped.QUADRUPED)
    self.assertEqual(task.category_id, 2)
    self.assertEqual(tuple(task.input_size), (64, 48))  # the rest from the config
    self.assertEqual(task.codec.heatmap_size, (16, 12))

  def test_a_checkpoint_without_its_schema_gets_the_datas_task(self):
    # Without a saved schema and category (runs before them), only the data can say which
    # keypoints the model has: the data's task, which needs the split here.
    with self.assertRaisesRegex(FileNotFoundError, "no synthetic split(.|\n)*without the "
                                                   "keypoint schema(.|\n)*copy that file"):
      task_lib.for_checkpoint(self.checkpoints)
    task_lib.write_schema(self.checkpoints, quadruped.QUADRUPED)  # category 1 written
    with open(os.path.join(self.checkpoints, task_lib.SCHEMA_FILE)) as f:
      data = json.load(f)
    del data["category_id"]  # as a file written before the id was saved
    with open(os.path.join(self.checkpoints, task_lib.SCHEMA_FILE), "w") as f:
      json.dump(data, f)
    with self.assertRaisesRegex(FileNotFoundError, 'without the category id(.|\n)*add '
                                                   '"category_id"'):
      task_lib.for_checkpoint(self.checkpoints)


if __name__ == "__main__":
  tf.test.main()
