"""Keypoint schemas: joint names, skeleton, flip pairs, OKS sigmas and meta-joints.

A `KeypointSchema` describes one dataset's keypoint layout. `COCO_PERSON` is COCO's 17-joint
person; `KeypointSchema.from_coco_category` builds the schema of any COCO-format category
(`categories[].keypoints` and `skeleton`). The module constants (NUM_JOINTS, KEYPOINT_NAMES,
FLIP_PAIRS, ...) are COCO_PERSON's fields under their old names.
"""

import dataclasses
import re
from typing import Tuple

import numpy as np


def _pairs(values):
  return tuple((int(a), int(b)) for a, b in values)


@dataclasses.dataclass(frozen=True)
class KeypointSchema:
  """The keypoint layout of a dataset.

  Attributes:
    names: joint names, in the order of the annotations' keypoints.
    skeleton: limbs as pairs of 0-based joint indices (drawing).
    flip_pairs: pairs of 0-based joint indices swapped by a horizontal flip (left/right).
    oks_sigmas: per-joint OKS sigmas (pycocotools' `kpt_oks_sigmas`), one per joint.
    meta_joints: (name, joint indices) pairs: the groups PCK is averaged over (the paper's
      Table 2 groups for COCO).
    upper_body: the joints of the upper half for half-body crops (`TopDownAugment.half_body`);
      empty: the schema has no halves (half-body augmentation is refused).
  Sequences given as lists are stored as tuples; the indices are checked.
  """
  names: Tuple[str, ...]
  skeleton: Tuple[Tuple[int, int], ...]
  flip_pairs: Tuple[Tuple[int, int], ...]
  oks_sigmas: Tuple[float, ...]
  meta_joints: Tuple[Tuple[str, Tuple[int, ...]], ...]
  upper_body: Tuple[int, ...] = ()

  def __post_init__(self):
    set_field = lambda name, value: object.__setattr__(self, name, value)
    set_field("names", tuple(str(n) for n in self.names))
    set_field("skeleton", _pairs(self.skeleton))
    set_field("flip_pairs", _pairs(self.flip_pairs))
    set_field("oks_sigmas", tuple(float(s) for s in self.oks_sigmas))
    set_field("meta_joints", tuple((str(name), tuple(int(j) for j in joints))
                                   for name, joints in self.meta_joints))
    set_field("upper_body", tuple(int(j) for j in self.upper_body))
    n = len(self.names)
    if not n:
      raise ValueError("a keypoint schema needs at least one joint")
    if len(set(self.names)) != n:
      raise ValueError(f"repeated joint names in {self.names}")
    for what, pairs in (("skeleton", self.skeleton), ("flip_pairs", self.flip_pairs)):
      bad = [p for p in pairs if not all(0 <= j < n for j in p) or p[0] == p[1]]
      if bad:
        raise ValueError(f"{what} {bad[0]} is not a pair of two joints among 0..{n - 1}")
    flipped = [j for pair in self.flip_pairs for j in pair]
    if len(set(flipped)) != len(flipped):
      raise ValueError(f"a joint occurs in more than one flip pair: {self.flip_pairs}")
    if len(self.oks_sigmas) != n or not all(s > 0 for s in self.oks_sigmas):
      raise ValueError(f"oks_sigmas must be {n} positive values (one per joint), got "
                       f"{self.oks_sigmas}")
    for name, joints in self.meta_joints:
      if not joints or not all(0 <= j < n for j in joints):
        raise ValueError(f"meta-joint {name!r} has joints {joints}, not joints among "
                         f"0..{n - 1}")
    if not all(0 <= j < n for j in self.upper_body) or len(self.upper_body) >= n:
      raise ValueError(f"upper_body {self.upper_body} is not a proper subset of the joints "
                       f"0..{n - 1}")

  @property
  def num_joints(self):
    return len(self.names)

  def flip_permutation(self):
    """Joint permutation `p` such that flipped[..., j] = original[..., p[j]]."""
    perm = list(range(self.num_joints))
    for a, b in self.flip_pairs:
      perm[a], perm[b] = b, a
    return tuple(perm)

  def coco_category(self, category_id=1, name="person", supercategory="person"):
    """The schema as a COCO annotation file's category (1-based `skeleton`)."""
    return {"supercategory": supercategory, "id": category_id, "name": name,
            "keypoints": list(self.names),
            "skeleton": [[a + 1, b + 1] for a, b in self.skeleton]}

  @classmethod
  def from_coco_category(cls, category, oks_sigmas=None, flip_pairs=None, meta_joints=None,
                         upper_body=None):
    """The schema of a COCO category dict (`keypoints` names, 1-based `skeleton`).

    A category whose names are COCO's person keypoints (or that has no `keypoints`) takes
    COCO_PERSON's values for whatever is not given. Otherwise:
    - flip pairs: `flip_pairs` (pairs of joint names or 0-based indices), else every
      `left_X` / `right_X` name pair;
    - OKS sigmas: `oks_sigmas` (one per joint) is required;
    - meta-joints: `meta_joints` ({name: joint names or indices}), else one group per flip pair
      (named X for `left_X` / `right_X`) and one per unpaired joint, in joint order;
    - upper body (half-body crops): `upper_body` (joint names or indices), else none;
    - skeleton: the category's, none if it has none.

    Raises:
      ValueError: missing sigmas for a non-COCO category, a `left_X` without `right_X` (or the
        reverse) and no `flip_pairs`, unknown joint names, or indices out of range.
    """
    names = tuple(category.get("keypoints") or COCO_PERSON.names)
    n = len(names)
    coco = names == COCO_PERSON.names
    index = {name: j for j, name in enumerate(names)}

    def joint(j):
      if isinstance(j, str):
        if j not in index:
          raise ValueError(f"unknown joint {j!r}: the category's joints are {list(names)}")
        return index[j]
      return int(j)

    if "skeleton" in category:
      skeleton = [(int(a) - 1, int(b) - 1) for a, b in category["skeleton"]]
      bad = [(a + 1, b + 1) for a, b in skeleton if not (0 <= a < n and 0 <= b < n)]
      if bad:
        raise ValueError(f"skeleton limb {list(bad[0])} is not a pair of 1-based joint "
                         f"indices among 1..{n}")
    else:
      skeleton = COCO_PERSON.skeleton if coco else ()
    if flip_pairs is not None:
      pairs = [(joint(a), joint(b)) for a, b in flip_pairs]
    elif coco:
      pairs = COCO_PERSON.flip_pairs
    else:
      pairs = _left_right_pairs(names)
      paired = {j for pair in pairs for j in pair}
      sided = [name for j, name in enumerate(names) if j not in paired and _looks_sided(name)]
      if sided:  # a flip would mirror the image and leave these labels unswapped
        raise ValueError(f"joints {sided} look like left/right joints but are not named "
                         "left_X / right_X: give the flip pairs (flip_pairs, pairs of joint "
                         "names; an empty list if none are)")
    if oks_sigmas is None:
      if not coco:
        raise ValueError(
            f"category {category.get('name')!r} has {n} keypoints that are not COCO's person "
            f"keypoints ({list(names)}): give their OKS sigmas (oks_sigmas, one per joint in "
            "that order)")
      oks_sigmas = COCO_PERSON.oks_sigmas
    if meta_joints is not None:
      groups = [(name, tuple(joint(j) for j in joints)) for name, joints in dict(
          meta_joints).items()]
    elif coco:
      groups = COCO_PERSON.meta_joints
    else:
      groups = _pair_groups(names, pairs)
    if upper_body is not None:
      upper = tuple(joint(j) for j in upper_body)
    else:
      upper = COCO_PERSON.upper_body if coco else ()
    return cls(names=names, skeleton=skeleton, flip_pairs=pairs, oks_sigmas=oks_sigmas,
               meta_joints=groups, upper_body=upper)


def _left_right_pairs(names):
  """(left, right) index pairs of `left_X` / `right_X` names; a side without its partner is an
  error (a flip would leave it unswapped)."""
  index = {name: j for j, name in enumerate(names)}
  pairs = []
  for j, name in enumerate(names):
    for side, other in (("left_", "right_"), ("right_", "left_")):
      if name.startswith(side):
        partner = other + name[len(side):]
        if partner not in index:
          raise ValueError(f"joint {name!r} has no {partner!r}: give the flip pairs "
                           "(flip_pairs, pairs of joint names) explicitly")
        if side == "left_":
          pairs.append((j, index[partner]))
  return tuple(pairs)


def _looks_sided(name):
  """Whether a joint name marks a side other than as `left_X` / `right_X`: a word left, right,
  l, r, lt or rt, the words split at non-letters and camelCase (`L_Eye`, `eye_r`, `LeftEye`,
  `RShoulder`, `FrontLeftPaw`, `front-left paw`; not `upright`, `leftover`, `lower_lip`)."""
  words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
  return bool(set(re.split(r"[^a-z0-9]+", words.lower()))
              & {"left", "right", "l", "r", "lt", "rt"})


def _pair_groups(names, pairs):
  """Meta-joints: one per flip pair (named by its first joint without `left_` / `right_`), one
  per other joint, in joint order."""
  partner = {}
  for a, b in pairs:
    partner[a], partner[b] = b, a
  groups, seen = [], set()
  for j, name in enumerate(names):
    if j in seen:
      continue
    if j in partner:
      group = tuple(sorted((j, partner[j])))
      groups.append((_without_side(names[group[0]]), group))
      seen.update(group)
    else:
      groups.append((name, (j,)))
      seen.add(j)
  return tuple(groups)


def _without_side(name):
  for side in ("left_", "right_"):
    if name.startswith(side):
      return name[len(side):]
  return name


# COCO's person keypoints, skeleton (as in the annotation files, made 0-based), left/right
# pairs, pycocotools' OKS sigmas, the paper's 7 meta-joints (Table 2: left/right averaged,
# head = nose, eyes, ears) and HRNet's upper body (nose, eyes, ears, shoulders, elbows, wrists).
COCO_PERSON = KeypointSchema(
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear",
           "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
           "left_wrist", "right_wrist", "left_hip", "right_hip",
           "left_knee", "right_knee", "left_ankle", "right_ankle"),
    skeleton=tuple((a - 1, b - 1) for a, b in (
        (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7),
        (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5),
        (4, 6), (5, 7))),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    oks_sigmas=tuple(np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                               .87, .87, .89, .89]) / 10.0),  # pycocotools' own expression
    meta_joints=(("ankle", (15, 16)), ("knee", (13, 14)), ("hip", (11, 12)),
                 ("wrist", (9, 10)), ("elbow", (7, 8)), ("shoulder", (5, 6)),
                 ("head", (0, 1, 2, 3, 4))),
    upper_body=tuple(range(11)),
)

NUM_JOINTS = COCO_PERSON.num_joints
KEYPOINT_NAMES = COCO_PERSON.names
FLIP_PAIRS = COCO_PERSON.flip_pairs
FLIP_PERMUTATION = COCO_PERSON.flip_permutation()
LIMBS = COCO_PERSON.skeleton
SKELETON = tuple((a + 1, b + 1) for a, b in LIMBS)  # 1-based, as in the annotation files
OKS_SIGMAS = np.array(COCO_PERSON.oks_sigmas, np.float64)
META_JOINTS = dict(COCO_PERSON.meta_joints)
PERSON_CATEGORY = COCO_PERSON.coco_category()
