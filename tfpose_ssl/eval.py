r"""Evaluates a checkpoint: top-down inference on GT or detector boxes, COCO AP and PCK.

  python -m tfpose_ssl.eval --checkpoint=runs/synthetic/method [--config=configs/synthetic.gin] \
      [--boxes=detections.json] [--flip] [--out=eval_out]
  bazel run //tfpose_ssl:eval -- --checkpoint=$PWD/runs/synthetic/method

With a training workdir as --checkpoint, its saved config.gin is used when --config is not
given. Writes COCO results JSONs (one per student, and the ensemble of two students) and
metrics.json, and prints the COCO summary.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import json
import os

from absl import app
from absl import flags

from tfpose_ssl import config as config_lib
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl import io_utils
from tfpose_ssl import runtime
from tfpose_ssl import task as task_lib
from tfpose_ssl.evaluation import evaluator

FLAGS = flags.FLAGS


def _define_flags():
  config_lib.define_flags()
  flags.adopt_module_key_flags(config_lib)  # --config, --gin_bindings in --help
  flags.DEFINE_string("checkpoint", None, "Training workdir, checkpoint folder or prefix.")
  flags.DEFINE_string("boxes", None, "COCO detection-results JSON (default: GT boxes).")
  flags.DEFINE_float("score_threshold", None, "Detection score threshold (default: config).")
  flags.DEFINE_bool("flip", None, "Flip test (default: the config's PoseTask.flip_test).")
  flags.DEFINE_string("out", None, "Output folder for results (default: <workdir>/eval).")
  flags.DEFINE_integer("batch_size", 32, "Crops per inference batch.")
  flags.mark_flag_as_required("checkpoint")


def main(argv):
  del argv
  checkpoint = io_utils.resolve_path(FLAGS.checkpoint)
  config_lib.parse(FLAGS.config, FLAGS.gin_bindings, workdir=checkpoint)
  runtime.set_thread_pools()
  task = task_lib.PoseTask()
  students, path = evaluator.restore_students(task, checkpoint)
  evaluator.check_schema(task, path)
  out_dir = io_utils.resolve_path(FLAGS.out) if FLAGS.out else os.path.join(
      checkpoint if os.path.isdir(checkpoint) else os.path.dirname(checkpoint), "eval")
  report = evaluator.evaluate(students, task, out_dir,
                             detections=io_utils.resolve_path(FLAGS.boxes),
                             score_threshold=FLAGS.score_threshold, flip_test=FLAGS.flip,
                             batch_size=FLAGS.batch_size)
  print(f"checkpoint: {path}")
  print(report.table())
  summary = dict(report.metrics, evaluated=report.evaluated_set())
  io_utils.atomic_write_text(os.path.join(out_dir, "metrics.json"), json.dumps(summary, indent=1))
  print(f"results written to {out_dir}")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
