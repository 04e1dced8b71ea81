r"""Generates a synthetic split, unless it is there already with these parameters.

  python -m tfpose_ssl.data.synthetic --out=data/synthetic --split=train --num_images=1500
  bazel run //tfpose_ssl/data:generate_synthetic -- --out=data/synthetic --split=val \
      --num_images=150
  python -m tfpose_ssl.data.synthetic --skeleton=quadruped --split=train --num_images=1500

Prints the split's annotation JSON. Every split a gin config names, at once:
`python -m tfpose_ssl.tools.make_synthetic --config=configs/synthetic.gin`.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)

from absl import app
from absl import flags

from tfpose_ssl.data.synthetic import dataset

FLAGS = flags.FLAGS


def _define_flags():
  flags.DEFINE_string("out", "data/synthetic", "Output folder (images/ and annotations/).")
  flags.DEFINE_string("split", "train",
                      "Split name: annotations/<skeleton>_keypoints_<split>.json.")
  flags.DEFINE_integer("num_images", 2000, "Number of images.")
  flags.DEFINE_integer("seed", 0, "Random seed.")
  flags.DEFINE_integer("width", dataset.WIDTH, "Image width.")
  flags.DEFINE_integer("height", dataset.HEIGHT, "Image height.")
  flags.DEFINE_integer("max_people", 3, "Most figures per image.")
  flags.DEFINE_enum("skeleton", "person", sorted(dataset.SKELETONS),
                    "The figures: people (COCO's 17 keypoints) or quadrupeds (13 keypoints).")


def main(argv):
  del argv
  made = dataset.make_synthetic_coco(FLAGS.out, FLAGS.split, FLAGS.num_images, FLAGS.seed,
                                     FLAGS.width, FLAGS.height, FLAGS.max_people, FLAGS.skeleton)
  print(made.annotation_path)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
