"""Figures with human proportions: the 17 COCO joints of a sampled pose, and the body parts.

`sample_pose` draws a figure's joint positions (inside human joint-angle limits, at a scale,
rotation, yaw and position) plus what drawing it needs; `drawing` paints it.
"""

import math

import numpy as np

from tfpose_ssl.ops import keypoints as kp

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


def rotate(v, degrees):
  """The 2-D vector `v` rotated by `degrees` (clockwise on screen: image y points down)."""
  t = math.radians(degrees)
  c, s = math.cos(t), math.sin(t)
  return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]], np.float64)


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
  up = rotate(np.array([0.0, -1.0]), spine_lean)
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
  head_up = rotate(up, head_tilt)
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
    d_upper = rotate(down, -outward * upper_angle)
    d_fore = rotate(d_upper, outward * elbow_flex * (1 if rng.random() < 0.7 else -1))
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
    d_thigh = rotate(-up, -thigh_angle)
    d_shin = rotate(d_thigh, facing * profile * knee_flex)
    shin_len = 0.245 * h * (1.0 - 0.45 * frontal * knee_flex / 140.0)
    j[kne] = j[hip] + d_thigh * 0.245 * h
    j[ank] = j[kne] + d_shin * shin_len
  # Place in the image: rotate about the pelvis, move to `center` (the figure's mid-height).
  mid = 0.5 * (j.min(axis=0) + j.max(axis=0))
  joints = np.stack([rotate(p - mid, rotation) for p in j]) + np.asarray(center)
  head_c = rotate(head_center - mid, rotation) + np.asarray(center)
  # Face visibility: a feature faces the camera when cos(psi + yaw) > threshold.
  face_cos = {NOSE: math.cos(math.radians(yaw)), L_EYE: math.cos(math.radians(28 + yaw)),
              R_EYE: math.cos(math.radians(-28 + yaw)), L_EAR: math.cos(math.radians(90 + yaw)),
              R_EAR: math.cos(math.radians(-90 + yaw))}
  return {
      "joints": joints, "head_center": head_c, "head_radius": head_radius,
      "head_up": rotate(head_up, rotation), "yaw": yaw, "face_cos": face_cos,
      "limb_width": 0.055 * h * rng.uniform(0.85, 1.2), "height": h,
      # The side farther from the camera is drawn first: left is far when sin(yaw) > 0.
      "left_far": sin_y > 0,
  }
