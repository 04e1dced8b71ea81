r"""Sizes, CPU latency and accuracy of the export variants of a checkpoint.

  python -m tfpose_ssl.benchmarks.export_variants --checkpoint=runs/synthetic/method \
      [--out=benchmarks/export_variants] [--crops=200]

Exports student 1 (no flip) as a SavedModel and the four TFLite variants, then on the first
--crops validation crops of the checkpoint's task measures: file size, median latency per crop
at batch 1 (after warm-up), and the mean keypoint distance (crop pixels) of each variant to
the fp32 TFLite keypoints (and the SavedModel's distance to the in-memory Keras model).
Writes `<out>.json` and `<out>.md`.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import json
import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from tfpose_ssl import config as config_lib
from tfpose_ssl import export
from tfpose_ssl import inference
from tfpose_ssl import io_utils
from tfpose_ssl import runtime
from tfpose_ssl import serving
from tfpose_ssl import task as task_lib
from tfpose_ssl.data import coco

FLAGS = flags.FLAGS


def _folder_size(path):
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _latency(fn, crops, repeats=50):
  for crop in crops[:5]:
    fn(crop)
  times = []
  for crop in crops[:repeats]:
    start = time.perf_counter()
    fn(crop)
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _errors(xy, reference_xy):
  """Keypoint distances (crop px) to the reference: mean, median, share within 2 px."""
  distance = np.linalg.norm(xy - reference_xy, axis=-1)
  return {"mean_error_px": float(np.mean(distance)),
          "median_error_px": float(np.median(distance)),
          "within_2px": float(np.mean(distance <= 2.0))}


def measure(task, checkpoint, num_crops, folder):
  from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  module = export.build_module(task, checkpoint, "student_1", flip_test=False)
  crops = export.representative_crops(task, num_crops)
  rows = []
  saved = serving.export_saved_model(module, os.path.join(folder, "saved_model"))
  signature = tf.saved_model.load(saved).signatures["crops"]
  run_saved = lambda crop: signature(crops=tf.constant(crop[None]))["keypoints"].numpy()[0]
  keras_xy = np.concatenate([
      task.codec.decode(inference.crop_heatmaps(module.models, tf.constant(crops[i:i + 32],
                                                                          tf.float32)))[0].numpy()
      for i in range(0, len(crops), 32)])
  saved_xy = np.stack([run_saved(c) for c in crops])
  rows.append(dict(_errors(saved_xy, keras_xy), variant="SavedModel (crops signature)",
                   bytes=_folder_size(saved), latency_s=_latency(run_saved, crops),
                   reference="Keras model"))
  outputs = {}
  for variant in serving.VARIANTS:
    path = serving.export_tflite(module, os.path.join(folder, f"pose_{variant}.tflite"), variant,
                                 crops[:64])
    runner = litert.Interpreter(model_path=path).get_signature_runner()
    run = lambda crop, r=runner: r(crops=crop[None])["keypoints"][0]
    outputs[variant] = np.stack([run(c) for c in crops])
    rows.append(dict(_errors(outputs[variant], outputs["fp32"]), variant=f"TFLite {variant}",
                     bytes=os.path.getsize(path), latency_s=_latency(run, crops),
                     reference="TFLite fp32"))
  return rows, len(crops)


def markdown(result):
  lines = [f"Checkpoint {result['checkpoint']}, input {result['input_size'][0]}x"
           f"{result['input_size'][1]}, {result['crops']} synthetic validation crops, batch 1. "
           f"Machine: {result['machine']}. Measured {result.get('date', '')}.", "",
           "| variant | size (MiB) | median latency per crop (ms) | keypoint error (crop px): "
           "mean / median | joints within 2 px | against |", "|---|---|---|---|---|---|"]
  for row in result["rows"]:
    lines.append(f"| {row['variant']} | {row['bytes'] / 2 ** 20:.2f} | "
                 f"{1000 * row['latency_s']:.2f} | {row['mean_error_px']:.3f} / "
                 f"{row['median_error_px']:.3f} | {100 * row['within_2px']:.1f}% | "
                 f"{row['reference']} |")
  return "\n".join(lines) + "\n"


def _define_flags():
  config_lib.define_flags()
  flags.DEFINE_string("checkpoint", None, "Training workdir or checkpoint.")
  flags.DEFINE_string("out", "benchmarks/export_variants", "Output prefix (.json, .md).")
  flags.DEFINE_integer("crops", 200, "Validation crops measured.")
  flags.mark_flag_as_required("checkpoint")


def main(argv):
  del argv
  from tfpose_ssl import train  # pylint: disable=g-import-not-at-top,unused-import
  checkpoint = coco.resolve_path(FLAGS.checkpoint)
  config_lib.parse(FLAGS.config, FLAGS.gin_bindings, workdir=checkpoint)
  task = task_lib.PoseTask()
  with tempfile.TemporaryDirectory() as folder:
    rows, count = measure(task, checkpoint, FLAGS.crops, folder)
  result = {"checkpoint": FLAGS.checkpoint, "input_size": list(task.input_size), "crops": count,
            "machine": runtime.machine_description(), "rows": rows,
            "date": time.strftime("%Y-%m-%d", time.gmtime())}
  out = coco.resolve_path(FLAGS.out)
  io_utils.atomic_write_text(out + ".json", json.dumps(result, indent=1))
  text = markdown(result)
  io_utils.atomic_write_text(out + ".md", text)
  print(text)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
