"""Draws predicted skeletons (a keypoint schema's limbs) on images and writes PNGs; NumPy only."""

import numpy as np
import tensorflow as tf

from tfpose_ssl import io_utils
from tfpose_ssl.ops import keypoints as kp

LEFT, RIGHT, CENTRE = (255, 140, 0), (30, 144, 255), (50, 205, 50)


def joint_colors(schema):
  """Per joint: LEFT / RIGHT for the first / second joint of a flip pair, else CENTRE."""
  colors = [CENTRE] * schema.num_joints
  for left, right in schema.flip_pairs:
    colors[left], colors[right] = LEFT, RIGHT
  return colors


def _disk(image, x, y, radius, color):
  h, w = image.shape[:2]
  x0, x1 = max(int(x - radius), 0), min(int(x + radius) + 1, w)
  y0, y1 = max(int(y - radius), 0), min(int(y + radius) + 1, h)
  if x0 >= x1 or y0 >= y1:
    return
  ys, xs = np.mgrid[y0:y1, x0:x1]
  mask = (xs - x) ** 2 + (ys - y) ** 2 <= radius ** 2
  image[y0:y1, x0:x1][mask] = color


def _line(image, p, q, thickness, color):
  steps = int(max(abs(q[0] - p[0]), abs(q[1] - p[1]))) + 1
  for t in np.linspace(0.0, 1.0, steps):
    _disk(image, p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]), thickness, color)


def draw_skeletons(image, keypoints, scores, threshold=0.3, schema=kp.COCO_PERSON):
  """A copy of uint8 `image` `[H, W, 3]` with poses `[N, J, 2]` drawn where scores `[N, J]` pass:
  the limbs of the keypoint `schema`, left joints orange, right ones blue."""
  keypoints, scores = np.asarray(keypoints), np.asarray(scores)
  if keypoints.size and keypoints.shape[1] != schema.num_joints:
    raise ValueError(f"draw_skeletons got {keypoints.shape[1]} joints, the keypoint schema has "
                     f"{schema.num_joints}")
  colors = joint_colors(schema)
  canvas = np.array(image, np.uint8, copy=True)
  radius = max(1.5, min(canvas.shape[:2]) / 200.0)
  for pose, score in zip(keypoints, scores):
    for a, b in schema.skeleton:
      if score[a] > threshold and score[b] > threshold:
        color = colors[a] if colors[a] == colors[b] else CENTRE
        _line(canvas, pose[a], pose[b], radius * 0.8, color)
    for j in range(len(pose)):
      if score[j] > threshold:
        _disk(canvas, pose[j][0], pose[j][1], radius * 1.6, (255, 255, 255))
        _disk(canvas, pose[j][0], pose[j][1], radius, colors[j])
  return canvas


def tile(images, columns=4):
  """Pastes uint8 images into one grid (cells sized to the largest image)."""
  h = max(im.shape[0] for im in images)
  w = max(im.shape[1] for im in images)
  rows = -(-len(images) // columns)
  grid = np.zeros((rows * h, min(columns, len(images)) * w, 3), np.uint8)
  for i, im in enumerate(images):
    r, c = divmod(i, columns)
    grid[r * h:r * h + im.shape[0], c * w:c * w + im.shape[1]] = im
  return grid


def save_png(path, image):
  io_utils.atomic_write_bytes(path, tf.io.encode_png(np.asarray(image, np.uint8)).numpy())


def read_rgb(path):
  data = tf.io.read_file(path)
  return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
