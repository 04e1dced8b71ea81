r"""Sizes, CPU latency and accuracy of the export variants of a checkpoint.

  python -m tfpose_ssl.benchmarks.export_variants --checkpoint=runs/synthetic/method \
      [--out=results/export_variants] [--crops=200]

Exports student 1 (no flip) as a SavedModel and the four TFLite variants, then on the first
--crops validation crops of the checkpoint's task measures: file size, median latency per crop
at batch 1 (after warm-up), the keypoint distance (crop pixels) of each variant to the fp32
TFLite keypoints (the SavedModel's to the in-memory Keras model) and the correlation of its
heatmaps with the reference's (mean over crops and joints). Full int8 is calibrated on the 64
validation crops after the measured ones (held out). Writes `<out>.json` and `<out>.md`.
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
from tfpose_ssl import io_utils
from tfpose_ssl import runtime
from tfpose_ssl import task as task_lib
from tfpose_ssl.benchmarks import throughput
from tfpose_ssl.evaluation import inference
from tfpose_ssl.serving import exporter
from tfpose_ssl.serving import pose_module

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


def _errors(xy, reference_xy, heatmaps, reference_heatmaps):
  """Keypoint distances (crop px) to the reference: mean, median, share within 2 px; and the
  heatmaps' Pearson correlation with the reference's, per crop and joint, averaged."""
  distance = np.linalg.norm(xy - reference_xy, axis=-1)
  return {"mean_error_px": float(np.mean(distance)),
          "median_error_px": float(np.median(distance)),
          "within_2px": float(np.mean(distance <= 2.0)),
          "heatmap_correlation": heatmap_correlation(heatmaps, reference_heatmaps)}


def heatmap_correlation(a, b):
  """Mean over crops and joints of the Pearson correlation of heatmaps `[N, h, w, J]`."""
  a = np.asarray(a, np.float64).reshape(len(a), -1, a.shape[-1])
  b = np.asarray(b, np.float64).reshape(len(b), -1, b.shape[-1])
  a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
  denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
  return float(np.mean((a * b).sum(axis=1) / np.maximum(denominator, 1e-12)))


def measure(task, checkpoint, num_crops, folder, num_calibration=64):
  from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  module = exporter.build_module(task, checkpoint, "student_1", flip_test=False)
  available = exporter.representative_crops(task, num_crops + num_calibration)
  if len(available) < num_crops + num_calibration:
    raise ValueError(f"the validation set has {len(available)} people; --crops={num_crops} "
                     f"needs {num_crops + num_calibration} (the last {num_calibration} calibrate)")
  crops, calibration = available[:num_crops], available[num_crops:]
  rows = []
  saved = pose_module.export_saved_model(module, os.path.join(folder, "saved_model"))
  signature = tf.saved_model.load(saved).signatures["crops"]
  run_saved = lambda crop: signature(crops=tf.constant(crop[None]))
  keras_heatmaps = np.concatenate([
      inference.crop_heatmaps(module.models, tf.constant(crops[i:i + 32], tf.float32)).numpy()
      for i in range(0, len(crops), 32)])
  keras_xy = task.codec.decode(keras_heatmaps)[0].numpy()
  saved_out = [run_saved(c) for c in crops]
  rows.append(dict(_errors(np.stack([o["keypoints"].numpy()[0] for o in saved_out]), keras_xy,
                           np.stack([o["heatmaps"].numpy()[0] for o in saved_out]),
                           keras_heatmaps),
                   variant="SavedModel (crops signature)", bytes=_folder_size(saved),
                   latency_s=_latency(run_saved, crops), reference="Keras model"))
  outputs = {}
  for variant in pose_module.VARIANTS:
    path = pose_module.export_tflite(module, os.path.join(folder, f"pose_{variant}.tflite"), variant,
                                 calibration)
    runner = litert.Interpreter(model_path=path).get_signature_runner()
    run = lambda crop, r=runner: r(crops=crop[None])
    out = [run(c) for c in crops]
    outputs[variant] = {key: np.stack([o[key][0] for o in out])
                        for key in ("keypoints", "heatmaps")}
    rows.append(dict(_errors(outputs[variant]["keypoints"], outputs["fp32"]["keypoints"],
                             outputs[variant]["heatmaps"], outputs["fp32"]["heatmaps"]),
                     variant=f"TFLite {variant}", bytes=os.path.getsize(path),
                     latency_s=_latency(run, crops), reference="TFLite fp32"))
  return rows, len(crops), len(calibration)


def markdown(result):
  lines = [f"Checkpoint {result['checkpoint']}, input {result['input_size'][0]}x"
           f"{result['input_size'][1]}, {result['crops']} validation crops, batch 1; full int8 "
           f"calibrated on {result['calibration_crops']} other validation crops. Machine: "
           f"{result['machine']}, float32 matmul {result['matmul_gflops']:.0f} GFLOP/s (the "
           f"higher of before and after). Measured {result['date']}, commit {result['commit']}.",
           "",
           "| variant | size (MiB) | median latency per crop (ms) | keypoint error (crop px): "
           "mean / median | joints within 2 px | heatmap correlation | against |",
           "|---|---|---|---|---|---|---|"]
  for row in result["rows"]:
    lines.append(f"| {row['variant']} | {row['bytes'] / 2 ** 20:.2f} | "
                 f"{1000 * row['latency_s']:.2f} | {row['mean_error_px']:.3f} / "
                 f"{row['median_error_px']:.3f} | {100 * row['within_2px']:.1f}% | "
                 f"{row['heatmap_correlation']:.4f} | {row['reference']} |")
  return "\n".join(lines) + "\n"


def _define_flags():
  config_lib.define_flags()
  flags.DEFINE_string("checkpoint", None, "Training workdir or checkpoint.")
  flags.DEFINE_string("out", "results/export_variants", "Output prefix (.json, .md).")
  flags.DEFINE_integer("crops", 200, "Validation crops measured.")
  flags.mark_flag_as_required("checkpoint")


def main(argv):
  del argv
  from tfpose_ssl import configurables  # pylint: disable=g-import-not-at-top,unused-import
  checkpoint = io_utils.resolve_path(FLAGS.checkpoint)
  config_lib.parse(FLAGS.config, FLAGS.gin_bindings, workdir=checkpoint)
  task = task_lib.PoseTask()
  matmul = runtime.matmul_gflops()
  with tempfile.TemporaryDirectory() as folder:
    rows, count, calibration = measure(task, checkpoint, FLAGS.crops, folder)
  matmul = max(matmul, runtime.matmul_gflops())
  result = {"checkpoint": FLAGS.checkpoint, "input_size": list(task.input_size), "crops": count,
            "calibration_crops": calibration, "machine": runtime.machine_description(),
            "matmul_gflops": matmul,
            "rows": rows, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": throughput.commit()}
  out = io_utils.resolve_path(FLAGS.out)
  io_utils.atomic_write_text(out + ".json", json.dumps(result, indent=1))
  text = markdown(result)
  io_utils.atomic_write_text(out + ".md", text)
  print(text)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
