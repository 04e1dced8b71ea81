"""tf.data input pipelines for top-down pose: labeled crops, evaluation crops, unlabeled crops.

Order (mmpose's top-down order, as tf.data): index stream (per-epoch stateless shuffle, repeat,
positioned at `start_step` for exact resume) -> map(AUTOTUNE): read + decode -> box to
center/scale -> random scale / rotation / flip -> crop warp -> heatmap target -> batch
(drop_remainder) -> prefetch. Augmentation randomness is stateless, seeded by (seed, global
position), so a run is reproducible and a resumed run sees the same examples as an
uninterrupted one. No Python runs per example.
"""

import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.ops import warp

AUTOTUNE = tf.data.AUTOTUNE
# Bytes tf.data's autotuning may spend on buffers, per pipeline (TF's default: half the
# machine's RAM, each). The largest batch of the shipped configs, 32 unlabeled 256x192 crops
# in the 7 float32 views of Fig. 5's K = 6, is 132 MB: this holds 15 of them.
RAM_BUDGET = 2 << 30


def with_ram_budget(ds, ram_budget=RAM_BUDGET):
  options = tf.data.Options()
  options.autotune.ram_budget = ram_budget
  return ds.with_options(options)


def looks_complete(data):
  """True for image bytes that can be decoded whole; in-graph, so a bad file never raises
  inside a run. Truncated, empty and non-image files are False.

  - JPEG: an end-of-image marker (FF D9) after the last start-of-scan (FF DA). Entropy-coded
    data cannot hold FF D9, so a file cut anywhere in its last scan has none; bytes appended
    after the marker (some cameras and editors write them) are allowed.
  - PNG: ends with its IEND chunk. BMP: at least the file size its header declares.
    GIF: ends with its trailer byte (3B).
  """
  n = tf.strings.length(data)
  jpeg = tf.strings.substr(data, 0, 3) == b"\xff\xd8\xff"

  def has(haystack, marker):
    return tf.size(tf.strings.split(haystack, sep=marker)) > 1

  def eoi_after_last_scan():  # reads the whole file: only when the last 32 bytes lack FF D9
    scans = tf.strings.split(data, sep=b"\xff\xda")
    return (tf.size(scans) > 1) & has(scans[-1], b"\xff\xd9")

  tail = tf.strings.substr(data, tf.maximum(n - 32, 0), 32)
  jpeg_complete = jpeg & tf.cond(has(tail, b"\xff\xd9"), lambda: tf.constant(True),
                                 eoi_after_last_scan)
  png = tf.strings.substr(data, 0, 8) == b"\x89PNG\r\n\x1a\n"
  png_complete = png & (n >= 20) & (tf.strings.substr(data, tf.maximum(n - 8, 0), 4) == b"IEND")
  bmp = (tf.strings.substr(data, 0, 2) == b"BM") & (n >= 6)
  size_field = tf.strings.substr(  # little-endian uint32 at offset 2, zero-padded if short
      tf.strings.join([tf.strings.substr(data, tf.minimum(n, 2), 4), b"\0" * 4]), 0, 4)
  size_bytes = tf.io.decode_raw(size_field, tf.uint8)
  declared = tf.reduce_sum(tf.cast(size_bytes, tf.int64) * tf.constant([1, 256, 65536, 16777216],
                                                                       tf.int64))
  bmp_complete = bmp & (declared >= 26) & (tf.cast(n, tf.int64) >= declared)  # 26: headers
  gif = tf.strings.substr(data, 0, 4) == b"GIF8"
  gif_complete = gif & (tf.strings.substr(data, tf.maximum(n - 1, 0), 1) == b";")
  return jpeg_complete | png_complete | bmp_complete | gif_complete


def read_image(path, readable=True):
  """(uint8 `[H, W, 3]` image, valid) for the file at `path`.

  JPEG/PNG/BMP/GIF content is decoded whatever the file name says; grayscale and CMYK become
  RGB. An unreadable file (truncated, empty, not an image) gives a 1x1 black image and
  valid=False: callers zero its weights and the trainer counts it. `readable=False` gives that
  result without touching the file (`map_counting_failures`' fallback after a raise).
  """
  if not readable:
    del path
    return tf.zeros([1, 1, 3], tf.uint8), tf.constant(False)
  data = tf.io.read_file(path)
  valid = looks_complete(data)
  image = tf.cond(valid,
                  lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
                  lambda: tf.zeros([1, 1, 3], tf.uint8))
  image.set_shape([None, None, 3])
  return image, valid


def map_counting_failures(stream, load, start_position):
  """`stream.map(load)` over an infinite `(position, index)` stream (`index_stream`), except that
  an element whose `load` raises becomes a fallback `load(position, index, readable=False)`: a
  1x1 black image with valid=0, counted like every unreadable file.

  A file corrupt in the middle but complete at both ends passes `looks_complete`, and its
  decoder may raise (5-31 of 100 random corruptions of the COCO sample JPEGs do). Such an element
  is neither dropped uncounted nor allowed to end the run, and every element keeps its position,
  so a resumed run sees the batches an uninterrupted one saw. How: `ignore_errors` drops the
  failed element, a scan finds the gap in the positions, and the next element arrives as a
  batch of [fallback] * gap + [itself] that `unbatch` spreads out again. A fallback takes the
  next element's position and index: all its fields are zero-weighted by valid=0.

  Cost, AMD EPYC (AVX2), 128x96, batch 16, median of 3 alternating runs of the throughput
  benchmark's pipelines against plain `map` + `ignore_errors`: labeled 706 -> 630 crops/s,
  unlabeled K=2 859 -> 733 (~80x what the demo's step consumes). A flat_map or interleave of
  one-element datasets did the same at 20-40% lower throughput.
  """
  mapped = stream.map(lambda position, index: (position, index, load(position, index)),
                      num_parallel_calls=AUTOTUNE, deterministic=True)
  mapped = mapped.ignore_errors(log_warning=True)

  def find_gap(previous, element):
    return element[0], (element[0] - previous - 1, element)

  def fill_gap(gap, element):  # [fallback] * gap + [element], as one batch to unbatch
    position, index, loaded = element

    def with_fallbacks():
      fallback = load(position, index, readable=False)
      return tf.nest.map_structure(
          lambda f, x: tf.concat([tf.repeat(f[None], gap, axis=0), x[None]], axis=0),
          fallback, loaded)

    return tf.cond(gap > 0, with_fallbacks,
                   lambda: tf.nest.map_structure(lambda x: x[None], loaded))

  mapped = mapped.scan(tf.constant(start_position - 1, tf.int64), find_gap)
  return mapped.map(fill_gap).unbatch()


def crop(image, matrix, output_size):
  """Warps one uint8 image `[H, W, 3]` by `matrix` `[3, 3]` to a float32 crop `[h, w, 3]`."""
  return warp.warp_affine(image[None], matrix[None], output_size)[0]


def _instance_table(instances, aspect_ratio, padding):
  center, scale = geometry.box_to_center_scale(instances.boxes, aspect_ratio, padding)
  return {
      "path": tf.constant(instances.image_paths.astype(str)),
      "center": tf.constant(center),
      "scale": tf.constant(scale),
      "keypoints": tf.constant(instances.keypoints, tf.float32),
  }


def index_stream(num_items, seed, start_position=0, shuffle=True):
  """Infinite `(position, index)` stream: epoch e visits a stateless permutation seeded (seed, e).

  Starting at `start_position` costs nothing but integer arithmetic (for resume).
  """
  if num_items <= 0:
    raise ValueError("the dataset has no instances")
  start_epoch = start_position // num_items

  def epoch_indices(epoch):
    order = tf.range(num_items, dtype=tf.int64)
    if shuffle:
      order = tf.random.experimental.stateless_shuffle(
          order, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
    return tf.data.Dataset.from_tensor_slices(order)

  ds = tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max).flat_map(epoch_indices)
  ds = ds.skip(start_position - start_epoch * num_items)
  positions = tf.data.Dataset.range(start_position, np.iinfo(np.int64).max)
  return tf.data.Dataset.zip(positions, ds)


def move_keypoints(keypoints, matrix):
  """Moves keypoints `[J, 3]` (x, y, v) by `matrix` `[3, 3]` (into a crop)."""
  xy = geometry.apply_affine(keypoints[:, :2], matrix)
  return tf.concat([xy, keypoints[:, 2:]], axis=-1)


def transform_keypoints(keypoints, matrix, flip, flip_permutation):
  """Moves keypoints `[J, 3]` into the crop; a flip also swaps left/right joints
  (`flip_permutation`: the keypoint schema's)."""
  moved = move_keypoints(keypoints, matrix)
  return tf.where(flip, tf.gather(moved, flip_permutation), moved)


def check_joints(instances, schema):
  """Raises ValueError unless `instances` have the keypoint schema's number of joints."""
  if instances.keypoints.shape[1] != schema.num_joints:
    raise ValueError(f"the instances have {instances.keypoints.shape[1]} keypoints, the "
                     f"keypoint schema {schema.num_joints}")


def labeled_dataset(instances, codec, batch_size, augment, seed=0, start_step=0, padding=1.25,
                    schema=kp.COCO_PERSON):
  """Infinite batches of crops augmented by `augment` (a `TopDownAugment`), with heatmap targets.

  Elements: {'image': `[B, H, W, 3]` float32 in [0, 255], 'heatmaps': `[B, h, w, J]`,
  'target_weight': `[B, J]`}. `start_step` positions the stream after that many batches.
  `schema`: the instances' `KeypointSchema` (a flip swaps its left/right joints).
  """
  check_joints(instances, schema)
  if augment.half_body_prob > 0 and not schema.upper_body:
    raise ValueError("half-body crops (TopDownAugment.half_body_prob > 0) need the keypoint "
                     "schema's upper-body joints (CocoKeypoints.upper_body)")
  if augment.half_body_prob > 0 and augment.half_body_min_joints >= schema.num_joints:
    raise ValueError(f"half-body crops (TopDownAugment.half_body_prob > 0) apply to people "
                     f"with more than TopDownAugment.half_body_min_joints = "
                     f"{augment.half_body_min_joints} labeled joints, which {schema.num_joints} "
                     "joints never are: lower it (COCO: 8 of 17) or set half_body_prob = 0")
  flip_permutation = schema.flip_permutation()
  table = _instance_table(instances, codec.aspect_ratio, padding)

  def load(position, index, readable=True):
    element_seed = tf.stack([tf.constant(seed, tf.int64), position])
    s, r, flip = augment.sample(element_seed)
    center, scale = table["center"][index], table["scale"][index]
    if augment.half_body_prob > 0:  # its own seed: the other draws stay as without it
      applied, half_center, half_scale = augment.half_body(
          table["keypoints"][index], codec.aspect_ratio,
          tf.random.experimental.stateless_fold_in(element_seed, 1), schema.upper_body)
      center = tf.where(applied, half_center, center)
      scale = tf.where(applied, half_scale, scale)
    scale = scale * s
    matrix = geometry.affine_from_params(center, scale, r, codec.input_size, flip)
    image, valid = read_image(table["path"][index], readable)
    keypoints = transform_keypoints(table["keypoints"][index], matrix, flip, flip_permutation)
    heatmaps, weights = codec.encode(keypoints)
    valid_f = tf.cast(valid, tf.float32)
    return {"image": crop(image, matrix, codec.input_size), "heatmaps": heatmaps * valid_f,
            "target_weight": weights * valid_f, "valid": valid_f}

  ds = map_counting_failures(index_stream(len(instances), seed, start_step * batch_size), load,
                             start_step * batch_size)
  return with_ram_budget(ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE))


def eval_dataset(instances, codec, batch_size, padding=1.25):
  """One pass over `instances` in order, unaugmented: {'image', 'center', 'scale', 'index',
  'valid'}; an instance whose image could not be read has valid=0 (or is absent)."""
  table = _instance_table(instances, codec.aspect_ratio, padding)

  def load(index):
    center, scale = table["center"][index], table["scale"][index]
    matrix = geometry.affine_from_params(center, scale, 0.0, codec.input_size)
    image, valid = read_image(table["path"][index])
    return {"image": crop(image, matrix, codec.input_size), "center": center, "scale": scale,
            "index": index, "valid": valid}

  ds = tf.data.Dataset.range(len(instances)).map(load, num_parallel_calls=AUTOTUNE,
                                                 deterministic=True)
  # An element whose decoding raised (a file corrupt in the middle) is dropped here; the
  # caller counts it, since every instance whose index no batch carries is unreadable.
  return with_ram_budget(ds.ignore_errors(log_warning=True).batch(batch_size).prefetch(AUTOTUNE))


def fit_to_canvas(image, canvas_size):
  """Pads uint8 `image` `[h, w, 3]` to `canvas_size` (H, W), downscaling it first if larger.

  Returns (canvas `[H, W, 3]` uint8, `[3, 3]` matrix taking original image pixels to canvas
  pixels).
  """
  canvas_h, canvas_w = canvas_size
  shape = tf.cast(tf.shape(image)[:2], tf.float32)
  factor = tf.minimum(1.0, tf.minimum(canvas_h / shape[0], canvas_w / shape[1]))
  size = tf.cast(tf.floor(shape * factor), tf.int32)
  image = tf.cond(factor < 1.0,
                  lambda: tf.cast(tf.round(tf.image.resize(image, size, antialias=True)),
                                  tf.uint8),
                  lambda: image)
  canvas = tf.image.pad_to_bounding_box(image, 0, 0, canvas_h, canvas_w)
  # tf.image.resize maps pixel centres: resized = (original + 0.5) * factor - 0.5.
  offset = 0.5 * factor - 0.5
  canvas_from_image = tf.stack([tf.stack([factor, 0.0, offset]), tf.stack([0.0, factor, offset]),
                                tf.constant([0.0, 0.0, 1.0])])
  return canvas, canvas_from_image


def unlabeled_dataset(instances, codec, batch_size, views, seed=0, start_step=0, padding=1.25,
                      canvas_size=(640, 640), alpha=0.1):
  """Infinite batches of unlabeled crops, each as weak + strong views (`views.MultiViewAugment`).

  Elements: {'views': `[B, V, H, W, 3]` float32, 'matrices': `[B, V, 3, 3]` view_from_base,
  'keypoints': `[B, J, 3]` held-back labels in base-crop pixels (zeros when there are none;
  only used to *measure* pseudo-label quality, never for training), 'pck_radius': `[B]`
  alpha * max(box w, h) in base-crop pixels}.

  Each element's image is padded to `canvas_size` (larger images are downscaled to fit);
  after batching, the XLA-compiled `views.make_views` warps every view straight from the
  canvas (one interpolation, like the labeled and evaluation crops).
  """
  table = _instance_table(instances, codec.aspect_ratio, padding)
  boxes = tf.constant(instances.boxes, tf.float32)

  def load(position, index, readable=True):
    del position
    center, scale = table["center"][index], table["scale"][index]
    base_from_image = geometry.affine_from_params(center, scale, 0.0, codec.input_size)
    image, valid = read_image(table["path"][index], readable)
    canvas, canvas_from_image = fit_to_canvas(image, canvas_size)
    keypoints = move_keypoints(table["keypoints"][index],
                               base_from_image) * tf.cast(valid, tf.float32)
    radius = alpha * tf.reduce_max(boxes[index][2:]) * codec.input_size[1] / scale[0]
    return {"canvas": canvas,
            "base_from_canvas": tf.matmul(base_from_image,
                                          geometry.invert_affine(canvas_from_image)),
            "keypoints": keypoints, "pck_radius": radius, "valid": tf.cast(valid, tf.float32)}

  def add_views(step, batch):
    rotations, scales, flips = views.sample(tf.stack([tf.constant(seed + 1, tf.int64), step]),
                                            batch_size)
    matrices = views_lib.view_matrices(rotations, scales, codec.input_size, flips)
    images = views_lib.make_views(batch["canvas"], matrices, batch["base_from_canvas"],
                                  codec.input_size)
    return {"views": images, "matrices": matrices, "keypoints": batch["keypoints"],
            "pck_radius": batch["pck_radius"], "valid": batch["valid"]}

  ds = map_counting_failures(index_stream(len(instances), seed + 1, start_step * batch_size),
                             load, start_step * batch_size)
  ds = ds.batch(batch_size, drop_remainder=True)
  steps = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
  ds = tf.data.Dataset.zip(steps, ds).map(add_views, num_parallel_calls=AUTOTUNE,
                                          deterministic=True)
  return with_ram_budget(ds.prefetch(AUTOTUNE))
