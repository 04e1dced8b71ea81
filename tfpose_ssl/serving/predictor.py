"""Runs an exported model (SavedModel or TFLite) on an image with person boxes.

The library behind `python -m tfpose_ssl.predict`: `load_predictor(path)` returns a callable
`(image, boxes) -> (keypoints, scores)`; `predict` adds box reading, COCO results and drawing."""

import json
import os

import numpy as np
import tensorflow as tf

from tfpose_ssl.data import coco
from tfpose_ssl.evaluation import metrics
from tfpose_ssl.evaluation import visualize
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import warp
from tfpose_ssl.serving import pose_module


class SavedModelPredictor:
  """The SavedModel's image-level signature (cropping, model and decoding in the graph)."""

  def __init__(self, path):
    self.model = tf.saved_model.load(path)
    self.signature = self.model.signatures["serving_default"]
    with open(os.path.join(path, pose_module.METADATA_FILE)) as f:
      self.metadata = json.load(f)

  def __call__(self, image, boxes):
    out = self.signature(image=tf.constant(image, tf.uint8),
                         boxes=tf.constant(boxes, tf.float32))
    return out["keypoints"].numpy(), out["scores"].numpy()


class TFLitePredictor:
  """A crop-level TFLite model: crops are cut here, keypoints mapped back to the image."""

  def __init__(self, path):
    from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
    self.interpreter = litert.Interpreter(model_path=path)
    self.runner = self.interpreter.get_signature_runner()
    with open(path + ".json") as f:
      self.metadata = json.load(f)
    self.codec = codec_lib.KeypointCodec(self.metadata["input_size"], self.metadata["stride"],
                                         self.metadata["sigma"])

  def __call__(self, image, boxes):
    centers, scales = geometry.box_to_center_scale(boxes, self.codec.aspect_ratio,
                                                   self.metadata["padding"])
    matrices = geometry.affine_from_params(centers, scales, tf.zeros_like(centers[:, 0]),
                                           self.codec.input_size)
    crops = warp.warp_affine(tf.constant(image)[None], matrices[None], self.codec.input_size)[0]
    crops = tf.cast(tf.clip_by_value(tf.round(crops), 0, 255), tf.uint8).numpy()
    keypoints, scores = [], []
    for crop in crops:
      out = self.runner(crops=crop[None])
      keypoints.append(out["keypoints"][0])
      scores.append(out["scores"][0])
    keypoints = geometry.apply_affine(np.stack(keypoints), geometry.invert_affine(matrices))
    return keypoints.numpy(), np.stack(scores)


def keypoint_schema(metadata):
  """The `KeypointSchema` an export's metadata names (COCO's person for exports that predate
  keypoint schemas)."""
  if "keypoint_schema" not in metadata:
    return kp.COCO_PERSON
  return kp.KeypointSchema(**metadata["keypoint_schema"])


def load_predictor(path):
  if path.endswith(".tflite"):
    return TFLitePredictor(path)
  if os.path.isdir(path):
    return SavedModelPredictor(path)
  raise ValueError(f"--model must be a SavedModel folder or a .tflite file, got {path}")


def read_boxes(path, image_id, image_shape, threshold, category_id=1):
  """Boxes `[N, 4]`, box scores `[N]`, whether they came from a detector, and skip counts.

  From COCO detections, the boxes of `category_id` (the exported dataset's keypoint category).
  Boxes are clipped to the image as in evaluation (`coco.clip_box`); boxes with nothing left,
  and non-finite scores, are dropped and counted.
  """
  height, width = image_shape[:2]
  skipped = {"bad_box": 0, "bad_score": 0, "low_score": 0}
  if not path:
    return np.array([[0.0, 0.0, width, height]], np.float32), np.ones(1, np.float32), False, skipped
  with open(path) as f:
    entries = json.load(f)
  if not isinstance(entries, list):
    raise ValueError(f"{path}: expected a JSON list of COCO detections or of boxes")
  detected = bool(entries) and isinstance(entries[0], dict)
  if detected:
    if image_id is None:
      raise ValueError(f"{path} holds COCO detections: give --image_id, or an image named by its "
                       f"COCO id (e.g. 000000000785.jpg)")
    rows = [(e.get("bbox"), e.get("score", 1.0)) for e in entries
            if e.get("image_id") == image_id and e.get("category_id", 1) == category_id]
  else:
    rows = []
    for entry in entries:
      if not isinstance(entry, (list, tuple)) or len(entry) not in (4, 5):
        raise ValueError(f"{path}: a box must be [x, y, w, h] or [x, y, w, h, score], got "
                         f"{entry!r}")
      rows.append((entry[:4], entry[4] if len(entry) == 5 else 1.0))
      detected |= len(entry) == 5  # scored boxes are a detector's: rescoring and OKS-NMS
  boxes, scores = [], []
  for box, score in rows:
    if not isinstance(score, (int, float)) or not np.isfinite(score):  # NaN, null, text
      skipped["bad_score"] += 1
      continue
    if score < threshold:
      skipped["low_score"] += 1
      continue
    clipped = coco.clip_box(box, width, height) if box is not None and len(box) == 4 else None
    if clipped is None:
      skipped["bad_box"] += 1
      continue
    boxes.append(clipped)
    scores.append(score)
  return (np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32), detected,
          skipped)


def predict(model_path, image_path, boxes_path=None, image_id=None, box_threshold=0.5,
            joint_threshold=0.3):
  """COCO keypoint results and the drawn image for one image file."""
  predictor = load_predictor(model_path)
  image = visualize.read_rgb(image_path)
  if image_id is None:
    stem = os.path.splitext(os.path.basename(image_path))[0]
    image_id = int(stem) if stem.isdigit() else None  # detections then need --image_id
  boxes, box_scores, detected, skipped = read_boxes(
      boxes_path, image_id, image.shape, box_threshold,
      predictor.metadata.get("category_id", 1))  # exports before schemas: COCO's person
  if any(skipped.values()):
    print(f"skipped boxes: {skipped}", flush=True)
  if not len(boxes):
    return [], image
  image_id = 0 if image_id is None else image_id  # the results' label only
  keypoints, scores = predictor(image, boxes)
  padding = predictor.metadata["padding"]
  areas = boxes[:, 2] * boxes[:, 3] * padding ** 2
  schema = keypoint_schema(predictor.metadata)
  results = metrics.to_coco_results(np.full(len(boxes), image_id), keypoints, scores,
                                    box_scores, areas, 0.9 if detected else None,
                                    sigmas=schema.oks_sigmas,
                                    category_id=predictor.metadata.get("category_id", 1))
  poses = np.array([r["keypoints"] for r in results]).reshape(-1, schema.num_joints, 3)
  drawn = visualize.draw_skeletons(image, poses[..., :2], poses[..., 2], joint_threshold,
                                   schema)
  return results, drawn
