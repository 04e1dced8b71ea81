r"""Trains a top-down pose model (supervised, or the dual-student method) from a gin config.

  python -m tfpose_ssl.train --config=configs/synthetic.gin [--gin_bindings=...] [--workdir=...]
  bazel run //tfpose_ssl:train -- --config=configs/partial_2k.gin \
      --gin_bindings="COCO_ROOT='/data/coco'"

The workdir (default runs/<config names joined by '+'>) receives config.gin, checkpoints/
(students, optimizers, step), tensorboard/, results JSONs, summary.json/.md and skeletons.png.
Running the same command again resumes from the last checkpoint; under a changed config it
refuses (`train.allow_config_change=True` continues on purpose). The training itself is
`tfpose_ssl.training.train`.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
from absl import app
from absl import flags

from tfpose_ssl import config as config_lib
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl import training

FLAGS = flags.FLAGS


def define_flags():
  config_lib.define_flags()
  flags.adopt_module_key_flags(config_lib)  # --config, --gin_bindings in --help
  flags.DEFINE_string("workdir", None,
                      "Output folder (default: runs/<config names joined by '+'>).")


def main(argv):
  del argv
  files = config_lib.parse(FLAGS.config, FLAGS.gin_bindings)
  training.train(workdir=FLAGS.workdir or training.default_workdir(files))


if __name__ == "__main__":
  define_flags()
  app.run(main)
