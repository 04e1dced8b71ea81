"""The whole path on a dataset with its own keypoints: train the method, evaluate, export,
predict and draw.

The dataset: synthetic quadrupeds (the generator's second skeleton: 13 of AP-10K's keypoints in
category 2), read as a user reads their own COCO-format data: a plain `CocoKeypoints` whose
category id, OKS sigmas and front half (`upper_body`) come from gin, the names, skeleton and flip
pairs from the annotation file. Nothing can fall back on COCO's person.
"""

import json
import os

import gin
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import task as task_lib
from tfpose_ssl import training as train_lib
from tfpose_ssl.data.synthetic import quadruped
from tfpose_ssl.evaluation import metrics
from tfpose_ssl.serving import exporter
from tfpose_ssl.serving import pose_module
from tfpose_ssl.serving import predictor as predictor_lib

SCHEMA = quadruped.QUADRUPED
CATEGORY_ID = quadruped.CATEGORY["id"]


class OwnKeypointsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    data_root = os.path.join(tf.compat.v1.test.get_temp_dir(), "quadrupeds")
    skeleton = ["train/synthetic_coco.skeleton = 'quadruped'",
                "val/synthetic_coco.skeleton = 'quadruped'"]
    testing.make_synthetic(data_root, bindings=skeleton)
    testing.parse_config("smoke.gin", skeleton + [f"train/synthetic_coco.root = '{data_root}'",
                                                  f"val/synthetic_coco.root = '{data_root}'"])
    generated = task_lib.PoseTask()
    # The generator's own loader gives the schema the generator drew.
    assert generated.schema == SCHEMA, generated.schema
    cls.bindings = []
    for split in ("train", "val"):
      dataset = getattr(generated, f"{split}_set")
      cls.bindings += [f"PoseTask.{split}_set = @{split}/CocoKeypoints()",
                       f"{split}/CocoKeypoints.annotation_file = '{dataset.annotation_path}'",
                       f"{split}/CocoKeypoints.image_dir = '{dataset.image_path}'"]
    cls.image_dir = generated.val_set.image_path
    gin.clear_config()
    front = [SCHEMA.names[j] for j in SCHEMA.upper_body]
    cls.bindings += [f"CocoKeypoints.category_id = {CATEGORY_ID}",
                     f"CocoKeypoints.oks_sigmas = {list(SCHEMA.oks_sigmas)}",
                     f"CocoKeypoints.upper_body = {front}",
                     "TopDownAugment.half_body_prob = 0.5",
                     "TopDownAugment.half_body_min_joints = 2",
                     "PoseTask.flip_test = True",  # flip test swaps the schema's pairs
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
    self.assertEqual(schema, SCHEMA)  # from the file's names plus the gin bindings
    self.assertEqual(schema.flip_permutation(), (1, 0, 2, 3, 4, 6, 5, 8, 7, 10, 9, 12, 11))
    self.assertTrue(np.all(np.isfinite([epoch["loss"] for epoch in result.history])))

    # Evaluation: the category's results, scored by pycocotools with its sigmas (AP-10K's).
    report = result.report
    self.assertEqual(set(report.metrics), {"student_1", "student_2", "ensemble"})
    student = report.metrics["student_1"]
    self.assertLen(student["PCK_per_joint"], 13)
    self.assertEqual(list(student["PCK_meta"]), ["eye", "nose", "neck", "root_of_tail", "elbow",
                                                 "front_paw", "knee", "back_paw"])
    with open(os.path.join(workdir, "results", "student_1_results.json")) as f:
      results = json.load(f)
    self.assertNotEmpty(results)
    self.assertEqual({r["category_id"] for r in results}, {CATEGORY_ID})
    self.assertEqual({len(r["keypoints"]) for r in results}, {39})
    recomputed = metrics.coco_keypoint_metrics(task.val_set.annotation_path, results,
                                               schema=schema, category_id=CATEGORY_ID)
    self.assertAlmostEqual(student["AP"], recomputed["AP"], places=6)
    self.assertTrue(os.path.exists(os.path.join(workdir, "skeletons.png")))

    # Export and predict: the metadata carries the schema, predict draws its limbs. Exporting
    # reads no annotation file (as the export binary builds its task): the schema and category
    # are the ones saved beside the checkpoints.
    out = os.path.join(self.get_temp_dir(), "exported")
    annotations = [task.train_set.annotation_path, task.val_set.annotation_path]
    for path in annotations:
      os.rename(path, path + ".hidden")
    try:
      serving_task = task_lib.for_checkpoint(workdir)
      self.assertIsNone(serving_task.val_set)
      self.assertEqual(serving_task.schema, SCHEMA)
      self.assertEqual(serving_task.category_id, CATEGORY_ID)
      paths = exporter.export(serving_task, workdir, out, flip_test=True, variants=())
    finally:
      for path in annotations:
        os.rename(path + ".hidden", path)
    with open(os.path.join(paths[0], pose_module.METADATA_FILE)) as f:
      self.assertEqual(predictor_lib.keypoint_schema(json.load(f)), schema)
    with open(task.val_set.annotation_path) as f:
      image_name = json.load(f)["images"][0]["file_name"]
    image_path = os.path.join(self.image_dir, image_name)
    predicted, drawn = predictor_lib.predict(paths[0], image_path, joint_threshold=-1.0)
    self.assertLen(predicted, 1)
    self.assertLen(predicted[0]["keypoints"], 39)
    self.assertEqual(predicted[0]["category_id"], CATEGORY_ID)
    image = tf.io.decode_image(tf.io.read_file(image_path), channels=3).numpy()
    self.assertEqual(drawn.shape, image.shape)
    self.assertTrue(np.any(drawn != image))


if __name__ == "__main__":
  tf.test.main()
