r"""What each setting does to the demo's training step on this machine (issue 11).

  python -m tfpose_ssl.benchmarks.step_variants [--rounds=3] [--out=results/step_variants]
  bazel run //tfpose_ssl/benchmarks:step_variants
  python -m tfpose_ssl.benchmarks.step_variants --network=ResNet-18 --k=3   # the paper's network

The demo's network (configs/synthetic.gin: ResNet-18 at a quarter width, a 64-channel head,
128x96) and step (16 labeled + 16 unlabeled crops; the method with K = 2, and the supervised
step on 32 crops), on fixed data, under each variant below (`--network` and `--k`: another
network of the throughput benchmark and K). Every run of a variant is its own
process (thread pools, oneDNN and the precision policy are fixed when TensorFlow starts), and
the variants alternate over `--rounds` rounds so that a machine's drift (shared machines of
our kind drift by tens of percent within minutes) spreads over all of them; a variant's figure
is the median over its rounds of each run's median step time. Each run also measures the
float32 matmul rate (with TensorFlow's default threads, in a child process for the variants
that limit them) and reports the step's share of it.

Variants:
  default       oneDNN on, fused BatchNormalization, one intra- and one inter-op thread per
                core: the project's settings for one student (the supervised step)
  keras_bn      Keras 3's own BatchNormalization (element-wise ops) instead of the fused kernel
  xla           the whole train step under `jit_compile=True`
  inter_op_1    one inter-op thread (intra-op: all cores)
  intra_op_1    one intra-op thread per op (inter-op: all cores), so independent ops, e.g. the
                two students' forwards, run side by side instead of splitting each small op:
                the demo config's setting for two students on 2 cores
                (`set_thread_pools.split_students`)
  one_thread    one intra-op and one inter-op thread
  onednn_off    TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's default on CPUs without AVX-512)
  bfloat16      the `mixed_bfloat16` policy
  batch_32      the default settings with twice the crops per step (32 + 32; the supervised step
                64): whether per-op overhead, which a larger batch amortizes, limits the rate.
                Its step times are per step of that size; compare GFLOP/s and % of matmul
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags
import numpy as np

VARIANTS = ("default", "keras_bn", "xla", "inter_op_1", "intra_op_1", "one_thread", "onednn_off",
            "bfloat16", "batch_32")
# Variants whose process has fewer intra-op threads than cores: their share is of the matmul
# rate of a process with TensorFlow's default threads (measured in a child process).
THREAD_LIMITED = ("intra_op_1", "one_thread")
FLAGS = flags.FLAGS


DEMO = "demo (ResNet-18 / 4)"


def run_variant(variant, repeats, network=DEMO, k=2):
  """Times the demo's steps under `variant` in this process; returns a result row."""
  # pylint: disable=g-import-not-at-top  (after the variant's process-wide settings)
  import keras
  import tensorflow as tf
  if variant == "inter_op_1":
    tf.config.threading.set_inter_op_parallelism_threads(1)
  elif variant == "intra_op_1":
    tf.config.threading.set_intra_op_parallelism_threads(1)
  elif variant == "one_thread":
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
  if variant == "bfloat16":
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
  from tensorflow.python.util import _pywrap_util_port
  from tfpose_ssl.ops import codec as codec_lib
  from tfpose_ssl import runtime
  from tfpose_ssl.benchmarks import throughput
  from tfpose_ssl.models import batch_norm
  from tfpose_ssl.models import simple_baseline
  from tfpose_ssl.trainers import dual_student
  from tfpose_ssl.trainers import supervised
  if variant == "keras_bn":
    batch_norm.batch_norm = lambda name, synchronized=False: keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, synchronized=synchronized, name=name)
  size, batch = (128, 96), (32 if variant == "batch_32" else 16)
  codec = codec_lib.KeypointCodec(size)
  settings = throughput.NETWORKS[network]
  build = lambda: simple_baseline.simple_baseline(size, "resnet18", width=settings["width"],
                                                  deconv_filters=settings["deconv_filters"])
  flops = throughput.forward_flops(build())
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  spec = throughput.spec_for(k)
  with strategy.scope():
    method = dual_student.DualStudentTrainer(build_model=build, codec=codec, views=spec)
    method.compile([keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)])
    baseline = supervised.SupervisedTrainer(build_model=build)
    baseline.compile([keras.optimizers.Adam(1e-3)])
  jit = variant == "xla"
  method_s = throughput.timed_step(strategy, method,
                                   throughput.fake_batches(codec, spec, batch, batch), repeats,
                                   jit_compile=jit)
  supervised_s = throughput.timed_step(strategy, baseline,
                                       throughput.fake_batches(codec, None, 2 * batch, 0),
                                       repeats, jit_compile=jit)
  nograd = spec.num_targets - (1 if spec.loss_view_in_ensemble else 0)
  method_flops = 2 * (3 * 2 * batch + nograd * batch) * flops
  if variant in THREAD_LIMITED:  # the machine's rate, not this process's one-thread rate
    matmul = float(subprocess.run(
        [sys.executable, "-c", "import tfpose_ssl; from tfpose_ssl import runtime; "
         "print(runtime.matmul_gflops())"], capture_output=True, text=True,
        check=True).stdout.split()[-1])
  else:
    matmul = runtime.matmul_gflops()
  return {"variant": variant, "method_seconds": method_s, "supervised_seconds": supervised_s,
          "method_gflops": method_flops / method_s / 1e9,
          "supervised_gflops": 3 * 2 * batch * flops / supervised_s / 1e9,
          "matmul_gflops": matmul, "onednn": bool(_pywrap_util_port.IsMklEnabled()),
          "network": network, "k": k}


def markdown(result):
  network, k = result.get("network", DEMO), result.get("k", 2)
  what = ("the demo's network and step (configs/synthetic.gin: ResNet-18 / 4, 128x96, 16 + 16 "
          f"crops, K = {k}" if network == DEMO else
          f"the network {network} (SimpleBaseline; 128x96, 16 + 16 crops, K = {k}")
  lines = [f"Machine: {result['machine']}. Measured {result['date']}, commit {result['commit']}; "
           f"{result['rounds']} alternating rounds of one process per variant, each the median "
           f"of {result['repeats']} steps after 2 warm-ups (fixed data); {what}"
           + ("; the row batch_32: 32 + 32 crops, its supervised step 64" if "batch_32" in
              result["variants"] else "") + ").", "",
           f"| variant | method step (K={k}), s | supervised step (32 crops), s | method GFLOP/s | "
           "% of matmul | oneDNN | per-round method s |", "|---|---|---|---|---|---|---|"]
  for variant, rows in result["variants"].items():
    method = float(np.median([r["method_seconds"] for r in rows]))
    sup = float(np.median([r["supervised_seconds"] for r in rows]))
    share = float(np.median([r["method_gflops"] / r["matmul_gflops"] for r in rows]))
    per_round = ", ".join(f"{r['method_seconds']:.2f}" for r in rows)
    gflops = float(np.median([r["method_gflops"] for r in rows]))
    onednn = "on" if rows[0]["onednn"] else "off"
    lines.append(f"| {variant} | {method:.3f} | {sup:.3f} | {gflops:.0f} | {100 * share:.0f}% | "
                 f"{onednn} | {per_round} |")
  return "\n".join(lines) + "\n"


def _define_flags():
  flags.DEFINE_list("variants", list(VARIANTS), f"Variants to measure, of {VARIANTS}.")
  flags.DEFINE_integer("rounds", 3, "Alternating rounds (one process per variant each).")
  flags.DEFINE_integer("repeats", 10, "Timed steps per run (after 2 warm-ups).")
  flags.DEFINE_string("out", "results/step_variants", "Output prefix (.json and .md).")
  flags.DEFINE_string("network", DEMO, "A network of the throughput benchmark's NETWORKS.")
  flags.DEFINE_integer("k", 2, "Strong views K of the method's step.")
  flags.DEFINE_string("child", None, "Internal: measure this variant in this process.")


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from tfpose_ssl import io_utils
  from tfpose_ssl import runtime
  from tfpose_ssl.benchmarks import throughput
  if FLAGS.child:
    print("RESULT " + json.dumps(run_variant(FLAGS.child, FLAGS.repeats, FLAGS.network,
                                             FLAGS.k)), flush=True)
    return
  if FLAGS.network not in throughput.NETWORKS:
    raise app.UsageError(f"--network must be one of {sorted(throughput.NETWORKS)}")
  if FLAGS.k < 0:
    raise app.UsageError("--k must be >= 0")
  unknown = set(FLAGS.variants) - set(VARIANTS)
  if unknown or not FLAGS.variants:
    raise app.UsageError(f"--variants must be a non-empty subset of {VARIANTS}; got "
                         f"{FLAGS.variants}")
  result = {"machine": runtime.machine_description(), "commit": throughput.commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": FLAGS.rounds,
            "repeats": FLAGS.repeats, "network": FLAGS.network, "k": FLAGS.k,
            "variants": {v: [] for v in FLAGS.variants}}
  for round_index in range(FLAGS.rounds):
    for variant in FLAGS.variants:
      env = dict(os.environ)
      env["TF_ENABLE_ONEDNN_OPTS"] = "0" if variant == "onednn_off" else "1"
      command = [sys.executable, "-m", "tfpose_ssl.benchmarks.step_variants",
                 f"--child={variant}", f"--repeats={FLAGS.repeats}",
                 f"--network={FLAGS.network}", f"--k={FLAGS.k}"]
      done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
      line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
      if done.returncode or line is None:
        raise RuntimeError(f"variant {variant} failed:\n{done.stderr[-3000:]}")
      row = json.loads(line[len("RESULT "):])
      if (row.get("network"), row.get("k")) != (FLAGS.network, FLAGS.k):
        raise RuntimeError(f"variant {variant} measured {row.get('network')}, K = {row.get('k')}"
                           f", not {FLAGS.network}, K = {FLAGS.k}")
      result["variants"][variant].append(row)
      print(f"round {round_index + 1}: {variant}: method {row['method_seconds']:.3f} s, "
            f"supervised {row['supervised_seconds']:.3f} s, matmul "
            f"{row['matmul_gflops']:.0f} GFLOP/s", flush=True)
  out = io_utils.resolve_path(FLAGS.out)
  io_utils.atomic_write_text(out + ".json", json.dumps(result, indent=1))
  text = markdown(result)
  io_utils.atomic_write_text(out + ".md", text)
  print(text, flush=True)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
