"""Tests of the synthetic COCO-format people (and quadrupeds) generator."""

import hashlib
import json
import os
import shlex
import subprocess
import sys
from unittest import mock

import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.data import coco
from tfpose_ssl.data import synthetic
from tfpose_ssl.data.synthetic import dataset
from tfpose_ssl.data.synthetic import drawing
from tfpose_ssl.data.synthetic import poses
from tfpose_ssl.data.synthetic import quadruped
from tfpose_ssl.ops import keypoints as kp


class _ProfileDraws:
  """A seeded generator whose draws make a quadruped in exact profile facing image-right
  (`facing` > 0) or image-left: no turn, no slope (`normal` gives 0), `random` picks the side."""

  def __init__(self, facing):
    self._rng = np.random.default_rng(5)
    self._side = 0.2 if facing > 0 else 0.8

  def normal(self, *args, **kwargs):
    del args, kwargs
    return 0.0

  def random(self):
    return self._side

  def uniform(self, *args, **kwargs):
    return self._rng.uniform(*args, **kwargs)


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
    canvas = drawing.Canvas(200, 160)
    pose = poses.sample_pose(rng, 150.0, (80.0, 100.0), 0.0)
    pose["yaw"], pose["left_far"] = 0.0, False
    pose["face_cos"] = {j: 1.0 for j in pose["face_cos"]}
    drawing.draw_person(canvas, rng, pose, owner_base=0)
    wrist = pose["joints"][poses.L_WRI]
    keypoints, _, area = drawing.label_person(canvas, pose, owner_base=0)
    self.assertEqual(keypoints[poses.L_WRI, 2], 2)
    self.assertEqual(area, float(np.sum((canvas.owner >= 0) & (canvas.owner < 10))))
    # Paint an occluder over the left wrist: it becomes labeled-but-occluded (v = 1).
    canvas.ellipse(wrist, 6.0, 6.0, 0.0, np.array([0.0, 0.0, 0.0], np.float32),
                   drawing.OCCLUDER_OWNER)
    keypoints, _, _ = drawing.label_person(canvas, pose, owner_base=0)
    self.assertEqual(keypoints[poses.L_WRI, 2], 1)
    self.assertAllClose(keypoints[poses.L_WRI, :2], np.round(wrist, 2))
    # Move the figure half out of the image: joints outside become (0, 0, 0).
    shifted = dict(pose, joints=pose["joints"] + [0.0, 150.0])
    keypoints, _, _ = drawing.label_person(canvas, shifted, owner_base=0)
    outside = shifted["joints"][:, 1] > 199
    self.assertTrue(np.any(outside))
    self.assertAllEqual(keypoints[outside], np.zeros((int(outside.sum()), 3)))

  def test_a_quadruped_split_has_its_own_category_and_schema(self):
    root = os.path.join(self.get_temp_dir(), "animals")
    people = synthetic.make_synthetic_coco(root=root, split="val", num_images=2, seed=1)
    people_files = self._files(root)
    animals = synthetic.make_synthetic_coco(root=root, split="val", num_images=3, seed=1,
                                            skeleton="quadruped")
    # Its own files: the people's split of the same name is untouched.
    self.assertEqual(animals.annotation_path,
                     os.path.join(root, "annotations", "quadruped_keypoints_val.json"))
    self.assertEqual({k: v for k, v in self._files(root).items() if k in people_files},
                     people_files)
    self.assertEqual(people.schema, kp.COCO_PERSON)
    with open(animals.annotation_path) as f:
      data = json.load(f)
    self.assertEqual(data["categories"], [quadruped.CATEGORY])
    self.assertEqual(data["info"]["generator"]["skeleton"], "quadruped")
    self.assertNotEmpty(data["annotations"])
    for ann in data["annotations"]:
      self.assertEqual(ann["category_id"], 2)
      self.assertLen(ann["keypoints"], 39)
    # The loader gives the schema drawn: names and skeleton from the file, flip pairs from the
    # left_/right_ names, AP-10K's sigmas and the front half from the generator.
    self.assertEqual(animals.schema, quadruped.QUADRUPED)
    instances, _ = coco.load_instances(animals)
    self.assertEqual(instances.keypoints.shape[1:], (13, 3))
    self.assertLen(instances, len(data["annotations"]))
    # A missing quadruped split names the command with its skeleton.
    with self.assertRaisesRegex(FileNotFoundError, "--skeleton=quadruped"):
      synthetic.synthetic_coco(root=root, split="train", num_images=3, seed=1,
                               skeleton="quadruped")
    with self.assertRaisesRegex(ValueError, "unknown synthetic skeleton 'hand'"):
      synthetic.generate_split(root, "val", num_images=1, skeleton="hand")

  def test_quadruped_labels_from_painted_pixels_and_mirror_consistent(self):
    labels = {}
    for facing in (1.0, -1.0):  # profile, facing image-right, then image-left
      pose = quadruped.sample_quadruped(_ProfileDraws(facing), 120.0, (100.0, 100.0), roll=0.0)
      self.assertEqual(pose["facing_cos"] > 0, facing > 0)
      canvas = drawing.Canvas(200, 200)
      quadruped.draw_quadruped(canvas, np.random.default_rng(0), pose, owner_base=0)
      keypoints, bbox, area = quadruped.label_quadruped(canvas, pose, owner_base=0)
      self.assertEqual(area, float(np.sum((canvas.owner >= 0)
                                          & (canvas.owner < quadruped.NUM_PARTS))))
      labels[facing] = keypoints, pose
      # The nose points the way the animal faces.
      nose_x = keypoints[quadruped.NOSE, 0]
      self.assertEqual(nose_x > keypoints[quadruped.TAIL, 0], facing > 0)
    # Facing image-right the left side is the far one: its eye is behind the head (unlabeled),
    # the right eye is seen; facing image-left, the reverse.
    right, _ = labels[1.0]
    left, _ = labels[-1.0]
    self.assertEqual((right[quadruped.L_EYE, 2], right[quadruped.R_EYE, 2]), (0, 2))
    self.assertEqual((left[quadruped.L_EYE, 2], left[quadruped.R_EYE, 2]), (2, 0))
    # Same draws, heading 0 vs 180 degrees: mirror images. In exact profile a joint's side does
    # not move it, so each joint lands on its mirror, under the same name; which of the pair is
    # seen is what changes (the eyes above).
    _, pose_right = labels[1.0]
    _, pose_left = labels[-1.0]
    mirrored = pose_right["joints"] * [-1.0, 1.0]
    shift = pose_left["joints"].mean(axis=0) - mirrored.mean(axis=0)
    self.assertAllClose(mirrored + shift, pose_left["joints"], atol=1e-6)
    self.assertAllClose(shift, [200.0, 0.0], atol=1e-6)  # both centred at x = 100
    # An occluder over the near front paw makes it labeled-but-occluded (v = 1).
    pose = pose_right
    canvas = drawing.Canvas(200, 200)
    quadruped.draw_quadruped(canvas, np.random.default_rng(0), pose, owner_base=0)
    paw = pose["joints"][quadruped.R_FRONT_PAW]
    self.assertEqual(quadruped.label_quadruped(canvas, pose, 0)[0][quadruped.R_FRONT_PAW, 2], 2)
    canvas.ellipse(paw, 6.0, 6.0, 0.0, np.zeros(3, np.float32), drawing.OCCLUDER_OWNER)
    self.assertEqual(quadruped.label_quadruped(canvas, pose, 0)[0][quadruped.R_FRONT_PAW, 2], 1)

  def test_make_synthetic_coco_generates_once(self):
    root = os.path.join(self.get_temp_dir(), "explicit")
    first = synthetic.make_synthetic_coco(root=root, split="val", num_images=2, seed=1)
    files = self._files(root)
    self.assertLen([name for name in files if name.endswith(".jpg")], 2)
    second = synthetic.make_synthetic_coco(root=root, split="val", num_images=2, seed=1)
    self.assertEqual(self._files(root), files)  # nothing written: same files, same mtimes
    self.assertEqual(second, first)
    self.assertEqual(synthetic.synthetic_coco(root=root, split="val", num_images=2, seed=1),
                     first)
    third = synthetic.make_synthetic_coco(root=root, split="val", num_images=3, seed=1)
    with open(third.annotation_path) as f:
      self.assertLen(json.load(f)["images"], 3)

  def _files(self, root):
    """{path under `root`: modification time (ns)} of every file there."""
    return {os.path.relpath(os.path.join(folder, name), root):
            os.stat(os.path.join(folder, name)).st_mtime_ns
            for folder, _, names in os.walk(root) for name in names}

  def test_the_loader_never_writes_and_names_the_command_that_generates(self):
    root = os.path.join(self.get_temp_dir(), "loaded")
    with self.assertRaisesRegex(FileNotFoundError, "no synthetic split 'val' under .*loaded") as e:
      synthetic.synthetic_coco(root=root, split="val", num_images=2, seed=1)
    command = (f"python -m tfpose_ssl.data.synthetic --out={root} --split=val --num_images=2 "
               "--seed=1")
    self.assertIn(command, str(e.exception))
    self.assertFalse(os.path.exists(root))
    synthetic.make_synthetic_coco(root=root, split="val", num_images=2, seed=1)
    files = self._files(root)
    for other, flag in (({"num_images": 3}, "--num_images=3 --seed=1"),
                        ({"seed": 2}, "--num_images=2 --seed=2"),
                        ({"width": 96, "max_people": 1}, "--seed=1 --width=96 --max_people=1")):
      with self.subTest(other):
        arguments = dict({"root": root, "split": "val", "num_images": 2, "seed": 1}, **other)
        with self.assertRaisesRegex(ValueError, "'val' under .*loaded was generated with") as e:
          synthetic.synthetic_coco(**arguments)
        self.assertIn(f"python -m tfpose_ssl.data.synthetic --out={root} --split=val "
                      f"--num_images={arguments['num_images']}", str(e.exception))
        self.assertIn(flag, str(e.exception))
    self.assertEqual(self._files(root), files)
    # The command it names makes the split it wants.
    with self.assertRaises(ValueError) as e:
      synthetic.synthetic_coco(root=root, split="val", num_images=3, seed=1)
    line = next(l for l in str(e.exception).splitlines() if "tfpose_ssl.data.synthetic" in l)
    subprocess.run([sys.executable] + shlex.split(line)[1:], check=True, capture_output=True,
                   cwd=testing.REPO_ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                                                   PYTHONPATH=testing.REPO_ROOT), timeout=600)
    made = synthetic.synthetic_coco(root=root, split="val", num_images=3, seed=1)
    with open(made.annotation_path) as f:
      self.assertLen(json.load(f)["images"], 3)
    # A damaged annotation file is not taken for a split either.
    with open(made.annotation_path, "w") as f:
      f.write('{"info": ')
    with self.assertRaisesRegex(ValueError, "other than .*damaged"):
      synthetic.synthetic_coco(root=root, split="val", num_images=3, seed=1)

  def _snapshot(self, root, split):
    """The split's annotation JSON and {file_name: SHA-256 of the file} of every image it names
    (digests, not bytes: a failing comparison of bytes would spend minutes in difflib)."""
    path = os.path.join(root, "annotations", f"person_keypoints_{split}.json")
    with open(path, "rb") as f:
      raw = f.read()
    files = {}
    for image in json.loads(raw)["images"]:
      with open(os.path.join(root, "images", image["file_name"]), "rb") as f:
        files[image["file_name"]] = hashlib.sha256(f.read()).hexdigest()
    return raw, files

  def test_interrupted_regeneration_keeps_the_old_split(self):
    root = os.path.join(self.get_temp_dir(), "interrupted")
    old = synthetic.make_synthetic_coco(root=root, split="val", num_images=4, seed=1)
    before = self._snapshot(root, "val")
    stamp = os.path.getmtime(old.annotation_path)

    class Interrupted(Exception):
      pass

    encode = dataset.encode_jpeg
    calls = []

    def encode_then_stop(pixels):
      calls.append(1)
      if len(calls) > 2:  # two new images written, then the process dies
        raise Interrupted()
      return encode(pixels)

    # Before: the new images overwrote the old ones under their names, the old JSON stayed,
    # and the next run accepted old labels on new pixels.
    with mock.patch.object(dataset, "encode_jpeg", side_effect=encode_then_stop):
      with self.assertRaises(Interrupted):
        synthetic.generate_split(root, "val", num_images=4, seed=2)
    self.assertEqual(self._snapshot(root, "val"), before)  # labels and pixels as they were
    # Interrupted at the commit itself: all images of the new split written, the JSON not.
    with mock.patch.object(dataset.io_utils, "atomic_write_text", side_effect=Interrupted()):
      with self.assertRaises(Interrupted):
        synthetic.generate_split(root, "val", num_images=4, seed=2)
    self.assertEqual(self._snapshot(root, "val"), before)
    again = synthetic.synthetic_coco(root=root, split="val", num_images=4, seed=1)
    self.assertEqual(os.path.getmtime(again.annotation_path), stamp)  # accepted, not remade
    instances, counts = coco.load_instances(again, require_keypoints=False)
    self.assertEqual(counts["missing_image_file"], 0)
    self.assertLen(instances, len(json.loads(before[0])["annotations"]))

    # The regeneration, uninterrupted, commits the new split and removes the old images.
    new = synthetic.make_synthetic_coco(root=root, split="val", num_images=4, seed=2)
    raw, files = self._snapshot(root, "val")
    self.assertEqual(json.loads(raw)["info"]["generator"]["seed"], 2)
    self.assertEmpty(set(files) & set(before[1]))
    self.assertEqual(sorted(os.listdir(os.path.join(root, "images"))),
                     sorted({name.split("/")[0] for name in files}))  # no staging, no old folder
    self.assertEqual(new.annotation_path, old.annotation_path)
    fresh = os.path.join(self.get_temp_dir(), "fresh")
    synthetic.generate_split(fresh, "val", num_images=4, seed=2)
    self.assertEqual(self._snapshot(fresh, "val"), (raw, files))  # as made from scratch

  def test_an_interrupted_first_generation_is_not_accepted(self):
    root = os.path.join(self.get_temp_dir(), "first")
    with mock.patch.object(dataset, "encode_jpeg", side_effect=[b"jpeg", KeyboardInterrupt]):
      with self.assertRaises(KeyboardInterrupt):
        synthetic.make_synthetic_coco(root=root, split="val", num_images=3, seed=1)
    self.assertFalse(os.path.exists(os.path.join(root, "annotations",
                                                 "person_keypoints_val.json")))
    with self.assertRaises(FileNotFoundError):
      synthetic.synthetic_coco(root=root, split="val", num_images=3, seed=1)
    made = synthetic.make_synthetic_coco(root=root, split="val", num_images=3, seed=1)
    instances, counts = coco.load_instances(made, require_keypoints=False)
    self.assertEqual(counts["missing_image_file"], 0)
    self.assertNotEmpty(instances)

  def test_regeneration_removes_only_the_replaced_split(self):
    root = os.path.join(self.get_temp_dir(), "layouts")
    images = os.path.join(root, "images")
    synthetic.generate_split(root, "val_2", num_images=1, seed=1)
    other = self._snapshot(root, "val_2")
    os.makedirs(images, exist_ok=True)
    for name in ("val_000001.jpg", "val_2_000001.jpg", "keep.jpg"):  # flat, as generators wrote
      with open(os.path.join(images, name), "wb") as f:
        f.write(b"old")
    synthetic.generate_split(root, "val", num_images=2, seed=1)
    synthetic.generate_split(root, "val", num_images=2, seed=3)
    _, files = self._snapshot(root, "val")
    self.assertLen(files, 2)
    remaining = set(os.listdir(images))
    self.assertNotIn("val_000001.jpg", remaining)  # the replaced split's old images are gone
    self.assertLen([n for n in remaining if n.startswith("val-")], 1)
    self.assertTrue({"val_2_000001.jpg", "keep.jpg"} <= remaining)  # not the val split's
    self.assertEqual(self._snapshot(root, "val_2"), other)

if __name__ == "__main__":
  tf.test.main()
