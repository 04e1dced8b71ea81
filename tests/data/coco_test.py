"""Tests of the COCO loader on the real COCO mini set and on hand-made bad files."""

import dataclasses
import json
import os
import re

import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.data import coco
from tfpose_ssl.data import pipeline
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp


class CocoLoaderTest(tf.test.TestCase):

  def test_reads_coco_mini(self):
    dataset = testing.coco_mini_dataset()
    everyone, counts = coco.load_instances(dataset, require_keypoints=False)
    self.assertLen(everyone, 14)
    labeled, counts = coco.load_instances(dataset)
    self.assertLen(labeled, 12)
    self.assertEqual(counts["no_keypoints"], 2)
    self.assertEqual(sorted(set(labeled.image_ids.tolist())), [785, 40083, 196141, 197388])
    row = np.nonzero(labeled.ann_ids == 442619)[0][0]
    self.assertAllClose(labeled.keypoints[row, 0], [367, 81, 2])
    self.assertAllClose(labeled.boxes[row], [280.79, 44.73, 218.7, 346.68], atol=1e-3)

  def test_crops_contain_their_keypoints(self):
    labeled, _ = coco.load_instances(testing.coco_mini_dataset())
    codec = codec_lib.KeypointCodec((256, 192))
    center, scale = geometry.box_to_center_scale(labeled.boxes, codec.aspect_ratio)
    matrices = geometry.affine_from_params(center, scale, np.zeros(len(labeled)), (256, 192))
    crop_xy = geometry.apply_affine(labeled.keypoints[..., :2], matrices).numpy()
    labeled_joints = labeled.keypoints[..., 2] > 0
    inside = ((crop_xy[..., 0] >= 0) & (crop_xy[..., 0] <= 191) & (crop_xy[..., 1] >= 0)
              & (crop_xy[..., 1] <= 255))
    self.assertTrue(np.all(inside[labeled_joints]))
    # And the eval pipeline's crops are real pixels (not the zero fill) there.
    batch = next(iter(pipeline.eval_dataset(labeled, codec, batch_size=12)))
    images = batch["image"].numpy()
    for i in range(12):
      for x, y in crop_xy[i][labeled_joints[i]]:
        self.assertGreater(images[i, int(y), int(x)].sum(), 0.0)

  def test_detections(self):
    root = testing.coco_mini_dir()
    path = os.path.join(root, "annotations", "person_detection_results_mini.json")
    dets, _ = coco.load_instances(testing.coco_mini_dataset(), detections=path)
    self.assertLen(dets, 118)
    self.assertTrue(np.all(dets.ann_ids == -1))
    kept, counts = coco.load_instances(testing.coco_mini_dataset(), detections=path,
                                       score_threshold=0.5)
    with open(path) as f:
      expected = sum(d["score"] >= 0.5 for d in json.load(f))
    self.assertLen(kept, expected)
    self.assertEqual(counts["low_score"], 118 - expected)

  def test_unlabeled_folder_with_detector_boxes(self):
    root = testing.coco_mini_dir()
    source = coco.UnlabeledImages(
        image_dir="images", detections="annotations/person_detection_results_mini.json",
        score_threshold=0.0, root=root)
    instances, counts = coco.load_unlabeled(source, kp.NUM_JOINTS)  # ids from the file names
    self.assertLen(instances, 118)
    self.assertEqual(sum(counts.values()), 0)
    self.assertAllEqual(instances.keypoints, np.zeros((118, 17, 3)))
    self.assertEqual(sorted(set(instances.image_ids.tolist())), [785, 40083, 196141, 197388])
    # The boxes kept are the task's category's (all 118 are persons, category 1): a task on
    # category 7 keeps none, unless the source names its class.
    _, counts = coco.load_unlabeled(source, 5, category_id=7)
    self.assertEqual(counts["other_category"], 118)
    named = dataclasses.replace(source, category_id=1)
    self.assertLen(coco.load_unlabeled(named, 5, category_id=7)[0], 118)
    with self.assertRaisesRegex(coco.DataError, "no images"):
      coco.load_unlabeled(coco.UnlabeledImages(self.get_temp_dir(), "x.json"), kp.NUM_JOINTS)

  def test_clip_box(self):
    self.assertEqual(coco.clip_box([-10, -5, 30, 20], 100, 50), [0.0, 0.0, 20.0, 15.0])
    self.assertEqual(coco.clip_box([90, 40, 30, 20], 100, 50), [90.0, 40.0, 10.0, 10.0])
    self.assertIsNone(coco.clip_box([10, 10, 0, 5], 100, 50))
    self.assertIsNone(coco.clip_box([120, 10, 5, 5], 100, 50))

  def test_structural_errors_name_the_file(self):
    tmp = self.get_temp_dir()
    missing = coco.CocoKeypoints(os.path.join(tmp, "nope.json"), tmp)
    with self.assertRaisesRegex(coco.DataError, "not found.*nope.json"):
      coco.load_instances(missing)
    bad = os.path.join(tmp, "truncated.json")
    with open(bad, "w") as f:
      f.write('{"images": [')
    with self.assertRaisesRegex(coco.DataError, "truncated.json: not valid JSON"):
      coco.load_instances(coco.CocoKeypoints(bad, tmp))
    no_person = os.path.join(tmp, "no_person.json")
    with open(no_person, "w") as f:
      json.dump({"images": [], "annotations": [], "categories": [{"id": 2, "name": "cat"}]}, f)
    with self.assertRaisesRegex(coco.DataError, r"no category with id 1 \(COCO's 'person'\)"):
      coco.load_instances(coco.CocoKeypoints(no_person, tmp))
    wrong = os.path.join(tmp, "wrong.json")
    with open(wrong, "w") as f:
      json.dump({"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                 "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5],
                                  "keypoints": [1, 1, 2] * 14, "iscrowd": 0}],
                 "categories": [{"id": 1, "name": "person"}]}, f)
    with self.assertRaisesRegex(coco.DataError,
                                "annotation id 7 has 14 keypoints, its category 17"):
      coco.load_instances(coco.CocoKeypoints(wrong, tmp))

  def test_reads_its_own_keypoint_category(self):
    tmp = self.get_temp_dir()
    open(os.path.join(tmp, "a.jpg"), "wb").close()  # load_instances only checks it exists
    critter = {"id": 5, "name": "critter", "keypoints": ["snout", "left_ear", "right_ear", "tail"],
               "skeleton": [[1, 2], [1, 3], [1, 4]]}
    ann = lambda i, category_id, num: {"id": i, "image_id": 1, "category_id": category_id,
                                       "bbox": [1, 1, 8, 8], "keypoints": [2, 2, 2] * num,
                                       "iscrowd": 0}
    path = os.path.join(tmp, "critters.json")

    def write(annotations):
      with open(path, "w") as f:
        json.dump({"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                   "annotations": annotations,
                   "categories": [{"id": 1, "name": "person"}, critter]}, f)

    write([ann(1, 5, 4), ann(2, 1, 17), ann(3, 5, 4)])
    dataset = coco.CocoKeypoints(path, tmp, category_id=5, oks_sigmas=[0.1, 0.2, 0.2, 0.3])
    instances, counts = coco.load_instances(dataset)
    self.assertEqual(instances.keypoints.shape, (2, 4, 3))
    self.assertEqual(counts["other_category"], 1)
    self.assertEqual(dataset.schema.names, tuple(critter["keypoints"]))
    self.assertEqual(dataset.schema.skeleton, ((0, 1), (0, 2), (0, 3)))
    self.assertEqual(dataset.schema.flip_permutation(), (0, 2, 1, 3))
    self.assertEqual(dataset.schema.oks_sigmas, (0.1, 0.2, 0.2, 0.3))
    self.assertIs(vars(dataset)["schema"], dataset.schema)  # read with the instances
    # The same file's person category is COCO's (a category without names is COCO's person).
    self.assertEqual(coco.CocoKeypoints(path, tmp).schema, kp.COCO_PERSON)
    with self.assertRaisesRegex(coco.DataError,
                                r"critters.json: category 'critter' has 4 keypoints.*"
                                r"gin: CocoKeypoints.oks_sigmas"):
      coco.load_instances(coco.CocoKeypoints(path, tmp, category_id=5))
    write([ann(1, 5, 4), ann(3, 5, 17)])
    with self.assertRaisesRegex(coco.DataError, "annotation id 3 has 17 keypoints, its "
                                                "category 4"):
      coco.load_instances(dataset)
    # Detector boxes of the category get its number of (zero) keypoints.
    detections = os.path.join(tmp, "dets.json")
    with open(detections, "w") as f:
      json.dump([{"image_id": 1, "category_id": 5, "bbox": [1, 1, 5, 5], "score": 0.9},
                 {"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.9}], f)
    boxes, counts = coco.load_instances(dataset, detections=detections)
    self.assertAllEqual(boxes.keypoints, np.zeros((1, 4, 3)))
    self.assertEqual(counts["other_category"], 1)

  def test_duplicate_ids_are_refused_with_the_ids(self):
    tmp = self.get_temp_dir()
    person = {"id": 1, "name": "person"}

    def write(name, images, annotations):
      path = os.path.join(tmp, name)
      with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": [person]}, f)
      return coco.CocoKeypoints(path, tmp)

    image = lambda i, name: {"id": i, "file_name": name, "width": 10, "height": 10}
    ann = lambda i, image_id: {"id": i, "image_id": image_id, "category_id": 1,
                               "bbox": [1, 1, 5, 5], "keypoints": [2, 2, 2] * 17, "iscrowd": 0}
    # Before: the second image 3 silently replaced the first.
    images = write("dup_images.json", [image(3, "a.jpg"), image(4, "b.jpg"), image(3, "c.jpg")],
                   [ann(1, 3)])
    with self.assertRaisesRegex(coco.DataError, r"dup_images.json: 1 image id\(s\).*\[3\]"):
      coco.load_instances(images)
    # Before: a split over these reported a negative number of missing ids.
    anns = write("dup_anns.json", [image(3, "a.jpg")], [ann(5, 3), ann(6, 3), ann(5, 3), ann(6, 3)])
    with self.assertRaisesRegex(coco.DataError, r"2 annotation id\(s\).*\[5, 6\]"):
      coco.load_instances(anns)
    self.assertEqual(coco.duplicate_ids([1, 2, 2, 3, 1, 2]), [2, 1])

  def test_file_names_outside_the_image_folder_are_refused(self):
    tmp = self.get_temp_dir()
    image_dir = os.path.join(tmp, "images")
    os.makedirs(os.path.join(image_dir, "sub"), exist_ok=True)
    outside = os.path.join(tmp, "outside.jpg")  # exists: before, it was read as image 9
    for path in (outside, os.path.join(image_dir, "a.jpg"),
                 os.path.join(image_dir, "sub", "b.jpg")):
      with open(path, "wb") as f:
        f.write(b"x")
    ann = lambda i: {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 5, 5],
                     "keypoints": [2, 2, 2] * 17, "iscrowd": 0}

    def dataset(name, file_name):
      path = os.path.join(tmp, name + ".json")
      images = [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
                {"id": 9, "file_name": file_name, "width": 10, "height": 10}]
      with open(path, "w") as f:
        json.dump({"images": images, "annotations": [ann(1), ann(9)],
                   "categories": [{"id": 1, "name": "person"}]}, f)
      return coco.CocoKeypoints(path, image_dir)

    for name, file_name, reason in (("parent", "../outside.jpg", r"leaves the image folder"),
                                    ("nested", "sub/../../outside.jpg", r"leaves the image folder"),
                                    ("absolute", outside, r"is an absolute path")):
      with self.assertRaisesRegex(
          coco.DataError, rf"{name}.json: image id 9 has file_name '{re.escape(file_name)}', "
          rf"which {reason}"):
        coco.load_instances(dataset(name, file_name))
    # Relative names inside the folder, subfolders included, still load.
    for name, file_name in (("subfolder", "sub/b.jpg"), ("dotted", "./sub/../a.jpg")):
      instances, counts = coco.load_instances(dataset(name, file_name))
      self.assertLen(instances, 2)
      self.assertEqual(counts["missing_image_file"], 0)
    # An unlabeled set's image_info is held to the same rule.
    info = os.path.join(tmp, "info.json")
    with open(info, "w") as f:
      json.dump({"images": [{"id": 9, "file_name": "../outside.jpg", "width": 10,
                             "height": 10}]}, f)
    with open(os.path.join(tmp, "dets.json"), "w") as f:
      json.dump([{"image_id": 9, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.9}], f)
    with self.assertRaisesRegex(coco.DataError, r"info.json: image id 9 has file_name"):
      coco.load_unlabeled(coco.UnlabeledImages("images", "dets.json", image_info="info.json",
                                               root=tmp), kp.NUM_JOINTS)

  def test_detections_with_a_nan_score_are_counted_not_kept(self):
    root = testing.coco_mini_dir()
    with open(os.path.join(root, "annotations", "person_detection_results_mini.json")) as f:
      dets = json.load(f)[:3]
    dets[1]["score"] = float("nan")  # json writes NaN, Python's json reads it back
    path = os.path.join(self.get_temp_dir(), "nan_dets.json")
    with open(path, "w") as f:
      json.dump(dets, f)
    kept, counts = coco.load_instances(testing.coco_mini_dataset(), detections=path,
                                       score_threshold=0.0)
    self.assertLen(kept, 2)
    self.assertEqual(counts["bad_score"], 1)
    self.assertTrue(np.all(np.isfinite(kept.scores)))


if __name__ == "__main__":
  tf.test.main()
