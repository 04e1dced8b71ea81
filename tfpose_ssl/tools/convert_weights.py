r"""Converts PyTorch ImageNet weights (torchvision ResNet-18/34, official HRNet-W32/W48) into a
Keras `.weights.h5` for our backbones.

PyTorch is not a dependency. Where you have it, export the state dict to NumPy first:

  python -c "import torch, numpy as np; sd = torch.load('hrnetv2_w32_imagenet_pretrained.pth', \
      map_location='cpu'); np.savez('hrnet_w32.npz', **{k: v.numpy() for k, v in sd.items()})"
  python -m tfpose_ssl.tools.convert_weights --arch=hrnet_w32 --npz=hrnet_w32.npz \
      --out=weights/hrnet_w32_imagenet.weights.h5

then set `hrnet.weights = 'weights/hrnet_w32_imagenet.weights.h5'` (or
`simple_baseline.weights` for ResNet-18/34 from torchvision's resnet18-f37072fd.pth). Keys the
backbone does not use (the classifier) are ignored; a backbone layer without a matching tensor,
or a tensor of the wrong shape, is an error.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import re

from absl import app
from absl import flags
import keras
import numpy as np

from tfpose_ssl.models import hrnet
from tfpose_ssl.models import resnet

ARCHS = ("resnet18", "resnet34", "hrnet_w32", "hrnet_w48")


def build_backbone(arch, input_shape=(256, 192, 3)):
  if arch.startswith("resnet"):
    return resnet.basic_resnet(int(arch[len("resnet"):]), input_shape)
  if arch.startswith("hrnet_w"):
    return hrnet.hrnet_backbone(int(arch[len("hrnet_w"):]), input_shape)
  raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")


def torch_name(arch, layer_name):
  """PyTorch module path of one of our backbone layers."""
  if arch.startswith("hrnet"):
    return layer_name  # HRNet layers are named by their PyTorch paths
  if layer_name == "conv1_conv":
    return "conv1"
  if layer_name == "conv1_bn":
    return "bn1"
  match = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", layer_name)
  if not match:
    raise ValueError(f"no PyTorch name for layer {layer_name}")
  stage, block, part, kind = match.groups()
  prefix = f"layer{int(stage) - 1}.{int(block) - 1}"
  if part == "0":
    return f"{prefix}.downsample.{0 if kind == 'conv' else 1}"
  return f"{prefix}.{kind}{part}"


def keras_weights(layer, tensors, name):
  """The Keras weight list of `layer` from PyTorch tensors named `name.*`."""
  if isinstance(layer, keras.layers.Conv2D):
    weights = [np.transpose(tensors[name + ".weight"], (2, 3, 1, 0))]  # OIHW -> HWIO
    if layer.use_bias:
      weights.append(tensors[name + ".bias"])
    return weights
  if isinstance(layer, keras.layers.BatchNormalization):
    return [tensors[name + suffix] for suffix in (".weight", ".bias", ".running_mean",
                                                   ".running_var")]
  raise ValueError(f"cannot convert layer type {type(layer).__name__}")


def convert(arch, tensors):
  """Returns the backbone of `arch` with weights from `tensors` (PyTorch names -> arrays)."""
  backbone = build_backbone(arch)
  used = set()
  for layer in backbone.layers:
    if not layer.weights:
      continue
    name = torch_name(arch, layer.name)
    try:
      weights = keras_weights(layer, tensors, name)
    except KeyError as e:
      raise ValueError(f"{arch}: no tensor {e} for layer {layer.name}") from e
    for have, want in zip(weights, layer.get_weights()):
      if tuple(have.shape) != tuple(want.shape):
        raise ValueError(f"{arch}: {name} has shape {have.shape}, layer {layer.name} needs "
                         f"{want.shape}")
    layer.set_weights(weights)
    used.update(k for k in tensors if k.startswith(name + "."))
  return backbone, sorted(set(tensors) - used)


FLAGS = flags.FLAGS


def _define_flags():
  flags.DEFINE_enum("arch", None, list(ARCHS), "Backbone architecture.")
  flags.DEFINE_string("npz", None, "NumPy .npz of the PyTorch state dict.")
  flags.DEFINE_string("out", None, "Output .weights.h5.")
  flags.mark_flags_as_required(["arch", "npz", "out"])


def main(argv):
  del argv
  with np.load(FLAGS.npz) as data:
    tensors = {k: data[k] for k in data.files}
  tensors = {k[len("module."):] if k.startswith("module.") else k: v for k, v in tensors.items()}
  backbone, unused = convert(FLAGS.arch, tensors)
  backbone.save_weights(FLAGS.out)
  print(f"wrote {FLAGS.out}; ignored {len(unused)} tensors the backbone does not use"
        + (f" (e.g. {unused[:3]})" if unused else ""))


if __name__ == "__main__":
  _define_flags()
  app.run(main)
