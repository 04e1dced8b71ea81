"""Makes tests/testdata/resnet18_explicit_padding: a checkpoint of a tiny SimpleBaseline
ResNet-18 built by the code before stride-1 convolutions padded inside the convolution
(commit 9f89345), with its outputs on a fixed input."""
import sys
import numpy as np
import tensorflow as tf
import keras
from tfpose_ssl.models import simple_baseline
out = sys.argv[1]
keras.utils.set_random_seed(0)
model = simple_baseline.simple_baseline((64, 64), "resnet18", width=4, deconv_filters=8)
x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
# Non-trivial BatchNorm statistics, so that a mismatched restore changes the outputs.
for v in model.non_trainable_variables:
  v.assign(tf.random.stateless_uniform(v.shape, [1, 2], 0.5, 1.5))
tf.train.Checkpoint(student=model).write(f"{out}/ckpt")
np.save(f"{out}/input.npy", x)
np.save(f"{out}/output.npy", model(x, training=False).numpy())
print(len(model.layers), [l.name for l in model.layers][:5])
