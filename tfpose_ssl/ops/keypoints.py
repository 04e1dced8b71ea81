"""COCO person-keypoint constants: names, flip pairs, skeleton, OKS sigmas, meta-joints.

Everything that depends on the 17-joint COCO layout reads it from here.
"""

import numpy as np

NUM_JOINTS = 17

KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# Left/right pairs swapped by a horizontal flip (0-based joint indices).
FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


def flip_permutation():
  """Joint permutation `p` such that flipped[..., j] = original[..., p[j]]."""
  perm = list(range(NUM_JOINTS))
  for a, b in FLIP_PAIRS:
    perm[a], perm[b] = b, a
  return perm


FLIP_PERMUTATION = tuple(flip_permutation())

# COCO's skeleton as stored in the annotation files (1-based joint indices).
SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7),
    (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5),
    (4, 6), (5, 7),
)
# 0-based limbs for drawing.
LIMBS = tuple((a - 1, b - 1) for a, b in SKELETON)

# Per-keypoint OKS sigmas used by pycocotools' COCOeval for keypoints.
OKS_SIGMAS = np.array(
    [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
     .87, .87, .89, .89], dtype=np.float64) / 10.0

# The paper's 7 meta-joints (Table 2): left/right averaged, head = nose, eyes, ears.
META_JOINTS = {
    "ankle": (15, 16),
    "knee": (13, 14),
    "hip": (11, 12),
    "wrist": (9, 10),
    "elbow": (7, 8),
    "shoulder": (5, 6),
    "head": (0, 1, 2, 3, 4),
}

PERSON_CATEGORY = {
    "supercategory": "person",
    "id": 1,
    "name": "person",
    "keypoints": list(KEYPOINT_NAMES),
    "skeleton": [list(limb) for limb in SKELETON],
}
