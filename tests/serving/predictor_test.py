"""`predictor.read_boxes`: the boxes predict runs on are read, clipped and counted as evaluation's."""

import json
import os

import numpy as np
import tensorflow as tf

from tfpose_ssl.serving import predictor


class ReadBoxesTest(tf.test.TestCase):

  def write(self, entries):
    path = os.path.join(self.get_temp_dir(), "boxes.json")
    with open(path, "w") as f:
      json.dump(entries, f)
    return path

  def test_plain_boxes_with_and_without_scores_are_clipped(self):
    path = self.write([[-10, 5, 30, 20], [90, 40, 30, 20, 0.8], [10, 10, 0, 5],
                       [1, 2, 3, 4, float("nan")]])
    boxes, scores, detected, skipped = predictor.read_boxes(path, None, (50, 100, 3), 0.5)
    # Before: the 5-number row was reshaped into wrong boxes and nothing was clipped.
    self.assertAllClose(boxes, [[0, 5, 20, 20], [90, 40, 10, 10]])
    self.assertAllClose(scores, [1.0, 0.8])
    self.assertTrue(detected)  # scored boxes: a detector's (rescoring, OKS-NMS)
    self.assertEqual(skipped, {"bad_box": 1, "bad_score": 1, "low_score": 0})
    _, _, detected, skipped = predictor.read_boxes(self.write([[1, 2, 3, 4, 0.2], [1, 2, 3, 4]]),
                                                 None, (50, 100, 3), 0.5)
    self.assertEqual(skipped["low_score"], 1)  # counted, so "0 people" is explained

  def test_malformed_plain_box_is_an_error(self):
    with self.assertRaisesRegex(ValueError, r"\[x, y, w, h\] or \[x, y, w, h, score\]"):
      predictor.read_boxes(self.write([[1, 2, 3]]), None, (50, 100, 3), 0.5)

  def test_detections_filtered_clipped_and_nan_scores_counted(self):
    path = self.write([
        {"image_id": 7, "category_id": 1, "bbox": [95, 0, 20, 10], "score": 0.9},
        {"image_id": 7, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.2},
        {"image_id": 7, "category_id": 1, "bbox": [0, 0, 10, 10], "score": float("nan")},
        {"image_id": 7, "category_id": 1, "bbox": [0, 0, 10, 10], "score": None},
        {"image_id": 8, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 7, "category_id": 2, "bbox": [0, 0, 10, 10], "score": 0.9}])
    boxes, scores, detected, skipped = predictor.read_boxes(path, 7, (50, 100, 3), 0.5)
    self.assertAllClose(boxes, [[95, 0, 5, 10]])
    self.assertAllClose(scores, [0.9])
    self.assertTrue(detected)
    self.assertEqual(skipped, {"bad_box": 0, "bad_score": 2, "low_score": 1})
    # Another dataset's keypoint category: its boxes only.
    boxes, scores, _, _ = predictor.read_boxes(path, 7, (50, 100, 3), 0.5, category_id=2)
    self.assertAllClose(boxes, [[0, 0, 10, 10]])
    self.assertAllClose(scores, [0.9])

  def test_detections_need_an_image_id(self):
    # Before: a file name that is not a number became image 0 and silently "0 people".
    path = self.write([{"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 1.0}])
    with self.assertRaisesRegex(ValueError, "give --image_id"):
      predictor.read_boxes(path, None, (50, 100, 3), 0.5)

  def test_no_boxes_is_the_whole_image(self):
    boxes, scores, detected, _ = predictor.read_boxes(None, None, (50, 100, 3), 0.5)
    self.assertAllClose(boxes, [[0, 0, 100, 50]])
    self.assertAllClose(scores, [1.0])
    self.assertFalse(detected)
    self.assertEqual(np.asarray(boxes).dtype, np.float32)


if __name__ == "__main__":
  tf.test.main()
