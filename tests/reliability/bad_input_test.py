"""Bad data: structural problems fail before training with an error naming the file; per-sample
problems become counted skips, and no bad sample crashes a run or silently shifts a metric."""

import json
import os
import struct
import types

import gin
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import training as train_lib
from tfpose_ssl.data import coco
from tfpose_ssl.data import pipeline
from tfpose_ssl.data import synthetic
from tfpose_ssl.evaluation import evaluator
from tfpose_ssl.ops import augment as augment_lib
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.trainers import callbacks as callbacks_lib

TESTDATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata")


def make_damaged_set(root):
  """A 10-image synthetic split with damaged files; returns (dataset, {kind: image file})."""
  path = synthetic.generate_split(root, "train", num_images=10, seed=5)
  with open(path) as f:
    data = json.load(f)
  files = [os.path.join(root, "images", im["file_name"]) for im in data["images"]]
  kinds = {}
  with open(files[0], "rb") as f:
    jpeg = f.read()
  with open(files[0], "wb") as f:  # truncated JPEG
    f.write(jpeg[:len(jpeg) // 2])
  kinds["truncated"] = files[0]
  with open(files[1], "wb") as f:  # not an image at all
    f.write(b"<html>404 not found</html>" * 20)
  kinds["garbage"] = files[1]
  open(files[2], "wb").close()  # empty file
  kinds["empty"] = files[2]
  pixels = tf.io.decode_jpeg(tf.io.read_file(files[3]))
  with open(files[3], "wb") as f:  # PNG content behind a .jpg name: readable
    f.write(tf.io.encode_png(pixels).numpy())
  kinds["png_named_jpg"] = files[3]
  with open(files[4], "wb") as f:  # grayscale JPEG: readable
    f.write(tf.io.encode_jpeg(tf.image.rgb_to_grayscale(pixels)).numpy())
  kinds["grayscale"] = files[4]
  os.remove(files[5])  # missing file
  kinds["missing"] = files[5]
  with open(files[6], "rb") as f:  # corrupt in the middle, complete at both ends: its scan
    jpeg = bytearray(f.read())     # names a Huffman table the file does not define
  jpeg[jpeg.find(b"\xff\xda") + 6] = 0x33
  with open(files[6], "wb") as f:
    f.write(jpeg)
  kinds["corrupt_middle"] = files[6]
  return coco.CocoKeypoints(path, os.path.join(root, "images")), kinds


class BadImagesTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = os.path.join(tf.compat.v1.test.get_temp_dir(), "damaged")
    cls.dataset, cls.kinds = make_damaged_set(cls.root)

  def test_missing_files_are_counted_and_dropped_before_training(self):
    instances, counts = coco.load_instances(self.dataset, require_keypoints=False)
    self.assertGreater(counts["missing_image_file"], 0)
    self.assertNotIn(self.kinds["missing"], set(instances.image_paths))

  def test_unreadable_images_are_flagged_not_raised(self):
    instances, _ = coco.load_instances(self.dataset, require_keypoints=False)
    codec = codec_lib.KeypointCodec((64, 64))
    batches = list(pipeline.eval_dataset(instances, codec, 64))
    valid = np.concatenate([b["valid"].numpy() for b in batches])
    index = np.concatenate([b["index"].numpy() for b in batches])
    by_path = {instances.image_paths[i]: v for i, v in zip(index, valid)}
    for kind in ("truncated", "garbage", "empty"):
      self.assertFalse(by_path[self.kinds[kind]], kind)
    for kind in ("png_named_jpg", "grayscale"):
      self.assertTrue(by_path[self.kinds[kind]], kind)
    # Its decoder raised: evaluation has no crop of it (the evaluator counts it as unreadable).
    self.assertNotIn(self.kinds["corrupt_middle"], by_path)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "Invalid JPEG data"):
      tf.io.decode_image(tf.io.read_file(self.kinds["corrupt_middle"]))
    # Training batches: unreadable samples carry zero weights and valid = 0, each one in its
    # place (before, the corrupt one was dropped uncounted and the next epoch's first instance
    # took the batch's last slot).
    n = len(instances)
    bad = np.isin(instances.image_paths, [self.kinds[k] for k in
                                          ("truncated", "garbage", "empty", "corrupt_middle")])
    self.assertGreater(bad[instances.image_paths == self.kinds["corrupt_middle"]].sum(), 0)
    augment = augment_lib.TopDownAugment()
    batches = list(pipeline.labeled_dataset(instances, codec, n, augment, seed=0).take(3))
    for batch in batches:  # each batch is one epoch
      invalid = batch["valid"].numpy() == 0
      self.assertEqual(invalid.sum(), bad.sum())
      self.assertAllEqual(batch["target_weight"].numpy()[invalid], np.zeros((bad.sum(), 17)))
    # A resumed stream sees the batches an uninterrupted one saw.
    resumed = next(iter(pipeline.labeled_dataset(instances, codec, n, augment, seed=0,
                                                 start_step=2)))
    self.assertAllEqual(resumed["image"], batches[2]["image"])
    self.assertAllEqual(resumed["valid"], batches[2]["valid"])
    # Unlabeled batches too.
    views = views_lib.MultiViewAugment(num_strong=1)
    batch = next(iter(pipeline.unlabeled_dataset(instances, codec, n, views, seed=0,
                                                  canvas_size=(64, 64))))
    self.assertEqual((batch["valid"].numpy() == 0).sum(), bad.sum())

  def test_readability_follows_the_format_not_a_byte_window(self):
    pixels = tf.constant(np.random.RandomState(0).randint(0, 255, (40, 30, 3)).astype(np.uint8))
    jpeg = tf.io.encode_jpeg(pixels).numpy()
    row = 8  # a 2x2 24-bit BMP, rows padded to 4 bytes
    body = (bytes([10, 20, 30]) * 2 + b"\0\0") * 2
    bmp = (b"BM" + struct.pack("<IHHI", 54 + len(body), 0, 0, 54) +
           struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, 2 * row, 0, 0, 0, 0) + body)
    gif = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00"
           b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    cases = {  # name: (bytes, decoded height and width, or None: unreadable)
        "jpeg": (jpeg, (40, 30)),
        "jpeg with 100 bytes after its end marker": (jpeg + b"x" * 100, (40, 30)),  # was refused
        "jpeg cut in its last scan": (jpeg[:-10], None),
        "bmp": (bmp, (2, 2)),
        "bmp cut short": (bmp[:-3], None),  # was accepted, then its decode error dropped it
        "gif": (gif, (1, 1)),
        "gif without its trailer": (gif[:-1], None),
    }
    for name, (data, size) in cases.items():
      path = os.path.join(self.get_temp_dir(), "image.bin")
      with open(path, "wb") as f:
        f.write(data)
      image, valid = pipeline.read_image(path)  # never raises
      self.assertEqual(bool(valid), size is not None, name)
      if size:
        self.assertEqual(image.shape, size + (3,), name)

  def test_grayscale_and_cmyk_decode_to_rgb(self):
    image, valid = pipeline.read_image(os.path.join(TESTDATA, "cmyk.jpg"))
    self.assertTrue(bool(valid))
    self.assertEqual(image.shape, (40, 30, 3))
    self.assertGreater(float(tf.reduce_mean(tf.cast(image, tf.float32))), 50.0)
    gray, valid = pipeline.read_image(self.kinds["grayscale"])
    self.assertTrue(bool(valid))
    self.assertEqual(gray.shape[-1], 3)
    self.assertAllEqual(gray[..., 0], gray[..., 1])

  def test_a_run_on_damaged_data_finishes_and_counts_its_skips(self):
    workdir = os.path.join(self.get_temp_dir(), "run")
    testing.parse_config("smoke.gin", [
        "include 'configs/modes/supervised.gin'",
        f"train/synthetic_coco.root = '{self.root}'", "train/synthetic_coco.num_images = 10",
        "train/synthetic_coco.seed = 5",
        f"val/synthetic_coco.root = '{self.root}'", "val/synthetic_coco.num_images = 10",
        "val/synthetic_coco.split = 'train'", "val/synthetic_coco.seed = 5",
        "train.num_labeled = None", "train.epochs = 1", "train.steps_per_epoch = 6",
        "train.verbose = 0", "train.num_visualized = 10"])
    try:
      # Drawing every validation image: before, the unreadable ones crashed the end of the run.
      result = train_lib.train(workdir=workdir)
    finally:
      gin.clear_config()
    report = result.report
    self.assertGreater(result.train_metrics["skipped_images"], 0)
    self.assertGreater(report.skipped["unreadable_image"], 0)
    self.assertTrue(np.isfinite(report.metrics["student_1"]["AP"]))
    self.assertTrue(os.path.isfile(os.path.join(workdir, "skeletons.png")))
    # The saved summary says what evaluation skipped (before: only in the returned dict).
    with open(os.path.join(workdir, "summary.json")) as f:
      evaluated = json.load(f)["evaluated"]
    self.assertEqual(evaluated["skipped"]["unreadable_image"],
                     report.skipped["unreadable_image"])
    self.assertEqual(evaluated["skipped"]["missing_image_file"],
                     coco.load_instances(self.dataset)[1]["missing_image_file"])
    self.assertEqual(evaluated["instances"], len(report.instances))
    counts = coco.load_instances(self.dataset)[1]
    self.assertEqual({k: v for k, v in evaluated["skipped"].items() if k != "unreadable_image"},
                     {k: v for k, v in counts.items() if v})

  def test_a_validation_subset_keeps_whole_images(self):
    instances, _ = coco.load_instances(testing.coco_mini_dataset())
    ids = instances.image_ids
    # The first instance of an image with several people: cut the list right after it.
    j = next(i for i in range(len(ids)) if np.sum(ids == ids[i]) > 1 and ids[i] not in ids[:i])
    subset = evaluator.first_images(instances, j + 1)
    expected = np.isin(ids, ids[:j + 1])
    self.assertGreater(expected.sum(), j + 1)  # before: j + 1; that image's others were misses
    self.assertLen(subset, int(expected.sum()))
    self.assertAllEqual(subset.ann_ids, instances.ann_ids[expected])


class DataGoneDuringARunTest(tf.test.TestCase):

  def test_an_epoch_of_mostly_unreadable_samples_stops_training(self):
    # Before: if the images went away mid-run (a folder unmounted, a split regenerated by
    # another run), every sample became a counted skip and training went on, on zero-weighted
    # batches, saving checkpoints.
    skipped = tf.Variable(0.0)
    trainer = types.SimpleNamespace(
        student_optimizers=[types.SimpleNamespace(iterations=tf.Variable(20, dtype=tf.int64))],
        scalar_metrics=lambda: {"skipped_images": skipped})
    # Steps 10-19 are the epoch: 5 steps of 4 labeled, then 5 steps of 4 + 4 unlabeled = 60.
    callback = callbacks_lib.SkippedImagesCallback(lambda step: 4 if step < 15 else 8)
    callback.set_model(trainer)
    callback.set_params({"steps": 10})
    skipped.assign(30.0)  # half: a bad day for the data, not their absence
    callback.on_epoch_end(1)
    skipped.assign(31.0)
    with self.assertRaisesRegex(callbacks_lib.UnreadableDataError,
                                "epoch 2: 31 of its 60 samples could not be read"):
      callback.on_epoch_end(1)
    self.assertEqual(callback.history, [30, 31])


class StructuralErrorsTest(tf.test.TestCase):

  def test_missing_image_folder_and_all_images_missing(self):
    root = os.path.join(self.get_temp_dir(), "s")
    path = synthetic.generate_split(root, "val", num_images=2, seed=1)
    with self.assertRaisesRegex(coco.DataError, "image folder not found: .*nowhere"):
      coco.load_instances(coco.CocoKeypoints(path, os.path.join(root, "nowhere")))
    empty = os.path.join(root, "empty_images")
    os.makedirs(empty)
    with self.assertRaisesRegex(coco.DataError, "none of the .* images exist"):
      coco.load_instances(coco.CocoKeypoints(path, empty))

  def test_missing_coco_root_is_named_before_training(self):
    testing.parse_config("partial_2k.gin", ["COCO_ROOT = '/no/such/coco'"])
    try:
      with self.assertRaisesRegex(coco.DataError, "/no/such/coco/annotations/person_keypoints"):
        train_lib.train(workdir=os.path.join(self.get_temp_dir(), "never"))
    finally:
      gin.clear_config()
    self.assertFalse(os.path.exists(os.path.join(self.get_temp_dir(), "never", "checkpoints")))

  def test_not_keypoint_format(self):
    path = os.path.join(self.get_temp_dir(), "list.json")
    with open(path, "w") as f:
      json.dump([{"image_id": 1}], f)
    with self.assertRaisesRegex(coco.DataError, "expected a COCO dict"):
      coco.load_instances(coco.CocoKeypoints(path, self.get_temp_dir()))


class PerAnnotationProblemsTest(tf.test.TestCase):

  def _dataset(self, annotations):
    root = self.get_temp_dir()
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    image = np.zeros((100, 80, 3), np.uint8)
    with open(os.path.join(root, "images", "a.jpg"), "wb") as f:
      f.write(tf.io.encode_jpeg(image).numpy())
    with open(os.path.join(root, "images", "b.jpg"), "wb") as f:
      f.write(tf.io.encode_jpeg(image).numpy())
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 100},
                       {"id": 2, "file_name": "b.jpg", "width": 80, "height": 100}],
            "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    path = os.path.join(root, "ann.json")
    with open(path, "w") as f:
      json.dump(data, f)
    return coco.CocoKeypoints(path, os.path.join(root, "images"))

  def test_boxes_and_keypoints(self):
    kps = [10, 10, 2] * 17
    outside = list(kps)
    outside[0:3] = [500, 10, 2]  # labeled nose far outside the image
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 0, 20], "keypoints": kps},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 20, -3], "keypoints": kps},
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [200, 5, 20, 20], "keypoints": kps},
        {"id": 4, "image_id": 1, "category_id": 1, "bbox": [-10, 90, 40, 40], "keypoints": kps},
        {"id": 5, "image_id": 1, "category_id": 1, "bbox": [5, 5, 30, 30], "keypoints": outside},
        {"id": 6, "image_id": 9, "category_id": 1, "bbox": [5, 5, 30, 30], "keypoints": kps},
    ]
    instances, counts = coco.load_instances(self._dataset(anns))
    self.assertEqual(counts["bad_box"], 3)  # w = 0, h < 0, wholly outside
    self.assertEqual(counts["unknown_image"], 1)
    self.assertEqual(counts["keypoints_outside_image"], 1)
    self.assertEqual(counts["images_without_people"], 1)  # image 2
    self.assertEqual(sorted(instances.ann_ids.tolist()), [4, 5])
    row = instances.ann_ids.tolist().index(4)
    self.assertAllClose(instances.boxes[row], [0, 90, 30, 10])  # clipped to the image
    row = instances.ann_ids.tolist().index(5)
    self.assertAllEqual(instances.keypoints[row, 0], [0, 0, 0])  # unlabeled, not trusted
    self.assertAllEqual(instances.keypoints[row, 1], [10, 10, 2])

  def test_detections_for_images_not_in_the_set(self):
    dataset = self._dataset([])
    path = os.path.join(self.get_temp_dir(), "dets.json")
    with open(path, "w") as f:
      json.dump([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 30, 30], "score": 0.9},
                 {"image_id": 77, "category_id": 1, "bbox": [1, 1, 30, 30], "score": 0.9}], f)
    instances, counts = coco.load_instances(dataset, detections=path)
    self.assertLen(instances, 1)
    self.assertEqual(counts["unknown_image"], 1)


if __name__ == "__main__":
  tf.test.main()
