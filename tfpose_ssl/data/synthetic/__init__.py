r"""Synthetic COCO-format people (and quadrupeds): the datasets every run here trains on (no COCO
offline).

Each image holds a few articulated figures with human proportions and joint-angle limits,
at varied scale, rotation, yaw and position, over a cluttered procedural background with
limb-like distractors. Left and right are told apart as with real people: by the face
(eyes, nose and ears turn with the head's yaw; the back of the head shows hair), the front
of the shirt (collar, zipper), feet pointing forward, and depth shading (the far side is
darker). All cues are mirror-consistent, so horizontal-flip augmentation keeps them valid.
Occluding objects and other figures hide joints: a hidden joint inside the image is labeled
`v=1`, a joint outside the image `v=0`. `area` is the visible pixel area of the figure, `bbox`
its visible extent (as COCO's segmentation-derived fields). Output is deterministic for a seed.

A second keypoint set, for training on keypoints other than COCO's: `quadruped` draws four-legged
animals with 13 of AP-10K's keypoints (`skeleton="quadruped"`; configs/synthetic_quadruped.gin).

Modules: `poses` (the skeleton and `sample_pose`), `drawing` (the `Canvas`, figures, labels
and `generate_image`), `quadruped` (the second skeleton: schema, figures, labels), `dataset` (writing a split, `make_synthetic_coco`, and `synthetic_coco`,
the gin configurable that loads one) and `__main__` (the command line that generates a split).
A split is generated explicitly before a run reads it:

  python -m tfpose_ssl.data.synthetic --out=data/synthetic --split=train --num_images=1500
  python -m tfpose_ssl.tools.make_synthetic --config=configs/synthetic.gin  # all of a config
  python -m tfpose_ssl.data.synthetic --skeleton=quadruped --split=train --num_images=1500
"""

from tfpose_ssl.data.synthetic.dataset import GENERATOR_VERSION
from tfpose_ssl.data.synthetic.dataset import HEIGHT
from tfpose_ssl.data.synthetic.dataset import SKELETONS
from tfpose_ssl.data.synthetic.dataset import WIDTH
from tfpose_ssl.data.synthetic.dataset import generate_split
from tfpose_ssl.data.synthetic.dataset import make_synthetic_coco
from tfpose_ssl.data.synthetic.dataset import synthetic_coco

__all__ = ["GENERATOR_VERSION", "HEIGHT", "SKELETONS", "WIDTH", "generate_split", "make_synthetic_coco",
           "synthetic_coco"]
