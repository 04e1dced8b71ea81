"""Tests of crop geometry and the warp: keypoints move exactly as pixels do."""

import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import warp


def _peak(image):
  """Sub-pixel peak of an isotropic Gaussian blob: a parabola through the log of the arg-max
  and its neighbours, per axis (exact for a sampled Gaussian)."""
  y, x = np.unravel_index(np.argmax(image), image.shape)
  log = np.log(np.maximum(image, 1e-30))

  def vertex(m, c, p):
    return 0.5 * (m - p) / (m - 2.0 * c + p)

  return np.array([x + vertex(log[y, x - 1], log[y, x], log[y, x + 1]),
                   y + vertex(log[y - 1, x], log[y, x], log[y + 1, x])])


class GeometryTest(tf.test.TestCase):

  def test_box_to_center_scale_hand_case(self):
    # A 30x80 box at (10, 20): taller than 3:4, so the width grows to 60; then x1.25.
    center, scale = geometry.box_to_center_scale([[10, 20, 30, 80]], aspect_ratio=0.75)
    self.assertAllClose(center, [[25.0, 60.0]])
    self.assertAllClose(scale, [[75.0, 100.0]])
    center, scale = geometry.box_to_center_scale([[0, 0, 90, 40]], aspect_ratio=0.75)
    self.assertAllClose(scale, [[112.5, 150.0]])

  def test_crop_maps_box_center_to_crop_center_and_scales(self):
    m = geometry.affine_from_params([100.0, 50.0], [96.0, 128.0], 0.0, (64, 48))
    pts = geometry.apply_affine([[100.0, 50.0], [148.0, 50.0]], m).numpy()
    self.assertAllClose(pts[0], [24.0, 32.0])
    self.assertAllClose(pts[1], [24.0 + 48.0 * 0.5, 32.0])  # 48 source px = half a crop width

  def test_flip_mirrors_columns_exactly(self):
    plain = geometry.affine_from_params([40.0, 30.0], [48.0, 64.0], 17.0, (64, 48))
    flipped = geometry.affine_from_params([40.0, 30.0], [48.0, 64.0], 17.0, (64, 48), flip=True)
    p = np.array([[33.0, 21.0], [50.0, 44.0]], np.float32)
    a = geometry.apply_affine(p, plain).numpy()
    b = geometry.apply_affine(p, flipped).numpy()
    self.assertAllClose(b[:, 0], 47.0 - a[:, 0], atol=1e-4)
    self.assertAllClose(b[:, 1], a[:, 1], atol=1e-4)

  def test_invert_affine(self):
    m = geometry.affine_from_params([[12.0, 40.0]], [[30.0, 40.0]], [33.0], (64, 48), [True])
    self.assertAllClose(tf.matmul(geometry.invert_affine(m), m), np.eye(3)[None], atol=1e-5)

  def test_rotate_scale_about_fixes_center(self):
    m = geometry.rotate_scale_about([24.0, 32.0], 30.0, 2.0)
    self.assertAllClose(geometry.apply_affine([[24.0, 32.0]], m), [[24.0, 32.0]], atol=1e-5)
    # scale 2 shows twice the region: a point 10 px right ends up 5 px away.
    moved = geometry.apply_affine([[34.0, 32.0]], m).numpy()[0]
    self.assertAllClose(np.linalg.norm(moved - [24.0, 32.0]), 5.0, atol=1e-5)

  def test_warp_moves_a_dot_where_the_matrix_moves_its_point(self):
    image = np.zeros((1, 120, 160, 1), np.float32)
    for point in ([50.0, 70.0], [101.0, 33.0]):
      image[:] = 0.0
      ys, xs = np.mgrid[0:120, 0:160]
      image[0, ..., 0] = np.exp(-((xs - point[0]) ** 2 + (ys - point[1]) ** 2) / (2 * 2.0 ** 2))
      for rotation, flip in ((0.0, False), (25.0, False), (-40.0, True)):
        m = geometry.affine_from_params([80.0, 60.0], [90.0, 120.0], rotation, (96, 72), flip)
        warped = warp.warp_affine(image, m[None], (96, 72)).numpy()[0, ..., 0]
        expected = geometry.apply_affine([point], m).numpy()[0]
        self.assertLess(np.linalg.norm(_peak(warped) - expected), 0.1,
                        f"rotation {rotation} flip {flip}")

  def test_warp_identity_and_zero_fill(self):
    image = tf.random.stateless_uniform([2, 10, 12, 3], seed=[0, 1]) * 255
    identity = tf.eye(3, batch_shape=[2])
    self.assertAllClose(warp.warp_affine(image, identity, (10, 12)), image, atol=1e-4)
    shift = tf.constant([[[1.0, 0.0, 100.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]] * 2)
    self.assertAllEqual(warp.warp_affine(image, shift, (10, 12)), tf.zeros([2, 10, 12, 3]))

  def test_warp_uint8_graph_xla_and_core_op_agree(self):
    image = tf.cast(tf.random.stateless_uniform([2, 40, 30, 3], seed=[3, 4]) * 255, tf.uint8)
    m = geometry.rotate_scale_about([[15.0, 20.0]] * 2, [20.0, -35.0], [0.8, 1.3])
    eager = warp.warp_affine(image, m, (32, 24))
    graph = tf.function(lambda i, mm: warp.warp_affine(i, mm, (32, 24)))(image, m)
    xla = tf.function(lambda i, mm: warp.warp_affine(i, mm, (32, 24)), jit_compile=True)(image, m)
    self.assertAllClose(eager, graph, atol=1e-3)
    self.assertAllClose(eager, xla, atol=1e-2)
    inverse = tf.reshape(geometry.invert_affine(m), [2, 9])[:, :8]
    core = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32), transforms=inverse, output_shape=[32, 24],
        interpolation="BILINEAR", fill_mode="CONSTANT", fill_value=0.0)
    # Interior pixels agree with TF's own op (borders differ in how partial taps are filled).
    self.assertAllClose(eager[:, 4:-4, 4:-4], core[:, 4:-4, 4:-4], atol=0.05)


if __name__ == "__main__":
  tf.test.main()
