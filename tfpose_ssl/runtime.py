"""Process-wide CPU settings, applied when `tfpose_ssl` is imported (before TensorFlow loads).

TensorFlow enables its oneDNN kernels by default only on CPUs with AVX-512 VNNI/BF16 or AMX.
Elsewhere (e.g. AMD EPYC with AVX2) convolutions run on Eigen's kernels and every tensor is
allocated with glibc malloc, which TF 2.21 configures (`M_TRIM_THRESHOLD`, "Memory patch
applied" in the log) so that each tensor above 128 KiB is `mmap`ed, page-faulted and zeroed
afresh: page faults took ~40% of the CPU in a `perf` profile of a training step. With oneDNN
on, TensorFlow also pools CPU memory in its own allocator, so the faults disappear.

Measured on a 2-core AMD EPYC (AVX2, no AVX-512; float32 2048^2 matmul ~107 GFLOP/s with
TensorFlow's defaults, 144-151 GFLOP/s with oneDNN on, the same machine), the demo's
dual-student step with its real input pipeline (configs/synthetic.gin, K = 2, 16 + 16 crops),
median of 20 steps:

| setting | s/step | system CPU time |
|---|---|---|
| TensorFlow's defaults | 1.54 | ~45% |
| `mallopt` raising glibc's mmap/trim thresholds instead | 0.71 | ~11% |
| `TF_ENABLE_ONEDNN_OPTS=1` (kept) | 0.55 | ~6% |
| both | 0.56 | ~6% |

So only oneDNN is set. The variable must be set before TensorFlow is imported:
`python -m tfpose_ssl.<binary>` imports this package first; a value the user set is kept.

Thread pools: training and evaluation size TensorFlow's intra- and inter-op pools to the cores
this process may use (`set_thread_pools`). TensorFlow's own default counts the CPUs of the
process's affinity mask and ignores a cgroup CPU quota (`docker run --cpus=2` on a 64-core host
would start 64 threads per pool). One inter-op thread made the demo's step slower (row
`inter_op_1` of results/step_variants.md). With `split_students` (gin; configs/synthetic.gin
sets it) a trainer of two students (`models=2`) gets half the cores per op: the students'
forward and backward passes are independent until their pseudo-targets meet, so with one
intra-op thread on 2 cores each student's ops run on a core of their own instead of splitting
every small convolution over both. For the demo's quarter-width network the method's step took
0.39 s instead of 0.44-0.50 s (rows `intra_op_1` and `default` of
results/step_variants_threads.md) and its real training 470-487 ms/step instead of 526-566;
for the full-width ResNet-18 (K = 3) it was slower, 4.19-4.41 s against 3.86-3.87
(results/step_variants_threads_resnet18_k3.md): its convolutions are large enough to use both
cores well. Hence off by default.
"""

import math
import os
import sys
import time

import gin

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def configure():
  """Asks for TensorFlow's oneDNN kernels unless the user chose.

  Returns True when they will be used: the variable is "1" and TensorFlow was not imported
  before (then TensorFlow's own default for this CPU stays in force).
  """
  os.environ.setdefault(ONEDNN, "1")
  return "tensorflow" not in sys.modules and os.environ[ONEDNN] == "1"


def _cgroup_quota(folder):
  """CPUs of the cgroup CPU quota in `folder` (v2 `cpu.max`, or v1 `cpu.cfs_quota_us` and
  `cpu.cfs_period_us`), None when unlimited or unreadable."""
  try:
    with open(os.path.join(folder, "cpu.max")) as f:
      limit, period = f.read().split()[:2]
    return None if limit == "max" else int(limit) / int(period)
  except (OSError, ValueError):
    pass
  try:
    with open(os.path.join(folder, "cpu.cfs_quota_us")) as f:
      limit = int(f.read())
    with open(os.path.join(folder, "cpu.cfs_period_us")) as f:
      period = int(f.read())
    return limit / period if limit > 0 and period > 0 else None
  except (OSError, ValueError):
    return None


def _own_cgroups(cgroup_root, proc_cgroup):
  """Folders that may hold this process's CPU quota: its own cgroup (v2 "0::<path>", v1
  "<n>:cpu,cpuacct:<path>" lines of /proc/self/cgroup) and the roots (in a container the root
  is the container's own cgroup)."""
  folders = [cgroup_root, os.path.join(cgroup_root, "cpu")]
  try:
    with open(proc_cgroup) as f:
      for line in f:
        _, controllers, path = line.rstrip("\n").split(":", 2)
        if controllers == "":
          folders.append(os.path.join(cgroup_root, path.lstrip("/")))
        elif "cpu" in controllers.split(","):
          folders.append(os.path.join(cgroup_root, "cpu", path.lstrip("/")))
  except (OSError, ValueError):
    pass
  return folders


def usable_cores(affinity=None, cgroup_root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
  """The cores this process may keep busy: its CPU affinity, capped by a cgroup CPU quota.

  The quota is the smallest found in the process's cgroup and the cgroup roots (v2 `cpu.max`:
  "<quota> <period>" or "max <period>"; v1 `cpu.cfs_quota_us`, -1 when unlimited, and
  `cpu.cfs_period_us`); a fractional quota is rounded up (1.5 CPUs -> 2 threads).
  """
  if affinity is None:
    affinity = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1)
  quotas = [q for q in map(_cgroup_quota, _own_cgroups(cgroup_root, proc_cgroup))
            if q is not None and q > 0]
  cores = min([affinity] + [max(1, math.ceil(q)) for q in quotas])
  return max(1, cores)


# TensorFlow's own variables for the pool sizes; a value the user set is kept.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def pool_sizes(intra_op=0, inter_op=0, environ=None, cores=None, models=1):
  """(intra-op, inter-op) sizes: the arguments, else $TF_NUM_INTRAOP_THREADS /
  $TF_NUM_INTEROP_THREADS, else `usable_cores()` (for the intra-op pool divided among the
  `models` trained side by side, at least 1)."""
  environ = os.environ if environ is None else environ
  if models < 1:
    raise ValueError(f"models must be >= 1, got {models}")
  cores = cores or usable_cores()
  automatic = (max(1, cores // models), cores)
  sizes = []
  for asked, variable, default in zip((intra_op, inter_op), THREAD_VARIABLES, automatic):
    if not asked and environ.get(variable, "").strip():
      try:
        asked = int(environ[variable])
      except ValueError as e:
        raise ValueError(f"${variable}={environ[variable]!r} is not a number of threads") from e
    if asked < 0:
      raise ValueError(f"a thread pool size must be >= 0 (0: automatic), got {asked} "
                       f"(intra_op/inter_op or ${variable})")
    sizes.append(asked if asked > 0 else default)
  return tuple(sizes)


@gin.configurable(denylist=["models"])
def set_thread_pools(intra_op=0, inter_op=0, split_students=False, models=1):
  """Sizes TensorFlow's intra- and inter-op thread pools (`pool_sizes`: 0 means the variable
  TensorFlow reads, if set, else `usable_cores()`); returns the sizes.

  `split_students`: the automatic intra-op size is divided among the `models` students trained
  side by side (given by the caller, the trainer's `num_students`): faster for small networks
  on few cores, slower for large ones (module docstring).

  Must run before TensorFlow's first op in the process (its pools are created then). When
  they exist already: sizes asked for explicitly are an error; the automatic ones are skipped
  with a warning (e.g. `train()` called from a program that ran TensorFlow before).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (after configure())
  want_intra, want_inter = pool_sizes(intra_op, inter_op,
                                      models=models if split_students else 1)
  try:
    tf.config.threading.set_intra_op_parallelism_threads(want_intra)
    tf.config.threading.set_inter_op_parallelism_threads(want_inter)
  except RuntimeError as e:
    if intra_op or inter_op:
      raise RuntimeError(
          f"set_thread_pools(intra_op={intra_op}, inter_op={inter_op}): TensorFlow already "
          "created its thread pools in this process; set the sizes before its first op (the "
          "binaries do; from Python, call runtime.set_thread_pools first)") from e
    from absl import logging  # pylint: disable=g-import-not-at-top
    logging.warning("TensorFlow's thread pools already exist in this process; they keep their "
                    "sizes (intra-op %s, inter-op %s; 0 is TensorFlow's default) instead of %s",
                    tf.config.threading.get_intra_op_parallelism_threads(),
                    tf.config.threading.get_inter_op_parallelism_threads(),
                    (want_intra, want_inter))
  return want_intra, want_inter


def thread_pools_in_effect():
  """The pool sizes TensorFlow was given (0: its default) and the inter-op threads running.

  TensorFlow names its inter-op pool's threads `tf_Compute`; they are counted in
  /proc/self/task (None where unreadable), so the number shows the pool actually created.
  Initializes TensorFlow's context (creating the pools) if no op did yet, so call it after
  `set_thread_pools` and after creating a distribution strategy. Count right after that:
  Keras' `fit` later adds a one-thread pool of the same name.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.list_logical_devices("CPU")  # the context and its pools exist after this
  running = None
  try:
    running = 0
    for task in os.listdir("/proc/self/task"):
      try:
        with open(f"/proc/self/task/{task}/comm") as f:
          running += f.read().strip() == "tf_Compute"
      except OSError:  # the thread ended meanwhile
        pass
  except OSError:
    running = None
  return {"usable_cores": usable_cores(),
          "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
          "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
          "inter_op_threads_running": running}


# x86 features that decide which TensorFlow kernels run fast, as /proc/cpuinfo names them.
FEATURES = {"avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512", "avx512_bf16": "AVX512_BF16",
            "amx_bf16": "AMX-BF16"}


def cpu_flags():
  """The `FEATURES` this CPU has (their display names), from /proc/cpuinfo; () if unreadable."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("flags"):
          present = set(line.split(":", 1)[1].split())
          return tuple(name for flag, name in FEATURES.items() if flag in present)
  except OSError:
    pass
  return ()


def has_bfloat16_units(flags=None):
  """True when the CPU computes bfloat16 natively (AVX512_BF16 or AMX).

  Without them bfloat16 is emulated: on the AMD EPYC (AVX2) the demo's dual-student step took
  4.0 s under `mixed_bfloat16` against 0.46 s in float32 (TF 2.21, oneDNN on; rows `bfloat16`
  and `default` of results/step_variants.md).
  """
  flags = cpu_flags() if flags is None else flags
  return "AVX512_BF16" in flags or "AMX-BF16" in flags


def machine_description():
  """CPU model, its relevant features, core count and memory (for reports next to timings)."""
  cpu = "unknown CPU"
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  flags = cpu_flags()
  if flags:
    cpu += f" ({', '.join(flags)})"
  memory = ""
  try:
    with open("/proc/meminfo") as f:
      kb = int(f.readline().split()[1])
      memory = f", {kb / 2 ** 20:.0f} GiB"
  except (OSError, ValueError, IndexError):
    pass
  return f"{cpu}, {os.cpu_count()} cores{memory}"


def matmul_gflops(n=2048, repeats=10):
  """float32 matmul GFLOP/s of this machine now (2 n^3 flops per product, median of repeats).

  Machines of one kind differ several-fold in speed; every reported time comes with this rate
  measured in the same run.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (after configure())
  a = tf.random.stateless_normal([n, n], seed=[1, 2])
  b = tf.random.stateless_normal([n, n], seed=[3, 4])
  product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
  product().numpy()  # trace and warm up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    product().numpy()
    times.append(time.perf_counter() - start)
  times.sort()
  return 2.0 * n ** 3 / times[len(times) // 2] / 1e9
