r"""Synthetic COCO-format people: the dataset every run here trains on (no COCO offline).

Each image holds a few articulated figures with human proportions and joint-angle limits,
at varied scale, rotation, yaw and position, over a cluttered procedural background with
limb-like distractors. Left and right are told apart as with real people: by the face
(eyes, nose and ears turn with the head's yaw; the back of the head shows hair), the front
of the shirt (collar, zipper), feet pointing forward, and depth shading (the far side is
darker). All cues are mirror-consistent, so horizontal-flip augmentation keeps them valid. Occluding objects and other figures hide
joints: a hidden joint inside the image is labeled `v=1`, a joint outside the image `v=0`.
`area` is the visible pixel area of the figure, `bbox` its visible extent (as COCO's
segmentation-derived fields). Output is deterministic for a seed.

Usage:
  python -m tfpose_ssl.data.synthetic --out=data/synthetic --split=train --num_images=2000
  bazel run //tfpose_ssl/data:generate_synthetic -- --out=data/synthetic --split=val --num_images=200
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import shutil

from absl import app
from absl import flags
import gin
import numpy as np

from tfpose_ssl import io_utils
from tfpose_ssl.data import coco
from tfpose_ssl.ops import keypoints as kp

GENERATOR_VERSION = 4
DIGEST_CHARS = 12  # hex digits of the content digest in an image folder's name
WIDTH, HEIGHT = 288, 224  # image size of the generated splits (configs/synthetic.gin)

# Joint indices (COCO order).
(NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI, L_HIP, R_HIP,
 L_KNE, R_KNE, L_ANK, R_ANK) = range(kp.NUM_JOINTS)

# Body parts: (name, joint a, joint b, side) -- side +1 left, -1 right, 0 centre.
LIMB_PARTS = (
    ("l_upper_arm", L_SHO, L_ELB, 1), ("l_forearm", L_ELB, L_WRI, 1),
    ("r_upper_arm", R_SHO, R_ELB, -1), ("r_forearm", R_ELB, R_WRI, -1),
    ("l_thigh", L_HIP, L_KNE, 1), ("l_shin", L_KNE, L_ANK, 1),
    ("r_thigh", R_HIP, R_KNE, -1), ("r_shin", R_KNE, R_ANK, -1),
)
PART_IDS = {name: i for i, name in enumerate(["torso", "head"] + [p[0] for p in LIMB_PARTS])}
# Parts whose pixels count as "the joint itself is seen".
JOINT_PARTS = {
    NOSE: ("head",), L_EYE: ("head",), R_EYE: ("head",), L_EAR: ("head",), R_EAR: ("head",),
    L_SHO: ("torso", "l_upper_arm"), R_SHO: ("torso", "r_upper_arm"),
    L_ELB: ("l_upper_arm", "l_forearm"), R_ELB: ("r_upper_arm", "r_forearm"),
    L_WRI: ("l_forearm",), R_WRI: ("r_forearm",),
    L_HIP: ("torso", "l_thigh"), R_HIP: ("torso", "r_thigh"),
    L_KNE: ("l_thigh", "l_shin"), R_KNE: ("r_thigh", "r_shin"),
    L_ANK: ("l_shin",), R_ANK: ("r_shin",),
}
NUM_PARTS = len(PART_IDS)
OCCLUDER_OWNER = -2  # owner-map value of occluding objects
BACKGROUND_OWNER = -1

SKIN_TONES = np.array([[241, 194, 167], [224, 172, 105], [198, 134, 66], [141, 85, 36],
                       [255, 219, 172], [110, 70, 45]], np.float32)
HAIR_COLORS = np.array([[30, 20, 15], [80, 50, 20], [150, 110, 60], [200, 170, 110],
                        [60, 60, 60], [120, 40, 20]], np.float32)


def _rot(v, degrees):
  t = math.radians(degrees)
  c, s = math.cos(t), math.sin(t)
  return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]], np.float64)


def _random_color(rng, low=30, high=230):
  return rng.uniform(low, high, size=3).astype(np.float32)


def sample_pose(rng, height, center, rotation):
  """Samples a figure: 17 joint positions (image pixels) plus drawing parameters.

  Proportions are fractions of the standing height; joint angles are drawn inside human limits
  (elbows 0-150 deg, knees 0-140 deg, shoulders and hips in their usual ranges). `yaw` (deg)
  turns the figure about its vertical axis: 0 faces the camera, 180 shows the back.
  """
  # Facing statistics of photos of people (as in COCO): mostly toward the camera, some in
  # profile, some from the back. A frontal prior is what lets a model break the left/right
  # symmetry early (it survives horizontal flips); the back and profile views need the cues.
  u = rng.random()
  if u < 0.7:
    yaw = float(np.clip(rng.normal(0.0, 35.0), -80.0, 80.0))
  elif u < 0.85:
    yaw = float(rng.choice([-1.0, 1.0]) * rng.uniform(80.0, 110.0))
  else:
    yaw = 180.0 + float(rng.normal(0.0, 30.0))
  cos_y, sin_y = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
  facing = 1.0 if sin_y >= 0 else -1.0  # image-x direction the nose points to (profile)
  profile = abs(sin_y)
  frontal = abs(cos_y)
  h = height
  # Local frame: x right, y down, pelvis at the origin, unit = pixels.
  spine_lean = rng.normal(0.0, 8.0) + facing * profile * rng.uniform(-5, 15)
  up = _rot(np.array([0.0, -1.0]), spine_lean)
  lateral = np.array([-up[1], up[0]])  # perpendicular to the spine, image-right when upright
  neck = 0.30 * h * up
  pelvis = np.zeros(2)
  shoulder_half, hip_half = 0.13 * h, 0.085 * h
  j = np.zeros((kp.NUM_JOINTS, 2), np.float64)
  # Left side (+) sits at +cos(yaw) along `lateral`: image-right when facing the camera.
  j[L_SHO] = neck + lateral * shoulder_half * cos_y
  j[R_SHO] = neck - lateral * shoulder_half * cos_y
  j[L_HIP] = pelvis + lateral * hip_half * cos_y
  j[R_HIP] = pelvis - lateral * hip_half * cos_y
  # Head.
  head_tilt = rng.normal(0.0, 12.0)
  head_up = _rot(up, head_tilt)
  head_lateral = np.array([-head_up[1], head_up[0]])
  head_radius = 0.068 * h
  head_center = neck + 0.11 * h * head_up
  for joint, psi, elevation in ((NOSE, 0.0, -0.15), (L_EYE, 28.0, 0.2), (R_EYE, -28.0, 0.2),
                                (L_EAR, 90.0, 0.05), (R_EAR, -90.0, 0.05)):
    angle = math.radians(psi + yaw)
    reach = head_radius * (1.15 if joint == NOSE else 0.95)
    j[joint] = (head_center + head_lateral * reach * math.sin(angle)
                + head_up * head_radius * elevation)
  # Arms: angle from "down the torso", outward positive; elbows bend inward by 0-150 deg.
  limbs = {}
  for side, sho, elb, wri in ((1.0, L_SHO, L_ELB, L_WRI), (-1.0, R_SHO, R_ELB, R_WRI)):
    outward = side * (1.0 if cos_y >= 0 else -1.0)
    upper_angle = rng.uniform(-40.0, 170.0) if rng.random() < 0.85 else rng.uniform(-80, 200)
    elbow_flex = rng.uniform(0.0, 150.0) * (rng.random() < 0.8)
    down = -up
    d_upper = _rot(down, -outward * upper_angle)
    d_fore = _rot(d_upper, outward * elbow_flex * (1 if rng.random() < 0.7 else -1))
    j[elb] = j[sho] + d_upper * 0.165 * h
    j[wri] = j[elb] + d_fore * 0.145 * h
    limbs[sho] = upper_angle
  # Legs: thighs swing toward the facing side in profile, spread outward when frontal; knees
  # bend backward (0-140 deg), foreshortened when the figure faces the camera.
  for side, hip, kne, ank in ((1.0, L_HIP, L_KNE, L_ANK), (-1.0, R_HIP, R_KNE, R_ANK)):
    outward = side * (1.0 if cos_y >= 0 else -1.0)
    flexion = rng.uniform(-30.0, 100.0) if rng.random() < 0.6 else rng.uniform(-10.0, 20.0)
    abduction = rng.uniform(-10.0, 35.0)
    thigh_angle = facing * profile * flexion + outward * frontal * abduction
    knee_flex = rng.uniform(0.0, 140.0) if rng.random() < 0.6 else rng.uniform(0.0, 20.0)
    d_thigh = _rot(-up, -thigh_angle)
    d_shin = _rot(d_thigh, facing * profile * knee_flex)
    shin_len = 0.245 * h * (1.0 - 0.45 * frontal * knee_flex / 140.0)
    j[kne] = j[hip] + d_thigh * 0.245 * h
    j[ank] = j[kne] + d_shin * shin_len
  # Place in the image: rotate about the pelvis, move to `center` (the figure's mid-height).
  mid = 0.5 * (j.min(axis=0) + j.max(axis=0))
  joints = np.stack([_rot(p - mid, rotation) for p in j]) + np.asarray(center)
  head_c = _rot(head_center - mid, rotation) + np.asarray(center)
  # Face visibility: a feature faces the camera when cos(psi + yaw) > threshold.
  face_cos = {NOSE: math.cos(math.radians(yaw)), L_EYE: math.cos(math.radians(28 + yaw)),
              R_EYE: math.cos(math.radians(-28 + yaw)), L_EAR: math.cos(math.radians(90 + yaw)),
              R_EAR: math.cos(math.radians(-90 + yaw))}
  return {
      "joints": joints, "head_center": head_c, "head_radius": head_radius,
      "head_up": _rot(head_up, rotation), "yaw": yaw, "face_cos": face_cos,
      "limb_width": 0.055 * h * rng.uniform(0.85, 1.2), "height": h,
      # The side farther from the camera is drawn first: left is far when sin(yaw) > 0.
      "left_far": sin_y > 0,
  }


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
      q = p + _rot(np.array([length, 0.0]), angle)
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
      canvas.capsule(j[a], j[b], radius, color, owner_base + PART_IDS[name])
    for name, a, b, side in parts:  # creases at elbows and knees, and hands and feet
      owner = owner_base + PART_IDS[name]
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

  far = [p for p in LIMB_PARTS if p[3] == far_side]
  near = [p for p in LIMB_PARTS if p[3] != far_side]
  draw_limbs(far)
  torso_owner = owner_base + PART_IDS["torso"]
  torso = [j[L_SHO], j[R_SHO], j[R_HIP], j[L_HIP]]
  # Widen the torso a little so that profile figures still have a body.
  neck = 0.5 * (j[L_SHO] + j[R_SHO])
  pelvis = 0.5 * (j[L_HIP] + j[R_HIP])
  spine = neck - pelvis
  normal = np.array([-spine[1], spine[0]]) / (np.linalg.norm(spine) + 1e-6)
  pad = normal * width * 1.6
  canvas.polygon([neck + pad, neck - pad, pelvis - pad, pelvis + pad], shirt * 0.95, torso_owner)
  canvas.polygon(torso, shirt, torso_owner)
  for a, b in ((L_SHO, R_SHO), (L_HIP, R_HIP), (L_SHO, L_HIP), (R_SHO, R_HIP)):
    canvas.capsule(j[a], j[b], width * 0.9, shirt, torso_owner, shading=0.1)
  # Waistband in the trousers' colour.
  canvas.capsule(j[L_HIP], j[R_HIP], width * 1.1, pants, torso_owner, shading=0.1)
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
  head_owner = owner_base + PART_IDS["head"]
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
  for joint, size, color in ((L_EYE, 0.18, (25, 25, 40)), (R_EYE, 0.18, (25, 25, 40)),
                             (NOSE, 0.22, tuple(skin * 0.7)), (L_EAR, 0.22, tuple(skin * 0.85)),
                             (R_EAR, 0.22, tuple(skin * 0.85))):
    if pose["face_cos"][joint] > 0.1:
      canvas.ellipse(j[joint], r * size, r * size, 0.0, np.array(color, np.float32), head_owner)
  draw_limbs(near)


def label_person(canvas, pose, owner_base):
  """COCO keypoints `[17, 3]`, visible bbox and area of a painted figure (None if unseen)."""
  j = pose["joints"]
  visible_mask = (canvas.owner >= owner_base) & (canvas.owner < owner_base + NUM_PARTS)
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
    own = {owner_base + PART_IDS[p] for p in JOINT_PARTS[joint]}
    if joint in pose["face_cos"]:
      seen = owner == owner_base + PART_IDS["head"] and pose["face_cos"][joint] > 0.1
    else:
      seen = owner in own
    keypoints[joint] = (round(x, 2), round(y, 2), 2 if seen else 1)
  ys, xs = np.nonzero(visible_mask)
  x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
  bbox = [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)]
  return keypoints, bbox, float(area)


def generate_image(rng, width, height, max_people=3):
  """One image (uint8 `[H, W, 3]`) and its person annotations (dicts without ids)."""
  canvas = Canvas(height, width)
  draw_background(canvas, rng)
  num_people = int(rng.integers(1, max_people + 1))
  poses = []
  for i in range(num_people):
    person_h = rng.uniform(0.5, 0.95) * height
    if rng.random() < 0.75:  # fully or mostly inside
      margin = -0.3 * person_h
    else:  # truncated at a border
      margin = 0.15 * person_h
    center = (rng.uniform(-margin, width + margin), rng.uniform(-margin, height + margin))
    rotation = rng.normal(0.0, 15.0) if rng.random() < 0.9 else rng.uniform(-90.0, 90.0)
    pose = sample_pose(rng, person_h, center, rotation)
    draw_person(canvas, rng, pose, owner_base=i * NUM_PARTS)
    poses.append(pose)
  # Occluders: boxes and blobs over random joints.
  for _ in range(rng.poisson(0.5 * num_people)):
    pose = poses[rng.integers(len(poses))]
    anchor = pose["joints"][rng.integers(kp.NUM_JOINTS)] + rng.normal(0, 0.05 * pose["height"], size=2)
    size = rng.uniform(0.08, 0.25) * pose["height"]
    color = _random_color(rng)
    if rng.random() < 0.5:
      half = np.array([size, size * rng.uniform(0.5, 1.5)]) / 2
      canvas.polygon([anchor - half, anchor + [half[0], -half[1]], anchor + half,
                      anchor + [-half[0], half[1]]], color, OCCLUDER_OWNER)
    else:
      canvas.ellipse(anchor, size / 2, size / 2 * rng.uniform(0.5, 1.5), rng.uniform(0, 180),
                     color, OCCLUDER_OWNER)
  annotations = []
  for i, pose in enumerate(poses):
    label = label_person(canvas, pose, owner_base=i * NUM_PARTS)
    if label is None:
      continue
    keypoints, bbox, area = label
    annotations.append({
        "category_id": 1, "iscrowd": 0, "area": area, "bbox": bbox,
        "keypoints": [float(v) if k % 3 < 2 else int(v)
                      for k, v in enumerate(keypoints.reshape(-1))],
        "num_keypoints": int(np.sum(keypoints[:, 2] > 0)),
    })
  image = np.clip(canvas.image, 0, 255).astype(np.uint8)
  return image, annotations


def encode_jpeg(image, quality=92):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.encode_jpeg(image, quality=quality).numpy()


def generate_split(out_dir, split, num_images, seed=0, width=WIDTH, height=HEIGHT,
                   max_people=3):
  """Writes a synthetic split under `out_dir`; returns the path of its annotation JSON.

  The layout: `annotations/person_keypoints_<split>.json` and `images/<split>-<digest>/
  <split>_NNNNNN.jpg` (the JSON's `file_name`s are relative to `images/`, as before).
  Regenerating a split over an existing one never changes the bytes of a file the existing JSON
  names, so that an interruption at any point (Ctrl-C, a full disk, a killed job) leaves either the old
  split or the new one, each with its own labels, never old labels on new pixels. The images
  are written into a staging folder and renamed into a folder named by a digest of their
  content (bytes and labels), which no other content can share; the JSON, written atomically
  after them, is the commit: until it is replaced, the old JSON still points at the old,
  unchanged folder. The previous split's images are deleted only after the commit. Same content
  means the same folder name, so the output stays deterministic for a seed, and a regeneration
  that finds its folder present (made by an earlier run) replaces its files by identical ones.
  One generation of a split runs at a time per `out_dir` (a lock file next to the JSON).
  """
  with _generation_lock(out_dir, split):
    return _generate_split(out_dir, split, num_images, seed, width, height, max_people)


def _generate_split(out_dir, split, num_images, seed, width, height, max_people):
  """`generate_split` for a caller that holds the split's generation lock."""
  rng = np.random.default_rng([seed, GENERATOR_VERSION, sum(map(ord, split))])
  image_root = os.path.join(out_dir, "images")
  staging = os.path.join(image_root, f".{split}.staging")
  if os.path.lexists(staging):  # left by an interrupted run (no other one runs: the lock)
    shutil.rmtree(staging)
  os.makedirs(staging)  # not mkdtemp: its 0700 would become the images' folder's mode
  content = hashlib.sha256(f"{width}x{height}".encode())
  names, annotations = [], []
  for index in range(num_images):
    image_id = index + 1
    name = f"{split}_{image_id:06d}.jpg"
    pixels, anns = generate_image(rng, width, height, max_people)
    jpeg = encode_jpeg(pixels)
    with open(os.path.join(staging, name), "wb") as f:
      f.write(jpeg)
      f.flush()
      os.fsync(f.fileno())
    content.update(f"{name}:{len(jpeg)}:".encode())
    content.update(jpeg)
    names.append(name)
    for ann in anns:
      ann.update(id=len(annotations) + 1, image_id=image_id)
      annotations.append(ann)
  content.update(json.dumps(annotations, sort_keys=True).encode())
  folder = f"{split}-{content.hexdigest()[:DIGEST_CHARS]}"
  final = os.path.join(image_root, folder)
  io_utils.fsync_dir(staging)
  if os.path.isdir(final):
    # An earlier run made this very content (perhaps the current JSON's, perhaps a folder whose
    # deletion was interrupted): its files are replaced by identical, complete ones.
    for name in names:
      os.replace(os.path.join(staging, name), os.path.join(final, name))
    io_utils.fsync_dir(final)
    shutil.rmtree(staging)
  else:
    os.rename(staging, final)
  io_utils.fsync_dir(image_root)
  data = {
      "info": {"description": "tfpose_ssl synthetic COCO-format people",
               "version": GENERATOR_VERSION,
               "generator": {"split": split, "num_images": num_images, "seed": seed,
                             "width": width, "height": height, "max_people": max_people}},
      "licenses": [],
      "images": [{"id": index + 1, "file_name": f"{folder}/{name}", "width": width,
                  "height": height} for index, name in enumerate(names)],
      "annotations": annotations,
      "categories": [kp.PERSON_CATEGORY],
  }
  path = _annotation_path(out_dir, split)
  io_utils.atomic_write_text(path, json.dumps(data))  # the commit
  io_utils.fsync_dir(os.path.dirname(path))  # before the old images go
  _remove_replaced_images(image_root, split, keep=folder)
  return path


def _annotation_path(root, split):
  return os.path.join(root, "annotations", f"person_keypoints_{split}.json")


def _remove_replaced_images(image_root, split, keep):
  """Deletes the images of `split` that its (just committed) JSON no longer names.

  Those are the folders of earlier generations (`<split>-<digest>`, also ones an interrupted
  run renamed in but never committed) and the flat `<split>_NNNNNN.jpg` files that generators
  before the digest folders wrote. The patterns match no other split's files ("train" does not
  match "train_2"'s `train_2_000001.jpg` nor "train-x"'s folders).
  """
  folder = re.compile(re.escape(split) + r"-[0-9a-f]{%d}" % DIGEST_CHARS)
  flat = re.compile(re.escape(split) + r"_\d{6,}\.jpg")
  for name in os.listdir(image_root):
    path = os.path.join(image_root, name)
    with contextlib.suppress(OSError):  # garbage only: the next generation tries again
      if name != keep and folder.fullmatch(name) and os.path.isdir(path):
        shutil.rmtree(path)
      elif flat.fullmatch(name) and os.path.isfile(path):
        os.remove(path)


@contextlib.contextmanager
def _generation_lock(root, split):
  """Holds `annotations/.person_keypoints_<split>.lock` (`fcntl.flock`) while a split is made.

  Two processes generating one split (two workers of a run, two runs sharing `data/`) would
  share the staging folder and delete each other's images; the second waits instead, and
  `synthetic_coco` then finds the split made. The lock dies with its process, also on SIGKILL.
  """
  folder = os.path.join(root, "annotations")
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, f".person_keypoints_{split}.lock"), "a") as f:
    try:
      fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      print(f"Waiting for another process generating synthetic split '{split}' under {root} ...",
            flush=True)
      fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _generated_with(path):
  """The generator parameters of an annotation file of this `GENERATOR_VERSION`, or None."""
  try:
    with open(path) as f:
      info = json.load(f).get("info", {})
    return info.get("generator") if info.get("version") == GENERATOR_VERSION else None
  except (OSError, ValueError, AttributeError):  # absent, truncated, not a COCO dict
    return None


@gin.configurable
def synthetic_coco(root="data/synthetic", split="train", num_images=2000, seed=0, width=WIDTH,
                   height=HEIGHT, max_people=3):
  """The synthetic split as a `CocoKeypoints`, generated first if absent or made differently.

  A split exists when its annotation JSON does: `generate_split` writes it last, after its
  images, and keeps the images it names unchanged until the JSON is replaced.
  """
  root = io_utils.resolve_path(root)
  path = _annotation_path(root, split)
  wanted = {"split": split, "num_images": num_images, "seed": seed, "width": width,
            "height": height, "max_people": max_people}
  if _generated_with(path) != wanted:
    with _generation_lock(root, split):
      if _generated_with(path) != wanted:  # not just made by a process we waited for
        print(f"Generating synthetic split '{split}' ({num_images} images) under {root} ...",
              flush=True)
        _generate_split(root, split, num_images, seed, width, height, max_people)
  return coco.CocoKeypoints(annotation_file=path, image_dir=os.path.join(root, "images"))


FLAGS = flags.FLAGS


def _define_flags():
  flags.DEFINE_string("out", "data/synthetic", "Output folder (images/ and annotations/).")
  flags.DEFINE_string("split", "train", "Split name: annotations/person_keypoints_<split>.json.")
  flags.DEFINE_integer("num_images", 2000, "Number of images.")
  flags.DEFINE_integer("seed", 0, "Random seed.")
  flags.DEFINE_integer("width", WIDTH, "Image width.")
  flags.DEFINE_integer("height", HEIGHT, "Image height.")
  flags.DEFINE_integer("max_people", 3, "Most figures per image.")


def main(argv):
  del argv
  path = generate_split(io_utils.resolve_path(FLAGS.out), FLAGS.split, FLAGS.num_images, FLAGS.seed,
                        FLAGS.width, FLAGS.height, FLAGS.max_people)
  print(path)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
