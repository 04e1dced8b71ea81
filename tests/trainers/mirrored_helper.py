"""Runs the dual-student trainer under MirroredStrategy on 1 and on 2 logical CPU devices from
the same weights and data; prints JSON with the largest differences. Run by mirrored_test.py in
a subprocess, because logical devices must be configured before TensorFlow initializes."""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from tfpose_ssl.models import simple_baseline  # pylint: disable=g-import-not-at-top,wrong-import-position
from tfpose_ssl.ops import codec as codec_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from tfpose_ssl.ops import views as views_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from tfpose_ssl.trainers import dual_student  # pylint: disable=g-import-not-at-top,wrong-import-position

STEPS, BATCH = 4, 8
CODEC = codec_lib.KeypointCodec((64, 64), sigma=2.0)
SPEC = views_lib.MultiViewAugment(num_weak=1, num_strong=2)


def build():
  return simple_baseline.simple_baseline((64, 64), "resnet18", width=8, deconv_filters=16,
                                         synchronized_bn=True)


def data():
  rng = np.random.default_rng(0)
  batches = []
  for step in range(STEPS):
    keypoints = np.concatenate([rng.uniform(8, 56, (BATCH, 17, 2)),
                                np.full((BATCH, 17, 1), 2.0)], -1).astype(np.float32)
    heatmaps, weights = CODEC.encode(keypoints)
    rotations, scales, flips = SPEC.sample(tf.constant([step, 7], tf.int64), BATCH)
    matrices = views_lib.view_matrices(rotations, scales, CODEC.input_size, flips)
    base = tf.constant(rng.uniform(0, 255, (BATCH, 64, 64, 3)), tf.float32)
    labeled = {"image": tf.constant(rng.uniform(0, 255, (BATCH, 64, 64, 3)), tf.float32),
               "heatmaps": heatmaps, "target_weight": weights}
    unlabeled = {"views": views_lib.make_views(base, matrices, tf.eye(3, batch_shape=[BATCH]),
                                                         CODEC.input_size), "matrices": matrices,
                 "keypoints": tf.constant(keypoints), "pck_radius": tf.fill([BATCH], 6.0)}
    batches.append((labeled, unlabeled))
  stacked = tf.nest.map_structure(lambda *xs: tf.stack(xs), *batches)
  return tf.data.Dataset.from_tensor_slices(stacked)


def run(devices, initial):
  strategy = tf.distribute.MirroredStrategy(devices)
  with strategy.scope():
    trainer = dual_student.DualStudentTrainer(build_model=build, codec=CODEC, views=SPEC)
    trainer.compile([keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)])
  if initial is not None:
    for student, weights in zip(trainer.students, initial):
      student.set_weights(weights)
  start = [s.get_weights() for s in trainer.students]
  history = trainer.fit(data(), epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
  return start, [s.get_weights() for s in trainer.students], history.history


def main():
  keras.utils.set_random_seed(0)
  start, one, hist_one = run(["/cpu:0"], None)
  _, two, hist_two = run(["/cpu:0", "/cpu:1"], start)
  # Per tensor: the 1-vs-2-device difference relative to how far training moved it; BN moving
  # statistics separately (synchronized BN must reproduce them; Adam does not touch them).
  names = [w.path for w in build().weights]
  relative, statistics = [], []
  for s0, s1, s2 in zip(start, one, two):
    for name, w0, a, b in zip(names, s0, s1, s2):
      moved = float(np.max(np.abs(a - w0)))
      if moved > 0:
        diff = float(np.max(np.abs(a - b))) / moved
        (statistics if "moving_" in name else relative).append(diff)
  loss_diff = max(abs(hist_one[k][-1] - hist_two[k][-1]) for k in hist_one)
  json.dump({"median_relative_weight_diff": float(np.median(relative)),
             "max_relative_bn_statistics_diff": max(statistics),
             "loss_diff": loss_diff, "loss_one": hist_one["loss"][-1],
             "loss_two": hist_two["loss"][-1]}, sys.stdout)


if __name__ == "__main__":
  main()
