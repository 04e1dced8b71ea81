"""Export is all or nothing and never replaces an earlier export unless asked (issue 14.9)."""

import json
import os
import subprocess
import sys
import tempfile
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.serving import exporter
from tfpose_ssl.serving import pose_module

CODEC = codec_lib.KeypointCodec((64, 64), sigma=2.0)


def _module(checkpoint):
  """A tiny one-student serving module; `checkpoint` tells its exports apart in the sidecars."""
  keras.utils.set_random_seed(0)
  student = simple_baseline.simple_baseline((64, 64), "resnet18", width=8, deconv_filters=16)
  return pose_module.PoseServingModule([student], CODEC, metadata={"checkpoint": checkpoint})


def _files(folder):
  """{path relative to `folder`: bytes} of every file below it."""
  found = {}
  for root, _, names in os.walk(folder):
    for name in names:
      with open(os.path.join(root, name), "rb") as f:
        found[os.path.relpath(os.path.join(root, name), folder)] = f.read()
  return found


def _sidecar(path):
  with open(path) as f:
    return json.load(f)


class ExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.old_module = _module("ckpt-old")
    cls.new_module = _module("ckpt-new")

  def setUp(self):
    super().setUp()
    self.parent = tempfile.mkdtemp(dir=tf.compat.v1.test.get_temp_dir())
    self.out = os.path.join(self.parent, "exported")

  def test_refuses_to_replace_files_without_overwrite_before_restoring(self):
    os.makedirs(os.path.join(self.out, "saved_model"))
    for name, data in (("saved_model/saved_model.pb", b"old graph"),
                       ("pose_fp32.tflite", b"old flatbuffer"),
                       ("pose_fp32.tflite.json", b'{"checkpoint": "ckpt-old"}')):
      with open(os.path.join(self.out, name), "wb") as f:
        f.write(data)
    before = _files(self.out)
    with self.assertRaisesRegex(FileExistsError, f"{self.out}.*--overwrite"):
      exporter.write_export(self.new_module, self.out, ("fp32",))
    # The binary's path: fails on --out before it reads the (here missing) checkpoint.
    with self.assertRaisesRegex(FileExistsError, "--overwrite"):
      exporter.export(None, os.path.join(self.parent, "no_such_checkpoint"), self.out)
    self.assertEqual(_files(self.out), before)
    self.assertEqual(os.listdir(self.parent), ["exported"])

  def test_failed_int8_calibration_leaves_the_previous_export_whole(self):
    exporter.write_export(self.old_module, self.out, ("fp32",))
    before = _files(self.out)
    real = pose_module.tflite_bytes

    def calibration_fails(module, variant="fp32", representative_crops=None):
      if variant == "int8":
        raise RuntimeError("calibration failed")
      return real(module, variant, representative_crops)

    crops = np.zeros((2, 64, 64, 3), np.uint8)
    with mock.patch.object(pose_module, "tflite_bytes", side_effect=calibration_fails):
      # SavedModel and fp32 are complete when int8 fails: neither may reach --out.
      with self.assertRaisesRegex(RuntimeError, "calibration failed"):
        exporter.write_export(self.new_module, self.out, ("fp32", "int8"), crops, overwrite=True)
      self.assertEqual(_files(self.out), before)
      self.assertEqual(os.listdir(self.parent), ["exported"])  # no temporary folder
      # A first export that fails leaves nothing at all.
      first = os.path.join(self.parent, "first")
      with self.assertRaisesRegex(RuntimeError, "calibration failed"):
        exporter.write_export(self.new_module, first, ("int8",), crops)
    self.assertEqual(os.listdir(self.parent), ["exported"])

  def test_overwrite_replaces_every_file(self):
    os.makedirs(self.out)  # an empty folder needs no --overwrite
    exporter.write_export(self.old_module, self.out, ("fp32", "fp16"))
    self.assertEqual(sorted(os.listdir(self.out)),
                     ["pose_fp16.tflite", "pose_fp16.tflite.json", "pose_fp32.tflite",
                      "pose_fp32.tflite.json", "saved_model"])
    paths = exporter.write_export(self.new_module, self.out, ("fp32",), overwrite=True)
    self.assertEqual(paths, [os.path.join(self.out, "saved_model"),
                             os.path.join(self.out, "pose_fp32.tflite")])
    # No stale fp16 model whose sidecar names the earlier checkpoint.
    self.assertEqual(sorted(os.listdir(self.out)),
                     ["pose_fp32.tflite", "pose_fp32.tflite.json", "saved_model"])
    self.assertEqual(_sidecar(paths[1] + ".json")["checkpoint"], "ckpt-new")
    self.assertEqual(
        _sidecar(os.path.join(paths[0], pose_module.METADATA_FILE))["checkpoint"], "ckpt-new")
    self.assertEqual(os.listdir(self.parent), ["exported"])  # the old export is deleted

  def test_command_line_needs_overwrite_for_a_folder_with_files(self):
    os.makedirs(self.out)
    with open(os.path.join(self.out, "pose_fp32.tflite"), "wb") as f:
      f.write(b"old flatbuffer")
    # The checkpoint does not exist: the error must come from --out, before any restore.
    result = subprocess.run(
        [sys.executable, "-m", "tfpose_ssl.export", f"--out={self.out}",
         f"--checkpoint={os.path.join(self.parent, 'no_such_checkpoint')}"],
        cwd=testing.REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    self.assertNotEqual(result.returncode, 0)
    self.assertIn(f"--out={self.out} already holds files", result.stderr + result.stdout)
    self.assertIn("pass --overwrite", result.stderr + result.stdout)
    self.assertEqual(_files(self.out), {"pose_fp32.tflite": b"old flatbuffer"})


if __name__ == "__main__":
  tf.test.main()
