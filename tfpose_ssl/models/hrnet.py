"""HRNet-W32/W48 for pose (Sun et al. 2019), functional Keras, channels-last.

Stem (two 3x3 stride-2 convolutions) -> stage 1 (4 bottlenecks) -> stages 2-4 with 2, 3 and 4
parallel branches (widths W, 2W, 4W, 8W; 1, 4 and 3 modules of 4 basic blocks per branch)
joined by repeated multi-resolution fusion -> the highest-resolution branch -> 1x1 conv to the
joint heatmaps at stride 4.

Layer names are the module paths of the official PyTorch implementation
(`stage2.0.branches.1.3.conv2`, `stage3.2.fuse_layers.0.2.0`, ...) and padding is explicit, so
converted PyTorch weights load layer by layer (`tfpose_ssl.tools.convert_weights`).
"""

import gin
import keras

from tfpose_ssl.models import batch_norm as batch_norm_lib
from tfpose_ssl.models import resnet
from tfpose_ssl.ops import keypoints as kp

# Stages 2-4: (modules, branches). Every branch has 4 basic blocks.
STAGES = ((1, 2), (4, 3), (3, 4))
WIDTHS = (32, 48)


def _bn(name, synchronized):
  return batch_norm_lib.batch_norm(name, synchronized)


def _conv(x, filters, kernel, stride, name, bias=False):
  # The reference's symmetric kernel // 2 padding (resnet.pad explains the Identity layer).
  x, padding = resnet.pad(x, kernel, stride, name + ".pad")
  return keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=bias,
                             kernel_initializer="he_normal", name=name)(x)


def _basic_block(x, filters, name, synchronized):
  shortcut = x
  y = _conv(x, filters, 3, 1, name + ".conv1")
  y = keras.layers.ReLU(name=name + ".relu1")(_bn(name + ".bn1", synchronized)(y))
  y = _bn(name + ".bn2", synchronized)(_conv(y, filters, 3, 1, name + ".conv2"))
  if x.shape[-1] != filters:
    shortcut = _bn(name + ".downsample.1", synchronized)(
        _conv(x, filters, 1, 1, name + ".downsample.0"))
  return keras.layers.ReLU(name=name + ".relu")(keras.layers.Add(name=name + ".add")([shortcut, y]))


def _bottleneck(x, planes, name, synchronized):
  shortcut = x
  y = keras.layers.ReLU(name=name + ".relu1")(
      _bn(name + ".bn1", synchronized)(_conv(x, planes, 1, 1, name + ".conv1")))
  y = keras.layers.ReLU(name=name + ".relu2")(
      _bn(name + ".bn2", synchronized)(_conv(y, planes, 3, 1, name + ".conv2")))
  y = _bn(name + ".bn3", synchronized)(_conv(y, planes * 4, 1, 1, name + ".conv3"))
  if x.shape[-1] != planes * 4:
    shortcut = _bn(name + ".downsample.1", synchronized)(
        _conv(x, planes * 4, 1, 1, name + ".downsample.0"))
  return keras.layers.ReLU(name=name + ".relu")(keras.layers.Add(name=name + ".add")([shortcut, y]))


def _fuse(branches, widths, name, synchronized, outputs):
  """Multi-resolution fusion: output i sums every branch j resampled to branch i."""
  fused = []
  for i in range(outputs):
    terms = []
    for j, x in enumerate(branches):
      path = f"{name}.fuse_layers.{i}.{j}"
      if j == i:
        terms.append(x)
      elif j > i:  # lower resolution: 1x1 conv to C_i, then nearest upsampling by 2^(j-i)
        y = _bn(path + ".1", synchronized)(_conv(x, widths[i], 1, 1, path + ".0"))
        terms.append(keras.layers.UpSampling2D(2 ** (j - i), name=path + ".2")(y))
      else:  # higher resolution: (i - j) stride-2 3x3 convs, the last one to C_i
        y = x
        for k in range(i - j):
          last = k == i - j - 1
          y = _conv(y, widths[i] if last else widths[j], 3, 2, f"{path}.{k}.0")
          y = _bn(f"{path}.{k}.1", synchronized)(y)
          if not last:
            y = keras.layers.ReLU(name=f"{path}.{k}.relu")(y)
        terms.append(y)
    total = terms[0] if len(terms) == 1 else keras.layers.Add(name=f"{name}.fuse.{i}")(terms)
    fused.append(keras.layers.ReLU(name=f"{name}.fuse_relu.{i}")(total))
  return fused


def _transition(branches, widths, name, synchronized):
  """New branches for the next stage: a 3x3 conv where widths change, a stride-2 conv for the
  new lowest-resolution branch (from the previous lowest)."""
  out = []
  for i, width in enumerate(widths):
    if i < len(branches):
      x = branches[i]
      if x.shape[-1] != width:
        x = _bn(f"{name}.{i}.1", synchronized)(_conv(x, width, 3, 1, f"{name}.{i}.0"))
        x = keras.layers.ReLU(name=f"{name}.{i}.2")(x)
    else:
      x = _bn(f"{name}.{i}.0.1", synchronized)(_conv(branches[-1], width, 3, 2, f"{name}.{i}.0.0"))
      x = keras.layers.ReLU(name=f"{name}.{i}.0.2")(x)
    out.append(x)
  return out


def hrnet_backbone(width, input_shape, synchronized_bn=False, name=None):
  """HRNet-W`width` features at stride 4: `[B, H, W, 3]` -> `[B, H/4, W/4, width]`."""
  if width not in WIDTHS:
    raise ValueError(f"HRNet width must be one of {WIDTHS}, got {width}")
  sync = synchronized_bn
  inputs = keras.Input(input_shape, name="image")
  x = keras.layers.ReLU(name="relu1")(_bn("bn1", sync)(_conv(inputs, 64, 3, 2, "conv1")))
  x = keras.layers.ReLU(name="relu2")(_bn("bn2", sync)(_conv(x, 64, 3, 2, "conv2")))
  for block in range(4):
    x = _bottleneck(x, 64, f"layer1.{block}", sync)
  branches = [x]
  for stage, (modules, num_branches) in enumerate(STAGES, start=2):
    widths = [width * 2 ** b for b in range(num_branches)]
    branches = _transition(branches, widths, f"transition{stage - 1}", sync)
    for module in range(modules):
      prefix = f"stage{stage}.{module}"
      branches = [_basic_blocks(x, widths[b], f"{prefix}.branches.{b}", sync)
                  for b, x in enumerate(branches)]
      last = stage == 4 and module == modules - 1
      branches = _fuse(branches, widths, prefix, sync, outputs=1 if last else num_branches)
  return keras.Model(inputs, branches[0], name=name or f"hrnet_w{width}")


def _basic_blocks(x, filters, name, synchronized):
  for block in range(4):
    x = _basic_block(x, filters, f"{name}.{block}", synchronized)
  return x


@gin.configurable(denylist=["input_size"])
def hrnet(input_size=(256, 192), width=32, num_joints=kp.NUM_JOINTS, weights=None,
          synchronized_bn=False):
  """HRNet-W32/W48 pose model: RGB `[B, H, W, 3]` in [0, 255] -> heatmaps `[B, H/4, W/4, J]`.

  Args:
    input_size: (H, W), divisible by 32; set by the training function from the task.
    width: 32 or 48.
    num_joints: J.
    weights: None, or the path of a `.weights.h5` file of this backbone (e.g. ImageNet
      weights converted with `python -m tfpose_ssl.tools.convert_weights`).
    synchronized_bn: synchronized BatchNormalization (multi-replica training).
  """
  if input_size[0] % 32 or input_size[1] % 32:
    raise ValueError(f"HRNet needs an input size divisible by 32, got {tuple(input_size)}")
  input_shape = (int(input_size[0]), int(input_size[1]), 3)
  backbone = hrnet_backbone(width, input_shape, synchronized_bn)
  if weights is not None:
    resnet.load_backbone_weights(backbone, weights, f"HRNet-W{width}")
  inputs = keras.Input(input_shape, name="image")
  x = keras.layers.Normalization(mean=resnet.TORCHVISION_MEAN,
                                 variance=resnet.TORCHVISION_VARIANCE, name="normalize")(inputs)
  x = backbone(x)
  heatmaps = keras.layers.Conv2D(num_joints, 1, dtype="float32",
                                 kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                                 name="final_layer")(x)
  return keras.Model(inputs, heatmaps, name=f"pose_hrnet_w{width}")
