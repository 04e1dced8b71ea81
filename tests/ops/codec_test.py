"""Tests of the keypoint codec (encode/decode) and its Gaussian."""

import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import codec as codec_lib


class CodecTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.codec = codec_lib.KeypointCodec(input_size=(256, 192), stride=4, sigma=2.0)

  def test_sizes(self):
    self.assertEqual(self.codec.heatmap_size, (64, 48))
    self.assertAlmostEqual(self.codec.aspect_ratio, 0.75)
    with self.assertRaisesRegex(ValueError, "divisible"):
      codec_lib.KeypointCodec(input_size=(250, 192))

  def test_gaussian_hand_values(self):
    g = codec_lib.gaussian_heatmaps([[[2.0, 1.0]]], height=3, width=4, sigma=1.0).numpy()
    self.assertEqual(g.shape, (1, 3, 4, 1))
    self.assertAllClose(g[0, 1, 2, 0], 1.0)
    self.assertAllClose(g[0, 1, 3, 0], np.exp(-0.5))
    self.assertAllClose(g[0, 0, 0, 0], np.exp(-(4.0 + 1.0) / 2.0))

  def test_encode_center_and_weights(self):
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[0] = [41.0, 22.0, 2]  # -> heatmap (10.25, 5.5) -> rounds to (10, 6)
    keypoints[1] = [100.0, 100.0, 0]  # unlabeled
    keypoints[2] = [-40.0, 10.0, 2]  # 3-sigma window entirely left of the heatmap
    keypoints[3] = [-12.0, 10.0, 1]  # outside but the window still reaches the heatmap
    heatmaps, weights = self.codec.encode(keypoints)
    heatmaps, weights = heatmaps.numpy(), weights.numpy()
    self.assertEqual(heatmaps.shape, (64, 48, 17))
    self.assertEqual(weights[0], 1.0)
    self.assertEqual(weights[1], 0.0)
    self.assertEqual(weights[2], 0.0)
    self.assertEqual(weights[3], 1.0)
    self.assertEqual(np.unravel_index(np.argmax(heatmaps[..., 0]), (64, 48)), (6, 10))
    self.assertAllClose(heatmaps[6, 10, 0], 1.0)
    self.assertAllEqual(heatmaps[..., 1], np.zeros((64, 48)))
    self.assertAllEqual(heatmaps[..., 2], np.zeros((64, 48)))

  def test_round_trip_within_half_heatmap_pixel(self):
    rng = np.random.default_rng(0)
    # In-bounds: the nearest heatmap pixel is inside the 48x64 heatmap (x / 4 < 47.5).
    keypoints = np.concatenate([rng.uniform([0, 0], [189.99, 253.99], size=(8, 17, 2)),
                                np.full((8, 17, 1), 2.0)], axis=-1).astype(np.float32)
    heatmaps, _ = self.codec.encode(keypoints)
    decoded, scores = self.codec.decode(heatmaps)
    error = np.abs(decoded.numpy() - keypoints[..., :2]) / 4.0
    self.assertLessEqual(error.max(), 0.5 + 1e-5)
    self.assertAllClose(scores, np.ones((8, 17)))

  def test_decode_quarter_offset_toward_higher_neighbour(self):
    heatmaps = np.zeros((1, 8, 6, 17), np.float32)
    heatmaps[0, 3, 2, 0] = 1.0
    heatmaps[0, 3, 3, 0] = 0.5  # right neighbour higher than the left -> +0.25 in x
    heatmaps[0, 2, 2, 0] = 0.3  # upper neighbour higher than the lower -> -0.25 in y
    heatmaps[0, 0, 0, 1] = 0.7  # corner: no neighbours on both sides, no shift
    heatmaps[0, 0, 1, 1] = 0.2
    keypoints, scores = self.codec.decode(heatmaps)
    self.assertAllClose(keypoints[0, 0], [2.25 * 4, 2.75 * 4])
    self.assertAllClose(keypoints[0, 1], [0.0, 0.0])
    self.assertAllClose(scores[0, :2], [1.0, 0.7])
    # All-zero joints decode to (0, 0) with score 0.
    self.assertAllClose(keypoints[0, 2], [0.0, 0.0])
    self.assertAllClose(scores[0, 2], 0.0)

  def test_decode_in_graph_and_xla_matches_eager(self):
    heatmaps = tf.random.stateless_uniform([2, 64, 48, 17], seed=[1, 2])
    eager = self.codec.decode(heatmaps)
    graph = tf.function(self.codec.decode)(heatmaps)
    xla = tf.function(self.codec.decode, jit_compile=True)(heatmaps)
    for a, b, c in zip(eager, graph, xla):
      self.assertAllClose(a, b)
      self.assertAllClose(a, c)


if __name__ == "__main__":
  tf.test.main()
