"""Tests of the keypoint schema saved beside a run's checkpoints (task.write_schema)."""

import json
import os

import tensorflow as tf

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

  def test_a_damaged_file_is_a_clear_error(self):
    checkpoints = self.get_temp_dir()
    with open(os.path.join(checkpoints, task_lib.SCHEMA_FILE), "w") as f:
      json.dump({"names": ["a"]}, f)
    with self.assertRaisesRegex(ValueError, "keypoint_schema.json: not a keypoint schema"):
      task_lib.read_schema(os.path.join(checkpoints, "ckpt-1"))


if __name__ == "__main__":
  tf.test.main()
