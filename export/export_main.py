"""`bazel run //export -- ...`: the same as `python -m tfpose_ssl.export ...`."""

from absl import app

from tfpose_ssl import export

if __name__ == "__main__":
  export._define_flags()  # pylint: disable=protected-access
  app.run(export.main)
