"""Tests of the synthetic COCO-format people generator."""

import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from tfpose_ssl import keypoints as kp
from tfpose_ssl.data import coco
from tfpose_ssl.data import synthetic


class SyntheticTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = os.path.join(tf.compat.v1.test.get_temp_dir(), "synthetic")
    cls.path = synthetic.generate_split(cls.root, "train", num_images=6, seed=3)
    with open(cls.path) as f:
      cls.data = json.load(f)

  def test_exact_coco_keypoint_format(self):
    data = self.data
    self.assertEqual(set(data), {"info", "licenses", "images", "annotations", "categories"})
    self.assertEqual(data["categories"], [kp.PERSON_CATEGORY])
    self.assertLen(data["images"], 6)
    for image in data["images"]:
      self.assertEqual(set(image), {"id", "file_name", "width", "height"})
      self.assertTrue(os.path.isfile(os.path.join(self.root, "images", image["file_name"])))
    ids = [a["id"] for a in data["annotations"]]
    self.assertEqual(ids, list(range(1, len(ids) + 1)))
    for ann in data["annotations"]:
      self.assertEqual(set(ann), {"id", "image_id", "category_id", "keypoints", "num_keypoints",
                                  "bbox", "area", "iscrowd"})
      self.assertLen(ann["keypoints"], 51)
      k = np.asarray(ann["keypoints"]).reshape(17, 3)
      self.assertEqual(ann["num_keypoints"], int(np.sum(k[:, 2] > 0)))
      self.assertTrue(set(k[:, 2].tolist()) <= {0, 1, 2})
      # COCO writes unlabeled joints as (0, 0, 0).
      self.assertAllEqual(k[k[:, 2] == 0, :2], np.zeros((int(np.sum(k[:, 2] == 0)), 2)))
      image = data["images"][ann["image_id"] - 1]
      x, y, w, h = ann["bbox"]
      self.assertTrue(0 <= x and 0 <= y and x + w <= image["width"] and y + h <= image["height"])
      self.assertLessEqual(ann["area"], w * h)
      labeled = k[:, 2] > 0
      self.assertTrue(np.all((k[labeled, 0] >= 0) & (k[labeled, 0] <= image["width"] - 1)))

  def test_the_loader_reads_it(self):
    instances, counts = coco.load_instances(
        coco.CocoKeypoints(self.path, os.path.join(self.root, "images")), require_keypoints=False)
    self.assertLen(instances, len(self.data["annotations"]))
    self.assertEqual(sum(counts.values()), 0)

  def test_deterministic_for_a_seed(self):
    other = os.path.join(self.get_temp_dir(), "again")
    again = synthetic.generate_split(other, "train", num_images=6, seed=3)
    with open(again) as f:
      self.assertEqual(json.load(f)["annotations"], self.data["annotations"])
    name = self.data["images"][0]["file_name"]
    digest = lambda root: hashlib.md5(open(os.path.join(root, "images", name), "rb").read())
    self.assertEqual(digest(self.root).hexdigest(), digest(other).hexdigest())
    different = synthetic.generate_split(os.path.join(self.get_temp_dir(), "s4"), "train", 6, 4)
    with open(different) as f:
      self.assertNotEqual(json.load(f)["annotations"], self.data["annotations"])

  def test_occlusion_and_truncation_flags_from_painted_pixels(self):
    rng = np.random.default_rng(0)
    canvas = synthetic.Canvas(200, 160)
    pose = synthetic.sample_pose(rng, 150.0, (80.0, 100.0), 0.0)
    pose["yaw"], pose["left_far"] = 0.0, False
    pose["face_cos"] = {j: 1.0 for j in pose["face_cos"]}
    synthetic.draw_person(canvas, rng, pose, owner_base=0)
    wrist = pose["joints"][synthetic.L_WRI]
    keypoints, _, area = synthetic.label_person(canvas, pose, owner_base=0)
    self.assertEqual(keypoints[synthetic.L_WRI, 2], 2)
    self.assertEqual(area, float(np.sum((canvas.owner >= 0) & (canvas.owner < 10))))
    # Paint an occluder over the left wrist: it becomes labeled-but-occluded (v = 1).
    canvas.ellipse(wrist, 6.0, 6.0, 0.0, np.array([0.0, 0.0, 0.0], np.float32),
                   synthetic.OCCLUDER_OWNER)
    keypoints, _, _ = synthetic.label_person(canvas, pose, owner_base=0)
    self.assertEqual(keypoints[synthetic.L_WRI, 2], 1)
    self.assertAllClose(keypoints[synthetic.L_WRI, :2], np.round(wrist, 2))
    # Move the figure half out of the image: joints outside become (0, 0, 0).
    shifted = dict(pose, joints=pose["joints"] + [0.0, 150.0])
    keypoints, _, _ = synthetic.label_person(canvas, shifted, owner_base=0)
    outside = shifted["joints"][:, 1] > 199
    self.assertTrue(np.any(outside))
    self.assertAllEqual(keypoints[outside], np.zeros((int(outside.sum()), 3)))

  def test_synthetic_coco_generates_once(self):
    root = os.path.join(self.get_temp_dir(), "lazy")
    first = synthetic.synthetic_coco(root=root, split="val", num_images=2, seed=1)
    stamp = os.path.getmtime(first.annotation_path)
    second = synthetic.synthetic_coco(root=root, split="val", num_images=2, seed=1)
    self.assertEqual(os.path.getmtime(second.annotation_path), stamp)
    third = synthetic.synthetic_coco(root=root, split="val", num_images=3, seed=1)
    with open(third.annotation_path) as f:
      self.assertLen(json.load(f)["images"], 3)


if __name__ == "__main__":
  tf.test.main()
