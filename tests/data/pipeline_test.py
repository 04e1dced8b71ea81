"""Tests of the tf.data pipelines: targets follow augmented pixels, streams are positioned."""

import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.data import coco
from tfpose_ssl.data import pipeline
from tfpose_ssl.ops import augment as augment_lib
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import views as views_lib

AUGMENT = augment_lib.TopDownAugment()  # its defaults


class PipelineTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.instances, _ = coco.load_instances(testing.coco_mini_dataset())
    self.codec = codec_lib.KeypointCodec((128, 96), sigma=2.0)

  def test_labeled_batches(self):
    batch = next(iter(pipeline.labeled_dataset(self.instances, self.codec, 4, AUGMENT, seed=0)))
    self.assertEqual(batch["image"].shape, (4, 128, 96, 3))
    self.assertEqual(batch["heatmaps"].shape, (4, 32, 24, 17))
    self.assertEqual(batch["target_weight"].shape, (4, 17))
    self.assertEqual(batch["image"].dtype, tf.float32)
    self.assertBetween(float(tf.reduce_max(batch["image"])), 1.0, 255.0 + 1e-3)  # bilinear round-off

  def test_every_pipeline_caps_the_ram_autotuning_may_use(self):
    # Before: TF's default, half of the machine's RAM for each of the three pipelines.
    views = views_lib.MultiViewAugment(num_strong=1)
    for ds in (pipeline.labeled_dataset(self.instances, self.codec, 4, AUGMENT),
               pipeline.unlabeled_dataset(self.instances, self.codec, 4, views),
               pipeline.eval_dataset(self.instances, self.codec, 4)):
      self.assertEqual(ds.options().autotune.ram_budget, 2 << 30)

  def test_same_seed_same_batches_other_seed_differs(self):
    a = list(pipeline.labeled_dataset(self.instances, self.codec, 4, AUGMENT, seed=5).take(3))
    b = list(pipeline.labeled_dataset(self.instances, self.codec, 4, AUGMENT, seed=5).take(3))
    c = list(pipeline.labeled_dataset(self.instances, self.codec, 4, AUGMENT, seed=6).take(1))
    for x, y in zip(a, b):
      self.assertAllEqual(x["image"], y["image"])
      self.assertAllEqual(x["heatmaps"], y["heatmaps"])
    self.assertNotAllClose(a[0]["image"], c[0]["image"])

  def test_start_step_positions_the_stream(self):
    # 12 instances, batch 5: steps cross an epoch boundary (and a reshuffle).
    full = list(pipeline.labeled_dataset(self.instances, self.codec, 5, AUGMENT, seed=1).take(4))
    resumed = list(pipeline.labeled_dataset(self.instances, self.codec, 5, AUGMENT, seed=1,
                                            start_step=2).take(2))
    for x, y in zip(full[2:], resumed):
      self.assertAllEqual(x["image"], y["image"])
      self.assertAllEqual(x["target_weight"], y["target_weight"])

  def test_index_stream_visits_every_item_each_epoch(self):
    items = [int(i) for _, i in pipeline.index_stream(7, seed=2).take(21)]
    for epoch in range(3):
      self.assertEqual(sorted(items[7 * epoch:7 * epoch + 7]), list(range(7)))
    self.assertNotEqual(items[:7], items[7:14])
    positions = [int(p) for p, _ in pipeline.index_stream(7, seed=2, start_position=9).take(3)]
    self.assertEqual(positions, [9, 10, 11])

  def test_a_load_that_raises_becomes_a_fallback_in_its_own_place(self):
    def load(position, index, readable=True):
      if readable:  # positions 0, 3, 4 and 8 raise, like a file corrupt in the middle
        tf.debugging.assert_equal(tf.reduce_any(position == [0, 3, 4, 8]), False)
      return {"position": position, "index": index, "valid": tf.constant(readable)}

    for start in (0, 3):
      stream = pipeline.index_stream(5, seed=1, start_position=start)
      expected = list(stream.take(10).as_numpy_iterator())
      got = list(pipeline.map_counting_failures(stream, load, start).take(10))
      self.assertEqual([bool(g["valid"]) for g in got],
                       [int(p) not in (0, 3, 4, 8) for p, _ in expected])
      for i, g in enumerate(got):  # a fallback borrows the next loaded element's fields
        j = next(k for k in range(i, 10) if int(expected[k][0]) not in (0, 3, 4, 8))
        self.assertEqual((int(g["position"]), int(g["index"])), tuple(expected[j]))

  def test_augmented_targets_sit_on_augmented_keypoints(self):
    # The same augmentation applied to a keypoint and to a dot image lands in the same place.
    augment = augment_lib.TopDownAugment(scale_factor=0.3, rotation_factor=40.0,
                                         rotation_prob=1.0, flip_prob=0.5)
    for position in range(6):
      s, r, flip = augment.sample(tf.constant([11, position], tf.int64))
      m = geometry.affine_from_params([60.0, 80.0], tf.constant([90.0, 120.0]) * s, r,
                                      self.codec.input_size, flip)
      keypoints = np.zeros((17, 3), np.float32)
      keypoints[5] = [50.0, 70.0, 2.0]  # left shoulder
      moved = pipeline.transform_keypoints(tf.constant(keypoints), m, flip, kp.FLIP_PERMUTATION)
      heatmaps, weights = self.codec.encode(moved)
      joint = 6 if bool(flip) else 5  # a flip turns the left shoulder into the right one
      self.assertEqual(float(weights[joint]), 1.0)
      peak = np.unravel_index(np.argmax(heatmaps[..., joint].numpy()), (32, 24))
      image = np.zeros((1, 200, 150, 1), np.float32)
      image[0, 69:72, 49:52, 0] = 1.0
      warped = pipeline.crop(tf.constant(image[0]), m, self.codec.input_size).numpy()[..., 0]
      dot = np.array(np.unravel_index(np.argmax(warped), warped.shape)) / 4.0
      self.assertLessEqual(np.abs(np.array(peak) - dot).max(), 1.0)

  def test_half_body_crops_are_the_regions_of_the_chosen_half(self):
    augment = augment_lib.TopDownAugment(scale_factor=0.0, rotation_factor=0.0, flip_prob=0.0,
                                         half_body_prob=1.0)
    n = len(self.instances)
    batch = next(iter(pipeline.labeled_dataset(self.instances, self.codec, n, augment, seed=4)))
    order = list(pipeline.index_stream(n, 4).take(n).as_numpy_iterator())
    applied_count = 0
    for i, (position, index) in enumerate(order):
      keypoints = self.instances.keypoints[index]
      applied, center, scale = augment.half_body(
          keypoints, self.codec.aspect_ratio,
          tf.random.experimental.stateless_fold_in(tf.constant([4, position], tf.int64), 1))
      if not bool(applied):
        center, scale = geometry.box_to_center_scale(self.instances.boxes[index],
                                                     self.codec.aspect_ratio)
      applied_count += int(bool(applied))
      matrix = geometry.affine_from_params(center, scale, 0.0, self.codec.input_size)
      heatmaps, weights = self.codec.encode(
          pipeline.move_keypoints(tf.constant(keypoints), matrix))
      self.assertAllClose(batch["target_weight"][i], weights)
      self.assertAllClose(batch["heatmaps"][i], heatmaps, atol=1e-5)
    # The mini set's people with more than 8 labeled joints get half-body crops.
    self.assertEqual(applied_count, int(np.sum((self.instances.keypoints[..., 2] > 0).sum(1) > 8)))
    self.assertGreater(applied_count, 0)

  def test_eval_dataset_in_order_and_eager_equals_tf_data(self):
    batches = list(pipeline.eval_dataset(self.instances, self.codec, 5))
    self.assertEqual(np.concatenate([b["index"].numpy() for b in batches]).tolist(),
                     list(range(12)))
    center, scale = geometry.box_to_center_scale(self.instances.boxes[:1],
                                                 self.codec.aspect_ratio)
    m = geometry.affine_from_params(center[0], scale[0], 0.0, self.codec.input_size)
    eager = pipeline.crop(pipeline.read_image(self.instances.image_paths[0])[0], m,
                          self.codec.input_size)
    self.assertAllClose(eager, batches[0]["image"][0], atol=1e-3)


if __name__ == "__main__":
  tf.test.main()
