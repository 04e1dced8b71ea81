"""Paints synthetic people and labels them from what was painted.

A `Canvas` holds the pixels and, per pixel, which figure part (or occluder, or background)
painted it last: a joint's visibility flag comes from that owner map, so occlusion by objects
and other figures is labeled as it is drawn. `generate_image` makes one image: a cluttered
background, a few figures (`poses.sample_pose`), occluders, and their COCO annotations.
"""

import math

import numpy as np

from tfpose_ssl.data.synthetic import poses
from tfpose_ssl.ops import keypoints as kp

OCCLUDER_OWNER = -2  # owner-map value of occluding objects
BACKGROUND_OWNER = -1

SKIN_TONES = np.array([[241, 194, 167], [224, 172, 105], [198, 134, 66], [141, 85, 36],
                       [255, 219, 172], [110, 70, 45]], np.float32)
HAIR_COLORS = np.array([[30, 20, 15], [80, 50, 20], [150, 110, 60], [200, 170, 110],
                        [60, 60, 60], [120, 40, 20]], np.float32)


def _random_color(rng, low=30, high=230):
  return rng.uniform(low, high, size=3).astype(np.float32)


class Canvas:
  """An RGB float image plus an owner map (who painted each pixel last)."""

  def __init__(self, height, width):
    self.image = np.zeros((height, width, 3), np.float32)
    self.owner = np.full((height, width), BACKGROUND_OWNER, np.int32)
    self.height, self.width = height, width
    self.ys, self.xs = np.mgrid[0:height, 0:width].astype(np.float32)

  def _window(self, lo, hi):
    x0 = max(int(math.floor(lo[0])), 0)
    y0 = max(int(math.floor(lo[1])), 0)
    x1 = min(int(math.ceil(hi[0])) + 1, self.width)
    y1 = min(int(math.ceil(hi[1])) + 1, self.height)
    if x0 >= x1 or y0 >= y1:
      return None
    return slice(y0, y1), slice(x0, x1)

  def paint(self, window, mask, color, owner, shade=None):
    ys, xs = window
    region = self.image[ys, xs]
    shade = np.ones(mask.shape, np.float32) if shade is None else shade
    region[mask] = shade[mask][:, None] * color[None, :]
    self.owner[ys, xs][mask] = owner

  def capsule(self, p0, p1, radius, color, owner, shading=0.35):
    """A thick segment with round caps, shaded like a cylinder."""
    p0, p1 = np.asarray(p0, np.float32), np.asarray(p1, np.float32)
    window = self._window(np.minimum(p0, p1) - radius, np.maximum(p0, p1) + radius)
    if window is None:
      return
    xs, ys = self.xs[window], self.ys[window]
    d = p1 - p0
    length2 = float(d @ d) or 1e-6
    t = np.clip(((xs - p0[0]) * d[0] + (ys - p0[1]) * d[1]) / length2, 0.0, 1.0)
    dist = np.hypot(xs - (p0[0] + t * d[0]), ys - (p0[1] + t * d[1]))
    mask = dist <= radius
    shade = 1.0 - shading * (dist / max(radius, 1e-6)) ** 2
    self.paint(window, mask, color, owner, shade)

  def ellipse(self, center, rx, ry, angle, color, owner, shading=0.25):
    c = np.asarray(center, np.float32)
    r = max(rx, ry)
    window = self._window(c - r, c + r)
    if window is None:
      return
    xs, ys = self.xs[window] - c[0], self.ys[window] - c[1]
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    u, v = (ca * xs + sa * ys) / max(rx, 1e-6), (-sa * xs + ca * ys) / max(ry, 1e-6)
    rho = u * u + v * v
    mask = rho <= 1.0
    self.paint(window, mask, color, owner, 1.0 - shading * rho)

  def polygon(self, points, color, owner):
    """A convex polygon (points in order)."""
    pts = np.asarray(points, np.float32)
    window = self._window(pts.min(axis=0), pts.max(axis=0))
    if window is None:
      return
    xs, ys = self.xs[window], self.ys[window]
    inside = None
    signs = []
    for i in range(len(pts)):
      a, b = pts[i], pts[(i + 1) % len(pts)]
      cross = (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0])
      signs.append(cross)
    pos = np.all(np.stack(signs) >= 0, axis=0)
    neg = np.all(np.stack(signs) <= 0, axis=0)
    inside = pos | neg
    self.paint(window, inside, color, owner)


def draw_background(canvas, rng):
  """Smooth gradient, blobs, rectangles and limb-like sticks: clutter a detector-free crop sees."""
  h, w = canvas.height, canvas.width
  c0, c1 = _random_color(rng, 20, 235), _random_color(rng, 20, 235)
  direction = rng.normal(size=2)
  direction /= np.linalg.norm(direction) + 1e-6
  t = (canvas.xs * direction[0] + canvas.ys * direction[1]) / max(h, w)
  t = (t - t.min()) / (np.ptp(t) + 1e-6)
  canvas.image[:] = c0 * (1 - t[..., None]) + c1 * t[..., None]
  for _ in range(rng.integers(3, 9)):
    if rng.random() < 0.5:
      x0, y0 = rng.uniform(-0.2 * w, w), rng.uniform(-0.2 * h, h)
      rw, rh = rng.uniform(0.1, 0.6) * w, rng.uniform(0.1, 0.6) * h
      canvas.polygon([(x0, y0), (x0 + rw, y0), (x0 + rw, y0 + rh), (x0, y0 + rh)],
                     _random_color(rng), BACKGROUND_OWNER)
    else:
      canvas.ellipse(rng.uniform(0, [w, h]), rng.uniform(10, 0.4 * w), rng.uniform(10, 0.4 * h),
                     rng.uniform(0, 180), _random_color(rng), BACKGROUND_OWNER)
  # Limb-like distractors: skin- and cloth-coloured sticks, some jointed.
  for _ in range(rng.integers(1, 5)):
    p = rng.uniform(0, [w, h])
    length = rng.uniform(0.08, 0.25) * min(h, w)
    radius = rng.uniform(2.5, 7.0)
    color = SKIN_TONES[rng.integers(len(SKIN_TONES))] if rng.random() < 0.5 else _random_color(rng)
    angle = rng.uniform(0, 360)
    for _ in range(rng.integers(1, 3)):
      q = p + poses.rotate(np.array([length, 0.0]), angle)
      canvas.capsule(p, q, radius, color, BACKGROUND_OWNER)
      p, angle = q, angle + rng.uniform(-120, 120)
  canvas.image += rng.normal(0.0, 6.0, size=canvas.image.shape).astype(np.float32)


def draw_person(canvas, rng, pose, owner_base):
  """Paints one figure; owner ids are `owner_base + part id`.

  Every laterality cue is mirror-consistent (a mirrored figure is a plausible figure with its
  left and right swapped), so horizontal-flip augmentation keeps it meaningful: what tells
  left from right is which way the figure faces (face vs. hair, a collar and zipper on the
  front of the shirt, feet pointing forward) and which side is nearer the camera (far limbs
  are drawn first and darker, as in shade).
  """
  j = pose["joints"]
  width = pose["limb_width"]
  skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.05)
  shirt, pants = _random_color(rng), _random_color(rng)
  shoes = _random_color(rng, 10, 90)
  hair = HAIR_COLORS[rng.integers(len(HAIR_COLORS))]
  bare_arms = rng.random() < 0.4
  shorts = rng.random() < 0.3
  far_side = 1 if pose["left_far"] else -1
  cos_yaw = math.cos(math.radians(pose["yaw"]))
  sin_yaw = math.sin(math.radians(pose["yaw"]))
  # Depth shading: the far side is in shade, more so the more the figure is in profile.
  shade = {far_side: 1.0 - 0.35 * abs(sin_yaw) - 0.1, -far_side: 1.0}

  def part_color(name, side):
    base = pants if "thigh" in name or "shin" in name else shirt
    if ("forearm" in name and bare_arms) or ("shin" in name and shorts):
      base = skin
    return np.clip(base * shade[side], 0, 255)

  def draw_limbs(parts):
    for name, a, b, side in parts:
      radius = width * (1.3 if "thigh" in name else 1.0)
      color = part_color(name, side)
      canvas.capsule(j[a], j[b], radius, color, owner_base + poses.PART_IDS[name])
    for name, a, b, side in parts:  # creases at elbows and knees, and hands and feet
      owner = owner_base + poses.PART_IDS[name]
      if name.endswith(("upper_arm", "thigh")):
        canvas.ellipse(j[b], width * 0.75, width * 0.75, 0.0, part_color(name, side) * 0.78,
                       owner)
      elif name.endswith("forearm"):
        canvas.ellipse(j[b], width * 1.1, width * 1.1, 0.0, np.clip(skin * shade[side], 0, 255),
                       owner)
      elif name.endswith("shin"):
        # The foot points where the figure faces (forward in profile, outward-down in front).
        down = (j[b] - j[a]) / (np.linalg.norm(j[b] - j[a]) + 1e-6)
        forward = np.array([-down[1], down[0]]) * (1.0 if sin_yaw >= 0 else -1.0)
        toe = j[b] + forward * width * 2.2 * abs(sin_yaw) + down * width * 0.6
        canvas.capsule(j[b], toe, width * 0.85, shoes * shade[side], owner, shading=0.2)

  far = [p for p in poses.LIMB_PARTS if p[3] == far_side]
  near = [p for p in poses.LIMB_PARTS if p[3] != far_side]
  draw_limbs(far)
  torso_owner = owner_base + poses.PART_IDS["torso"]
  torso = [j[poses.L_SHO], j[poses.R_SHO], j[poses.R_HIP], j[poses.L_HIP]]
  # Widen the torso a little so that profile figures still have a body.
  neck = 0.5 * (j[poses.L_SHO] + j[poses.R_SHO])
  pelvis = 0.5 * (j[poses.L_HIP] + j[poses.R_HIP])
  spine = neck - pelvis
  normal = np.array([-spine[1], spine[0]]) / (np.linalg.norm(spine) + 1e-6)
  pad = normal * width * 1.6
  canvas.polygon([neck + pad, neck - pad, pelvis - pad, pelvis + pad], shirt * 0.95, torso_owner)
  canvas.polygon(torso, shirt, torso_owner)
  for a, b in ((poses.L_SHO, poses.R_SHO), (poses.L_HIP, poses.R_HIP), (poses.L_SHO, poses.L_HIP),
               (poses.R_SHO, poses.R_HIP)):
    canvas.capsule(j[a], j[b], width * 0.9, shirt, torso_owner, shading=0.1)
  # Waistband in the trousers' colour.
  canvas.capsule(j[poses.L_HIP], j[poses.R_HIP], width * 1.1, pants, torso_owner, shading=0.1)
  if cos_yaw > 0.15:
    # The front of the shirt: a collar and a zipper on the chest midline, which slides toward
    # the side the figure turns to (a mark on the front of a 3-D torso).
    offset = -normal * width * 1.4 * sin_yaw * (1.0 if np.dot(normal, [1.0, 0.0]) >= 0 else -1.0)
    contrast = np.where(shirt > 128, shirt * 0.45, np.minimum(shirt + 110, 255))
    canvas.capsule(neck + offset, pelvis + 0.25 * spine + offset, width * 0.28 * cos_yaw + 0.6,
                   contrast, torso_owner, shading=0.0)
    canvas.ellipse(neck + offset - 0.08 * spine, width * 0.9 * cos_yaw + 0.5, width * 0.5, 0.0,
                   contrast, torso_owner, shading=0.0)
  # Neck and head: the face shows skin and features; the back of the head is hair.
  head_owner = owner_base + poses.PART_IDS["head"]
  canvas.capsule(neck, pose["head_center"], width * 0.7, skin, head_owner)
  hc, r = pose["head_center"], pose["head_radius"]
  up = pose["head_up"]
  angle = math.degrees(math.atan2(up[1], up[0]))
  canvas.ellipse(hc, r, r * 1.12, angle, skin, head_owner)
  if cos_yaw < -0.2:
    canvas.ellipse(hc + up * r * 0.1, r * 1.02, r * 1.1, angle, hair, head_owner)
  else:
    lateral = np.array([-up[1], up[0]])
    hair_c = hc + up * r * 0.55 - lateral * r * 0.35 * sin_yaw
    canvas.ellipse(hair_c, r * 0.75, r * 0.95, angle, hair, head_owner)
  for joint, size, color in ((poses.L_EYE, 0.18, (25, 25, 40)),
                             (poses.R_EYE, 0.18, (25, 25, 40)),
                             (poses.NOSE, 0.22, tuple(skin * 0.7)),
                             (poses.L_EAR, 0.22, tuple(skin * 0.85)),
                             (poses.R_EAR, 0.22, tuple(skin * 0.85))):
    if pose["face_cos"][joint] > 0.1:
      canvas.ellipse(j[joint], r * size, r * size, 0.0, np.array(color, np.float32), head_owner)
  draw_limbs(near)


def label_person(canvas, pose, owner_base):
  """COCO keypoints `[17, 3]`, visible bbox and area of a painted figure (None if unseen)."""
  j = pose["joints"]
  visible_mask = (canvas.owner >= owner_base) & (canvas.owner < owner_base + poses.NUM_PARTS)
  area = int(visible_mask.sum())
  if area < 40:
    return None
  keypoints = np.zeros((kp.NUM_JOINTS, 3), np.float64)
  for joint in range(kp.NUM_JOINTS):
    x, y = j[joint]
    if not (0 <= x <= canvas.width - 1 and 0 <= y <= canvas.height - 1):
      continue  # outside the image: v = 0, x = y = 0 (COCO)
    if joint in pose["face_cos"] and pose["face_cos"][joint] < -0.25:
      continue  # far side of the head: not labeled, as COCO annotators do
    owner = canvas.owner[int(round(y)), int(round(x))]
    own = {owner_base + poses.PART_IDS[p] for p in poses.JOINT_PARTS[joint]}
    if joint in pose["face_cos"]:
      seen = owner == owner_base + poses.PART_IDS["head"] and pose["face_cos"][joint] > 0.1
    else:
      seen = owner in own
    keypoints[joint] = (round(x, 2), round(y, 2), 2 if seen else 1)
  return keypoints, visible_box(visible_mask), float(area)


def visible_box(visible_mask):
  """COCO `bbox` (x, y, w, h) of the pixels of a figure's owner mask."""
  ys, xs = np.nonzero(visible_mask)
  x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
  return [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)]


def draw_occluders(canvas, rng, figures):
  """Boxes and blobs over random joints of `figures` (dicts with `joints` and `height`)."""
  for _ in range(rng.poisson(0.5 * len(figures))):
    pose = figures[rng.integers(len(figures))]
    anchor = (pose["joints"][rng.integers(len(pose["joints"]))]
              + rng.normal(0, 0.05 * pose["height"], size=2))
    size = rng.uniform(0.08, 0.25) * pose["height"]
    color = _random_color(rng)
    if rng.random() < 0.5:
      half = np.array([size, size * rng.uniform(0.5, 1.5)]) / 2
      canvas.polygon([anchor - half, anchor + [half[0], -half[1]], anchor + half,
                      anchor + [-half[0], half[1]]], color, OCCLUDER_OWNER)
    else:
      canvas.ellipse(anchor, size / 2, size / 2 * rng.uniform(0.5, 1.5), rng.uniform(0, 180),
                     color, OCCLUDER_OWNER)


def coco_annotation(keypoints, bbox, area, category_id):
  """A COCO keypoint annotation (without ids) of a labeled figure."""
  return {
      "category_id": category_id, "iscrowd": 0, "area": area, "bbox": bbox,
      "keypoints": [float(v) if k % 3 < 2 else int(v)
                    for k, v in enumerate(keypoints.reshape(-1))],
      "num_keypoints": int(np.sum(keypoints[:, 2] > 0)),
  }


def generate_image(rng, width, height, max_people=3):
  """One image (uint8 `[H, W, 3]`) and its person annotations (dicts without ids)."""
  canvas = Canvas(height, width)
  draw_background(canvas, rng)
  num_people = int(rng.integers(1, max_people + 1))
  figures = []
  for i in range(num_people):
    person_h = rng.uniform(0.5, 0.95) * height
    if rng.random() < 0.75:  # fully or mostly inside
      margin = -0.3 * person_h
    else:  # truncated at a border
      margin = 0.15 * person_h
    center = (rng.uniform(-margin, width + margin), rng.uniform(-margin, height + margin))
    rotation = rng.normal(0.0, 15.0) if rng.random() < 0.9 else rng.uniform(-90.0, 90.0)
    pose = poses.sample_pose(rng, person_h, center, rotation)
    draw_person(canvas, rng, pose, owner_base=i * poses.NUM_PARTS)
    figures.append(pose)
  draw_occluders(canvas, rng, figures)
  annotations = []
  for i, pose in enumerate(figures):
    label = label_person(canvas, pose, owner_base=i * poses.NUM_PARTS)
    if label is None:
      continue
    annotations.append(coco_annotation(*label, category_id=kp.PERSON_CATEGORY["id"]))
  image = np.clip(canvas.image, 0, 255).astype(np.uint8)
  return image, annotations
