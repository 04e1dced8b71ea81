"""The four pseudo-heatmap functions against NumPy references and hand-computed cases,
eagerly, inside tf.function and under jit_compile=True."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import pseudo_heatmaps as ph

MODES = ("eager", "graph", "xla")


def _run(how, fn, *args, **kwargs):
  """Calls fn eagerly ('eager'), in a tf.function ('graph') or XLA-compiled ('xla')."""
  if how == "eager":
    return fn(*args, **kwargs)
  wrapped = tf.function(lambda *a: fn(*a, **kwargs), jit_compile=(how == "xla"))
  return wrapped(*args)


# NumPy references, written from the paper's text independently of the TF code.
def np_ensemble(views, mode):
  return views.max(axis=0) if mode == "max" else views.mean(axis=0)


def np_uncertainty(views):
  return views.std(axis=0, ddof=0).max(axis=(1, 2))


def np_threshold_and_refine(heatmaps, threshold, sigma, refine, frame=None):
  b, h, w, j = heatmaps.shape
  top, left, fh, fw = frame or (0, 0, h, w)
  targets = np.zeros((b, fh, fw, j), np.float32)
  weights = np.zeros((b, j), np.float32)
  ys, xs = np.mgrid[0:fh, 0:fw]
  for bi in range(b):
    for ji in range(j):
      hm = heatmaps[bi, :, :, ji]
      if threshold is not None and not hm.max() > threshold:
        continue
      if refine:
        y, x = divmod(int(np.argmax(hm)), w)  # np.argmax: first maximum in row-major order
        y, x = y - top, x - left
        if not (0 <= x < fw and 0 <= y < fh):
          continue  # the peak lies outside the frame: no target
        targets[bi, :, :, ji] = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
      else:
        targets[bi, :, :, ji] = hm[top:top + fh, left:left + fw]
      weights[bi, ji] = 1.0
  return targets, weights


def np_select(own, other, u_own, u_other, margin):
  take = u_own + margin < u_other
  return ((np.where(take[:, None, None, :], own[0], other[0]), np.where(take, own[1], other[1])),
          take)


class PseudoHeatmapsTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.views = rng.uniform(-0.05, 1.0, size=(4, 3, 8, 6, 5)).astype(np.float32)

  @parameterized.product(mode=MODES, aggregate=("max", "mean"))
  def test_ensemble_matches_numpy(self, mode, aggregate):
    out = _run(mode, ph.ensemble, self.views, mode=aggregate)
    self.assertAllClose(out, np_ensemble(self.views, aggregate), atol=1e-6)

  @parameterized.parameters(*MODES)
  def test_uncertainty_matches_numpy(self, mode):
    out = _run(mode, ph.uncertainty, self.views)
    self.assertEqual(out.shape, (3, 5))
    self.assertAllClose(out, np_uncertainty(self.views), atol=1e-6)

  @parameterized.product(mode=MODES, threshold=(None, 0.0, 0.5, 0.99), refine=(True, False))
  def test_threshold_and_refine_matches_numpy(self, mode, threshold, refine):
    heatmaps = self.views[0] * np.linspace(0.3, 1.0, 5, dtype=np.float32)  # varied peaks
    targets, weights = _run(mode, ph.threshold_and_refine, heatmaps, threshold=threshold,
                            sigma=1.5, refine=refine)
    want_t, want_w = np_threshold_and_refine(heatmaps, threshold, 1.5, refine)
    self.assertAllClose(weights, want_w)
    self.assertAllClose(targets, want_t, atol=1e-6)

  @parameterized.product(mode=MODES, threshold=(None, 0.5), refine=(True, False))
  def test_threshold_and_refine_in_a_frame_matches_numpy(self, mode, threshold, refine):
    heatmaps = self.views[0] * np.linspace(0.3, 1.0, 5, dtype=np.float32)  # [3, 8, 6, 5]
    frame = (2, 1, 4, 3)  # rows 2-5, columns 1-3: many maxima lie outside
    targets, weights = _run(mode, ph.threshold_and_refine, heatmaps, threshold=threshold,
                            sigma=1.5, refine=refine, frame=frame)
    want_t, want_w = np_threshold_and_refine(heatmaps, threshold, 1.5, refine, frame)
    self.assertEqual(targets.shape, (3, 4, 3, 5))
    if refine:
      self.assertTrue(0 < want_w.sum() < 15)  # both cases occur
    self.assertAllClose(weights, want_w)
    self.assertAllClose(targets, want_t, atol=1e-6)

  @parameterized.parameters(*MODES)
  def test_a_peak_outside_the_frame_gets_no_target(self, mode):
    # A Gaussian centred 2 pixels left of a 4x4 frame inside a 4x8 heatmap: its tail reaches
    # the frame's first column (exp(-2) = 0.14 > 0.1), but its peak is outside: weight 0.
    # The same Gaussian 1 pixel inside the frame gets a unit target there.
    xs = np.arange(8, dtype=np.float32)
    outside = np.exp(-((xs - 2.0) ** 2) / 2.0)[None, :].repeat(4, 0)
    inside = np.exp(-((xs - 5.0) ** 2) / 2.0)[None, :].repeat(4, 0)
    heatmaps = np.stack([outside, inside], -1)[None]  # [1, 4, 8, 2]
    frame = (0, 4, 4, 4)
    self.assertGreater(heatmaps[0, :, 4, 0].max(), 0.1)
    targets, weights = _run(mode, ph.threshold_and_refine, heatmaps, threshold=0.1, sigma=1.0,
                            frame=frame)
    self.assertAllClose(weights, [[0.0, 1.0]])
    self.assertAllClose(targets[0, ..., 0], np.zeros((4, 4)))
    self.assertAllClose(targets[0, 0, 1, 1], 1.0)  # x = 5 - 4
    # Without the frame (the loss view alone) the tail's border pixel became a target.
    border, border_w = _run(mode, ph.threshold_and_refine, heatmaps[:, :, 4:], threshold=0.1,
                            sigma=1.0)
    self.assertAllClose(border_w, [[1.0, 1.0]])
    self.assertAllClose(border[0, 0, 0, 0], 1.0)

  @parameterized.parameters(*MODES)
  def test_select_matches_numpy(self, mode):
    rng = np.random.default_rng(1)
    u_own = rng.uniform(0, 0.3, size=(3, 5)).astype(np.float32)
    u_other = rng.uniform(0, 0.3, size=(3, 5)).astype(np.float32)
    own = (self.views[0], (rng.uniform(size=(3, 5)) > 0.5).astype(np.float32))
    other = (self.views[1], np.ones((3, 5), np.float32))
    (targets, weights), kept = _run(mode, ph.select, own, other, u_own, u_other, margin=0.05)
    (np_targets, np_weights), np_kept = np_select(own, other, u_own, u_other, 0.05)
    self.assertAllEqual(kept, np_kept)
    self.assertAllEqual(targets, np_targets)
    self.assertAllEqual(weights, np_weights)

  @parameterized.parameters(*MODES)
  def test_select_keeps_own_by_the_margin(self, mode):
    # Own 0.10 vs other 0.20: 0.15 < 0.20 keeps own; 0.10 vs 0.14: 0.15 >= 0.14 takes the
    # other's; equal uncertainties take the other's (the margin favours the other student).
    # The one decision picks the target, its weight and the returned `kept` alike.
    own = (np.ones((1, 2, 2, 3), np.float32), np.ones((1, 3), np.float32))
    other = (np.zeros((1, 2, 2, 3), np.float32), np.zeros((1, 3), np.float32))
    (targets, weights), kept = _run(mode, ph.select, own, other,
                                    np.array([[0.10, 0.10, 0.20]], np.float32),
                                    np.array([[0.20, 0.14, 0.20]], np.float32), margin=0.05)
    self.assertAllEqual(kept, [[True, False, False]])
    self.assertAllEqual(weights, [[1.0, 0.0, 0.0]])
    self.assertAllEqual(targets[0], np.broadcast_to([1.0, 0.0, 0.0], (2, 2, 3)))

  @parameterized.parameters(*MODES)
  def test_hand_cases(self, mode):
    # Two views of a 1x2x2x1 heatmap.
    views = np.array([[[[0.2], [0.8]], [[0.0], [0.4]]],
                      [[[0.6], [0.2]], [[0.0], [0.4]]]], np.float32)[:, None]
    self.assertAllClose(_run(mode, ph.ensemble, views, mode="max")[0, ..., 0],
                        [[0.6, 0.8], [0.0, 0.4]])
    self.assertAllClose(_run(mode, ph.ensemble, views, mode="mean")[0, ..., 0],
                        [[0.4, 0.5], [0.0, 0.4]])
    # Population std per pixel: |a - b| / 2 -> 0.2, 0.3, 0, 0 -> max 0.3.
    self.assertAllClose(_run(mode, ph.uncertainty, views), [[0.3]])
    # Threshold 0.5 keeps the joint (0.8 > 0.5); the Gaussian sits at the maximum (x=1, y=0).
    targets, weights = _run(mode, ph.threshold_and_refine, views[0], threshold=0.5, sigma=1.0)
    self.assertAllClose(weights, [[1.0]])
    self.assertAllClose(targets[0, ..., 0],
                        [[np.exp(-0.5), 1.0], [np.exp(-1.0), np.exp(-0.5)]])
    # Strictly above: a maximum equal to the threshold is dropped, and zeroed.
    targets, weights = _run(mode, ph.threshold_and_refine, views[0], threshold=0.8, sigma=1.0)
    self.assertAllClose(weights, [[0.0]])
    self.assertAllClose(targets, np.zeros((1, 2, 2, 1)))
    # Margin: own uncertainty 0.10 vs other 0.16 -> own (0.15 < 0.16); vs 0.15 -> other.
    own = (np.ones((1, 2, 2, 1), np.float32), np.ones((1, 1), np.float32))
    other = (np.zeros((1, 2, 2, 1), np.float32), np.zeros((1, 1), np.float32))
    (targets, weights), kept = _run(mode, ph.select, own, other, [[0.10]], [[0.16]], margin=0.05)
    self.assertAllClose(targets, own[0])
    self.assertAllClose(weights, own[1])
    self.assertAllEqual(kept, [[True]])
    (targets, weights), kept = _run(mode, ph.select, own, other, [[0.10]], [[0.15]], margin=0.05)
    self.assertAllClose(targets, other[0])
    self.assertAllClose(weights, other[1])
    self.assertAllEqual(kept, [[False]])

  @parameterized.parameters(*MODES)
  def test_ties_go_to_the_first_maximum_in_row_major_order(self, mode):
    heatmaps = np.zeros((1, 3, 4, 2), np.float32)
    heatmaps[0, 1, 3, 0] = heatmaps[0, 2, 0, 0] = 0.9  # (x=3, y=1) comes first
    heatmaps[0, 0, 2, 1] = heatmaps[0, 0, 1, 1] = 0.5  # (x=1, y=0) comes first
    self.assertAllClose(_run(mode, ph.first_argmax, heatmaps), [[[3.0, 1.0], [1.0, 0.0]]])
    targets, _ = _run(mode, ph.threshold_and_refine, heatmaps, threshold=0.1, sigma=1.0)
    self.assertAllClose(targets[0, 1, 3, 0], 1.0)
    self.assertAllClose(targets[0, 0, 1, 1], 1.0)

  def test_unknown_mode(self):
    with self.assertRaisesRegex(ValueError, "unknown ensemble mode"):
      ph.ensemble(self.views, mode="median")


if __name__ == "__main__":
  tf.test.main()
