r"""Runs an exported model on one image: draws the skeletons, writes COCO-format results.

  python -m tfpose_ssl.predict --model=exported/synthetic/saved_model --image=photo.jpg \
      [--boxes=detections.json] --out=out.png [--json=out.json]
  python -m tfpose_ssl.predict --model=exported/synthetic/pose_int8.tflite --image=photo.jpg ...

--boxes is a COCO detection-results JSON (the entries of this image: its `image_id` is
--image_id, or the number in the file name as in COCO), or a JSON list of [x, y, w, h] or
[x, y, w, h, score] boxes; boxes are clipped to the image as in evaluation.
Without --boxes the whole image is one person box. The JSON output is a list of COCO keypoint
results (pycocotools `loadRes` format); detector boxes get SimpleBaseline's rescoring and
OKS-NMS, as in evaluation.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import json

from absl import app
from absl import flags

from tfpose_ssl import io_utils
from tfpose_ssl.evaluation import visualize
from tfpose_ssl.serving import predictor

FLAGS = flags.FLAGS


def _define_flags():
  flags.DEFINE_string("model", None, "SavedModel folder or .tflite file.")
  flags.DEFINE_string("image", None, "Image file.")
  flags.DEFINE_string("boxes", None,
                      "COCO detection results or a list of [x, y, w, h(, score)] boxes.")
  flags.DEFINE_integer("image_id", None, "The image's id in --boxes (default: from its name).")
  flags.DEFINE_float("box_threshold", 0.5, "Detection score threshold.")
  flags.DEFINE_float("joint_threshold", 0.3, "Joints below this score are not drawn.")
  flags.DEFINE_string("out", None, "Output PNG.")
  flags.DEFINE_string("json", None, "Output COCO results JSON.")
  flags.mark_flags_as_required(["model", "image", "out"])


def main(argv):
  del argv
  results, drawn = predictor.predict(io_utils.resolve_path(FLAGS.model), io_utils.resolve_path(FLAGS.image),
                           io_utils.resolve_path(FLAGS.boxes), FLAGS.image_id, FLAGS.box_threshold,
                           FLAGS.joint_threshold)
  visualize.save_png(io_utils.resolve_path(FLAGS.out), drawn)
  if FLAGS.json:
    io_utils.atomic_write_text(io_utils.resolve_path(FLAGS.json), json.dumps(results))
  print(f"{len(results)} people; drawn to {FLAGS.out}")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
