"""ResNet backbones for SimpleBaseline, channels-last, stride 32.

ResNet-18/34 are written here in torchvision's layout (explicit zero padding, so converted
torchvision ImageNet weights fit layer by layer); ResNet-50/101/152 come from
`keras.applications` (weights=None, 'imagenet', or a local file).
"""

import os
import warnings

import keras

from tfpose_ssl.models import batch_norm as batch_norm_lib

BASIC_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
APPLICATIONS = {
    50: keras.applications.ResNet50,
    101: keras.applications.ResNet101,
    152: keras.applications.ResNet152,
}
DEPTHS = tuple(sorted(list(BASIC_BLOCKS) + list(APPLICATIONS)))

# Input normalization each backbone's ImageNet weights expect, on RGB pixels in [0, 255].
TORCHVISION_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
TORCHVISION_VARIANCE = tuple((s * 255) ** 2 for s in (0.229, 0.224, 0.225))
CAFFE_MEAN = (123.68, 116.779, 103.939)  # keras.applications.resnet, in RGB order


def _conv_bn(x, filters, kernel, stride, name, relu=True, synchronized=False):
  x, padding = pad(x, kernel, stride, name + "_pad")
  x = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False,
                          kernel_initializer="he_normal", name=name + "_conv")(x)
  x = batch_norm_lib.batch_norm(name + "_bn", synchronized)(x)
  if relu:
    x = keras.layers.ReLU(name=name + "_relu")(x)
  return x


def pad(x, kernel, stride, name):
  """PyTorch's symmetric kernel // 2 padding (torchvision, HRNet): `(x, conv padding)`.

  Stride 1: the convolution pads ('same' is symmetric then), one op less forward and backward;
  an Identity layer keeps the padding layer's place, so that checkpoints (which number a
  model's layers) of models built with the explicit padding still restore. Stride 2:
  TensorFlow's 'same' would pad more at the bottom/right, so the padding stays explicit.
  """
  if not kernel // 2:
    return x, "valid"
  if stride == 1:
    return keras.layers.Identity(name=name)(x), "same"
  return keras.layers.ZeroPadding2D(kernel // 2, name=name)(x), "valid"


def _basic_block(x, filters, stride, name, synchronized):
  shortcut = x
  y = _conv_bn(x, filters, 3, stride, name + "_1", synchronized=synchronized)
  y = _conv_bn(y, filters, 3, 1, name + "_2", relu=False, synchronized=synchronized)
  if stride != 1 or x.shape[-1] != filters:
    shortcut = _conv_bn(x, filters, 1, stride, name + "_0", relu=False, synchronized=synchronized)
  y = keras.layers.Add(name=name + "_add")([shortcut, y])
  return keras.layers.ReLU(name=name + "_out")(y)


def basic_resnet(depth, input_shape, width=64, synchronized_bn=False, name=None):
  """ResNet-18/34 without the classifier: `[B, H, W, 3]` -> `[B, H/32, W/32, 8 * width]`."""
  if depth not in BASIC_BLOCKS:
    raise ValueError(f"basic_resnet supports depths {sorted(BASIC_BLOCKS)}, got {depth}")
  inputs = keras.Input(input_shape, name="image")
  x = _conv_bn(inputs, width, 7, 2, "conv1", synchronized=synchronized_bn)
  x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
  x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
  for stage, blocks in enumerate(BASIC_BLOCKS[depth]):
    filters = width * 2 ** stage
    for block in range(blocks):
      stride = 2 if stage > 0 and block == 0 else 1
      x = _basic_block(x, filters, stride, f"conv{stage + 2}_block{block + 1}", synchronized_bn)
  return keras.Model(inputs, x, name=name or f"resnet{depth}")


def replace_batch_norm(model, synchronized):
  """A copy of `model` (same weights) whose BatchNormalization layers run on the fused kernel
  (`batch_norm.BatchNormalization`), synchronized across replicas if asked."""

  def clone(layer):
    config = layer.get_config()
    if isinstance(layer, keras.layers.BatchNormalization):
      config["synchronized"] = synchronized
      return batch_norm_lib.BatchNormalization.from_config(config)
    return layer.__class__.from_config(config)

  copy = keras.models.clone_model(model, clone_function=clone)
  copy.set_weights(model.get_weights())
  return copy


def resnet_backbone(depth, input_shape, weights=None, width=64, synchronized_bn=False):
  """A ResNet feature extractor of `depth` and the input normalization its weights expect.

  Args:
    depth: 18, 34, 50, 101 or 152.
    input_shape: (H, W, 3).
    weights: None (random init), 'imagenet' (ResNet-50/101/152 through keras.applications), or
      the path of a Keras `.weights.h5` file holding this backbone's weights.
    width: base channel count of ResNet-18/34 (64 is the standard network; smaller widths make
      CPU-sized models). ResNet-50+ only support 64.
    synchronized_bn: synchronize BatchNormalization statistics across replicas.
  Returns:
    (backbone `keras.Model` taking normalized images, (mean, variance) for `keras.layers.Normalization`).
  """
  if depth not in DEPTHS:
    raise ValueError(f"unsupported ResNet depth {depth}; choose one of {DEPTHS}")
  local_file = weights not in (None, "imagenet")
  if local_file and not os.path.isfile(weights):
    raise FileNotFoundError(f"backbone weights file not found: {weights}")
  if depth in BASIC_BLOCKS:
    if weights == "imagenet":
      raise ValueError(
          f"keras.applications has no ImageNet ResNet-{depth}; pass the path of a converted "
          "torchvision .weights.h5 file instead (see docs/design.md, 'Models and pretrained weights')")
    backbone = basic_resnet(depth, input_shape, width, synchronized_bn)
    normalization = (TORCHVISION_MEAN, TORCHVISION_VARIANCE)
  else:
    if width != 64:
      raise ValueError(f"ResNet-{depth} from keras.applications has a fixed width (64)")
    backbone = APPLICATIONS[depth](
        include_top=False, weights="imagenet" if weights == "imagenet" else None,
        input_shape=input_shape)
    if weights == "imagenet":
      # keras.applications expects BGR; reversing conv1's input channels makes it take RGB.
      conv1 = backbone.get_layer("conv1_conv")
      kernel, bias = conv1.get_weights()
      conv1.set_weights([kernel[:, :, ::-1, :], bias])
    backbone = replace_batch_norm(backbone, synchronized_bn)
    normalization = (CAFFE_MEAN, (1.0, 1.0, 1.0))
  if local_file:
    load_backbone_weights(backbone, weights, f"ResNet-{depth} (width {width})")
  return backbone, normalization


# Loading a file of another architecture, Keras 3.15 first walks the Functional model's
# `_operations_by_depth` / `_nodes_by_depth` (which mirror its `layers`) and warns once per
# container "Skipping nested container ... will retain their freshly-initialized weights"
# (34-243 warnings for a ResNet-18 or HRNet file of another width), then raises for the
# mismatch (keras-team/keras#23021 / #23022 silence this only for metadata containers). Those
# warnings are false here: the load is refused with one error naming the file. A file that fits
# loads without them.
_MIRROR_CONTAINER_WARNING = r"Skipping nested container at '_(operations|nodes)_by_depth/"


def load_backbone_weights(backbone, path, label):
  """Loads a Keras `.weights.h5` into `backbone`; a file of another architecture is an error."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"backbone weights file not found: {path}")
  try:
    with warnings.catch_warnings():
      warnings.filterwarnings("ignore", message=_MIRROR_CONTAINER_WARNING, category=UserWarning)
      backbone.load_weights(path)
  except (ValueError, KeyError) as e:
    raise ValueError(f"weights file {path} does not fit {label}: {e}") from e
