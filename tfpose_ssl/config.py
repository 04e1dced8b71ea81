"""gin configuration for the binaries: --config/--gin_bindings parsing and path resolution."""

import os

from absl import flags
import gin
import tensorflow as tf

from tfpose_ssl.data import coco

# The folder holding configs/ (the repository, or the Bazel runfiles tree).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAVED_CONFIG = "config.gin"


def define_flags():
  flags.DEFINE_multi_string("config", [], "gin config file(s), e.g. configs/synthetic.gin.")
  flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings, e.g. \"train.epochs=5\".")


def resolve_config(path):
  """A config path as given (relative to where the user ran the command) or in the repo."""
  for candidate in (coco.resolve_path(path), os.path.join(REPO_ROOT, path)):
    if os.path.isfile(candidate):
      return candidate
  raise FileNotFoundError(f"gin config not found: {path} (looked in "
                          f"{coco.resolve_path(path)} and {os.path.join(REPO_ROOT, path)})")


def parse(configs, bindings, workdir=None):
  """Parses gin files and bindings; with no files, falls back to `<workdir>/config.gin`.

  A misspelled configurable or parameter raises an error naming it, before anything runs.
  """
  files = [resolve_config(c) for c in configs]
  if not files and workdir:
    saved = os.path.join(workdir if os.path.isdir(workdir) else os.path.dirname(workdir),
                         SAVED_CONFIG)
    if not os.path.isfile(saved):
      raise FileNotFoundError(f"no --config given and no {SAVED_CONFIG} in {workdir}")
    files = [saved]
  if not files:
    raise ValueError("no gin config given (--config=configs/<name>.gin)")
  gin.add_config_file_search_path(REPO_ROOT)
  gin.parse_config_files_and_bindings(files, bindings)
  return files


def latest_checkpoint(path):
  """The checkpoint prefix for a workdir, a checkpoint folder or a prefix."""
  if os.path.isdir(path):
    for folder in (os.path.join(path, "checkpoints"), path):
      found = tf.train.latest_checkpoint(folder)
      if found:
        return found
    raise FileNotFoundError(f"no checkpoint under {path}")
  if tf.io.gfile.glob(path + ".index"):
    return path
  raise FileNotFoundError(f"checkpoint not found: {path}")
