"""Reads COCO-format keypoint datasets (train2017/val2017, the synthetic set, any COCO JSON).

`CocoKeypoints` names a dataset on disk and its keypoint category; `load_instances` turns it
into `Instances`: flat NumPy arrays, one row per box, ready for
`tf.data.Dataset.from_tensor_slices`. The category's `keypoints` and `skeleton` (plus OKS sigmas
and flip pairs from the config where the file cannot give them) make the dataset's
`KeypointSchema` (`CocoKeypoints.schema`).
"""

import dataclasses
import functools
import json
import os
from typing import Any, Optional, Tuple

import gin
import numpy as np

from tfpose_ssl import io_utils
from tfpose_ssl.ops import keypoints as kp



class DataError(ValueError):
  """A dataset file is missing or not what it claims to be (raised before any training)."""


@gin.configurable
@dataclasses.dataclass(frozen=True)
class CocoKeypoints:
  """A COCO-format keypoint dataset: an annotation JSON and the folder of its images.

  Relative `annotation_file` / `image_dir` are taken relative to `root` when it is given,
  then relative to the directory the command was run from.

  The instances are the annotations of category `category_id` (COCO's person: 1). Its
  keypoint schema (`schema`) comes from the category's `keypoints` names and `skeleton`; for
  keypoints other than COCO's person, `oks_sigmas` (one per keypoint, in the category's order)
  must be given, `flip_pairs` (pairs of keypoint names) when the left/right pairs are not
  named `left_X` / `right_X`, `meta_joints` ({group: keypoint names}) to choose the PCK
  groups and `upper_body` (keypoint names) for half-body crops
  (`keypoints.KeypointSchema.from_coco_category`).
  """
  annotation_file: str
  image_dir: str
  root: str = None
  category_id: int = 1
  oks_sigmas: Optional[Tuple[float, ...]] = None
  flip_pairs: Optional[Tuple[Tuple[Any, Any], ...]] = None
  meta_joints: Optional[Tuple[Tuple[str, Tuple[Any, ...]], ...]] = None
  upper_body: Optional[Tuple[Any, ...]] = None

  def __post_init__(self):  # gin gives lists and dicts: stored as tuples (hashable)
    set_field = lambda name, value: object.__setattr__(self, name, value)
    if self.oks_sigmas is not None:
      set_field("oks_sigmas", tuple(float(s) for s in self.oks_sigmas))
    if self.flip_pairs is not None:
      set_field("flip_pairs", tuple(tuple(pair) for pair in self.flip_pairs))
    if self.meta_joints is not None:
      set_field("meta_joints", tuple((name, tuple(joints))
                                     for name, joints in dict(self.meta_joints).items()))
    if self.upper_body is not None:
      set_field("upper_body", tuple(self.upper_body))

  def resolve(self, path):
    """`path` under `root` (unless absolute), resolved like command-line paths."""
    if self.root and not os.path.isabs(path):
      path = os.path.join(self.root, path)
    return io_utils.resolve_path(path)

  @property
  def annotation_path(self):
    return self.resolve(self.annotation_file)

  @property
  def image_path(self):
    return self.resolve(self.image_dir)

  @functools.cached_property
  def schema(self):
    """The `KeypointSchema` of the keypoint category (the annotation file is read once)."""
    return self.schema_of(read_annotations(self.annotation_path, self.category_id))

  def schema_of(self, data):
    """The `KeypointSchema` of the keypoint category of `data` (a parsed annotation file)."""
    category = keypoint_category(data, self.category_id, self.annotation_path)
    try:
      return kp.KeypointSchema.from_coco_category(category, self.oks_sigmas, self.flip_pairs,
                                                  self.meta_joints, self.upper_body)
    except ValueError as e:
      raise DataError(f"{self.annotation_path}: {e} (gin: CocoKeypoints.oks_sigmas, "
                      "CocoKeypoints.flip_pairs, CocoKeypoints.meta_joints, "
                      "CocoKeypoints.upper_body)") from e


@dataclasses.dataclass
class Instances:
  """Person instances as parallel arrays (N rows)."""
  image_paths: np.ndarray  # [N] str
  image_ids: np.ndarray  # [N] int64
  ann_ids: np.ndarray  # [N] int64; -1 for detector boxes
  boxes: np.ndarray  # [N, 4] float32, COCO xywh, clipped to the image
  keypoints: np.ndarray  # [N, J, 3] float32 (x, y, v); zeros when unknown
  areas: np.ndarray  # [N] float32
  scores: np.ndarray  # [N] float32; 1 for ground-truth boxes

  def __len__(self):
    return len(self.image_ids)

  def select(self, rows):
    """The instances at `rows` (an index array or boolean mask)."""
    return Instances(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})

  @staticmethod
  def concatenate(parts):
    return Instances(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                        for f in dataclasses.fields(Instances)})


def keypoint_category(data, category_id, source):
  """The category of `data` (a parsed annotation file) with id `category_id`."""
  found = [c for c in data["categories"] if c.get("id") == category_id]
  if not found:
    raise DataError(f"{source}: no category with id {category_id}"
                    + (" (COCO's 'person')" if category_id == 1 else "")
                    + f"; its categories: {[c.get('id') for c in data['categories']]}")
  return found[0]


def read_annotations(annotation_path, category_id=1):
  """Loads and checks a COCO keypoint annotation JSON with the keypoint category `category_id`;
  returns the parsed dict."""
  if not os.path.isfile(annotation_path):
    raise DataError(f"annotation file not found: {annotation_path}")
  try:
    with open(annotation_path) as f:
      data = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise DataError(f"{annotation_path}: not valid JSON ({e})") from e
  if not isinstance(data, dict):
    raise DataError(f"{annotation_path}: expected a COCO dict, found {type(data).__name__}")
  for key in ("images", "annotations", "categories"):
    if key not in data:
      raise DataError(f"{annotation_path}: not COCO keypoint format, no '{key}' list")
  keypoint_category(data, category_id, annotation_path)
  for key, what in (("images", "image"), ("annotations", "annotation")):
    repeated = duplicate_ids(item.get("id") for item in data[key])
    if repeated:
      raise DataError(f"{annotation_path}: {len(repeated)} {what} id(s) occur more than once "
                      f"(first: {repeated[:5]}); ids must be unique, as pycocotools assumes")
  check_file_names(data["images"], annotation_path)
  return data


def unsafe_file_name(name):
  """Why `name` cannot be an image's `file_name` (None if it can).

  An image is read at `os.path.join(image_dir, file_name)`: an absolute name replaces the
  folder and `..` climbs out of it, so an annotation file could make training, evaluation and
  the skeleton figures read any file the user can (and refer to images of another dataset
  without anyone noticing). A name must be a relative path that stays inside the folder
  (subfolders are fine: the synthetic generator writes `<split>-<digest>/<name>.jpg`).
  """
  if not isinstance(name, str) or not name:
    return "is not a non-empty string"
  if "\0" in name:
    return "contains a NUL character"
  if os.path.isabs(name):
    return "is an absolute path"
  normal = os.path.normpath(name)
  if normal == os.pardir or normal.startswith(os.pardir + os.sep):
    return "leaves the image folder ('..')"
  return None


def check_file_names(images, source):
  """Refuses `images` entries whose `file_name` is not a relative path inside the image folder.

  A refusal (a `DataError` naming the image id and the file name), not a counted skip like a
  missing image file: a name that points outside the folder is not a damaged sample but an
  annotation file that is wrong, or made to read other files, as a whole.
  """
  bad = []
  for im in images:
    reason = unsafe_file_name(im.get("file_name"))
    if reason:
      bad.append((im.get("id"), im.get("file_name"), reason))
  if bad:
    image_id, name, reason = bad[0]
    raise DataError(f"{source}: image id {image_id} has file_name {name!r}, which {reason}; "
                    f"file names must be relative paths inside the image folder "
                    f"({len(bad)} such image(s))")


def duplicate_ids(ids):
  """The ids that occur more than once, sorted by their first occurrence."""
  seen, repeated = set(), {}
  for i in ids:
    if i in seen:
      repeated.setdefault(i, None)
    seen.add(i)
  return list(repeated)


def clip_box(box, width, height):
  """Intersects an xywh box with the image; None if nothing is left or the box is degenerate.

  (SimpleBaseline's `_sanitize` moves x1 to 0 but keeps the width, which shifts a box that
  sticks out on the left instead of clipping it.)
  """
  x, y, w, h = (float(v) for v in box)
  if not (w > 0 and h > 0):
    return None
  x1, y1 = max(0.0, x), max(0.0, y)
  x2 = min(width - 1.0, x + w - 1.0)
  y2 = min(height - 1.0, y + h - 1.0)
  if x2 < x1 or y2 < y1:
    return None
  return [x1, y1, x2 - x1 + 1.0, y2 - y1 + 1.0]


def load_instances(dataset, detections=None, score_threshold=0.0, require_keypoints=True):
  """Instances of `dataset`'s keypoint category (a `CocoKeypoints`) as `Instances`.

  Each annotation must have the category's number of keypoints (the schema's `num_joints`).

  Args:
    dataset: the `CocoKeypoints` to read.
    detections: optional path of a COCO detection-results JSON (list of dicts with `image_id`,
      `category_id`, `bbox`, `score`); when given, its boxes of the keypoint category replace
      the ground truth (keypoints are zeros) and boxes scoring below `score_threshold` are
      dropped.
    score_threshold: detection score threshold (SimpleBaseline uses 0.0 on val, see config).
    require_keypoints: with ground-truth boxes, keep only instances with `num_keypoints > 0`
      (training); crowd instances and degenerate boxes are always dropped.
  Returns:
    (`Instances`, counts) where counts is a dict of how many annotations were skipped and why.
  """
  data = read_annotations(dataset.annotation_path, dataset.category_id)
  # The file is parsed: its schema too, so that `dataset.schema` does not read it again.
  schema = vars(dataset).setdefault("schema", dataset.schema_of(data))
  num_joints = schema.num_joints
  image_dir = dataset.image_path
  if not os.path.isdir(image_dir):
    raise DataError(f"image folder not found: {image_dir} (for {dataset.annotation_path})")
  images = {}
  for im in data["images"]:
    images[im["id"]] = im
  counts = {"crowd": 0, "no_keypoints": 0, "bad_box": 0, "bad_keypoints": 0,
            "keypoints_outside_image": 0, "unknown_image": 0, "low_score": 0, "other_category": 0}
  rows = []
  if detections is None:
    for ann in data["annotations"]:
      if ann.get("category_id", 1) != dataset.category_id:
        counts["other_category"] += 1
        continue
      if ann.get("iscrowd", 0):
        counts["crowd"] += 1
        continue
      image = images.get(ann.get("image_id"))
      if image is None:
        counts["unknown_image"] += 1
        continue
      box = clip_box(ann.get("bbox", [0, 0, 0, 0]), image["width"], image["height"])
      if box is None:
        counts["bad_box"] += 1
        continue
      kps = ann.get("keypoints") or [0] * (3 * num_joints)
      if len(kps) != 3 * num_joints:
        raise DataError(f"{dataset.annotation_path}: annotation id {ann.get('id')} has "
                        f"{len(kps) // 3} keypoints, its category {num_joints}")
      kps = np.asarray(kps, np.float32).reshape(num_joints, 3)
      if not np.all(np.isfinite(kps)):
        counts["bad_keypoints"] += 1
        continue
      outside = (kps[:, 2] > 0) & ((kps[:, 0] < 0) | (kps[:, 1] < 0) |
                                   (kps[:, 0] > image["width"] - 1) |
                                   (kps[:, 1] > image["height"] - 1))
      if np.any(outside):  # a labeled joint outside its image cannot be seen in any crop
        counts["keypoints_outside_image"] += int(outside.sum())
        kps[outside] = 0.0
      if require_keypoints and not np.any(kps[:, 2] > 0):
        counts["no_keypoints"] += 1
        continue
      rows.append((image, ann["id"], box, kps, float(ann.get("area", box[2] * box[3])), 1.0))
    with_people = {row[0]["id"] for row in rows}
    counts["images_without_people"] = sum(1 for i in images if i not in with_people)
    instances, counts = _to_instances(rows, image_dir, num_joints), counts
  else:
    instances, counts = _instances_from_detections(
        data, image_dir, io_utils.resolve_path(detections), score_threshold, num_joints,
        dataset.category_id)
  return drop_missing_images(instances, counts, image_dir)


def drop_missing_images(instances, counts, image_dir):
  """Removes instances whose image file does not exist (counted); all missing is an error."""
  paths = np.asarray(instances.image_paths)
  unique = np.unique(paths) if len(paths) else paths
  missing = {p for p in unique if not os.path.isfile(p)}
  counts["missing_image_file"] = int(sum(1 for p in paths if p in missing))
  if missing and len(missing) == len(unique):
    raise DataError(f"none of the {len(unique)} images exist under {image_dir} (first: "
                    f"{sorted(missing)[0]}); is the image folder right?")
  if missing:
    instances = instances.select(np.array([p not in missing for p in paths], bool))
  return instances, counts


def _instances_from_detections(data, image_dir, detections_path, score_threshold, num_joints,
                               category_id):
  """Boxes of category `category_id` of a detection-results JSON for the images of `data`
  (`num_joints` keypoints, zero)."""
  images = {im["id"]: im for im in data["images"]}
  counts = {"unknown_image": 0, "low_score": 0, "bad_score": 0, "other_category": 0, "bad_box": 0}
  if not os.path.isfile(detections_path):
    raise DataError(f"detection results not found: {detections_path}")
  with open(detections_path) as f:
    try:
      dets = json.load(f)
    except json.JSONDecodeError as e:
      raise DataError(f"{detections_path}: not valid JSON ({e})") from e
  if not isinstance(dets, list):
    raise DataError(f"{detections_path}: expected a list of COCO detection results")
  rows = []
  for det in dets:
    if det.get("category_id", 1) != category_id:
      counts["other_category"] += 1
      continue
    image = images.get(det.get("image_id"))
    if image is None:
      counts["unknown_image"] += 1
      continue
    score = float(det.get("score", 1.0))
    if not np.isfinite(score):
      counts["bad_score"] += 1
      continue
    if score < score_threshold:
      counts["low_score"] += 1
      continue
    box = clip_box(det.get("bbox", [0, 0, 0, 0]), image["width"], image["height"])
    if box is None:
      counts["bad_box"] += 1
      continue
    rows.append((image, -1, box, np.zeros((num_joints, 3), np.float32), box[2] * box[3],
                 score))
  return _to_instances(rows, image_dir, num_joints), counts


def _to_instances(rows, image_dir, num_joints):
  n = len(rows)
  return Instances(
      image_paths=np.array([os.path.join(image_dir, r[0]["file_name"]) for r in rows], dtype=object)
      if n else np.zeros([0], dtype=object),
      image_ids=np.array([r[0]["id"] for r in rows], np.int64),
      ann_ids=np.array([r[1] for r in rows], np.int64),
      boxes=np.array([r[2] for r in rows], np.float32).reshape(n, 4),
      keypoints=np.array([r[3] for r in rows], np.float32).reshape(n, num_joints, 3),
      areas=np.array([r[4] for r in rows], np.float32),
      scores=np.array([r[5] for r in rows], np.float32),
  )


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class UnlabeledImages:
  """Unlabeled people: an image folder plus person boxes from a COCO detection-results JSON.

  For COCO-Additional: unlabeled2017 (with `image_info` = image_info_unlabeled2017.json), AI
  Challenger, or any folder. Without `image_info`, the folder's images are listed and an
  image's id is the number in its file name (COCO's naming, e.g. 000000123456.jpg -> 123456).
  The boxes kept are those of `category_id`; by default the task's keypoint category (its
  `CocoKeypoints.category_id`; COCO's person: 1).
  """
  image_dir: str
  detections: str
  image_info: str = None
  score_threshold: float = 0.5
  root: str = None
  category_id: Optional[int] = None

  def resolve(self, path):
    """`path` under `root` (unless absolute), resolved like command-line paths."""
    if path and self.root and not os.path.isabs(path):
      path = os.path.join(self.root, path)
    return io_utils.resolve_path(path)


def load_unlabeled(source, num_joints, category_id=1):
  """Boxes of an `UnlabeledImages` as `Instances` (`num_joints` keypoints, zero), plus skip
  counts; the boxes of `source.category_id`, else of `category_id` (the task's category)."""
  image_dir = source.resolve(source.image_dir)
  if not os.path.isdir(image_dir):
    raise DataError(f"unlabeled image folder not found: {image_dir}")
  if source.image_info:
    info_path = source.resolve(source.image_info)
    if not os.path.isfile(info_path):
      raise DataError(f"image info file not found: {info_path}")
    with open(info_path) as f:
      try:
        images = json.load(f)["images"]
      except (json.JSONDecodeError, KeyError) as e:
        raise DataError(f"{info_path}: not a COCO image-info JSON ({e})") from e
  else:
    images = []
    for name in sorted(os.listdir(image_dir)):
      stem, suffix = os.path.splitext(name)
      if suffix.lower() in IMAGE_SUFFIXES and stem.isdigit():
        images.append({"id": int(stem), "file_name": name})
  if not images:
    raise DataError(f"no images in {image_dir} (expected COCO-style numeric file names, or "
                    "give image_info)")
  if source.image_info:
    check_file_names(images, info_path)
  sizes_known = all("width" in im and "height" in im for im in images)
  data = {"images": images}
  if not sizes_known:  # boxes are clipped to the image: take sizes from the files
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    for im in images:
      shape = tf.image.extract_jpeg_shape(tf.io.read_file(os.path.join(image_dir,
                                                                       im["file_name"])))
      im["height"], im["width"] = int(shape[0]), int(shape[1])
  instances, counts = _instances_from_detections(
      data, image_dir, source.resolve(source.detections), source.score_threshold, num_joints,
      category_id if source.category_id is None else source.category_id)
  return drop_missing_images(instances, counts, image_dir)
