"""The process-wide CPU settings of tfpose_ssl.runtime take effect: oneDNN in a fresh process,
the thread pools' sizes in a training run."""

import ast
import json
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


def _write(folder, name, text):
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, name), "w") as f:
    f.write(text)


class ThreadPoolsTest(tf.test.TestCase):

  def test_usable_cores_is_the_affinity_capped_by_a_cgroup_quota(self):
    root = self.get_temp_dir()
    v2, v1, none = (os.path.join(root, d) for d in ("v2", "v1", "none"))
    _write(v2, "cpu.max", "150000 100000\n")  # 1.5 CPUs -> 2 threads
    self.assertEqual(runtime.usable_cores(affinity=64, cgroup_root=v2), 2)
    self.assertEqual(runtime.usable_cores(affinity=1, cgroup_root=v2), 1)
    _write(v2, "cpu.max", "max 100000\n")
    self.assertEqual(runtime.usable_cores(affinity=64, cgroup_root=v2), 64)
    _write(os.path.join(v1, "cpu"), "cpu.cfs_quota_us", "400000\n")
    _write(os.path.join(v1, "cpu"), "cpu.cfs_period_us", "100000\n")
    self.assertEqual(runtime.usable_cores(affinity=64, cgroup_root=v1), 4)
    _write(os.path.join(v1, "cpu"), "cpu.cfs_quota_us", "-1\n")
    self.assertEqual(runtime.usable_cores(affinity=64, cgroup_root=v1), 64)
    self.assertEqual(runtime.usable_cores(affinity=3, cgroup_root=none), 3)
    # The process's own cgroup (named by /proc/self/cgroup) can hold the quota, below the root.
    _write(os.path.join(none, "user.slice", "job"), "cpu.max", "100000 100000\n")
    _write(root, "proc_cgroup", "0::/user.slice/job\n")
    self.assertEqual(runtime.usable_cores(affinity=8, cgroup_root=none,
                                          proc_cgroup=os.path.join(root, "proc_cgroup")), 1)
    self.assertEqual(runtime.usable_cores(), min(len(os.sched_getaffinity(0)),
                                                 runtime.usable_cores(affinity=10 ** 6)))

  def test_explicit_sizes_after_the_pools_exist_are_an_error(self):
    tf.constant(1.0) + 1.0  # this process's pools exist now
    with self.assertRaisesRegex(RuntimeError, "before its first op"):
      runtime.set_thread_pools(intra_op=7)
    # The automatic sizes are skipped with a warning: train() called from such a program runs.
    self.assertLen(runtime.set_thread_pools(), 2)

  def test_sizes_asked_then_tensorflow_s_variables_then_the_usable_cores(self):
    env = {"TF_NUM_INTRAOP_THREADS": "3"}
    self.assertEqual(runtime.pool_sizes(0, 0, environ={}, cores=2), (2, 2))
    self.assertEqual(runtime.pool_sizes(0, 0, environ=env, cores=2), (3, 2))
    self.assertEqual(runtime.pool_sizes(5, 1, environ=env, cores=2), (5, 1))
    self.assertEqual(runtime.pool_sizes(0, 0, environ={"TF_NUM_INTEROP_THREADS": " "}, cores=4),
                     (4, 4))
    with self.assertRaisesRegex(ValueError, "TF_NUM_INTEROP_THREADS='two'"):
      runtime.pool_sizes(environ={"TF_NUM_INTEROP_THREADS": "two"}, cores=2)
    with self.assertRaisesRegex(ValueError, "must be >= 0"):
      runtime.pool_sizes(-1, 0, environ={}, cores=2)

  def test_two_students_share_the_cores_of_the_intra_op_pool(self):
    self.assertEqual(runtime.pool_sizes(0, 0, environ={}, cores=2, models=2), (1, 2))
    self.assertEqual(runtime.pool_sizes(0, 0, environ={}, cores=8, models=2), (4, 8))
    self.assertEqual(runtime.pool_sizes(0, 0, environ={}, cores=1, models=2), (1, 1))
    self.assertEqual(runtime.pool_sizes(0, 0, environ={}, cores=9, models=2), (4, 9))
    # What was asked for, in gin or in TensorFlow's variable, is kept.
    self.assertEqual(runtime.pool_sizes(3, 0, environ={}, cores=8, models=2), (3, 8))
    self.assertEqual(runtime.pool_sizes(0, 0, environ={"TF_NUM_INTRAOP_THREADS": "2"}, cores=8,
                                        models=2), (2, 8))
    with self.assertRaisesRegex(ValueError, "models must be >= 1"):
      runtime.pool_sizes(0, 0, environ={}, cores=2, models=0)

  def test_a_training_run_uses_the_configured_pool_sizes(self):
    # The real binary, shrunk: the sizes bound in gin, or for the rest the project's rule, are
    # the sizes of the pools that ran its steps (summary.json records them and counts the
    # inter-op pool's threads at the end).
    tmp = self.get_temp_dir()
    data, workdir = os.path.join(tmp, "data"), os.path.join(tmp, "run")
    testing.make_synthetic(data)  # before the process: a run only reads its data
    bindings = [f"train/synthetic_coco.root = '{data}'", f"val/synthetic_coco.root = '{data}'",
                "train.epochs = 1", "train.steps_per_epoch = 2", "train.num_visualized = 0",
                "train.image_every_epochs = 0", "train.verbose = 0",
                "set_thread_pools.inter_op = 3"]
    # TensorFlow's own variables would win over the rule (pool_sizes); the run must not see them.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    environ.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=testing.REPO_ROOT)
    subprocess.run([sys.executable, "-m", "tfpose_ssl.train", "--config=configs/smoke.gin",
                    f"--workdir={workdir}"] + [f"--gin_bindings={b}" for b in bindings],
                   cwd=testing.REPO_ROOT, env=environ, check=True, capture_output=True,
                   timeout=600)
    with open(os.path.join(workdir, "summary.json")) as f:
      pools = json.load(f)["thread_pools"]
    # The config's trainer has two students and configs/synthetic.gin sets split_students:
    # half the cores each for the intra-op pool.
    self.assertEqual((pools["intra_op"], pools["inter_op"], pools["inter_op_threads_running"]),
                     (max(1, runtime.usable_cores() // 2), 3, 3))

  def test_by_default_the_pools_have_one_thread_per_usable_core(self):
    # Two students do not split the cores unless the config asks (`split_students`).
    probe = ("import tfpose_ssl, json\nfrom tfpose_ssl import runtime\n"
             "runtime.set_thread_pools(models=2)\n"
             "print(json.dumps(runtime.thread_pools_in_effect()))")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    environ.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=testing.REPO_ROOT)
    out = subprocess.run([sys.executable, "-c", probe], env=environ, capture_output=True,
                         text=True, check=True, timeout=300).stdout
    pools = json.loads(out.strip().splitlines()[-1])
    cores = runtime.usable_cores()
    self.assertEqual(pools, {"usable_cores": cores, "intra_op": cores, "inter_op": cores,
                             "inter_op_threads_running": cores})


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
