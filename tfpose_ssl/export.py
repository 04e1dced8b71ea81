r"""Exports a trained checkpoint as a SavedModel and TFLite models.

  python -m tfpose_ssl.export --checkpoint=runs/synthetic/method --out=exported/synthetic \
      [--model=student_1|student_2|ensemble] [--flip] [--tflite=fp32,fp16,dynamic_int8,int8] \
      [--uncertainty_views=5]
  bazel run //export -- --checkpoint=$PWD/runs/synthetic/method --out=$PWD/exported/synthetic

Writes <out>/saved_model (signatures `serving_default`: image + boxes -> keypoints, scores;
`crops`: crops -> heatmaps, keypoints, scores, ...) and <out>/pose_<variant>.tflite (the
crop-level function at batch 1, decoding inside the model), each with its metadata (which
model, flip test, input size, ...). The checkpoint's config.gin is reused unless --config.
Defaults are the safe deployment choice: one student, fp32 and fp16 TFLite; the two-student
ensemble (twice the compute) and the quantized variants only when asked (full int8 calibrates
on validation crops, so it needs the config's validation set).
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import os

from absl import app
from absl import flags
import numpy as np

from tfpose_ssl import config as config_lib
from tfpose_ssl import eval_lib
from tfpose_ssl import serving
from tfpose_ssl import task as task_lib
from tfpose_ssl import train  # pylint: disable=unused-import  (configurables of saved configs)
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


def define_flags():
  config_lib.define_flags()
  flags.adopt_module_key_flags(config_lib)  # --config, --gin_bindings in --help
  flags.DEFINE_string("checkpoint", None, "Training workdir, checkpoint folder or prefix.")
  flags.DEFINE_string("out", None, "Output folder.")
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
  checkpoint = coco.resolve_path(FLAGS.checkpoint)
  config_lib.parse(FLAGS.config, FLAGS.gin_bindings, workdir=checkpoint)
  unknown = [v for v in FLAGS.tflite if v not in serving.VARIANTS]
  if unknown:
    raise app.UsageError(f"--tflite: unknown variant(s) {unknown}; choose from {serving.VARIANTS}")
  task = task_lib.PoseTask()
  calibration = None
  if "int8" in FLAGS.tflite:  # before any export: its data must be there
    print("full int8 calibrates on 64 validation crops of "
          f"{task.val_set.annotation_path if task.val_set else 'PoseTask.val_set (not set)'}",
          flush=True)
    if task.val_set is None:
      raise app.UsageError("--tflite=int8 needs calibration crops: set PoseTask.val_set")
    calibration = representative_crops(task)
  module = build_module(task, checkpoint, FLAGS.model, FLAGS.flip, FLAGS.uncertainty_views)
  out = coco.resolve_path(FLAGS.out)
  os.makedirs(out, exist_ok=True)
  print("SavedModel:", serving.export_saved_model(module, os.path.join(out, "saved_model")))
  for variant in FLAGS.tflite:
    path = serving.export_tflite(module, os.path.join(out, f"pose_{variant}.tflite"), variant,
                                 calibration)
    print(f"TFLite {variant}: {path} ({os.path.getsize(path) / 2 ** 20:.1f} MiB)")


if __name__ == "__main__":
  define_flags()
  app.run(main)
