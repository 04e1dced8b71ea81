"""Tests of the ResNet backbones and SimpleBaseline: shapes, exact parameter counts, config."""

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.models import batch_norm
from tfpose_ssl.models import resnet
from tfpose_ssl.models import simple_baseline


def _trainable(model):
  return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _head_params(in_channels, filters=256, kernel=4, num_deconv=3, joints=17):
  """Deconvolutions without bias + BN (4 per channel) + the 1x1 conv with bias."""
  total, channels = 0, in_channels
  for _ in range(num_deconv):
    total += kernel * kernel * channels * filters + 4 * filters
    channels = filters
  return total + channels * joints + joints


class ResNetTest(tf.test.TestCase):

  def test_resnet18_matches_torchvision_parameter_count(self):
    backbone, _ = resnet.resnet_backbone(18, (256, 192, 3))
    self.assertEqual(_trainable(backbone), 11_176_512)  # torchvision resnet18 minus fc
    self.assertEqual(backbone.count_params(), 11_176_512 + 2 * 4_800)  # + BN moving stats
    self.assertEqual(backbone.output_shape, (None, 8, 6, 512))

  def test_resnet34_matches_torchvision_parameter_count(self):
    backbone, _ = resnet.resnet_backbone(34, (256, 192, 3))
    self.assertEqual(_trainable(backbone), 21_284_672)

  def test_resnet50_from_keras_applications(self):
    backbone, (mean, variance) = resnet.resnet_backbone(50, (256, 192, 3))
    self.assertEqual(backbone.count_params(), 23_587_712)
    self.assertEqual(backbone.output_shape, (None, 8, 6, 2048))
    self.assertEqual(mean, resnet.CAFFE_MEAN)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "unsupported ResNet depth"):
      resnet.resnet_backbone(20, (64, 64, 3))
    with self.assertRaisesRegex(ValueError, "no ImageNet ResNet-18"):
      resnet.resnet_backbone(18, (64, 64, 3), weights="imagenet")
    with self.assertRaisesRegex(FileNotFoundError, "not found"):
      resnet.resnet_backbone(18, (64, 64, 3), weights="/nonexistent.weights.h5")

  def test_replaced_batch_norm_keeps_weights(self):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(4, 3, name="conv2")(x)
    model = keras.Model(inputs, keras.layers.BatchNormalization(name="bn2")(x))
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in model.weights])
    x = rng.uniform(size=(2, 8, 8, 3)).astype(np.float32)
    for synchronized in (False, True):
      copy = resnet.replace_batch_norm(model, synchronized)
      bns = [l for l in copy.layers if isinstance(l, keras.layers.BatchNormalization)]
      self.assertEqual([l.name for l in bns], ["bn1", "bn2"])
      self.assertTrue(all(isinstance(l, batch_norm.BatchNormalization) for l in bns))
      self.assertTrue(all(l.synchronized == synchronized for l in bns))
      self.assertAllClose(model(x), copy(x))

  def test_keras_applications_backbone_runs_fused_batch_norm(self):
    backbone, _ = resnet.resnet_backbone(50, (64, 64, 3))
    bns = [l for l in backbone.layers if isinstance(l, keras.layers.BatchNormalization)]
    self.assertLen(bns, 53)
    self.assertTrue(all(isinstance(l, batch_norm.BatchNormalization) for l in bns))
    self.assertEqual(bns[0].epsilon, 1.001e-5)  # keras.applications' own settings kept

  def test_weight_file_round_trip(self):
    backbone, _ = resnet.resnet_backbone(18, (64, 64, 3), width=8)
    path = os.path.join(self.get_temp_dir(), "r18.weights.h5")
    backbone.save_weights(path)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      loaded, _ = resnet.resnet_backbone(18, (64, 64, 3), weights=path, width=8)
    # A correct load is silent.
    self.assertEqual([str(w.message) for w in caught if "container" in str(w.message)], [])
    x = np.random.default_rng(1).uniform(size=(1, 64, 64, 3)).astype(np.float32)
    self.assertAllClose(backbone(x), loaded(x))
    for saved, restored in zip(backbone.weights, loaded.weights):
      self.assertAllEqual(saved, restored)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      with self.assertRaisesRegex(ValueError, "does not fit ResNet-18"):
        resnet.resnet_backbone(18, (64, 64, 3), weights=path, width=16)
    # One clear error, not Keras' 34 false "will retain their freshly-initialized weights".
    self.assertEqual([str(w.message) for w in caught if "container" in str(w.message)], [])


class SimpleBaselineTest(tf.test.TestCase):

  def test_resnet18_shapes_and_exact_parameter_count(self):
    model = simple_baseline.simple_baseline((256, 192), "resnet18")
    self.assertEqual(model.output_shape, (None, 64, 48, 17))
    self.assertEqual(model.count_params(), 11_186_112 + _head_params(512))
    self.assertEqual(model.count_params(), 15_387_857)

  def test_small_width(self):
    model = simple_baseline.simple_baseline((128, 96), "resnet18", width=16, deconv_filters=64)
    backbone = model.get_layer("resnet18")
    self.assertEqual(backbone.output_shape, (None, 4, 3, 128))
    self.assertEqual(model.count_params(),
                     backbone.count_params() + _head_params(128, filters=64))
    self.assertEqual(model.output_shape, (None, 32, 24, 17))

  def test_heatmaps_are_float32_under_mixed_precision(self):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
      model = simple_baseline.simple_baseline((64, 64), "resnet18", width=8, deconv_filters=16)
      out = model(np.zeros((1, 64, 64, 3), np.float32))
      self.assertEqual(out.dtype, tf.float32)
    finally:
      keras.mixed_precision.set_global_policy("float32")

  def test_get_config_round_trip_and_predict(self):
    model = simple_baseline.simple_baseline((64, 64), "resnet34", width=8, deconv_filters=16)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(2).uniform(0, 255, size=(3, 64, 64, 3)).astype(np.float32)
    self.assertAllClose(model.predict(x, verbose=0), clone.predict(x, verbose=0))
    ds = tf.data.Dataset.from_tensor_slices(x).batch(2)
    self.assertAllClose(model.predict(ds, verbose=0), model.predict(x, verbose=0), atol=1e-6)

  def test_equal_shaped_head_layers_start_different(self):
    # One shared Keras 3 initializer instance gave deconv2 and deconv3 identical weights.
    model = simple_baseline.simple_baseline((64, 64), "resnet18", width=8, deconv_filters=16)
    kernels = [model.get_layer(f"deconv{i}").kernel.numpy() for i in (1, 2, 3)]
    self.assertEqual(kernels[1].shape, kernels[2].shape)
    self.assertGreater(np.abs(kernels[1] - kernels[2]).max(), 1e-4)
    self.assertNear(float(np.std(kernels[2])), 0.001, 2e-4)  # N(0, 0.001) (SimpleBaseline)

  def test_checkpoints_of_models_with_explicit_padding_layers_restore_unchanged(self):
    # Made before stride-1 convolutions padded inside the convolution (testdata SOURCE.md):
    # every variable finds its place, and the outputs are the same to float round-off.
    folder = os.path.join(testing.TESTS_DIR, "testdata", "resnet18_explicit_padding")
    model = simple_baseline.simple_baseline((64, 64), "resnet18", width=4, deconv_filters=8)
    tf.train.Checkpoint(student=model).read(os.path.join(folder, "ckpt")).assert_consumed()
    outputs = model(np.load(os.path.join(folder, "input.npy")), training=False)
    self.assertAllClose(outputs, np.load(os.path.join(folder, "output.npy")), atol=1e-5)

  def test_stride_1_convolutions_pad_inside_and_stride_2_keep_explicit_padding(self):
    backbone = simple_baseline.simple_baseline((64, 64), "resnet18", width=4,
                                               deconv_filters=8).get_layer("resnet18")
    convs = [l for l in backbone.layers
             if isinstance(l, keras.layers.Conv2D) and l.kernel_size[0] > 1]
    self.assertLen(convs, 17)  # conv1 (7x7, stride 2) and 16 3x3, 3 of them stride 2
    for conv in convs:
      pad = backbone.get_layer(conv.name.replace("_conv", "_pad"))
      if conv.strides == (1, 1):
        self.assertEqual((conv.padding, type(pad)), ("same", keras.layers.Identity), conv.name)
      else:
        self.assertEqual((conv.padding, type(pad)), ("valid", keras.layers.ZeroPadding2D),
                         conv.name)
    self.assertLen([c for c in convs if c.strides == (1, 1)], 13)

  def test_input_size_must_be_divisible_by_32(self):
    with self.assertRaisesRegex(ValueError, "divisible by 32"):
      simple_baseline.simple_baseline((64, 48))
    with self.assertRaisesRegex(ValueError, "unknown backbone"):
      simple_baseline.simple_baseline((64, 64), "vgg16")


if __name__ == "__main__":
  tf.test.main()
