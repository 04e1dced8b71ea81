"""Tests of skeleton drawing."""

import os

import numpy as np
import tensorflow as tf

from tfpose_ssl.evaluation import visualize


class VisualizeTest(tf.test.TestCase):

  def test_draws_only_confident_joints_and_limbs(self):
    image = np.zeros((60, 80, 3), np.uint8)
    pose = np.zeros((1, 17, 2))
    pose[0, 15] = [10, 50]  # left ankle
    pose[0, 13] = [10, 20]  # left knee: limb (15, 13) is drawn
    pose[0, 16] = [70, 50]  # right ankle, below threshold
    scores = np.zeros((1, 17))
    scores[0, [13, 15]] = 0.9
    scores[0, 16] = 0.1
    out = visualize.draw_skeletons(image, pose, scores, threshold=0.3)
    self.assertEqual(out.shape, image.shape)
    self.assertGreater(out[35, 10].sum(), 0)  # on the limb between knee and ankle
    self.assertEqual(out[50, 70].sum(), 0)  # the unsure ankle is not drawn
    self.assertEqual(image.sum(), 0)  # input untouched

  def test_tile_and_png(self):
    grid = visualize.tile([np.full((10, 20, 3), 50, np.uint8), np.full((12, 8, 3), 90, np.uint8),
                           np.full((5, 5, 3), 10, np.uint8)], columns=2)
    self.assertEqual(grid.shape, (24, 40, 3))
    path = os.path.join(self.get_temp_dir(), "g.png")
    visualize.save_png(path, grid)
    self.assertAllEqual(visualize.read_rgb(path), grid)


if __name__ == "__main__":
  tf.test.main()
