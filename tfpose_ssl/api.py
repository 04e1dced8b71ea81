"""The Python API, for users who do not want a command line.

  from tfpose_ssl import api

  # A trained student as a keras.Model (crops [B, H, W, 3] in 0-255 -> heatmaps [B, h, w, J]),
  # with the run's task (input size, codec, data) from the config.gin saved in its workdir:
  student, task = api.load_student("runs/synthetic/method")
  keypoints, scores = task.codec.decode(student(crops))  # [B, J, 2] crop pixels, [B, J]

  # An exported model (`python -m tfpose_ssl.export`): SavedModel folder or .tflite file,
  # run on a whole image and person boxes:
  predictor = api.load_exported("exported/synthetic/saved_model")
  keypoints, scores = predictor(image, boxes)  # image [H, W, 3] uint8, boxes [N, 4] x, y, w, h
                                               # -> [N, J, 2] image pixels, [N, J]

`load_student` parses the workdir's config into gin's global configuration (as the eval and
export binaries do); call `gin.clear_config()` afterwards to parse another.
"""

import gin

from tfpose_ssl import config as config_lib
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl import io_utils
from tfpose_ssl import task as task_lib
from tfpose_ssl.evaluation import evaluator
from tfpose_ssl.serving import predictor as predictor_lib


def load_student(workdir, student="student_1", configs=(), bindings=(), with_data=True):
  """(keras.Model, PoseTask): `student` ('student_1' or 'student_2') restored from the newest
  checkpoint of `workdir` (a training workdir, checkpoint folder or prefix), built from the
  config saved there (or from `configs` and `bindings` when given).

  `with_data=False`: the task without its datasets (`task.for_checkpoint`: no annotation file
  read, and a synthetic split need not be on this machine), for a checkpoint copied elsewhere to
  predict with; its `schema` and `category_id` are the ones saved beside the checkpoint.
  """
  checkpoint = io_utils.resolve_path(workdir)
  gin.clear_config()
  config_lib.parse(list(configs), list(bindings), workdir=checkpoint)
  task = task_lib.PoseTask() if with_data else task_lib.for_checkpoint(checkpoint)
  students, path = evaluator.restore_students(task, checkpoint)
  named = {f"student_{i + 1}": model for i, model in enumerate(students)}
  if student not in named:
    raise ValueError(f"{path} has {sorted(named)}, not {student!r}")
  return named[student], task


def load_exported(path):
  """A callable `(image, boxes) -> (keypoints, scores)` for an exported SavedModel folder or
  `.tflite` file, with its metadata (input size, model, flip test, ...) as `.metadata`."""
  return predictor_lib.load_predictor(io_utils.resolve_path(path))
