"""`bazel run //export -- ...`: the same as `python -m tfpose_ssl.export ...`."""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
from absl import app

from tfpose_ssl import export

if __name__ == "__main__":
  export.define_flags()
  app.run(export.main)
