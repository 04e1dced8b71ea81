"""Tests of HRNet-W32/W48: shapes, parameter counts, config round trip, weight files."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from tfpose_ssl.models import hrnet
from tfpose_ssl.models import resnet
from tfpose_ssl.tools import convert_weights


def hrnet_parameters(width, joints=17):
  """Trainable parameters of pose HRNet, counted from the paper's architecture (independently
  of the Keras code): convolutions without bias + BatchNorm (gamma, beta) + the final 1x1."""
  conv = lambda k, cin, cout: k * k * cin * cout
  bn = lambda c: 2 * c
  total = conv(3, 3, 64) + bn(64) + conv(3, 64, 64) + bn(64)
  cin = 64
  for _ in range(4):  # stage 1: bottlenecks 64 -> 256
    total += conv(1, cin, 64) + bn(64) + conv(3, 64, 64) + bn(64) + conv(1, 64, 256) + bn(256)
    total += conv(1, cin, 256) + bn(256) if cin != 256 else 0
    cin = 256
  previous = [256]
  for stage, (modules, branches) in enumerate(((1, 2), (4, 3), (3, 4)), start=2):
    widths = [width * 2 ** i for i in range(branches)]
    for i, w in enumerate(widths):  # transition
      if i < len(previous):
        total += conv(3, previous[i], w) + bn(w) if previous[i] != w else 0
      else:
        total += conv(3, previous[-1], w) + bn(w)
    for module in range(modules):
      total += sum(4 * (2 * conv(3, w, w) + 2 * bn(w)) for w in widths)
      outputs = 1 if stage == 4 and module == modules - 1 else branches
      for i in range(outputs):
        for j in range(branches):
          if j > i:
            total += conv(1, widths[j], widths[i]) + bn(widths[i])
          for k in range(i - j):
            out = widths[i] if k == i - j - 1 else widths[j]
            total += conv(3, widths[j], out) + bn(out)
    previous = widths
  return total + width * joints + joints


def _trainable(model):
  return int(sum(np.prod(w.shape) for w in model.trainable_weights))


class HRNetTest(tf.test.TestCase):

  def test_w32_shapes_and_parameter_count(self):
    model = hrnet.hrnet((256, 192), width=32)
    self.assertEqual(model.output_shape, (None, 64, 48, 17))
    self.assertEqual(_trainable(model), hrnet_parameters(32))
    self.assertAlmostEqual(_trainable(model) / 1e6, 28.5, places=1)  # published: 28.5M

  def test_w48_parameter_count(self):
    model = hrnet.hrnet((256, 192), width=48)
    self.assertEqual(_trainable(model), hrnet_parameters(48))
    self.assertAlmostEqual(_trainable(model) / 1e6, 63.6, places=1)  # published: 63.6M

  def test_384x288(self):
    model = hrnet.hrnet((384, 288), width=32)
    self.assertEqual(model.output_shape, (None, 96, 72, 17))

  def test_get_config_round_trip(self):
    model = hrnet.hrnet((64, 64), width=32)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    self.assertAllClose(model(x), clone(x), atol=1e-6)
    self.assertEqual(model.get_layer("hrnet_w32").get_layer("stage4.2.fuse_layers.0.3.0").name,
                     "stage4.2.fuse_layers.0.3.0")

  def test_weight_file_round_trip_and_mismatch(self):
    folder = self.get_temp_dir()
    model = hrnet.hrnet((64, 64), width=32)
    path = os.path.join(folder, "hrnet_w32.weights.h5")
    model.get_layer("hrnet_w32").save_weights(path)
    loaded = hrnet.hrnet((64, 64), width=32, weights=path)
    x = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    self.assertAllClose(model.get_layer("hrnet_w32")(loaded.get_layer("normalize")(x)),
                        loaded.get_layer("hrnet_w32")(loaded.get_layer("normalize")(x)))
    with self.assertRaisesRegex(ValueError, "does not fit HRNet-W48"):
      hrnet.hrnet((64, 64), width=48, weights=path)
    with self.assertRaisesRegex(ValueError, "divisible by 32"):
      hrnet.hrnet((64, 48))


class HRNetTrainingTest(tf.test.TestCase):

  def test_a_training_step_from_the_shrunk_hrnet_config(self):
    import gin  # pylint: disable=g-import-not-at-top
    from tests import testing  # pylint: disable=g-import-not-at-top
    from tfpose_ssl import training as train_lib  # pylint: disable=g-import-not-at-top
    data = os.path.join(self.get_temp_dir(), "data")
    testing.make_synthetic(data)
    testing.parse_config("smoke.gin", [
        "include 'configs/models/hrnet_w32_256x192.gin'", "INPUT_SIZE = (64, 64)",
        "include 'configs/modes/supervised.gin'",
        f"train/synthetic_coco.root = '{data}'", f"val/synthetic_coco.root = '{data}'",
        "train.epochs = 1", "train.steps_per_epoch = 2", "train.verbose = 0",
        "train.num_visualized = 0"])
    workdir = os.path.join(self.get_temp_dir(), "run")
    try:
      result = train_lib.train(workdir=workdir)
    finally:
      gin.clear_config()
    self.assertTrue(np.isfinite(result.history[0]["loss"]))
    with open(os.path.join(workdir, "summary.json")) as f:
      val_set = json.load(f)["val_set"]
    self.assertAlmostEqual(result.report.metrics["student_1"]["AP"],
                           testing.recomputed_ap(workdir, val_set), places=6)


class ConvertWeightsTest(tf.test.TestCase):

  def _state_dict(self, arch):
    """A PyTorch-style state dict for `arch` with random values (as a converted file has)."""
    rng = np.random.default_rng(0)
    backbone = convert_weights.build_backbone(arch)
    tensors = {"fc.weight": rng.normal(size=(1000, 8)).astype(np.float32)}  # unused classifier
    for layer in backbone.layers:
      if not layer.weights:
        continue
      name = convert_weights.torch_name(arch, layer.name)
      if isinstance(layer, keras.layers.Conv2D):
        kernel = layer.get_weights()[0]
        tensors[name + ".weight"] = rng.normal(size=kernel.shape[::-1][:2] + kernel.shape[:2]
                                               ).astype(np.float32)
        if layer.use_bias:
          tensors[name + ".bias"] = rng.normal(size=kernel.shape[-1]).astype(np.float32)
      else:
        c = layer.get_weights()[0].shape[0]
        for suffix in (".weight", ".bias", ".running_mean"):
          tensors[name + suffix] = rng.normal(size=c).astype(np.float32)
        tensors[name + ".running_var"] = rng.uniform(0.5, 2, size=c).astype(np.float32)
    return tensors

  def test_resnet18_torchvision_names_and_layout(self):
    self.assertEqual(convert_weights.torch_name("resnet18", "conv3_block1_0_bn"),
                     "layer2.0.downsample.1")
    self.assertEqual(convert_weights.torch_name("resnet18", "conv5_block2_2_conv"),
                     "layer4.1.conv2")
    tensors = self._state_dict("resnet18")
    backbone, unused = convert_weights.convert("resnet18", tensors)
    self.assertEqual(unused, ["fc.weight"])
    kernel = backbone.get_layer("conv2_block1_1_conv").get_weights()[0]
    self.assertAllEqual(kernel, np.transpose(tensors["layer1.0.conv1.weight"], (2, 3, 1, 0)))
    path = os.path.join(self.get_temp_dir(), "r18.weights.h5")
    backbone.save_weights(path)
    loaded, _ = resnet.resnet_backbone(18, (64, 64, 3), weights=path)
    self.assertAllEqual(loaded.get_layer("conv1_bn").moving_variance,
                        tensors["bn1.running_var"])

  def test_hrnet_names_are_pytorch_paths_and_shapes_are_checked(self):
    tensors = self._state_dict("hrnet_w32")
    backbone, _ = convert_weights.convert("hrnet_w32", tensors)
    self.assertAllEqual(backbone.get_layer("stage3.1.branches.2.3.bn2").gamma,
                        tensors["stage3.1.branches.2.3.bn2.weight"])
    del tensors["transition2.2.0.0.weight"]
    with self.assertRaisesRegex(ValueError, "no tensor .*transition2.2.0.0.weight"):
      convert_weights.convert("hrnet_w32", tensors)
    tensors = self._state_dict("hrnet_w32")
    tensors["conv1.weight"] = tensors["conv1.weight"][:32]
    with self.assertRaisesRegex(ValueError, "conv1 has shape"):
      convert_weights.convert("hrnet_w32", tensors)


if __name__ == "__main__":
  tf.test.main()
