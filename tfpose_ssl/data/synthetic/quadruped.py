"""Synthetic quadrupeds: a second keypoint set, to train and test on keypoints that are not COCO's.

`QUADRUPED` is 13 of AP-10K's 17 animal keypoints (its shoulders and hips are left out) with
AP-10K's OKS sigmas (Yu et al., "AP-10K: A Benchmark for Animal Pose Estimation in the Wild",
NeurIPS 2021 Datasets and Benchmarks; the sigmas as in MMPose's `configs/_base_/datasets/
ap10k.py`). A figure is a body, a head on a neck, a tail and four two-segment legs, seen mostly
in profile and turned up to 50 degrees toward or away from the camera. As with the people
(`drawing`), left and right are told apart by mirror-consistent cues only: which way the head
points, the far side drawn first and in shade, and the far eye hidden by the head in profile.
Visibility labels come from the canvas' owner map (occlusion as drawn); the far eye in profile
is unlabeled (`v = 0`), as annotators leave it.
"""

import math

import numpy as np

from tfpose_ssl.data.synthetic import drawing
from tfpose_ssl.data.synthetic import poses
from tfpose_ssl.ops import keypoints as kp

(L_EYE, R_EYE, NOSE, NECK, TAIL, L_ELBOW, R_ELBOW, L_FRONT_PAW, R_FRONT_PAW, L_KNEE, R_KNEE,
 L_BACK_PAW, R_BACK_PAW) = range(13)

QUADRUPED = kp.KeypointSchema(
    names=("left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_elbow", "right_elbow",
           "left_front_paw", "right_front_paw", "left_knee", "right_knee", "left_back_paw",
           "right_back_paw"),
    skeleton=((L_EYE, NOSE), (R_EYE, NOSE), (L_EYE, R_EYE), (NOSE, NECK), (NECK, TAIL),
              (NECK, L_ELBOW), (L_ELBOW, L_FRONT_PAW), (NECK, R_ELBOW), (R_ELBOW, R_FRONT_PAW),
              (TAIL, L_KNEE), (L_KNEE, L_BACK_PAW), (TAIL, R_KNEE), (R_KNEE, R_BACK_PAW)),
    flip_pairs=((L_EYE, R_EYE), (L_ELBOW, R_ELBOW), (L_FRONT_PAW, R_FRONT_PAW), (L_KNEE, R_KNEE),
                (L_BACK_PAW, R_BACK_PAW)),
    oks_sigmas=(0.025, 0.025, 0.026, 0.035, 0.035, 0.072, 0.072, 0.062, 0.062, 0.087, 0.087,
                0.089, 0.089),
    # What `KeypointSchema.from_coco_category` derives from the names: one group per left/right
    # pair (named without the side), one per other joint.
    meta_joints=(("eye", (L_EYE, R_EYE)), ("nose", (NOSE,)), ("neck", (NECK,)),
                 ("root_of_tail", (TAIL,)), ("elbow", (L_ELBOW, R_ELBOW)),
                 ("front_paw", (L_FRONT_PAW, R_FRONT_PAW)), ("knee", (L_KNEE, R_KNEE)),
                 ("back_paw", (L_BACK_PAW, R_BACK_PAW))),
    # The front half (head, neck, front legs): the half-body crop's "upper body".
    upper_body=(L_EYE, R_EYE, NOSE, NECK, L_ELBOW, R_ELBOW, L_FRONT_PAW, R_FRONT_PAW),
)
CATEGORY = QUADRUPED.coco_category(category_id=2, name="quadruped", supercategory="animal")

# Parts (owner ids relative to a figure's base): body, head, tail, then (upper, lower) per leg.
LEGS = (  # (name, side: +1 left / -1 right, front?, joint, paw)
    ("left_front", 1, True, L_ELBOW, L_FRONT_PAW), ("right_front", -1, True, R_ELBOW, R_FRONT_PAW),
    ("left_back", 1, False, L_KNEE, L_BACK_PAW), ("right_back", -1, False, R_KNEE, R_BACK_PAW))
BODY, HEAD, TAIL_PART = 0, 1, 2
NUM_PARTS = 3 + 2 * len(LEGS)
JOINT_PARTS = {L_EYE: (HEAD,), R_EYE: (HEAD,), NOSE: (HEAD,), NECK: (BODY, HEAD),
               TAIL: (BODY, TAIL_PART)}
for _leg, (_, _, _, _joint, _paw) in enumerate(LEGS):
  JOINT_PARTS[_joint] = (3 + 2 * _leg, 4 + 2 * _leg)
  JOINT_PARTS[_paw] = (4 + 2 * _leg,)

FUR = np.array([[120, 80, 45], [200, 170, 120], [60, 50, 45], [230, 225, 215], [170, 110, 60],
                [110, 110, 105]], np.float32)


def sample_quadruped(rng, length, center, roll):
  """Samples a quadruped `length` pixels from shoulder to hip: 13 joints plus drawing parameters.

  Body frame: `along` the spine (forward +), `side` (the animal's left +), `up`; lengths in units
  of `length`. The heading is `phi` in the ground plane (0: facing image-right, 180: image-left);
  an orthographic camera maps (along, side, up) to image x = along cos(phi) + side sin(phi),
  image y = -up, and depth toward the camera = along sin(phi) - side cos(phi) (facing image-right,
  the left side is the far one).
  """
  facing = 1.0 if rng.random() < 0.5 else -1.0
  turn = float(np.clip(rng.normal(0.0, 25.0), -50.0, 50.0))
  phi = math.radians(turn) if facing > 0 else math.pi - math.radians(turn)
  cos_p, sin_p = math.cos(phi), math.sin(phi)
  leg = rng.uniform(0.5, 0.75)
  slope = rng.normal(0.0, 0.04)  # shoulders above (+) or below the hips

  def point(along, side, up):
    return np.array([along * cos_p + side * sin_p, -up], np.float64) * length

  def depth(along, side):
    return along * sin_p - side * cos_p

  def direction(degrees, size):  # a direction in the sagittal plane: 0 forward, 90 up
    t = math.radians(degrees)
    return size * math.cos(t), size * math.sin(t)

  shoulder_up, hip_up = leg + slope, leg - slope
  j = np.zeros((QUADRUPED.num_joints, 2), np.float64)
  neck = (0.55, shoulder_up + 0.12)
  j[NECK] = point(neck[0], 0.0, neck[1])
  da, du = direction(rng.uniform(20.0, 70.0), 0.3)
  head = (neck[0] + da, neck[1] + du)
  pitch = rng.uniform(-50.0, 10.0)  # snout direction
  da, du = direction(pitch, 0.17)
  j[NOSE] = point(head[0] + da, 0.0, head[1] + du)
  ea, eu = direction(pitch, 0.05)
  eyes = {}
  for joint, side in ((L_EYE, 1.0), (R_EYE, -1.0)):
    j[joint] = point(head[0] + ea, 0.06 * side, head[1] + eu + 0.04)
    # The eye's outward normal (half forward, half sideways) against the direction to the
    # camera: > 0.1 seen, < -0.25 behind the head (unlabeled).
    eyes[joint] = 0.5 * sin_p - side * cos_p
  tail = (-0.55, hip_up + 0.08)
  j[TAIL] = point(tail[0], 0.0, tail[1])
  da, du = direction(180.0 + rng.uniform(-60.0, 60.0), 0.35)
  tail_tip = point(tail[0] + da, 0.0, tail[1] + du)
  legs = []
  for name, side, front, joint, paw in LEGS:
    top = (0.45 if front else -0.45, 0.11 * side, shoulder_up if front else hip_up)
    swing = rng.uniform(-30.0, 30.0)  # from straight down, forward +
    bend = rng.uniform(0.0, 60.0) * (-1.0 if front else 1.0)  # front paws fold back
    da, du = direction(-90.0 + swing, 0.5 * leg)
    mid = (top[0] + da, top[2] + du)
    da, du = direction(-90.0 + swing + bend, 0.5 * leg)
    j[joint] = point(mid[0], top[1], mid[1])
    j[paw] = point(mid[0] + da, top[1], mid[1] + du)
    legs.append({"name": name, "side": side, "top": point(top[0], top[1], top[2]),
                 "joint": joint, "paw": paw, "depth": depth(top[0], top[1])})
  head_xy = point(head[0], 0.0, head[1])
  ears = [point(head[0] - 0.03, 0.05 * s, head[1] + 0.1) for s in (1.0, -1.0)]
  # Place in the image: rotate by `roll` about the figure's middle, move that to `center`.
  mid = 0.5 * (j.min(axis=0) + j.max(axis=0))
  place = lambda p: poses.rotate(p - mid, roll) + np.asarray(center, np.float64)
  for leg_ in legs:
    leg_["top"] = place(leg_["top"])
  return {
      "joints": np.stack([place(p) for p in j]), "head_center": place(head_xy),
      "ears": [place(p) for p in ears], "tail_tip": place(tail_tip),
      "shoulder": place(point(0.45, 0.0, shoulder_up)), "hip": place(point(-0.45, 0.0, hip_up)),
      "legs": legs, "eyes": eyes, "facing_cos": cos_p, "length": length,
      "height": length * (leg + 0.5),  # for the occluders' sizes (`drawing.draw_occluders`)
  }


def draw_quadruped(canvas, rng, pose, owner_base):
  """Paints one quadruped, far legs first and in shade; owner ids are `owner_base + part`."""
  j, size = pose["joints"], pose["length"]
  fur = np.clip(FUR[rng.integers(len(FUR))] * rng.uniform(0.85, 1.1), 0, 255)
  dark = np.array([25, 20, 20], np.float32)
  width = size * rng.uniform(0.055, 0.075)
  far_shade = 1.0 - 0.1 - 0.35 * abs(pose["facing_cos"])

  def draw_leg(leg, leg_index):
    shade = far_shade if leg["depth"] < 0 else 1.0
    color = np.clip(fur * shade, 0, 255)
    canvas.capsule(leg["top"], j[leg["joint"]], width * 1.3, color, owner_base + 3 + 2 * leg_index)
    lower = owner_base + 4 + 2 * leg_index
    canvas.capsule(j[leg["joint"]], j[leg["paw"]], width, color * 0.92, lower)
    canvas.ellipse(j[leg["paw"]], width * 1.25, width * 0.9, 0.0, np.clip(dark + 40 * shade, 0, 255),
                   lower)

  order = sorted(range(len(pose["legs"])), key=lambda i: pose["legs"][i]["depth"])
  far = [i for i in order if pose["legs"][i]["depth"] < 0]
  for i in far:
    draw_leg(pose["legs"][i], i)
  canvas.capsule(j[TAIL], pose["tail_tip"], width * 0.7, fur * 0.9, owner_base + TAIL_PART)
  body = owner_base + BODY
  canvas.capsule(pose["hip"], pose["shoulder"], size * 0.2, fur, body, shading=0.4)
  canvas.capsule(pose["shoulder"], j[NECK], size * 0.12, fur, body)
  head = owner_base + HEAD
  for ear in pose["ears"]:
    canvas.ellipse(ear, width * 0.9, width * 1.6, 0.0, fur * 0.7, head)
  canvas.capsule(j[NECK], pose["head_center"], size * 0.09, fur, head)
  snout = np.degrees(np.arctan2(*(j[NOSE] - pose["head_center"])[::-1]))
  canvas.ellipse(pose["head_center"], size * 0.13, size * 0.1, snout, fur, head)
  canvas.capsule(pose["head_center"], j[NOSE], size * 0.06, fur * 0.95, head)
  canvas.ellipse(j[NOSE], width * 0.6, width * 0.6, 0.0, dark, head)
  for joint, facing in pose["eyes"].items():
    if facing > 0.1:
      canvas.ellipse(j[joint], width * 0.45, width * 0.45, 0.0, dark, head)
  for i in order:
    if i not in far:
      draw_leg(pose["legs"][i], i)


def label_quadruped(canvas, pose, owner_base):
  """Keypoints `[13, 3]`, visible bbox and area of a painted quadruped (None if unseen)."""
  visible_mask = (canvas.owner >= owner_base) & (canvas.owner < owner_base + NUM_PARTS)
  area = int(visible_mask.sum())
  if area < 40:
    return None
  keypoints = np.zeros((QUADRUPED.num_joints, 3), np.float64)
  for joint, (x, y) in enumerate(pose["joints"]):
    if not (0 <= x <= canvas.width - 1 and 0 <= y <= canvas.height - 1):
      continue  # outside the image: v = 0
    facing = pose["eyes"].get(joint, 1.0)
    if facing < -0.25:
      continue  # the far eye, behind the head: not labeled
    owner = canvas.owner[int(round(y)), int(round(x))]
    seen = owner in {owner_base + p for p in JOINT_PARTS[joint]} and facing > 0.1
    keypoints[joint] = (round(x, 2), round(y, 2), 2 if seen else 1)
  return keypoints, drawing.visible_box(visible_mask), float(area)


def generate_image(rng, width, height, max_animals=3):
  """One image (uint8 `[H, W, 3]`) and its quadruped annotations (dicts without ids)."""
  canvas = drawing.Canvas(height, width)
  drawing.draw_background(canvas, rng)
  figures = []
  for i in range(int(rng.integers(1, max_animals + 1))):
    length = rng.uniform(0.25, 0.5) * width
    margin = -0.5 * length if rng.random() < 0.75 else 0.2 * length  # inside / truncated
    center = (rng.uniform(-margin, width + margin), rng.uniform(-margin, height + margin))
    pose = sample_quadruped(rng, length, center, roll=rng.normal(0.0, 10.0))
    draw_quadruped(canvas, rng, pose, owner_base=i * NUM_PARTS)
    figures.append(pose)
  drawing.draw_occluders(canvas, rng, figures)
  annotations = []
  for i, pose in enumerate(figures):
    label = label_quadruped(canvas, pose, owner_base=i * NUM_PARTS)
    if label is not None:
      annotations.append(drawing.coco_annotation(*label, category_id=CATEGORY["id"]))
  return np.clip(canvas.image, 0, 255).astype(np.uint8), annotations
