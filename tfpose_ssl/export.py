r"""Exports a trained checkpoint as a SavedModel and TFLite models.

  python -m tfpose_ssl.export --checkpoint=runs/synthetic/method --out=exported/synthetic \
      [--model=student_1|student_2|ensemble] [--flip] [--tflite=fp32,fp16,dynamic_int8,int8] \
      [--uncertainty_views=5] [--overwrite]
  bazel run //export -- --checkpoint=$PWD/runs/synthetic/method --out=$PWD/exported/synthetic

Writes <out>/saved_model (signatures `serving_default`: image + boxes -> keypoints, scores;
`crops`: crops -> heatmaps, keypoints, scores, ...) and <out>/pose_<variant>.tflite (the
crop-level function at batch 1, decoding inside the model), each with its metadata (which
model, flip test, input size, ...). The checkpoint's config.gin is reused unless --config.
Defaults are the safe deployment choice: one student, fp32 and fp16 TFLite; the two-student
ensemble (twice the compute) and the quantized variants only when asked (full int8 calibrates
on validation crops, so it needs the config's validation set).

The export is all or nothing: everything is written into a temporary sibling folder
<out>.tmp-XXXXXXXX and renamed to <out> only once every file is complete, so a failure (a
conversion, int8 calibration, a full disk) leaves the previous export as it was, never a new
SavedModel beside old TFLite files whose sidecars name another checkpoint. An <out> that already
holds files is replaced only with --overwrite (old folder renamed aside, new one renamed in,
old one deleted); without it the export stops before restoring the checkpoint. A process killed
mid-export (SIGKILL, power loss) can leave an <out>.tmp-* or <out>.old-* folder; delete it.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import os
import shutil
import tempfile

from absl import app
from absl import flags
import numpy as np

from tfpose_ssl import config as config_lib
from tfpose_ssl import eval_lib
from tfpose_ssl import io_utils
from tfpose_ssl import serving
from tfpose_ssl import task as task_lib
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl.data import coco
from tfpose_ssl.data import pipeline

FLAGS = flags.FLAGS


def representative_crops(task, count=64):
  """uint8 crops of the first `count` validation people (calibration for full int8)."""
  instances, _ = coco.load_instances(task.val_set)
  instances = instances.select(np.arange(min(count, len(instances))))
  crops = [batch["image"].numpy() for batch in
           pipeline.eval_dataset(instances, task.codec, 32, padding=task.padding)]
  return np.clip(np.round(np.concatenate(crops)), 0, 255).astype(np.uint8)


def build_module(task, checkpoint, model="ensemble", flip_test=False, uncertainty_views=0):
  """The serving module for `model` ('student_1', 'student_2' or 'ensemble') of a checkpoint."""
  students, path = eval_lib.restore_students(task, checkpoint)
  named = eval_lib.model_sets(students)
  if model not in named:
    raise ValueError(f"--model={model} is not in this checkpoint; it has {sorted(named)}")
  metadata = {"model": model, "checkpoint": path}
  return serving.PoseServingModule(named[model], task.codec, task.padding, flip_test,
                                   uncertainty_views, metadata)


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
  (`.tflite.json`), the SavedModel its `serving.METADATA_FILE`.

  Args:
    module: a `serving.PoseServingModule`.
    out: output folder; if it holds files, `overwrite` must be True (they are all replaced,
      also TFLite variants this export does not write, so no stale sidecar remains).
    variants: TFLite variants, any of `serving.VARIANTS`.
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
    serving.export_saved_model(module, os.path.join(tmp, "saved_model"))
    for variant in variants:
      names.append(f"pose_{variant}.tflite")
      serving.export_tflite(module, os.path.join(tmp, names[-1]), variant, calibration)
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


def define_flags():
  config_lib.define_flags()
  flags.adopt_module_key_flags(config_lib)  # --config, --gin_bindings in --help
  flags.DEFINE_string("checkpoint", None, "Training workdir, checkpoint folder or prefix.")
  flags.DEFINE_string("out", None, "Output folder, written atomically (built in a temporary "
                      "sibling folder, then renamed in); one that already holds files is "
                      "replaced only with --overwrite.")
  flags.DEFINE_bool("overwrite", False, "Replace an --out folder that already holds files "
                    "(an earlier export); without it such an export stops before any work.")
  flags.DEFINE_enum("model", "student_1", ["student_1", "student_2", "ensemble"],
                    "Which model to export (ensemble: average of both students' heatmaps, "
                    "twice the compute; an error for a one-student checkpoint).")
  flags.DEFINE_bool("flip", False, "Flip test inside the exported graph.")
  flags.DEFINE_list("tflite", ["fp32", "fp16"],
                    f"TFLite variants, any of {', '.join(serving.VARIANTS)} (int8: full integer, "
                    "calibrated on 64 validation crops of the config's PoseTask.val_set).")
  flags.DEFINE_integer("uncertainty_views", 0, "Test-time views for the per-joint uncertainty "
                       f"output (0: off; up to {len(serving.UNCERTAINTY_VIEWS)}).")
  flags.mark_flags_as_required(["checkpoint", "out"])


def main(argv):
  del argv
  unknown = [v for v in FLAGS.tflite if v not in serving.VARIANTS]
  if unknown:
    raise app.UsageError(f"--tflite: unknown variant(s) {unknown}; choose from {serving.VARIANTS}")
  if "int8" in FLAGS.tflite and FLAGS.uncertainty_views:
    raise app.UsageError("--tflite=int8 is exported without the uncertainty output; drop int8 "
                         "or use --uncertainty_views=0")
  out = io_utils.resolve_path(FLAGS.out)
  try:
    check_out(os.path.realpath(out), FLAGS.overwrite)  # before any work
  except (FileExistsError, NotADirectoryError, ValueError) as error:
    raise app.UsageError(str(error)) from None
  checkpoint = io_utils.resolve_path(FLAGS.checkpoint)
  config_lib.parse(FLAGS.config, FLAGS.gin_bindings, workdir=checkpoint)
  task = task_lib.PoseTask()
  if "int8" in FLAGS.tflite and task.val_set is None:
    raise app.UsageError("--tflite=int8 needs calibration crops: set PoseTask.val_set")
  export(task, checkpoint, out, FLAGS.model, FLAGS.flip, FLAGS.tflite, FLAGS.uncertainty_views,
         FLAGS.overwrite)


if __name__ == "__main__":
  define_flags()
  app.run(main)
