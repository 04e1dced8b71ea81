"""Shared test helpers: where the real COCO mini set lives, tiny-config parsing, and the
synthetic data such a config reads."""

import os

import gin

from tfpose_ssl import config as config_lib
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl.tools import make_synthetic as make_synthetic_lib

TESTS_DIR = os.path.dirname(os.path.realpath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)


def coco_mini_dir():
  """`tests/testdata/coco_val2017_mini` (4 real val2017 images, 14 annotations), read-only.

  Source and licenses: `tests/testdata/coco_val2017_mini/SOURCE.md`.

  Override with $TFPOSE_COCO_MINI. The tests that need it fail (not skip) when it is absent.
  """
  path = os.environ.get("TFPOSE_COCO_MINI") or os.path.join(
      TESTS_DIR, "testdata", "coco_val2017_mini")
  path = os.path.normpath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"COCO mini set not found at {path}; set TFPOSE_COCO_MINI")
  return path


def coco_mini_dataset():
  from tfpose_ssl.data import coco  # pylint: disable=g-import-not-at-top
  return coco.CocoKeypoints(annotation_file="annotations/person_keypoints_mini.json",
                            image_dir="images", root=coco_mini_dir())


def recomputed_ap(workdir, annotation_file, model="student_1"):
  """COCO AP of the results JSON a run wrote for `model` (<workdir>/results), recomputed with
  pycocotools: the AP a report states must be this number (a run that reports one thing and
  writes another fails)."""
  from tfpose_ssl.evaluation import metrics  # pylint: disable=g-import-not-at-top
  results = os.path.join(workdir, "results", f"{model}_results.json")
  return metrics.coco_keypoint_metrics(annotation_file, results)["AP"]


def parse_config(name, bindings=()):
  """Clears gin and parses configs/<name> plus `bindings`."""
  gin.clear_config()
  config_lib.parse([os.path.join(REPO_ROOT, "configs", name)], list(bindings))


def make_synthetic(root, name="smoke.gin", bindings=()):
  """Generates the synthetic splits configs/<name> plus `bindings` name, with both data roots
  bound to `root` (`train/synthetic_coco.root`, `val/synthetic_coco.root`), as a user runs
  `python -m tfpose_ssl.tools.make_synthetic` before training (a run only reads them). Leaves
  gin cleared; splits already there are kept.
  """
  make_synthetic_lib.make_for_config(
      [os.path.join(REPO_ROOT, "configs", name)],
      [f"train/synthetic_coco.root = '{root}'", f"val/synthetic_coco.root = '{root}'",
       *bindings])
