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

from absl import app
from absl import flags

from tfpose_ssl import config as config_lib
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl import io_utils
from tfpose_ssl import task as task_lib
from tfpose_ssl.serving import exporter
from tfpose_ssl.serving import pose_module

FLAGS = flags.FLAGS


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
                    f"TFLite variants, any of {', '.join(pose_module.VARIANTS)} (int8: full integer, "
                    "calibrated on 64 validation crops of the config's PoseTask.val_set).")
  flags.DEFINE_integer("uncertainty_views", 0, "Test-time views for the per-joint uncertainty "
                       f"output (0: off; up to {len(pose_module.UNCERTAINTY_VIEWS)}).")
  flags.mark_flags_as_required(["checkpoint", "out"])


def main(argv):
  del argv
  unknown = [v for v in FLAGS.tflite if v not in pose_module.VARIANTS]
  if unknown:
    raise app.UsageError(f"--tflite: unknown variant(s) {unknown}; choose from {pose_module.VARIANTS}")
  if "int8" in FLAGS.tflite and FLAGS.uncertainty_views:
    raise app.UsageError("--tflite=int8 is exported without the uncertainty output; drop int8 "
                         "or use --uncertainty_views=0")
  out = io_utils.resolve_path(FLAGS.out)
  try:
    exporter.check_out(os.path.realpath(out), FLAGS.overwrite)  # before any work
  except (FileExistsError, NotADirectoryError, ValueError) as error:
    raise app.UsageError(str(error)) from None
  checkpoint = io_utils.resolve_path(FLAGS.checkpoint)
  config_lib.parse(FLAGS.config, FLAGS.gin_bindings, workdir=checkpoint)
  # Only full int8 reads data (calibration crops); otherwise the checkpoint's saved keypoints
  # are enough, and the config's datasets need not be on this machine.
  task = (task_lib.PoseTask() if "int8" in FLAGS.tflite
          else task_lib.for_checkpoint(checkpoint))
  if "int8" in FLAGS.tflite and task.val_set is None:
    raise app.UsageError("--tflite=int8 needs calibration crops: set PoseTask.val_set")
  exporter.export(task, checkpoint, out, FLAGS.model, FLAGS.flip, FLAGS.tflite, FLAGS.uncertainty_views,
         FLAGS.overwrite)


if __name__ == "__main__":
  define_flags()
  app.run(main)
