"""The whole path on a dataset with its own keypoints: train the method, evaluate, export,
predict and draw.

The dataset: the synthetic people reduced to 5 joints under other names, in category 7 with
its own OKS sigmas, skeleton and upper body, so that nothing can fall back on COCO's person.
"""

import json
import os

import gin
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import task as task_lib
from tfpose_ssl import training as train_lib
from tfpose_ssl.evaluation import metrics
from tfpose_ssl.serving import exporter
from tfpose_ssl.serving import pose_module
from tfpose_ssl.serving import predictor as predictor_lib

# COCO joint -> the toy dataset's name for it.
JOINTS = {0: "snout", 9: "left_paw", 10: "right_paw", 15: "left_foot", 16: "right_foot"}
SIGMAS = [0.05, 0.08, 0.08, 0.1, 0.1]
CATEGORY = {"id": 7, "name": "critter", "supercategory": "animal",
            "keypoints": list(JOINTS.values()), "skeleton": [[1, 2], [1, 3], [1, 4], [1, 5]]}


def relabel(source, target):
  """Writes the COCO person annotations of `source` as the toy category's, to `target`."""
  with open(source) as f:
    data = json.load(f)
  for ann in data["annotations"]:
    kps = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)[list(JOINTS)]
    ann.update(category_id=7, keypoints=kps.reshape(-1).tolist(),
               num_keypoints=int((kps[:, 2] > 0).sum()))
  data["categories"] = [CATEGORY]
  with open(target, "w") as f:
    json.dump(data, f)


class OwnKeypointsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    tmp = tf.compat.v1.test.get_temp_dir()
    data_root = os.path.join(tmp, "smoke_data")
    testing.make_synthetic(data_root)
    testing.parse_config("smoke.gin", [f"train/synthetic_coco.root = '{data_root}'",
                                       f"val/synthetic_coco.root = '{data_root}'"])
    person_task = task_lib.PoseTask()
    cls.bindings = []
    for split in ("train", "val"):
      dataset = getattr(person_task, f"{split}_set")
      path = os.path.join(tmp, f"critters_{split}.json")
      relabel(dataset.annotation_path, path)
      cls.bindings += [f"PoseTask.{split}_set = @{split}/CocoKeypoints()",
                       f"{split}/CocoKeypoints.annotation_file = '{path}'",
                       f"{split}/CocoKeypoints.image_dir = '{dataset.image_path}'"]
    cls.image_dir = person_task.val_set.image_path
    gin.clear_config()
    cls.bindings += ["CocoKeypoints.category_id = 7", f"CocoKeypoints.oks_sigmas = {SIGMAS}",
                     "CocoKeypoints.upper_body = ['snout', 'left_paw', 'right_paw']",
                     "TopDownAugment.half_body_prob = 0.5",
                     "TopDownAugment.half_body_min_joints = 2",
                     "train.num_labeled = 8", "train.verbose = 0"]

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def test_train_evaluate_export_predict_draw(self):
    workdir = os.path.join(self.get_temp_dir(), "run")
    testing.parse_config("smoke.gin", self.bindings)
    result = train_lib.train(workdir=workdir)
    task = task_lib.PoseTask()
    schema = task.schema
    self.assertEqual(schema.names, tuple(JOINTS.values()))
    self.assertEqual(schema.flip_permutation(), (0, 2, 1, 4, 3))
    self.assertEqual(schema.oks_sigmas, tuple(SIGMAS))
    self.assertTrue(np.all(np.isfinite([epoch["loss"] for epoch in result.history])))

    # Evaluation: the toy category's results, scored by pycocotools with the toy sigmas.
    report = result.report
    self.assertEqual(set(report.metrics), {"student_1", "student_2", "ensemble"})
    student = report.metrics["student_1"]
    self.assertLen(student["PCK_per_joint"], 5)
    self.assertEqual(list(student["PCK_meta"]), ["snout", "paw", "foot"])
    with open(os.path.join(workdir, "results", "student_1_results.json")) as f:
      results = json.load(f)
    self.assertNotEmpty(results)
    self.assertEqual({r["category_id"] for r in results}, {7})
    self.assertEqual({len(r["keypoints"]) for r in results}, {15})
    recomputed = metrics.coco_keypoint_metrics(task.val_set.annotation_path, results,
                                               schema=schema, category_id=7)
    self.assertAlmostEqual(student["AP"], recomputed["AP"], places=6)
    self.assertTrue(os.path.exists(os.path.join(workdir, "skeletons.png")))

    # Export and predict: the metadata carries the schema, predict draws its limbs.
    out = os.path.join(self.get_temp_dir(), "exported")
    paths = exporter.export(task, workdir, out, variants=())
    with open(os.path.join(paths[0], pose_module.METADATA_FILE)) as f:
      self.assertEqual(predictor_lib.keypoint_schema(json.load(f)), schema)
    with open(task.val_set.annotation_path) as f:
      image_name = json.load(f)["images"][0]["file_name"]
    image_path = os.path.join(self.image_dir, image_name)
    predicted, drawn = predictor_lib.predict(paths[0], image_path, joint_threshold=-1.0)
    self.assertLen(predicted, 1)
    self.assertLen(predicted[0]["keypoints"], 15)
    self.assertEqual(predicted[0]["category_id"], 7)
    image = tf.io.decode_image(tf.io.read_file(image_path), channels=3).numpy()
    self.assertEqual(drawn.shape, image.shape)
    self.assertTrue(np.any(drawn != image))


if __name__ == "__main__":
  tf.test.main()
