"""Tests of the multi-view augmentation: parameter ranges and alignment between views."""

import numpy as np
import tensorflow as tf

from tfpose_ssl import codec as codec_lib
from tfpose_ssl import geometry
from tfpose_ssl import pseudo_heatmaps as ph
from tfpose_ssl import views as views_lib
from tfpose_ssl import warp
from tfpose_ssl.data import pipeline


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
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=2, loss_view="extra")
    rotations, scales = spec.sample(tf.constant([3, 4], tf.int64), 4000)
    r, s = rotations.numpy(), scales.numpy()
    self.assertEqual(r.shape, (4000, 4))
    self.assertTrue(np.all(np.abs(r[:, 0]) <= 30.0) and np.all(np.abs(r[:, 1:]) <= 60.0))
    self.assertTrue(np.all((s[:, 0] >= 0.75) & (s[:, 0] <= 1.25)))
    self.assertTrue(np.all((s[:, 1:] >= 0.5) & (s[:, 1:] <= 1.5)))
    # Weak: uniform (1/3 of the mass in the middle third); Beta(0.75, 0.75) is U-shaped
    # (P(middle third) = 0.2646 by numerical integration of the Beta density).
    middle = lambda x, lo, hi: np.mean((x > lo + (hi - lo) / 3) & (x < hi - (hi - lo) / 3))
    self.assertAllClose(middle(r[:, 0], -30, 30), 1 / 3, atol=0.03)
    self.assertAllClose(middle(r[:, 1:].ravel(), -60, 60), 0.2646, atol=0.02)
    self.assertAllClose(middle(s[:, 1:].ravel(), 0.5, 1.5), 0.2646, atol=0.02)
    again = spec.sample(tf.constant([3, 4], tf.int64), 4000)
    self.assertAllEqual(again[0], rotations)

  def test_gaussians_align_to_the_loss_view_within_one_pixel(self):
    codec = codec_lib.KeypointCodec((128, 96), sigma=2.0)
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=4)
    rotations, scales = spec.sample(tf.constant([1, 2], tf.int64), 6)
    matrices = views_lib.view_matrices(rotations, scales, codec.input_size)
    keypoints = np.random.default_rng(0).uniform([30, 40], [66, 88], (6, 17, 2)).astype(
        np.float32)
    in_views = geometry.apply_affine(keypoints[:, None], matrices)  # [B, V, J, 2]
    # A Gaussian at the keypoint (heatmap pixels = input pixels / 4) in every view.
    heatmaps = tf.stack([codec_lib.gaussian_heatmaps(in_views[:, v] / 4.0, 32, 24, 2.0)
                         for v in range(spec.num_views)])
    # Into the common frame (the base crop) every view's peak is within 1 heatmap pixel. Into
    # the loss view (what training uses) the same error is magnified by that view's zoom
    # 1/scale (a bilinear interpolant peaks on a source grid node), so it is measured in
    # common-frame pixels there.
    loss_zoom = 1.0 / scales.numpy()[:, spec.loss_index]
    common_frames = {"base crop": (tf.eye(3, batch_shape=[6]), np.ones(6)),
                     "loss view": (matrices[:, spec.loss_index], loss_zoom)}
    for frame_name, (frame, zoom) in common_frames.items():
      aligned = views_lib.align_heatmaps(heatmaps, matrices, frame, 4.0)
      truth = geometry.apply_affine(keypoints, frame).numpy() / 4.0
      inside = ((truth[..., 0] > 1) & (truth[..., 0] < 22) & (truth[..., 1] > 1)
                & (truth[..., 1] < 30))
      self.assertGreater(inside.sum(), 50)
      for v in range(spec.num_views):
        peaks = ph.first_argmax(aligned[v]).numpy()
        error = np.abs(peaks - truth).max(axis=-1) / zoom[:, None]
        self.assertLessEqual(error[inside].max(), 1.0, f"view {v} into the {frame_name}")

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
