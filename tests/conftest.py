"""pytest: import tfpose_ssl before any test module imports TensorFlow, so the tests run with
the project's CPU settings (tfpose_ssl/runtime.py), as the binaries do."""

import tfpose_ssl  # pylint: disable=unused-import
