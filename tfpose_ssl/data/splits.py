"""COCO-Partial splits: N labeled person instances from train, the rest of train unlabeled.

A split is a JSON of annotation ids; it is written once and reloaded, so runs are reproducible.
"""

import json
import os

import numpy as np

from tfpose_ssl import io_utils

MODES = ("random", "first_n")


def make_partial_split(instances, num_labeled, seed=0, mode="random"):
  """Picks `num_labeled` of `instances` (ground-truth rows with keypoints) as labeled.

  `mode="random"` draws them with `seed`; `mode="first_n"` takes the first N in annotation
  order (DualPose's protocol). Returns a dict with sorted `labeled` / `unlabeled` annotation ids.
  """
  if mode not in MODES:
    raise ValueError(f"unknown split mode {mode!r}; expected one of {MODES}")
  ids = np.asarray(instances.ann_ids, np.int64)
  if np.any(ids < 0):
    raise ValueError("a COCO-Partial split needs ground-truth instances (annotation ids)")
  if not 0 < num_labeled <= len(ids):
    raise ValueError(f"num_labeled={num_labeled} but the pool has {len(ids)} instances")
  if mode == "first_n":
    chosen = ids[:num_labeled]
  else:
    rng = np.random.default_rng(seed)
    chosen = ids[rng.permutation(len(ids))[:num_labeled]]
  labeled = np.sort(chosen)
  unlabeled = np.sort(np.setdiff1d(ids, labeled))
  return {"num_labeled": int(num_labeled), "seed": int(seed), "mode": mode,
          "labeled": labeled.tolist(), "unlabeled": unlabeled.tolist()}


def save_split(split, path):
  io_utils.atomic_write_text(path, json.dumps(split))


def load_split(path):
  with open(path) as f:
    split = json.load(f)
  for key in ("labeled", "unlabeled"):
    if key not in split:
      raise ValueError(f"{path}: not a split file (no '{key}' list)")
  return split


def apply_split(instances, split, source=""):
  """(labeled, unlabeled) `Instances` of a split; fails if its ids do not match `instances`."""
  ids = np.asarray(instances.ann_ids)
  labeled = np.isin(ids, split["labeled"])
  unlabeled = np.isin(ids, split["unlabeled"])
  missing = len(split["labeled"]) - int(labeled.sum())
  if missing:
    raise ValueError(f"split {source} names {missing} labeled annotation ids that are not in the "
                     "annotations; it was made for another annotation file")
  return instances.select(labeled), instances.select(unlabeled)


def get_or_make_split(instances, path, num_labeled, seed=0, mode="random"):
  """Loads the split at `path` if it exists (checking it fits), else makes and saves it."""
  if path and os.path.exists(path):
    split = load_split(path)
    if (split.get("num_labeled"), split.get("mode")) != (num_labeled, mode):
      raise ValueError(f"split file {path} holds num_labeled={split.get('num_labeled')} "
                       f"mode={split.get('mode')}, the config asks for {num_labeled} {mode}")
  else:
    split = make_partial_split(instances, num_labeled, seed, mode)
    if path:
      save_split(split, path)
  return split
