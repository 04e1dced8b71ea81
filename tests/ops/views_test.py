"""Tests of the multi-view augmentation: parameter ranges and alignment between views."""

import numpy as np
import tensorflow as tf

from tfpose_ssl.data import pipeline
from tfpose_ssl.ops import augment as augment_lib
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import pseudo_heatmaps as ph
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.ops import warp


class MultiViewAugmentTest(tf.test.TestCase):

  def test_view_bookkeeping(self):
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=3)
    self.assertEqual((spec.num_targets, spec.num_views, spec.loss_index), (4, 4, 1))
    self.assertTrue(spec.loss_view_in_ensemble)
    extra = views_lib.MultiViewAugment(num_weak=1, num_strong=0, loss_view="extra")
    self.assertEqual((extra.num_targets, extra.num_views, extra.loss_index), (1, 2, 1))
    with self.assertRaisesRegex(ValueError, "needs num_strong >= 1"):
      views_lib.MultiViewAugment(num_strong=0, loss_view="strong")
    with self.assertRaisesRegex(ValueError, "loss_view must be"):
      views_lib.MultiViewAugment(loss_view="weak")

  def test_sampled_ranges_and_beta_shape(self):
    weak = augment_lib.TopDownAugment(scale_factor=0.25, rotation_factor=30.0,
                                      rotation_prob=0.6, flip_prob=0.5)
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=2, loss_view="extra", weak=weak)
    rotations, scales, flips = spec.sample(tf.constant([3, 4], tf.int64), 4000)
    r, s, f = rotations.numpy(), scales.numpy(), flips.numpy()
    self.assertEqual(r.shape, (4000, 4))
    # Weak: the labeled augmentation (rotation N(0, 30) clipped to +-60 with probability 0.6,
    # scale N(1, 0.25) clipped to [0.75, 1.25], flips with probability 0.5).
    self.assertTrue(np.all(np.abs(r[:, 0]) <= 60.0) and np.all(np.abs(r[:, 1:]) <= 60.0))
    self.assertAllClose(np.mean(r[:, 0] == 0.0), 0.4, atol=0.03)
    self.assertAllClose(np.std(r[:, 0][r[:, 0] != 0.0]), 30.0 * 0.97, atol=2.0)  # 2-sigma clip
    self.assertTrue(np.all((s[:, 0] >= 0.75) & (s[:, 0] <= 1.25)))
    self.assertAllClose(np.mean(f[:, 0]), 0.5, atol=0.03)
    self.assertFalse(np.any(f[:, 1:]))  # strong views are not mirrored
    self.assertTrue(np.all((s[:, 1:] >= 0.5) & (s[:, 1:] <= 1.5)))
    # Strong: Beta(0.75, 0.75) is U-shaped (P(middle third) = 0.2646 by numerical
    # integration of the Beta density).
    middle = lambda x, lo, hi: np.mean((x > lo + (hi - lo) / 3) & (x < hi - (hi - lo) / 3))
    self.assertAllClose(middle(r[:, 1:].ravel(), -60, 60), 0.2646, atol=0.02)
    self.assertAllClose(middle(s[:, 1:].ravel(), 0.5, 1.5), 0.2646, atol=0.02)
    again = spec.sample(tf.constant([3, 4], tf.int64), 4000)
    self.assertAllEqual(again[0], rotations)
    self.assertAllEqual(again[2], flips)

  def test_weak_view_is_drawn_like_a_labeled_crop(self):
    # The same seed gives the weak view the draw the labeled pipeline's augmentation gives.
    weak = augment_lib.TopDownAugment(scale_factor=0.3, rotation_factor=40.0, flip_prob=0.5)
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=1, weak=weak)
    seed = tf.constant([7, 8], tf.int64)
    rotations, scales, flips = spec.sample(seed, 64)
    s, r, f = weak.sample(tf.random.experimental.stateless_split(seed, 3)[0], [64, 1])
    self.assertAllEqual(rotations[:, :1], r)
    self.assertAllEqual(scales[:, :1], s)
    self.assertAllEqual(flips[:, :1], f)

  def _perfect_heatmaps(self, codec, keypoints, matrices, flips):
    """What a perfect student predicts on each view: the codec's Gaussians of the keypoints
    moved into the view, left and right swapped on mirrored views (as labeled crops are)."""
    out = []
    for v in range(matrices.shape[1]):
      moved = [pipeline.transform_keypoints(keypoints[b], matrices[b, v], flips[b, v],
                                            kp.FLIP_PERMUTATION)
               for b in range(keypoints.shape[0])]
      out.append(codec_lib.gaussian_heatmaps(tf.stack(moved)[..., :2] / codec.stride,
                                             *codec.heatmap_size, codec.sigma))
    return tf.stack(out)

  def test_gaussians_align_to_the_loss_view_within_one_pixel(self):
    codec = codec_lib.KeypointCodec((128, 96), sigma=2.0)
    spec = views_lib.MultiViewAugment(num_weak=2, num_strong=4)
    rotations, scales, flips = spec.sample(tf.constant([1, 2], tf.int64), 6)
    self.assertTrue(np.any(flips.numpy()) and not np.all(flips.numpy()[:, :2]))
    matrices = views_lib.view_matrices(rotations, scales, codec.input_size, flips)
    rng = np.random.default_rng(0)
    keypoints = np.concatenate([rng.uniform([30, 40], [66, 88], (6, 17, 2)),
                                np.full((6, 17, 1), 2.0)], -1).astype(np.float32)
    heatmaps = self._perfect_heatmaps(codec, keypoints, matrices, flips)
    # Into the common frame (the base crop) every view's peak is within 1 heatmap pixel, on
    # the right joint also for mirrored views. Into the loss view (what training uses) the
    # same error is magnified by that view's zoom 1/scale (a bilinear interpolant peaks on a
    # source grid node), so it is measured in common-frame pixels there.
    loss_zoom = 1.0 / scales.numpy()[:, spec.loss_index]
    common_frames = {"base crop": (tf.eye(3, batch_shape=[6]), np.ones(6)),
                     "loss view": (matrices[:, spec.loss_index], loss_zoom)}
    for frame_name, (frame, zoom) in common_frames.items():
      aligned = views_lib.align_heatmaps(heatmaps, matrices, frame, 4.0)
      truth = geometry.apply_affine(keypoints[..., :2], frame).numpy() / 4.0
      inside = ((truth[..., 0] > 1) & (truth[..., 0] < 22) & (truth[..., 1] > 1)
                & (truth[..., 1] < 30))
      self.assertGreater(inside.sum(), 50)
      for v in range(spec.num_views):
        peaks = ph.first_argmax(aligned[v]).numpy()
        error = np.abs(peaks - truth).max(axis=-1) / zoom[:, None]
        self.assertLessEqual(error[inside].max(), 1.0, f"view {v} into the {frame_name}")

  def test_mirrored_view_swaps_left_and_right(self):
    # One mirrored view of a crop whose left wrist (9) is at x=20 and right wrist (10) at x=70:
    # aligned back to the crop, channel 9 peaks at x=20 again.
    codec = codec_lib.KeypointCodec((128, 96), sigma=2.0)
    keypoints = np.zeros((1, 17, 3), np.float32)
    keypoints[0, :, :2] = [48.0, 64.0]
    keypoints[0, :, 2] = 2.0
    keypoints[0, 9, :2], keypoints[0, 10, :2] = [20.0, 60.0], [72.0, 60.0]
    flips = tf.constant([[True]])
    matrices = views_lib.view_matrices(tf.zeros([1, 1]), tf.ones([1, 1]), codec.input_size,
                                       flips)
    self.assertAllClose(geometry.apply_affine([[20.0, 60.0]], matrices[0, 0]), [[75.0, 60.0]])
    heatmaps = self._perfect_heatmaps(codec, keypoints, matrices, flips)
    # On the mirrored view, channel 9 (left wrist) sits on the mirror image of the right
    # wrist: x = 95 - 72 = 23 input pixels = 5.75 heatmap pixels.
    self.assertAllClose(ph.first_argmax(heatmaps[0])[0, 9], [6.0, 15.0])
    aligned = views_lib.align_heatmaps(heatmaps, matrices, tf.eye(3, batch_shape=[1]), 4.0)
    peaks = ph.first_argmax(aligned[0]).numpy()[0]
    self.assertAllClose(peaks[9], [5.0, 15.0], atol=1.0)
    self.assertAllClose(peaks[10], [18.0, 15.0], atol=1.0)

  def test_padded_frame_holds_the_loss_view_with_a_margin(self):
    # A view zoomed out 2x about the crop centre, aligned into the padded frame of the
    # unzoomed loss view: a joint 6 heatmap pixels left of the loss view (x = -6) keeps its
    # peak there, at x = -6 + left, instead of leaving a tail on the loss view's border.
    frame, size = views_lib.padded_frame((32, 24))
    self.assertEqual((frame, size), ((16, 12, 32, 24), (64, 48)))
    loss_from_base = tf.eye(3, batch_shape=[1])
    view_from_base = views_lib.view_matrices(tf.zeros([1, 1]), tf.constant([[2.0]]), (128, 96))
    joints = np.tile([[-6.0 * 4, 20.0 * 4]], (17, 1)).astype(np.float32)  # loss-view pixels
    in_view = geometry.apply_affine(joints, view_from_base[0, 0]).numpy() / 4.0
    heatmaps = codec_lib.gaussian_heatmaps(in_view[None], 32, 24, 2.0)[None]  # [1, 1, 32, 24, 17]
    aligned = views_lib.align_heatmaps(heatmaps, view_from_base, loss_from_base, 4.0, size,
                                       frame[:2])
    self.assertEqual(aligned.shape, (1, 1, 64, 48, 17))
    self.assertAllClose(ph.first_argmax(aligned[0])[0, 0], [-6.0 + 12, 20.0 + 16], atol=1.0)

  def test_image_and_heatmap_warps_agree(self):
    # A dot in the base crop, warped as an image into a view, lands where the heatmap of the
    # dot's keypoint, warped by the same matrices (heatmap frame), puts its peak.
    codec = codec_lib.KeypointCodec((128, 96), sigma=2.0)
    matrices = views_lib.view_matrices(tf.constant([[35.0]]), tf.constant([[0.8]]),
                                       codec.input_size)
    image = np.zeros((1, 128, 96, 1), np.float32)
    image[0, 70:73, 38:41] = 1.0  # dot centred at (39, 71)
    view_image = views_lib.make_views(tf.constant(image), matrices, tf.eye(3, batch_shape=[1]),
                                      codec.input_size)[0, 0, ..., 0].numpy()
    image_peak = np.array(np.unravel_index(np.argmax(view_image), view_image.shape))[::-1] / 4.0
    base_heatmap = codec.encode(tf.constant([[[39.0, 71.0, 2.0]] * 17]))[0][None]
    identity = tf.eye(3, batch_shape=[1])
    view_heatmap = views_lib.align_heatmaps(base_heatmap, identity[:, None], matrices[:, 0], 4.0)
    heat_peak = ph.first_argmax(view_heatmap[0]).numpy()[0, 0]
    self.assertLessEqual(np.abs(image_peak - heat_peak).max(), 1.0)

  def test_make_views_warps_each_view_from_the_full_image_in_one_step(self):
    # Views of a person in a larger image: one warp by view_from_base @ base_from_image equals
    # the eager warp by that product (and not a warp of a warped crop).
    images = tf.cast(tf.random.stateless_uniform([2, 90, 70, 3], seed=[5, 6]) * 255, tf.uint8)
    base_from_image = geometry.affine_from_params([[30.0, 40.0], [40.0, 50.0]],
                                                  [[45.0, 90.0], [30.0, 60.0]], [0.0, 0.0],
                                                  (64, 32))
    matrices = views_lib.view_matrices(tf.constant([[10.0, -40.0], [0.0, 25.0]]),
                                       tf.constant([[1.0, 1.4], [0.7, 1.1]]), (64, 32))
    out = views_lib.make_views(images, matrices, base_from_image, (64, 32))
    self.assertEqual(out.shape, (2, 2, 64, 32, 3))
    for b in range(2):
      for v in range(2):
        m = tf.matmul(matrices[b:b + 1, v], base_from_image[b:b + 1])
        expected = warp.warp_affine(images[b:b + 1], m, (64, 32))[0]
        self.assertAllClose(out[b, v], expected, atol=1e-2)

  def test_fit_to_canvas_keeps_pixels_where_its_matrix_says(self):
    image = np.zeros((100, 80, 3), np.uint8)
    image[59:62, 29:32] = 255  # a dot at (30, 60)
    canvas, canvas_from_image = pipeline.fit_to_canvas(tf.constant(image), (120, 120))
    self.assertEqual(canvas.shape, (120, 120, 3))
    self.assertAllEqual(canvas[:100, :80], image)  # fits: padded, not resized
    small, small_from_image = pipeline.fit_to_canvas(tf.constant(image), (50, 50))
    self.assertEqual(small.shape, (50, 50, 3))
    x, y = geometry.apply_affine([[30.0, 60.0]], small_from_image).numpy()[0]
    self.assertAllClose([x, y], [14.75, 29.75])  # factor 0.5, pixel centres mapped
    peak = np.unravel_index(np.argmax(small.numpy()[..., 0]), (50, 50))
    self.assertLessEqual(np.abs(np.array(peak) - [y, x]).max(), 0.75)
    self.assertAllClose(canvas_from_image, np.eye(3))


if __name__ == "__main__":
  tf.test.main()
