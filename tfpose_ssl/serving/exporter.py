"""Exports a checkpoint's student(s) as a SavedModel and TFLite models, all or nothing.

The library behind `python -m tfpose_ssl.export` (see that binary for the folder layout and
the atomic replacement of an earlier export)."""

import os
import shutil
import tempfile

import numpy as np

from tfpose_ssl import io_utils
from tfpose_ssl.data import coco
from tfpose_ssl.data import pipeline
from tfpose_ssl.evaluation import evaluator
from tfpose_ssl.serving import pose_module


def representative_crops(task, count=64):
  """uint8 crops of the first `count` validation people (calibration for full int8)."""
  instances, _ = coco.load_instances(task.val_set)
  instances = instances.select(np.arange(min(count, len(instances))))
  crops = [batch["image"].numpy() for batch in
           pipeline.eval_dataset(instances, task.codec, 32, padding=task.padding)]
  return np.clip(np.round(np.concatenate(crops)), 0, 255).astype(np.uint8)


def build_module(task, checkpoint, model="ensemble", flip_test=False, uncertainty_views=0):
  """The serving module for `model` ('student_1', 'student_2' or 'ensemble') of a checkpoint."""
  students, path = evaluator.restore_students(task, checkpoint)
  named = evaluator.model_sets(students)
  if model not in named:
    raise ValueError(f"--model={model} is not in this checkpoint; it has {sorted(named)}")
  metadata = {"model": model, "checkpoint": path, "category_id": task.category_id}
  return pose_module.PoseServingModule(named[model], task.codec, task.padding, flip_test,
                                       uncertainty_views, metadata,
                                       evaluator.checkpoint_schema(task, path))


def check_out(out, overwrite=False):
  """Raises unless folder `out` may receive an export: absent, empty, or `overwrite`.

  Called before any work, so that a forgotten --overwrite costs nothing and an earlier export
  (maybe the one deployed) is never replaced by accident.
  """
  if os.path.ismount(out):  # cannot be renamed: the export is swapped in by renames
    raise ValueError(f"--out={out} is a mount point; export into a folder inside it")
  if os.path.isdir(out):
    if os.listdir(out) and not overwrite:
      raise FileExistsError(f"--out={out} already holds files (an earlier export?); pass "
                            "--overwrite to replace it, or choose another --out")
  elif os.path.lexists(out):
    raise NotADirectoryError(f"--out={out} exists and is not a folder")


def _swap_in(new, out, overwrite):
  """Renames folder `new` to `out`, replacing an existing `out` only if `overwrite`.

  Two renames on one filesystem: `out` holds the complete old export, then (after a moment
  with nothing there) the complete new one, never a mixture. The old one is renamed back if the
  second rename fails, and deleted once the new one is in place.
  """
  if os.path.isdir(out) and not os.listdir(out):
    os.rmdir(out)  # an empty folder holds nothing to keep
  if not os.path.lexists(out):
    os.rename(new, out)
    return
  check_out(out, overwrite)  # again: files may have appeared during the export
  # A fresh empty folder that rename() replaces: a name no other process uses.
  old = tempfile.mkdtemp(dir=os.path.dirname(out), prefix=os.path.basename(out) + ".old-")
  try:
    os.rename(out, old)
  except BaseException:
    os.rmdir(old)
    raise
  try:
    os.rename(new, out)
  except BaseException:
    os.rename(old, out)
    raise
  try:
    shutil.rmtree(old)
  except OSError as error:  # the new export is complete; only garbage is left
    print(f"warning: could not delete the previous export {old}: {error}", flush=True)


def write_export(module, out, variants=("fp32", "fp16"), calibration=None, overwrite=False):
  """Writes `module` to folder `out` as <out>/saved_model and <out>/pose_<variant>.tflite.

  All or nothing: the files are built in a temporary sibling folder (same filesystem, so
  renames move it) that replaces `out` only when every file is complete (`_swap_in`); on any
  error it is deleted and `out` is left as it was. Each .tflite has its metadata sidecar
  (`.tflite.json`), the SavedModel its `pose_module.METADATA_FILE`.

  Args:
    module: a `pose_module.PoseServingModule`.
    out: output folder; if it holds files, `overwrite` must be True (they are all replaced,
      also TFLite variants this export does not write, so no stale sidecar remains).
    variants: TFLite variants, any of `pose_module.VARIANTS`.
    calibration: uint8 crops `[N, h, w, 3]` for the 'int8' variant.
    overwrite: replace an `out` that holds files.

  Returns:
    The paths written (under `out`): the SavedModel, then one .tflite per variant.

  Raises:
    FileExistsError: `out` holds files and not `overwrite` (raised before any work).
  """
  out = os.path.realpath(out)  # a symlinked --out: swap the folder it points to
  check_out(out, overwrite)
  parent = os.path.dirname(out)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(dir=parent, prefix=os.path.basename(out) + ".tmp-")
  try:
    os.chmod(tmp, 0o777 & ~io_utils.current_umask())  # mkdtemp's 0700 would hide it
    names = ["saved_model"]
    pose_module.export_saved_model(module, os.path.join(tmp, "saved_model"))
    for variant in variants:
      names.append(f"pose_{variant}.tflite")
      pose_module.export_tflite(module, os.path.join(tmp, names[-1]), variant, calibration)
    _swap_in(tmp, out, overwrite)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return [os.path.join(out, name) for name in names]


def export(task, checkpoint, out, model="student_1", flip_test=False, variants=("fp32", "fp16"),
           uncertainty_views=0, overwrite=False):
  """Exports `model` of `checkpoint` to folder `out` (see `write_export`); what main() runs.

  `out` is checked first, before the calibration crops are read and the checkpoint restored.
  Full int8 ('int8' in `variants`) calibrates on crops of `task.val_set`.
  """
  check_out(os.path.realpath(out), overwrite)
  if "int8" in variants and uncertainty_views:
    raise ValueError("--tflite=int8 is exported without the uncertainty output; drop int8 or "
                     "use --uncertainty_views=0")
  calibration = None
  if "int8" in variants:  # before the conversions: its data must be there
    print("full int8 calibrates on 64 validation crops of "
          f"{task.val_set.annotation_path if task.val_set else 'PoseTask.val_set (not set)'}",
          flush=True)
    calibration = representative_crops(task)
  module = build_module(task, checkpoint, model, flip_test, uncertainty_views)
  paths = write_export(module, out, variants, calibration, overwrite)
  print("SavedModel:", paths[0])
  for variant, path in zip(variants, paths[1:]):
    print(f"TFLite {variant}: {path} ({os.path.getsize(path) / 2 ** 20:.1f} MiB)")
  return paths
