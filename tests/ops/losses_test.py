"""The heatmap loss (Eq. 1 / Eq. 8) on hand-computed numbers and against NumPy."""

import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import losses


class HeatmapMseTest(tf.test.TestCase):

  def test_hand_computed(self):
    # One example, a 1x2 heatmap, 2 joints: joint 0 predicts 1 and 3 against targets 0 and 1,
    # joint 1 is weighted 0. Squares (w * (p - t))^2: 1, 4, 0, 0 -> mean 5/4 -> 0.5 * 1.25.
    predictions = np.array([[[[1.0, 7.0], [3.0, -2.0]]]])  # [B=1, h=1, w=2, J=2]
    targets = np.array([[[[0.0, 0.0], [1.0, 0.0]]]])
    weights = np.array([[1.0, 0.0]])
    self.assertAllClose(losses.heatmap_mse(predictions, targets, weights), [0.625])
    # A weight of 0.5 scales that joint's squared error by 0.25: (0.5 * 7)^2 + (0.5 * -2)^2
    # = 12.25 + 1 added to the sum 5 -> mean 18.25 / 4 -> half of it.
    self.assertAllClose(losses.heatmap_mse(predictions, targets, np.array([[1.0, 0.5]])),
                        [0.5 * 18.25 / 4])

  def test_matches_numpy_per_example_and_accepts_float16_predictions(self):
    rng = np.random.default_rng(0)
    p = rng.normal(size=(3, 4, 5, 17)).astype(np.float32)
    t = rng.uniform(size=(3, 4, 5, 17)).astype(np.float32)
    w = rng.integers(0, 2, size=(3, 17)).astype(np.float32)
    expected = 0.5 * np.mean(((p - t) * w[:, None, None, :]) ** 2, axis=(1, 2, 3))
    self.assertAllClose(losses.heatmap_mse(p, t, w), expected, rtol=1e-6)
    self.assertAllClose(losses.heatmap_mse(tf.cast(p, tf.float16), t, w), expected, rtol=2e-3)
    self.assertEqual(losses.heatmap_mse(tf.cast(p, tf.float16), t, w).dtype, tf.float32)


if __name__ == "__main__":
  tf.test.main()
