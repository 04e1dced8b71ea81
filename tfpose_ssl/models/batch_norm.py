"""BatchNormalization on TensorFlow's fused kernel (`FusedBatchNormV3`), as tf.keras 2 had.

Keras 3's `BatchNormalization` computes moments, the normalization and (in the backward pass)
their gradients as ~10 separate element-wise ops per layer; on a 2-core CPU these small ops
were a large share of op time in a TF-profiler trace of the demo's training step. With the
fused op (oneDNN's `_MklNativeFusedBatchNormEx`, which also fuses the following ReLU) the
demo's dual-student step (K = 2) took 0.458 s against 0.544 s with Keras' layer on an AMD EPYC
(AVX2): `python -m tfpose_ssl.benchmarks.step_variants`, rows `default` and `keras_bn` of
`results/step_variants.md`.

The layer is a `keras.layers.BatchNormalization` of the same class name (Keras names a layer's
group in a `.weights.h5` file after its class, so weight files written with Keras' layer load
into it and back; checkpoints and config are the same too). Only `call` differs, and it keeps
Keras' semantics exactly: the moving statistics use the biased batch variance (the fused op
returns the Bessel-corrected one, which is undone here) and `momentum` as Keras defines it.
Cases the fused kernel does not cover (synchronized statistics across replicas, masks,
renormalization, no scale or center, a normalized axis other than the last of a 4-D input)
use Keras' own implementation.
"""

import keras
import tensorflow as tf

FUSED_DTYPES = (tf.float32, tf.float16, tf.bfloat16)


@keras.saving.register_keras_serializable(package="tfpose_ssl")
class BatchNormalization(keras.layers.BatchNormalization):
  """`keras.layers.BatchNormalization` computed by TensorFlow's fused kernel where it applies.

  Registered for Keras serialization as "tfpose_ssl>BatchNormalization".
  """

  def fused_applies(self, inputs, mask=None):
    """True when `call` uses the fused kernel for these inputs."""
    rank = len(inputs.shape)
    return (mask is None and rank == 4 and self.axis % rank == rank - 1
            and not self.synchronized and not self.renorm and self.scale and self.center
            and inputs.dtype in FUSED_DTYPES)

  def call(self, inputs, training=None, mask=None):
    if not self.fused_applies(inputs, mask):
      return super().call(inputs, training=training, mask=mask)
    gamma = tf.cast(self.gamma, tf.float32)
    beta = tf.cast(self.beta, tf.float32)
    if training and self.trainable:
      empty = tf.constant([], tf.float32)
      outputs, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
          x=inputs, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=self.epsilon,
          exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
      # The kernel returns the unbiased variance (n / (n - 1) times the biased one; 0 for
      # n = 1); Keras' moving variance averages the biased one.
      count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
      variance *= (count - 1.0) / count
      self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
      self.moving_variance.assign(self.moving_variance * self.momentum
                                  + variance * (1.0 - self.momentum))
    else:
      outputs = tf.raw_ops.FusedBatchNormV3(
          x=inputs, scale=gamma, offset=beta, mean=tf.cast(self.moving_mean, tf.float32),
          variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon,
          exponential_avg_factor=1.0, data_format="NHWC", is_training=False)[0]
    return tf.cast(outputs, self.compute_dtype)


def batch_norm(name, synchronized=False):
  """The BatchNormalization of this project's backbones and heads.

  torch's defaults (momentum 0.1 there is 0.9 here), as the pose literature trains with.
  """
  return BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=synchronized,
                                 name=name)
