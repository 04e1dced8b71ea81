"""batch_norm.BatchNormalization (the fused kernel) against Keras' layer and NumPy."""

import os

import keras
import numpy as np
import tensorflow as tf

from tfpose_ssl.models import batch_norm


def _pair(shape=(None, 4, 5, 3), **kwargs):
  """A Keras and a fused layer with the same (non-trivial) weights."""
  keras_bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
  fused = batch_norm.BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
  channels = shape[-1]
  for layer in (keras_bn, fused):
    layer.build(shape)
  rng = np.random.default_rng(0)
  weights = [rng.uniform(0.5, 2.0, channels), rng.normal(size=channels),
             rng.normal(size=channels), rng.uniform(0.5, 2.0, channels)]
  for layer in (keras_bn, fused):
    layer.set_weights([w.astype(np.float32) for w in weights])
  return keras_bn, fused


class BatchNormalizationTest(tf.test.TestCase):

  def test_training_matches_numpy_and_keras(self):
    keras_bn, fused = _pair()
    x = np.random.default_rng(1).normal(3.0, 2.0, (2, 4, 5, 3)).astype(np.float32)
    gamma, beta, moving_mean, moving_variance = fused.get_weights()
    mean, variance = x.mean((0, 1, 2)), x.var((0, 1, 2))  # biased, over 40 values
    expected = gamma * (x - mean) / np.sqrt(variance + 1e-5) + beta
    self.assertAllClose(fused(x, training=True), expected, atol=1e-5)
    self.assertAllClose(keras_bn(x, training=True), expected, atol=1e-5)
    # Moving statistics: Keras' momentum and the biased variance.
    self.assertAllClose(fused.moving_mean, 0.9 * moving_mean + 0.1 * mean, atol=1e-6)
    self.assertAllClose(fused.moving_variance, 0.9 * moving_variance + 0.1 * variance,
                        atol=1e-6)
    self.assertAllClose(fused.moving_variance, keras_bn.moving_variance, atol=1e-6)

  def test_inference_uses_moving_statistics(self):
    keras_bn, fused = _pair()
    x = np.random.default_rng(2).normal(size=(3, 4, 5, 3)).astype(np.float32)
    gamma, beta, moving_mean, moving_variance = fused.get_weights()
    expected = gamma * (x - moving_mean) / np.sqrt(moving_variance + 1e-5) + beta
    for training in (False, None):
      self.assertAllClose(fused(x, training=training), expected, atol=1e-5)
    self.assertAllClose(keras_bn(x), expected, atol=1e-5)
    self.assertAllClose(fused.moving_mean, moving_mean)  # untouched

  def test_frozen_layer_normalizes_with_moving_statistics_in_training(self):
    keras_bn, fused = _pair()
    keras_bn.trainable = fused.trainable = False
    x = np.random.default_rng(3).normal(size=(2, 4, 5, 3)).astype(np.float32)
    self.assertAllClose(fused(x, training=True), keras_bn(x, training=True), atol=1e-5)

  def test_gradients_match_keras(self):
    keras_bn, fused = _pair()
    x = tf.constant(np.random.default_rng(4).normal(size=(2, 4, 5, 3)), tf.float32)
    upstream = tf.constant(np.random.default_rng(5).normal(size=(2, 4, 5, 3)), tf.float32)
    grads = []
    for layer in (keras_bn, fused):
      with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=True) * upstream)
      grads.append(tape.gradient(loss, [x] + layer.trainable_weights))
    for keras_grad, fused_grad in zip(*grads):
      self.assertAllClose(keras_grad, fused_grad, atol=1e-4)

  def test_single_value_per_channel_keeps_zero_variance(self):
    _, fused = _pair()
    before = fused.moving_variance.numpy()
    fused(np.ones((1, 1, 1, 3), np.float32), training=True)
    self.assertAllClose(fused.moving_variance, 0.9 * before, atol=1e-6)

  def test_the_fused_kernel_is_in_the_graph(self):
    _, fused = _pair()
    for training in (True, False):
      graph = tf.function(lambda x, t=training: fused(x, training=t)).get_concrete_function(
          tf.TensorSpec([2, 4, 5, 3])).graph
      types = {op.type for op in graph.get_operations()}
      self.assertIn("FusedBatchNormV3", types)
      self.assertNotIn("SquaredDifference", types)

  def test_unfused_cases_fall_back_to_keras(self):
    keras_bn, fused = _pair(shape=(None, 5))
    x = np.random.default_rng(6).normal(size=(2, 5)).astype(np.float32)  # rank 2
    self.assertFalse(fused.fused_applies(tf.constant(x)))
    self.assertAllClose(fused(x, training=True), keras_bn(x, training=True), atol=1e-5)
    synced = batch_norm.BatchNormalization(synchronized=True)
    synced.build((None, 4, 5, 3))
    self.assertFalse(synced.fused_applies(tf.zeros([1, 4, 5, 3])))

  def test_weight_files_interchange_with_keras_batch_normalization(self):
    # Keras names a layer's group in a .weights.h5 file after its class: files converted with
    # Keras' own layer (e.g. by tools/convert_weights.py before this layer existed) must load.
    def model(bn_class):
      inputs = keras.Input((4, 5, 3))
      x = keras.layers.Conv2D(2, 1, name="conv")(inputs)
      return keras.Model(inputs, bn_class(momentum=0.9, epsilon=1e-5, name="bn")(x))

    source, target = model(keras.layers.BatchNormalization), model(batch_norm.BatchNormalization)
    rng = np.random.default_rng(8)
    source.set_weights([rng.normal(size=w.shape).astype(np.float32) + 2.0
                        for w in source.weights])
    for a, b in ((source, target), (target, source)):
      path = os.path.join(self.get_temp_dir(), "bn.weights.h5")
      a.save_weights(path)
      b.load_weights(path)
      for wa, wb in zip(a.weights, b.weights):
        self.assertAllEqual(wa, wb)

  def test_bfloat16_inputs(self):
    _, fused = _pair()
    fused_bf16 = batch_norm.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                                    dtype="mixed_bfloat16")
    fused_bf16.build((None, 4, 5, 3))
    fused_bf16.set_weights(fused.get_weights())
    x = np.random.default_rng(7).normal(size=(2, 4, 5, 3)).astype(np.float32)
    x_bf16 = tf.cast(x, tf.bfloat16)
    with tf.GradientTape() as tape:
      tape.watch(x_bf16)
      out = fused_bf16(x_bf16, training=True)
      loss = tf.reduce_sum(tf.cast(out, tf.float32) ** 2)
    grads = tape.gradient(loss, [x_bf16] + fused_bf16.trainable_weights)
    self.assertEqual(out.dtype, tf.bfloat16)
    self.assertAllClose(tf.cast(out, tf.float32), fused(x, training=True), atol=0.05)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.reduce_sum(fused(x, training=True) ** 2)
    expected = tape.gradient(loss, [x] + fused.trainable_weights)
    for grad, want in zip(grads, expected):
      self.assertAllClose(tf.cast(grad, tf.float32), want, atol=0.1, rtol=0.05)
    self.assertEqual(fused_bf16.moving_mean.dtype, "float32")

  def test_config_round_trip(self):
    layer = batch_norm.batch_norm("bn")
    config = layer.get_config()
    self.assertEqual((config["momentum"], config["epsilon"], config["name"]), (0.9, 1e-5, "bn"))
    copy = batch_norm.BatchNormalization.from_config(config)
    self.assertIsInstance(copy, batch_norm.BatchNormalization)
    self.assertEqual(copy.get_config(), config)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    self.assertIsInstance(restored, batch_norm.BatchNormalization)


if __name__ == "__main__":
  tf.test.main()
