"""Pose metrics: COCO OKS AP (pycocotools), PCK@alpha per meta-joint, OKS-NMS.

Every metric follows a `KeypointSchema` (joint count, OKS sigmas, meta-joints); COCO's person
(`keypoints.COCO_PERSON`) is the default.

Public API (notebooks and acceptance checks call these):
  coco_keypoint_metrics(annotation_file, results) -> {'AP', 'AP50', 'AP75', 'APm', 'APl', 'AR'}
  pck(pred, gt, boxes, alpha=0.1) -> {'per_joint', 'mean', 'meta'}
"""

import contextlib
import io
import json

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tfpose_ssl.ops import keypoints as kp

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


class ResultsError(ValueError):
  """A results list that pycocotools would reject or mis-score."""


def check_results(coco_gt, results, num_joints):
  """Raises `ResultsError` naming the first result (of `num_joints` joints) pycocotools would
  reject or mis-score."""
  image_ids = set(coco_gt.getImgIds())
  for i, r in enumerate(results):
    for key in ("image_id", "category_id", "keypoints", "score"):
      if key not in r:
        raise ResultsError(f"result {i} has no '{key}'")
    if r["image_id"] not in image_ids:
      raise ResultsError(f"result {i}: image_id {r['image_id']} is not in the annotation file")
    if len(r["keypoints"]) != 3 * num_joints:
      raise ResultsError(f"result {i}: {len(r['keypoints'])} keypoint values, expected "
                         f"{3 * num_joints} (x, y, score for {num_joints} joints)")
    if not np.all(np.isfinite(np.asarray(r["keypoints"], np.float64))) or not np.isfinite(
        r["score"]):
      raise ResultsError(f"result {i} (image {r['image_id']}) has a non-finite value")


def coco_keypoint_metrics(annotation_file, results, verbose=False, schema=None,
                          category_id=1):
  """COCO keypoint AP/AR of `results` against `annotation_file`, computed by pycocotools.

  Args:
    annotation_file: path of a COCO keypoint ground-truth JSON.
    results: list of COCO keypoint result dicts (`image_id`, `category_id`, `keypoints` as
      3 J floats x, y, score, `score`), or the path of a results JSON.
    verbose: print pycocotools' summary table.
    schema: the `KeypointSchema` whose OKS sigmas score the results; by default the schema of
      the file's category `category_id` (which needs no sigmas only for COCO's person).
    category_id: the keypoint category of the file; its number of keypoints must be the
      schema's.
  Returns:
    dict of floats: AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl. With no results every
    value is 0.0 (nothing detected).
  """
  if isinstance(results, str):
    with open(results) as f:
      results = json.load(f)
  quiet = io.StringIO()
  with contextlib.redirect_stdout(quiet):
    coco_gt = COCO(annotation_file)
  if category_id not in coco_gt.cats:
    raise ValueError(f"{annotation_file}: no category with id {category_id}")
  category = coco_gt.cats[category_id]
  if schema is None:
    schema = kp.KeypointSchema.from_coco_category(category)
  names = category.get("keypoints")
  if names is not None and len(names) != schema.num_joints:
    raise ValueError(f"{annotation_file}: category {category_id} has {len(names)} keypoints, "
                     f"the keypoint schema {schema.num_joints}")
  check_results(coco_gt, results, schema.num_joints)
  if not results:
    return {name: 0.0 for name in STAT_NAMES}
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    coco_dt = coco_gt.loadRes(list(results))
    coco_eval = COCOeval(coco_gt, coco_dt, "keypoints")
    coco_eval.params.useSegm = None
    # Only the keypoint category: pycocotools otherwise averages over every category of the
    # file, scoring one with ground truth and no results as precision 0.
    coco_eval.params.catIds = [category_id]
    coco_eval.params.kpt_oks_sigmas = np.array(schema.oks_sigmas, np.float64)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
  if verbose:
    print(out.getvalue().split("DONE", 1)[-1].strip() if "DONE" in out.getvalue()
          else out.getvalue())
  # pycocotools reports -1 where a statistic has no ground truth (e.g. no medium people).
  return {name: float(v) for name, v in zip(STAT_NAMES, coco_eval.stats)}


def pck(pred, gt, boxes, alpha=0.1, schema=kp.COCO_PERSON):
  """Percentage of Correct Keypoints (PCK@alpha), per joint, overall and per meta-joint.

  A labeled joint (v > 0) is correct when its prediction lies within `alpha * max(w, h)` of the
  ground truth (distance <= threshold), `w, h` from the COCO box.

  Args:
    pred: `[N, J, 2]` predicted (x, y).
    gt: `[N, J, 3]` ground truth (x, y, v).
    boxes: `[N, 4]` COCO xywh boxes of the ground-truth people.
    alpha: threshold as a fraction of the longer box side.
    schema: the `KeypointSchema` of the joints (J of them) and of the meta-joints.
  Returns:
    {'per_joint': `[J]` float array (NaN for joints never labeled), 'mean': the mean of the
     per-joint values over joints that have labels, 'meta': {meta-joint: mean of its joints'
     PCK} for the schema's meta-joints (for COCO the paper's 7, Table 2)}.
  """
  pred = np.asarray(pred, np.float64)
  gt = np.asarray(gt, np.float64)
  boxes = np.asarray(boxes, np.float64)
  if pred.shape[:-1] != gt.shape[:-1] or pred.shape[-1] != 2 or gt.shape[-1] != 3:
    raise ValueError(f"pck expects pred [N, J, 2] and gt [N, J, 3], got {pred.shape}, {gt.shape}")
  if gt.shape[-2] != schema.num_joints:
    raise ValueError(f"pck got {gt.shape[-2]} joints, the keypoint schema has "
                     f"{schema.num_joints}")
  threshold = alpha * np.max(boxes[:, 2:4], axis=-1)
  distance = np.linalg.norm(pred - gt[..., :2], axis=-1)
  labeled = gt[..., 2] > 0
  correct = (distance <= threshold[:, None]) & labeled
  counts = labeled.sum(axis=0)
  with np.errstate(invalid="ignore", divide="ignore"):
    per_joint = np.where(counts > 0, correct.sum(axis=0) / np.maximum(counts, 1), np.nan)
  valid = per_joint[~np.isnan(per_joint)]
  mean = float(valid.mean()) if valid.size else float("nan")
  return {"per_joint": per_joint, "mean": mean, "meta": meta_joint_pck(per_joint, schema)}


def meta_joint_pck(per_joint, schema=kp.COCO_PERSON):
  """Averages per-joint PCK into the schema's meta-joints (for COCO the paper's 7: left/right
  and head joints averaged)."""
  per_joint = np.asarray(per_joint, np.float64)
  out = {}
  for name, joints in schema.meta_joints:
    values = per_joint[list(joints)]
    values = values[~np.isnan(values)]
    out[name] = float(values.mean()) if values.size else float("nan")
  return out


def oks_iou(ref_keypoints, ref_area, keypoints, areas, sigmas=kp.OKS_SIGMAS, vis_threshold=None):
  """OKS of one pose `[J, 3]` against poses `[N, J, 3]` (SimpleBaseline's `oks_iou`), with the
  per-joint `sigmas` `[J]`."""
  sigmas = np.asarray(sigmas, np.float64)
  if sigmas.shape != (np.shape(ref_keypoints)[0],):
    raise ValueError(f"oks_iou: {sigmas.shape[0]} OKS sigmas for {np.shape(ref_keypoints)[0]} "
                     "joints")
  variances = (2.0 * sigmas) ** 2
  d2 = np.sum(np.square(keypoints[..., :2] - ref_keypoints[None, :, :2]), axis=-1)
  e = d2 / variances[None] / ((ref_area + areas)[:, None] / 2.0 + np.spacing(1)) / 2.0
  if vis_threshold is None:
    return np.mean(np.exp(-e), axis=-1)
  keep = (ref_keypoints[None, :, 2] > vis_threshold) & (keypoints[..., 2] > vis_threshold)
  total = np.sum(np.exp(-e) * keep, axis=-1)
  count = keep.sum(axis=-1)
  return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def oks_nms(keypoints, scores, areas, threshold=0.9, sigmas=kp.OKS_SIGMAS, vis_threshold=None):
  """Greedy NMS by OKS: indices of kept poses, best first. keypoints `[N, J, 3]`."""
  order = np.argsort(-np.asarray(scores), kind="stable")
  keep = []
  while order.size:
    i = order[0]
    keep.append(int(i))
    if order.size == 1:
      break
    ious = oks_iou(keypoints[i], areas[i], keypoints[order[1:]], areas[order[1:]], sigmas,
                   vis_threshold)
    order = order[1:][ious <= threshold]
  return keep


def rescore(joint_scores, box_scores, vis_threshold=0.2):
  """SimpleBaseline's instance score: box score x mean of joint scores above `vis_threshold`."""
  joint_scores = np.asarray(joint_scores, np.float64)
  above = joint_scores > vis_threshold
  count = above.sum(axis=-1)
  mean = np.where(count > 0, (joint_scores * above).sum(axis=-1) / np.maximum(count, 1), 0.0)
  return mean * np.asarray(box_scores, np.float64)


def to_coco_results(image_ids, keypoints, joint_scores, box_scores, areas, nms_threshold=0.9,
                    vis_threshold=0.2, sigmas=kp.OKS_SIGMAS, category_id=1):
  """Per-instance predictions -> COCO keypoint results, rescored and OKS-NMS'd per image.

  Args:
    image_ids: `[N]`; keypoints: `[N, J, 2]` in image pixels; joint_scores: `[N, J]`;
    box_scores: `[N]` (1 for ground-truth boxes); areas: `[N]` areas used by the NMS.
    nms_threshold: OKS above which a lower-scored pose of the same image is dropped; None
      disables NMS.
    vis_threshold: joint score above which a joint counts in the instance score (`rescore`).
    sigmas: the `[J]` OKS sigmas of the NMS (the keypoint schema's).
    category_id: the results' category.
  """
  image_ids = np.asarray(image_ids)
  poses = np.concatenate([np.asarray(keypoints, np.float64),
                          np.asarray(joint_scores, np.float64)[..., None]], axis=-1)
  scores = rescore(joint_scores, box_scores, vis_threshold)
  areas = np.asarray(areas, np.float64)
  results = []
  for image_id in np.unique(image_ids):
    rows = np.nonzero(image_ids == image_id)[0]
    if nms_threshold is not None:
      rows = rows[oks_nms(poses[rows], scores[rows], areas[rows], nms_threshold, sigmas)]
    for r in rows:
      results.append({"image_id": int(image_id), "category_id": int(category_id),
                      "keypoints": [round(float(v), 3) for v in poses[r].reshape(-1)],
                      "score": float(scores[r])})
  return results
