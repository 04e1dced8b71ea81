"""The process-wide CPU setting of tfpose_ssl.runtime takes effect in a fresh process."""

import ast
import os
import re
import subprocess
import sys

import tensorflow as tf

from tests import testing
from tfpose_ssl import runtime

# Imports tfpose_ssl first (as `python -m tfpose_ssl.<binary>` does), then reports whether
# TensorFlow runs its oneDNN kernels and the page faults of an op that allocates and frees a
# 2 MiB tensor per call (TensorFlow's default allocation on CPUs without AVX-512 faults ~28
# times per call here; runtime.py explains why).
PROBE = """
import resource, sys
if sys.argv[1] == "package_first":
  import tfpose_ssl
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
x = tf.random.uniform([512, 1024])
f = tf.function(lambda x: tf.reduce_sum(x * 2.0 + 1.0))
f(x)
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):
  f(x)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 100
print(faults, int(_pywrap_util_port.IsMklEnabled()))
"""


def probe(mode, **env):
  environ = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
  environ.update(env, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=testing.REPO_ROOT)
  out = subprocess.run([sys.executable, "-c", PROBE, mode], env=environ, capture_output=True,
                       text=True, check=True, timeout=300).stdout.split()
  return float(out[0]), bool(int(out[1]))


class RuntimeTest(tf.test.TestCase):

  def test_onednn_on_and_large_tensors_reuse_memory(self):
    faults, onednn = probe("package_first")
    self.assertTrue(onednn)
    self.assertLess(faults, 5.0)  # a 2 MiB tensor is 512 pages

  def test_user_choice_is_kept(self):
    _, onednn = probe("package_first", TF_ENABLE_ONEDNN_OPTS="0")
    self.assertFalse(onednn)


class BinariesTest(tf.test.TestCase):

  def test_every_binary_imports_the_package_before_tensorflow(self):
    # `bazel run` and `python path/to/binary.py` run the main file as a script: unless it
    # imports tfpose_ssl first, TensorFlow loads before runtime.configure() sets its options.
    # The source tree (under `bazel test` this file is a symlink into it; BUILD files are not
    # runfiles).
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    mains = []
    for folder, dirs, files in os.walk(root):
      dirs[:] = [d for d in dirs if not d.startswith((".", "bazel-"))
                 and not (folder == root and d in ("data", "runs"))]
      if "BUILD" in files:
        with open(os.path.join(folder, "BUILD")) as f:
          mains += [os.path.join(folder, m) for m in re.findall(r'main = "([^"]+)"', f.read())]
    self.assertGreaterEqual(len(mains), 10)
    for main in mains:
      with open(main) as f:
        tree = ast.parse(f.read())
      first = next(n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
      self.assertIsInstance(first, ast.Import, main)
      self.assertEqual([a.name for a in first.names], ["tfpose_ssl"], main)


class CpuFeaturesTest(tf.test.TestCase):

  def test_flags_read_from_cpuinfo(self):
    with open("/proc/cpuinfo") as f:
      line = next((line for line in f if line.startswith("flags")), None)
    if line is None:
      self.skipTest("/proc/cpuinfo lists no x86 flags on this CPU")
    present = set(line.split(":", 1)[1].split())
    expected = tuple(name for flag, name in runtime.FEATURES.items() if flag in present)
    self.assertEqual(runtime.cpu_flags(), expected)
    if expected:
      self.assertIn(f"({', '.join(expected)})", runtime.machine_description())

  def test_bfloat16_units(self):
    self.assertFalse(runtime.has_bfloat16_units(("AVX2", "FMA")))
    self.assertFalse(runtime.has_bfloat16_units(("AVX2", "FMA", "AVX-512")))
    self.assertTrue(runtime.has_bfloat16_units(("AVX-512", "AVX512_BF16")))
    self.assertTrue(runtime.has_bfloat16_units(("AVX-512", "AMX-BF16")))


if __name__ == "__main__":
  tf.test.main()
