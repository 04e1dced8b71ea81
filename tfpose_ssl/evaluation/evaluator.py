"""Evaluation library: scores students (and their ensemble) on a task's validation set.

Used by the eval binary (`python -m tfpose_ssl.eval`), by training-time validation and by the
export parity checks.
"""

import dataclasses
import json
import os
from typing import Any, Dict, Tuple

import numpy as np
import tensorflow as tf

from tfpose_ssl import io_utils
from tfpose_ssl import task as task_lib
from tfpose_ssl.data import coco
from tfpose_ssl.evaluation import inference
from tfpose_ssl.evaluation import metrics as metrics_lib


@dataclasses.dataclass
class EvalReport:
  """One evaluation of named models (student_1, student_2, ensemble) on a validation set.

  Attributes:
    metrics: {model: {'AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', ...; with ground-truth boxes
      also 'PCK' (mean), 'PCK_per_joint' `[J]`, 'PCK_meta' {group: value}}}.
    predictions: {model: (keypoints `[N, J, 2]` image pixels, scores `[N, J]`)}, one row per
      evaluated instance.
    instances: the evaluated `coco.Instances` (fewer than loaded with `max_instances`).
    valid: `[N]` bool, False for instances whose image could not be read (no prediction).
    skipped: the annotation file's skipped or fixed instances by reason (crowd, unknown
      image, low score, missing file, ...) and `unreadable_image` over the evaluated ones.
    loaded: instances read from the annotation file.
  """
  metrics: Dict[str, Dict[str, Any]]
  predictions: Dict[str, Tuple[np.ndarray, np.ndarray]]
  instances: Any
  valid: np.ndarray
  skipped: Dict[str, int]
  loaded: int

  def best_model(self):
    """The model with the highest AP."""
    return max(self.metrics, key=lambda name: self.metrics[name]["AP"])

  def evaluated_set(self):
    """What the evaluation covered, for the saved summaries: the instances read from the
    annotation file (`loaded_instances`), the instances and images evaluated, and `skipped`."""
    return {"loaded_instances": int(self.loaded),
            "instances": int(len(self.instances)),
            "images": int(len(set(self.instances.image_ids.tolist()))),
            "skipped": dict(self.skipped)}

  def table(self):
    """A short Markdown table of AP and PCK per model."""
    lines = ["| model | AP | AP50 | AP75 | AR | PCK@0.1 |", "|---|---|---|---|---|---|"]
    for name, m in self.metrics.items():
      pck = f"{100 * m['PCK']:.1f}" if "PCK" in m else "-"
      lines.append(f"| {name} | {100 * m['AP']:.1f} | {100 * m['AP50']:.1f} | "
                   f"{100 * m['AP75']:.1f} | {100 * m['AR']:.1f} | {pck} |")
    return "\n".join(lines)


def model_sets(students):
  """Named models to score: each student, and their heatmap average when there are two."""
  named = {f"student_{i + 1}": [s] for i, s in enumerate(students)}
  if len(students) > 1:
    named["ensemble"] = list(students)
  return named


def evaluate(students, task, out_dir=None, detections=None, score_threshold=None,
             flip_test=None, batch_size=32, max_instances=None):
  """COCO AP/AR and PCK@0.1 of each student (and the ensemble) on `task.val_set`.

  Returns an `EvalReport`. PCK is computed on ground-truth boxes only (with detector boxes
  there is no one-to-one match).
  """
  codec = task.codec
  schema = task.schema
  detections = task.val_detections if detections is None else detections
  score_threshold = task.val_score_threshold if score_threshold is None else score_threshold
  flip_test = task.flip_test if flip_test is None else flip_test
  instances, counts = coco.load_instances(task.val_set, detections=detections,
                                          score_threshold=score_threshold)
  # Every count (crowd and keypoint-less people, unknown image ids, low or NaN detection
  # scores, missing files, bad boxes, ...) goes into the saved summaries (`evaluated_set`).
  skipped = {k: v for k, v in counts.items() if v}
  if skipped:
    print(f"validation: skipped or fixed {skipped}", flush=True)
  loaded = len(instances)
  if max_instances:
    instances = first_images(instances, max_instances)
  report = EvalReport(metrics={}, predictions={}, instances=instances,
                      valid=np.ones(len(instances), bool), skipped=skipped, loaded=loaded)
  for name, models in model_sets(students).items():
    xy, scores, valid = inference.predict_instances(models, codec, instances, batch_size,
                                                    flip_test, task.padding, schema)
    report.valid = valid
    if not valid.all():
      report.skipped["unreadable_image"] = int((~valid).sum())
    areas = instances.boxes[:, 2] * instances.boxes[:, 3] * task.padding ** 2
    # Instances whose image could not be read get no prediction (they count as misses).
    results = metrics_lib.to_coco_results(instances.image_ids[valid], xy[valid], scores[valid],
                                         instances.scores[valid], areas[valid],
                                         sigmas=schema.oks_sigmas,
                                         category_id=task.val_set.category_id)
    if max_instances:
      kept = set(instances.image_ids.tolist())
      gt_file = _subset_annotations(task.val_set.annotation_path, kept, out_dir)
    else:
      gt_file = task.val_set.annotation_path
    metrics = metrics_lib.coco_keypoint_metrics(gt_file, results, schema=schema,
                                                category_id=task.val_set.category_id)
    if detections is None:
      # PCK over readable instances only (an unreadable image has no prediction to score).
      p = metrics_lib.pck(xy[valid], instances.keypoints[valid], instances.boxes[valid],
                          alpha=0.1, schema=schema)
      metrics.update(PCK=p["mean"], PCK_per_joint=[float(v) for v in p["per_joint"]],
                     PCK_meta=p["meta"])
    report.metrics[name] = metrics
    report.predictions[name] = (xy, scores)
    if out_dir:
      io_utils.atomic_write_text(os.path.join(out_dir, f"{name}_results.json"),
                                 json.dumps(results))
  return report


def first_images(instances, max_instances):
  """The instances of the images of the first `max_instances` instances, all of each image's
  instances included: the AP of a subset is computed against those images' ground truth, so a
  person left out of a kept image would count as a miss."""
  kept = set(instances.image_ids[:max_instances].tolist())
  return instances.select(np.isin(instances.image_ids, list(kept)))


def _subset_annotations(annotation_path, image_ids, out_dir):
  with open(annotation_path) as f:
    data = json.load(f)
  data["images"] = [im for im in data["images"] if im["id"] in image_ids]
  data["annotations"] = [a for a in data["annotations"] if a["image_id"] in image_ids]
  path = os.path.join(out_dir or ".", "val_subset_annotations.json")
  io_utils.atomic_write_text(path, json.dumps(data))
  return path


def restore_students(task, checkpoint):
  """Builds the students found in `checkpoint` (a file prefix or a folder) and restores them.

  Their keypoints are the schema saved beside the checkpoint (`task_lib.read_schema`), so that
  no annotation file is read; the task's data's schema for checkpoints without one."""
  path = io_utils.latest_checkpoint(checkpoint)
  names = sorted({name.split("/")[0] for name, _ in tf.train.list_variables(path)
                  if name.startswith("student_")})
  if not names:
    raise ValueError(f"{path} holds no student weights")
  schema = checkpoint_schema(task, path)
  students = [task.build_model(schema) for _ in names]
  tf.train.Checkpoint(**dict(zip(names, students))).restore(path).expect_partial()
  return students, path


def checkpoint_schema(task, path):
  """The keypoint schema of the checkpoint prefix `path`: saved beside it, else the task's."""
  return task_lib.read_schema(path) or task.schema


def check_schema(task, path):
  """Raises unless the keypoints the checkpoint `path` was trained on are the task's data's (an
  evaluation on other keypoints would score joints under the wrong names and sigmas)."""
  saved = task_lib.read_schema(path)
  if saved is not None and saved != task.schema:
    raise ValueError(f"{path} was trained on the keypoints {saved.names} "
                     f"({task_lib.SCHEMA_FILE} beside it), the evaluation data has "
                     f"{task.schema.names} (with its sigmas, flip pairs, groups)")
