r"""Generates every synthetic split a gin config names (its `@train/synthetic_coco()`, ...).

  python -m tfpose_ssl.tools.make_synthetic --config=configs/synthetic.gin
  python -m tfpose_ssl.tools.make_synthetic --config=configs/smoke.gin \
      --gin_bindings="train/synthetic_coco.root = '/tmp/data'"
  bazel run //tfpose_ssl/tools:make_synthetic -- --config=configs/synthetic.gin

A run only reads its synthetic data (`synthetic_coco` loads, and fails naming the command when
a split is missing); this is the step before it, given the run's --config and --gin_bindings.
Splits already made with the config's parameters are left as they are. The demo and the quality
benchmark call `make_for_config` before their training processes. It reads a config, so it
lives here (layer 4), not in tfpose_ssl/data/synthetic (layer 2; see tests/layering_test.py),
whose command line makes one split from its parameters.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import inspect

from absl import app
from absl import flags
import gin

from tfpose_ssl import config as config_lib
from tfpose_ssl import io_utils
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl.data import synthetic

FLAGS = flags.FLAGS


def configured_splits():
  """The arguments of every `synthetic_coco` call the parsed gin config makes, each once.

  A call is a reference `@<scope>/synthetic_coco()` anywhere in the config; its arguments are
  the function's defaults overridden by the bindings gin gives it in that scope (unscoped
  `synthetic_coco.<name>`, then `<scope>/synthetic_coco.<name>`). Two calls that would make one
  split (same folder, split name and skeleton) with different parameters are an error:
  whichever is generated second would replace the first.
  """
  defaults = {name: parameter.default for name, parameter in
              inspect.signature(synthetic.synthetic_coco).parameters.items()}
  splits = {}  # (folder, split name) -> arguments
  for reference in config_lib.references():
    selector = reference.scoped_selector
    if gin.get_configurable(selector.rpartition("/")[2]) is not synthetic.synthetic_coco:
      continue
    arguments = dict(defaults, **gin.get_bindings(selector))
    key = (io_utils.resolve_path(arguments["root"]), arguments["split"], arguments["skeleton"])
    if splits.setdefault(key, arguments) != arguments:
      raise ValueError(f"the config names the synthetic {key[2]} split '{key[1]}' under {key[0]} "
                       f"twice, with different parameters ({splits[key]} and {arguments}): give one "
                       "of them another root or split name")
  return list(splits.values())


def make_configured_splits():
  """Generates every split of `configured_splits()` that is not there yet; returns them all
  (`coco.CocoKeypoints`)."""
  return [synthetic.make_synthetic_coco(**arguments) for arguments in configured_splits()]


def make_for_config(configs, bindings=()):
  """Parses the gin `configs` and `bindings` and generates the synthetic splits they name
  (`make_configured_splits`); clears the gin config before and after."""
  gin.clear_config()
  try:
    config_lib.parse(configs, list(bindings))
    return make_configured_splits()
  finally:
    gin.clear_config()


def _define_flags():
  config_lib.define_flags()
  flags.adopt_module_key_flags(config_lib)  # --config, --gin_bindings in --help


def main(argv):
  del argv
  made = make_for_config(FLAGS.config, FLAGS.gin_bindings)
  if not made:
    print(f"{FLAGS.config} name no synthetic split (no @synthetic_coco)")
  for dataset in made:
    print(dataset.annotation_path)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
