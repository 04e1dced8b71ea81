"""SimpleBaseline (Xiao et al. 2018): ResNet + 3 deconvolutions + 1x1 conv to joint heatmaps."""

import gin
import keras

from tfpose_ssl.models import batch_norm as batch_norm_lib
from tfpose_ssl.models import resnet
from tfpose_ssl.ops import keypoints as kp


def head_initializer():
  """N(0, 0.001) for the head's layers (SimpleBaseline), a new instance per layer: a Keras 3
  initializer draws its seed once, so one shared instance gives equal-shaped layers
  (deconv2 and deconv3) identical starting weights."""
  return keras.initializers.RandomNormal(stddev=0.001)


@gin.configurable(denylist=["input_size"])
def simple_baseline(input_size=(256, 192), backbone="resnet18", num_joints=kp.NUM_JOINTS,
                    width=64, deconv_filters=256, num_deconv=3, deconv_kernel=4, weights=None,
                    synchronized_bn=False):
  """Builds SimpleBaseline as a functional Keras model.

  Input: RGB images `[B, H, W, 3]`, float pixels in [0, 255] (normalization is inside the
  model). Output: heatmaps `[B, H/4, W/4, J]` in float32 (also under mixed precision).

  Args:
    input_size: (H, W) of the crops; set by the training function from the codec.
    backbone: 'resnet18', 'resnet34', 'resnet50', 'resnet101' or 'resnet152'.
    num_joints: J.
    width: base channels of ResNet-18/34 (64 standard; 16 or 32 for CPU-sized models).
    deconv_filters, num_deconv, deconv_kernel: the deconvolution head (256, 3, 4 in the paper).
    weights: backbone weights: None, 'imagenet' (ResNet-50+), or a local `.weights.h5` file.
    synchronized_bn: synchronized BatchNormalization (multi-replica training).
  """
  if not backbone.startswith("resnet"):
    raise ValueError(f"unknown backbone {backbone!r}; expected resnet18/34/50/101/152")
  depth = int(backbone[len("resnet"):])
  if input_size[0] % 32 or input_size[1] % 32:
    raise ValueError(f"SimpleBaseline needs an input size divisible by 32 (the ResNet stride) "
                     f"so that heatmaps are exactly input/4; got {tuple(input_size)}")
  input_shape = (int(input_size[0]), int(input_size[1]), 3)
  net, (mean, variance) = resnet.resnet_backbone(depth, input_shape, weights, width,
                                                 synchronized_bn)
  inputs = keras.Input(input_shape, name="image")
  x = keras.layers.Normalization(mean=mean, variance=variance, name="normalize")(inputs)
  x = net(x)
  for i in range(num_deconv):
    x = keras.layers.Conv2DTranspose(deconv_filters, deconv_kernel, strides=2, padding="same",
                                     use_bias=False, kernel_initializer=head_initializer(),
                                     name=f"deconv{i + 1}")(x)
    x = batch_norm_lib.batch_norm(f"deconv{i + 1}_bn", synchronized_bn)(x)
    x = keras.layers.ReLU(name=f"deconv{i + 1}_relu")(x)
  heatmaps = keras.layers.Conv2D(num_joints, 1, kernel_initializer=head_initializer(),
                                 dtype="float32",
                                 name="heatmaps")(x)
  return keras.Model(inputs, heatmaps, name=f"simple_baseline_{backbone}")
