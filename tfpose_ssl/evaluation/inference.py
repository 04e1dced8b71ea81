"""Top-down inference: crops -> heatmaps (optionally flip-averaged) -> keypoints in image pixels.

`crop_heatmaps` and `keypoints_from_crops` are the graph functions shared by evaluation, the
training-time validation and the exported SavedModel/TFLite, so all of them give the same
keypoints for the same checkpoint and flip setting.
"""

import weakref

import numpy as np
import tensorflow as tf

from tfpose_ssl.data import pipeline
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp


def flip_back(heatmaps, flip_permutation=kp.FLIP_PERMUTATION):
  """Heatmaps predicted on mirrored crops `[B, h, w, J]` -> the unmirrored crop's frame.

  Mirrors columns, swaps left/right joints (`flip_permutation`, the keypoint schema's) and
  shifts one pixel right (SimpleBaseline's `shift_heatmap`, which compensates the stride-4
  sampling offset of the mirror).
  """
  if heatmaps.shape[-1] != len(flip_permutation):
    raise ValueError(f"flip_back: {heatmaps.shape[-1]} heatmap channels, a flip permutation of "
                     f"{len(flip_permutation)} joints")
  flipped = tf.gather(tf.reverse(heatmaps, axis=[2]), flip_permutation, axis=3)
  return tf.concat([flipped[:, :, :1], flipped[:, :, :-1]], axis=2)


def crop_heatmaps(models, images, flip_test=False, flip_permutation=kp.FLIP_PERMUTATION):
  """Mean heatmaps `[B, h, w, J]` of `models` (one model or a list: the ensemble) on crops;
  `flip_permutation` (the keypoint schema's) swaps left and right joints for `flip_test`."""
  models = models if isinstance(models, (list, tuple)) else [models]
  images = tf.cast(images, tf.float32)
  outputs = []
  for model in models:
    heatmaps = tf.cast(model(images, training=False), tf.float32)
    if flip_test:
      mirrored = tf.cast(model(tf.reverse(images, axis=[2]), training=False), tf.float32)
      heatmaps = 0.5 * (heatmaps + flip_back(mirrored, flip_permutation))
    outputs.append(heatmaps)
  return tf.add_n(outputs) / float(len(outputs))


def keypoints_from_crops(models, codec, images, centers, scales, flip_test=False,
                         flip_permutation=kp.FLIP_PERMUTATION):
  """Crops `[B, H, W, 3]` cut at (center, scale) -> keypoints `[B, J, 2]` (image px), scores `[B, J]`."""
  heatmaps = crop_heatmaps(models, images, flip_test, flip_permutation)
  crop_xy, scores = codec.decode(heatmaps)
  image_from_crop = geometry.invert_affine(
      geometry.affine_from_params(centers, scales, tf.zeros_like(centers[:, 0]), codec.input_size))
  return geometry.apply_affine(crop_xy, image_from_crop), scores


# (model ids, input size, stride, flip, flip permutation) -> traced function. An entry holds its models only
# through weak references and is removed when any of them is garbage-collected, so the cache
# never keeps an evaluated model (or its variables) alive, and an id reused by a later model
# never finds a stale function.
_PREDICT_FNS = {}


def _predict_fn(models, codec, flip_test, flip_permutation):
  """One traced function per (models, geometry, flip) and any batch size: no retracing."""
  models = models if isinstance(models, (list, tuple)) else [models]
  key = (tuple(id(m) for m in models), codec.input_size, codec.stride, flip_test,
         tuple(flip_permutation))
  if key not in _PREDICT_FNS:
    height, width = codec.input_size
    references = [weakref.ref(m) for m in models]

    def predict(images, centers, scales):
      return keypoints_from_crops([r() for r in references], codec, images, centers, scales,
                                  flip_test, flip_permutation)

    _PREDICT_FNS[key] = tf.function(
        predict, input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32),
                                  tf.TensorSpec([None, 2], tf.float32),
                                  tf.TensorSpec([None, 2], tf.float32)])
    for model in models:
      weakref.finalize(model, _PREDICT_FNS.pop, key, None)
  return _PREDICT_FNS[key]


def predict_instances(models, codec, instances, batch_size=32, flip_test=False, padding=1.25,
                      schema=kp.COCO_PERSON):
  """Runs `models` over `instances` (GT or detector boxes) of the keypoint `schema`.

  Returns keypoints `[N, J, 2]` (image pixels), scores `[N, J]` and `valid` `[N]`: False for
  instances whose image could not be read (their keypoints and scores are zeros).
  """
  step = _predict_fn(models, codec, flip_test, schema.flip_permutation())
  n = len(instances)
  out_xy = np.zeros((n, schema.num_joints, 2), np.float32)
  out_s = np.zeros((n, schema.num_joints), np.float32)
  valid = np.zeros(n, bool)
  for batch in pipeline.eval_dataset(instances, codec, batch_size, padding):
    xy, s = step(batch["image"], batch["center"], batch["scale"])
    index = batch["index"].numpy()
    ok = batch["valid"].numpy()
    out_xy[index[ok]], out_s[index[ok]] = xy.numpy()[ok], s.numpy()[ok]
    valid[index[ok]] = True
  return out_xy, out_s, valid
