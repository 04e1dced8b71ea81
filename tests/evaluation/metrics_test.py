"""Tests of the metrics with hand-computed values, and AP = 1 for ground truth on real COCO."""

import json
import os

import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.data import coco
from tfpose_ssl.evaluation import metrics as metrics_lib
from tfpose_ssl.ops import keypoints as kp


# A 5-joint toy category with its own OKS sigmas (neither COCO's count nor its values).
TOY_CATEGORY = {"id": 3, "name": "toy", "supercategory": "toy",
                "keypoints": ["head", "left_hand", "right_hand", "left_foot", "right_foot"],
                "skeleton": [[1, 2], [1, 3], [1, 4], [1, 5]]}
TOY_SIGMAS = (0.05, 0.1, 0.1, 0.2, 0.2)


def _write_gt(path, keypoints, area=10000.0, category=kp.PERSON_CATEGORY):
  data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 200}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": category["id"], "iscrowd": 0,
                           "area": area, "bbox": [0, 0, 100, 100],
                           "keypoints": np.asarray(keypoints).reshape(-1).tolist(),
                           "num_keypoints": int(np.sum(np.asarray(keypoints)[:, 2] > 0))}],
          "categories": [category]}
  with open(path, "w") as f:
    json.dump(data, f)


class CocoMetricsTest(tf.test.TestCase):

  def test_ground_truth_scores_ap_one_on_coco_mini(self):
    dataset = testing.coco_mini_dataset()
    labeled, _ = coco.load_instances(dataset)
    results = metrics_lib.to_coco_results(
        labeled.image_ids, labeled.keypoints[..., :2], (labeled.keypoints[..., 2] > 0) * 1.0,
        np.ones(len(labeled)), labeled.areas)
    metrics = metrics_lib.coco_keypoint_metrics(dataset.annotation_path, results)
    self.assertEqual(metrics["AP"], 1.0)
    self.assertEqual(metrics["AR"], 1.0)
    self.assertEqual(set(metrics), set(metrics_lib.STAT_NAMES))

  def test_hand_computed_oks_gives_known_ap(self):
    gt = np.zeros((17, 3))
    gt[:, 0] = np.arange(17) * 5 + 10
    gt[:, 1] = 50
    gt[:, 2] = 2
    path = os.path.join(self.get_temp_dir(), "gt.json")
    _write_gt(path, gt)
    pred = gt.copy()
    pred[[3, 8, 12, 15], 0] += 1000.0  # 4 joints far off: OKS = 13/17 = 0.765
    pred[:, 2] = 1.0
    result = [{"image_id": 1, "category_id": 1, "keypoints": pred.reshape(-1).tolist(),
               "score": 0.9}]
    metrics = metrics_lib.coco_keypoint_metrics(path, result)
    # Matched at OKS thresholds 0.50 ... 0.75 (6 of 10), precision 1 there.
    self.assertAlmostEqual(metrics["AP"], 0.6, places=6)
    self.assertAlmostEqual(metrics["AP50"], 1.0, places=6)
    self.assertAlmostEqual(metrics["AP75"], 1.0, places=6)
    # Our OKS helper agrees: 13/17 with both areas 10000.
    oks = metrics_lib.oks_iou(gt, 10000.0, pred[None], np.array([10000.0]))
    self.assertAlmostEqual(float(oks[0]), 13.0 / 17.0, places=6)

  def test_oks_of_one_joint_at_half(self):
    # d^2 = 2 * area * (2 sigma)^2 * ln 2 gives exp(-ln 2) = 0.5 for that joint.
    area = 400.0
    d = np.sqrt(2 * area * (2 * kp.OKS_SIGMAS[0]) ** 2 * np.log(2.0))
    gt = np.zeros((17, 3))
    pred = gt.copy()
    pred[0, 0] = d
    oks = metrics_lib.oks_iou(gt, area, pred[None], np.array([area]))
    self.assertAlmostEqual(float(oks[0]), (16 + 0.5) / 17, places=6)

  def test_empty_and_bad_results(self):
    dataset = testing.coco_mini_dataset()
    self.assertEqual(metrics_lib.coco_keypoint_metrics(dataset.annotation_path, [])["AP"], 0.0)
    good = {"image_id": 785, "category_id": 1, "keypoints": [0.0] * 51, "score": 1.0}
    with self.assertRaisesRegex(metrics_lib.ResultsError, "image_id 12345 is not in"):
      metrics_lib.coco_keypoint_metrics(dataset.annotation_path, [dict(good, image_id=12345)])
    with self.assertRaisesRegex(metrics_lib.ResultsError, "48 keypoint values"):
      metrics_lib.coco_keypoint_metrics(dataset.annotation_path,
                                       [dict(good, keypoints=[0.0] * 48)])
    with self.assertRaisesRegex(metrics_lib.ResultsError, "non-finite"):
      metrics_lib.coco_keypoint_metrics(dataset.annotation_path, [dict(good, score=float("nan"))])


class OwnSchemaTest(tf.test.TestCase):
  """A 5-joint dataset in COCO format, scored with its own sigmas."""

  def setUp(self):
    super().setUp()
    self.schema = kp.KeypointSchema.from_coco_category(TOY_CATEGORY, oks_sigmas=TOY_SIGMAS)
    self.path = os.path.join(self.get_temp_dir(), "toy.json")
    self.gt = np.array([[50, 20, 2], [30, 50, 2], [70, 50, 2], [40, 90, 2], [60, 90, 2]],
                       np.float64)
    _write_gt(self.path, self.gt, area=10000.0, category=TOY_CATEGORY)

  def test_hand_computed_oks_with_the_schemas_sigmas(self):
    # Joint 1 (sigma 0.1) moved by d with d^2 = 2 * area * (2 sigma)^2: exp(-1) for it, so
    # OKS = (4 + e^-1) / 5 = 0.8736; COCO's sigmas would not even fit 5 joints.
    d = np.sqrt(2 * 10000.0 * (2 * TOY_SIGMAS[1]) ** 2)
    pred = self.gt.copy()
    pred[1, 0] += d
    expected = (4 + np.exp(-1.0)) / 5
    oks = metrics_lib.oks_iou(self.gt, 10000.0, pred[None], np.array([10000.0]),
                              self.schema.oks_sigmas)
    self.assertAlmostEqual(float(oks[0]), expected, places=6)
    results = metrics_lib.to_coco_results([1], pred[None, :, :2], np.ones((1, 5)), [1.0],
                                         [10000.0], sigmas=self.schema.oks_sigmas,
                                         category_id=3)
    self.assertEqual(results[0]["category_id"], 3)
    self.assertLen(results[0]["keypoints"], 15)
    metrics = metrics_lib.coco_keypoint_metrics(self.path, results, schema=self.schema,
                                                category_id=3)
    # Matched at OKS thresholds 0.50 ... 0.85 (8 of 10), precision 1 there.
    self.assertAlmostEqual(metrics["AP"], 0.8, places=6)
    self.assertAlmostEqual(metrics["AP75"], 1.0, places=6)

  def test_only_the_keypoint_category_is_scored(self):
    # The same file with a second category (COCO's person, with ground truth and no results,
    # and no num_keypoints on its annotation): the AP is the toy category's alone, not the mean
    # over both categories (0.4).
    with open(self.path) as f:
      data = json.load(f)
    data["categories"].append(kp.PERSON_CATEGORY)
    data["annotations"].append({"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0,
                                "area": 5000.0, "bbox": [100, 100, 50, 100],
                                "keypoints": [120, 110, 2] + [0] * 48})
    with open(self.path, "w") as f:
      json.dump(data, f)
    d = np.sqrt(2 * 10000.0 * (2 * TOY_SIGMAS[1]) ** 2)
    pred = self.gt.copy()
    pred[1, 0] += d
    results = metrics_lib.to_coco_results([1], pred[None, :, :2], np.ones((1, 5)), [1.0],
                                         [10000.0], sigmas=self.schema.oks_sigmas,
                                         category_id=3)
    metrics = metrics_lib.coco_keypoint_metrics(self.path, results, schema=self.schema,
                                                category_id=3)
    self.assertAlmostEqual(metrics["AP"], 0.8, places=6)

  def test_mismatched_or_missing_schema_is_refused(self):
    result = [{"image_id": 1, "category_id": 3, "keypoints": [0.0] * 15, "score": 1.0}]
    with self.assertRaisesRegex(ValueError, "'toy' has 5 keypoints.*oks_sigmas"):
      metrics_lib.coco_keypoint_metrics(self.path, result, category_id=3)
    with self.assertRaisesRegex(ValueError, "category 3 has 5 keypoints, the keypoint schema 17"):
      metrics_lib.coco_keypoint_metrics(self.path, result, schema=kp.COCO_PERSON, category_id=3)
    with self.assertRaisesRegex(ValueError, "no category with id 1"):
      metrics_lib.coco_keypoint_metrics(self.path, result, schema=self.schema)
    with self.assertRaisesRegex(metrics_lib.ResultsError, "45 keypoint values, expected 15"):
      metrics_lib.coco_keypoint_metrics(self.path, [dict(result[0], keypoints=[0.0] * 45)],
                                        schema=self.schema, category_id=3)

  def test_pck_meta_joints_and_oks_nms_follow_the_schema(self):
    gt = np.concatenate([self.gt[None, :, :2], np.full((1, 5, 1), 2.0)], axis=-1)
    pred = self.gt[None, :, :2].copy()
    pred[0, 1, 0] += 50.0  # left hand wrong at alpha 0.1 of a 100-pixel box
    result = metrics_lib.pck(pred, gt, np.array([[0, 0, 100, 100.0]]), schema=self.schema)
    self.assertAllClose(result["per_joint"], [1, 0, 1, 1, 1])
    self.assertEqual(result["meta"], {"head": 1.0, "hand": 0.5, "foot": 1.0})
    with self.assertRaisesRegex(ValueError, "pck got 5 joints, the keypoint schema has 17"):
      metrics_lib.pck(pred, gt, np.array([[0, 0, 100, 100.0]]))
    poses = np.stack([gt[0], gt[0] + [0.5, 0, 0]])
    self.assertEqual(metrics_lib.oks_nms(poses, [0.2, 0.9], np.full(2, 5000.0),
                                         sigmas=self.schema.oks_sigmas), [1])
    with self.assertRaisesRegex(ValueError, "17 OKS sigmas for 5 joints"):
      metrics_lib.oks_nms(poses, [0.2, 0.9], np.full(2, 5000.0))


class PckTest(tf.test.TestCase):

  def test_hand_case(self):
    gt = np.zeros((2, 17, 3))
    gt[..., 2] = 2
    gt[1, 16, 2] = 0  # unlabeled: ignored
    boxes = np.array([[0, 0, 100, 50], [0, 0, 40, 80]], np.float64)  # thresholds 10 and 8
    pred = np.zeros((2, 17, 2))
    pred[0, 0] = [6, 8]  # distance 10: correct (<=)
    pred[1, 0] = [0, 9]  # distance 9 > 8: wrong
    pred[0, 1] = [10.5, 0]  # wrong
    pred[1, 16] = [500, 500]  # unlabeled
    result = metrics_lib.pck(pred, gt, boxes, alpha=0.1)
    per_joint = result["per_joint"]
    self.assertAllClose(per_joint[0], 0.5)
    self.assertAllClose(per_joint[1], 0.5)
    self.assertAllClose(per_joint[16], 1.0)  # only instance 0 is labeled there
    self.assertAllClose(per_joint[2:16], np.ones(14))
    self.assertAllClose(result["mean"], (0.5 + 0.5 + 15.0) / 17)
    meta = result["meta"]
    self.assertAllClose(meta["head"], (0.5 + 0.5 + 1 + 1 + 1) / 5)
    self.assertAllClose(meta["ankle"], 1.0)
    self.assertEqual(list(meta), ["ankle", "knee", "hip", "wrist", "elbow", "shoulder", "head"])

  def test_never_labeled_joint_is_nan_and_left_out(self):
    gt = np.zeros((1, 17, 3))
    gt[0, :16, 2] = 1
    result = metrics_lib.pck(np.zeros((1, 17, 2)), gt, np.array([[0, 0, 10, 10.0]]))
    self.assertTrue(np.isnan(result["per_joint"][16]))
    self.assertAllClose(result["mean"], 1.0)
    self.assertAllClose(result["meta"]["ankle"], 1.0)

  def test_shape_errors(self):
    with self.assertRaisesRegex(ValueError, "pck expects"):
      metrics_lib.pck(np.zeros((1, 17, 3)), np.zeros((1, 17, 3)), np.ones((1, 4)))


class RescoreNmsTest(tf.test.TestCase):

  def test_rescore(self):
    scores = metrics_lib.rescore([[0.9, 0.1, 0.5] + [0.0] * 14], [0.8])
    self.assertAllClose(scores, [0.8 * 0.7])
    self.assertAllClose(metrics_lib.rescore([[0.1] * 17], [1.0]), [0.0])

  def test_oks_nms_drops_duplicates_keeps_distinct(self):
    pose = np.zeros((17, 3))
    pose[:, 0] = np.arange(17) * 10
    pose[:, 2] = 1
    far = pose.copy()
    far[:, 0] += 500
    poses = np.stack([pose, pose + [0.5, 0, 0], far])
    keep = metrics_lib.oks_nms(poses, np.array([0.5, 0.9, 0.7]), np.full(3, 5000.0))
    self.assertEqual(keep, [1, 2])

  def test_to_coco_results_format(self):
    results = metrics_lib.to_coco_results([7, 7], np.zeros((2, 17, 2)), np.full((2, 17), 0.5),
                                         [1.0, 1.0], [100.0, 100.0], nms_threshold=None)
    self.assertLen(results, 2)
    self.assertEqual(set(results[0]), {"image_id", "category_id", "keypoints", "score"})
    self.assertLen(results[0]["keypoints"], 51)
    self.assertEqual(results[0]["image_id"], 7)


if __name__ == "__main__":
  tf.test.main()
