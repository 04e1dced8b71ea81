r"""Throughput benchmark: what a training step costs on this machine, and where it goes.

  python -m tfpose_ssl.benchmarks.throughput [--sizes=128x96,256x192] [--out=results/throughput]
  bazel run //tfpose_ssl/benchmarks:throughput

One run writes `<out>.json` and `<out>.md` and prints the tables; each part runs in its own
process. Every figure is the median of repeated timed calls after warm-up:
  * training steps (ResNet-18 SimpleBaseline): supervised, DualPose (K = 0) and the full method
    for K = 1..4, and the demo's quarter-width network (supervised, DualPose, K = 2), in source
    crops per second (labeled + unlabeled crops of a step);
  * the input pipeline alone (labeled crops; unlabeled crops with 1 + K views), model skipped,
    against what the trainer consumes;
  * the pseudo-target construction alone (alignment warps, ensemble, threshold-and-refine,
    uncertainty, selection) as a share of the semi-supervised step;
  * MirroredStrategy over 2 logical CPU devices against 1;
  * model FLOPs per crop and achieved GFLOP/s, next to this machine's float32 matmul GFLOP/s
    around each step (the higher of two measurements, just before and after it: the practical
    ceiling) and the share of it achieved;
  * parameters, FLOPs and supervised-step throughput of SimpleBaseline ResNet-18/50 and
    HRNet-W32/W48;
  * only when asked (`--parts=reference`): the full-width ResNet-18 K = 3 step against
    DualPose's own PyTorch code (`dualpose_reference.py`, run with `--torch_python` on a checkout
    `--reference_dir` of xierc/Semi_Human_Pose), per source crop, in alternating rounds:

  python -m tfpose_ssl.benchmarks.throughput --parts=reference \
      --torch_python=/path/to/venv-with-torch/bin/python --reference_dir=/path/to/Semi_Human_Pose
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from tfpose_ssl import io_utils
from tfpose_ssl import runtime
from tfpose_ssl.data import coco
from tfpose_ssl.data import pipeline
from tfpose_ssl.data import synthetic
from tfpose_ssl.models import hrnet
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import augment as augment_lib
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.trainers import dual_student
from tfpose_ssl.trainers import supervised

FLAGS = flags.FLAGS


def median_seconds(fn, repeats, warmup=2):
  """Median wall time of `fn()` over `repeats` calls after `warmup` calls."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def forward_flops(model):
  """Multiply-adds x 2 of a model's convolutions and dense layers for one input (analytic)."""
  total = 0
  for layer in model.layers:
    if isinstance(layer, keras.Model):
      total += forward_flops(layer)
    elif isinstance(layer, keras.layers.Conv2DTranspose):
      kh, kw = layer.kernel_size
      _, h, w, cin = layer.input.shape
      total += 2 * kh * kw * cin * layer.filters * h * w
    elif isinstance(layer, keras.layers.Conv2D):
      kh, kw = layer.kernel_size
      cin = layer.input.shape[-1]
      _, h, w, cout = layer.output.shape
      total += 2 * kh * kw * cin * cout * h * w // layer.groups
    elif isinstance(layer, keras.layers.Dense):
      total += 2 * layer.input.shape[-1] * layer.units
  return int(total)


def fake_batches(codec, spec, labeled, unlabeled, seed=0):
  """Fixed random batches of the shapes a training step takes (labeled; and unlabeled views)."""
  rng = np.random.default_rng(seed)
  h, w = codec.input_size
  joints = kp.NUM_JOINTS
  keypoints = np.concatenate([rng.uniform([0, 0], [w - 1, h - 1], (labeled, joints, 2)),
                              np.full((labeled, joints, 1), 2.0)], -1).astype(np.float32)
  heatmaps, weights = codec.encode(keypoints)
  labeled_batch = {"image": tf.constant(rng.uniform(0, 255, (labeled, h, w, 3)), tf.float32),
                   "heatmaps": heatmaps, "target_weight": weights}
  if spec is None:
    return labeled_batch
  rotations, scales, flips = spec.sample(tf.constant([seed, 1], tf.int64), unlabeled)
  matrices = views_lib.view_matrices(rotations, scales, codec.input_size, flips)
  base = tf.constant(rng.uniform(0, 255, (unlabeled, h, w, 3)), tf.float32)
  unlabeled_batch = {
      "views": views_lib.make_views(base, matrices, tf.eye(3, batch_shape=[unlabeled]),
                                    codec.input_size),
      "matrices": matrices, "keypoints": tf.zeros([unlabeled, kp.NUM_JOINTS, 3]),
      "pck_radius": tf.ones([unlabeled])}
  return labeled_batch, unlabeled_batch


def spec_for(k):
  """K = 0 is DualPose (1 weak view, an extra strong loss view); K >= 1 the method."""
  if k == 0:
    return views_lib.MultiViewAugment(num_weak=1, num_strong=0, loss_view="extra")
  return views_lib.MultiViewAugment(num_weak=1, num_strong=k)


def timed_step(strategy, trainer, data, repeats, jit_compile=False):
  """Median seconds of one train step on `data` (the global batch, split over replicas).

  `jit_compile`: the whole train step compiled by XLA (per replica).
  """
  ds = tf.data.Dataset.from_tensors(data).repeat()
  iterator = iter(strategy.experimental_distribute_dataset(ds))
  train_step = (tf.function(trainer.train_step, jit_compile=True) if jit_compile
                else trainer.train_step)

  @tf.function
  def step(it):
    outputs = strategy.run(train_step, args=(next(it),))
    return tf.nest.map_structure(lambda t: strategy.reduce("MEAN", t, axis=None), outputs)

  return median_seconds(lambda: step(iterator)["loss"].numpy(), repeats)


# The step benchmark's networks: the paper's ResNet-18 SimpleBaseline and the demo's CPU-sized
# one (configs/synthetic.gin: a quarter width, a 64-channel head), with the K each is run with.
NETWORKS = {
    "ResNet-18": {"width": 64, "deconv_filters": 256, "ks": (0, 1, 2, 3, 4)},
    "demo (ResNet-18 / 4)": {"width": 16, "deconv_filters": 64, "ks": (0, 2)},
}


def step_benchmark(size, batch, repeats, devices=None, network="ResNet-18", ks=None,
                   with_supervised=True, extras=True):
  """Median step seconds and crops/s of supervised, DualPose (K = 0) and the method's K at `size`.

  Each row also holds this machine's float32 matmul GFLOP/s around its step (the higher of the
  rates measured just before and just after: it drifts on shared machines) and the step's
  achieved share of it; `extras=False` skips those and the pseudo-target timing (step times
  only).
  """
  matmul_rate = runtime.matmul_gflops if extras else lambda: float("nan")
  settings = NETWORKS[network]
  codec = codec_lib.KeypointCodec(size)
  build = lambda: simple_baseline.simple_baseline(size, "resnet18", width=settings["width"],
                                                  deconv_filters=settings["deconv_filters"])
  flops = forward_flops(build())
  strategy = tf.distribute.MirroredStrategy(devices or ["/cpu:0"])
  rows = []

  def add(name, seconds, step_flops, matmul):
    rows.append({"network": network, "step": name, "size": list(size), "crops": 2 * batch,
                 "seconds": seconds, "crops_per_s": 2 * batch / seconds,
                 "gflops_per_step": step_flops / 1e9,
                 "achieved_gflops": step_flops / seconds / 1e9, "matmul_gflops": matmul,
                 "matmul_share": step_flops / seconds / 1e9 / matmul})

  if with_supervised:
    with strategy.scope():
      trainer = supervised.SupervisedTrainer(build_model=build)
      trainer.compile([keras.optimizers.Adam(1e-3)])
    matmul = matmul_rate()
    seconds = timed_step(strategy, trainer, fake_batches(codec, None, 2 * batch, 0), repeats)
    add("supervised", seconds, 3 * 2 * batch * flops, max(matmul, matmul_rate()))
  for k in settings["ks"] if ks is None else ks:
    spec = spec_for(k)
    with strategy.scope():
      trainer = dual_student.DualStudentTrainer(build_model=build, codec=codec, views=spec)
      trainer.compile([keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)])
    matmul = matmul_rate()
    seconds = timed_step(strategy, trainer, fake_batches(codec, spec, batch, batch), repeats)
    matmul = max(matmul, matmul_rate())
    # Per student: labeled + loss view with gradient (3x forward), the other ensemble views
    # forward only.
    nograd = spec.num_targets - (1 if spec.loss_view_in_ensemble else 0)
    add("DualPose (K=0)" if k == 0 else f"method K={k}", seconds,
        2 * (3 * 2 * batch + nograd * batch) * flops, matmul)
    if k == 2 and extras:
      rows[-1]["target_share"] = target_share(trainer, codec, spec, batch, seconds, repeats)
  return rows, flops


def target_share(trainer, codec, spec, batch, step_seconds, repeats):
  """Seconds of the pseudo-target construction alone, and its share of the step."""
  h, w = codec.heatmap_size
  rng = np.random.default_rng(0)
  nograd = [v for v in range(spec.num_targets) if v != spec.loss_index]
  heatmaps = [tf.constant(rng.uniform(0, 1, (len(nograd), batch, h, w, kp.NUM_JOINTS)), tf.float32)
              for _ in range(2)]
  own = [tf.constant(rng.uniform(0, 1, (1, batch, h, w, kp.NUM_JOINTS)), tf.float32) for _ in range(2)]
  rotations, scales, flips = spec.sample(tf.constant([0, 1], tf.int64), batch)
  matrices = views_lib.view_matrices(rotations, scales, codec.input_size, flips)

  @tf.function
  def construct():
    stacks = []
    for i in (0, 1):
      aligned = views_lib.align_heatmaps(heatmaps[i], tf.gather(matrices, nograd, axis=1),
                                         matrices[:, spec.loss_index], float(codec.stride))
      stacks.append(tf.concat([aligned[:spec.loss_index], own[i], aligned[spec.loss_index:]],
                              0))
    return trainer.pseudo_targets(stacks[0], stacks[1])

  seconds = median_seconds(lambda: tf.nest.map_structure(lambda t: t, construct()), repeats)
  return {"seconds": seconds, "share": seconds / step_seconds}


MODELS = {
    "SimpleBaseline ResNet-18": lambda size: simple_baseline.simple_baseline(size, "resnet18"),
    "SimpleBaseline ResNet-50": lambda size: simple_baseline.simple_baseline(size, "resnet50"),
    "HRNet-W32": lambda size: hrnet.hrnet(size, width=32),
    "HRNet-W48": lambda size: hrnet.hrnet(size, width=48),
}


def model_benchmark(size, batch, repeats):
  """Parameters, forward FLOPs per crop and supervised-step crops/s of every backbone."""
  codec = codec_lib.KeypointCodec(size)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  rows = []
  for name, build in MODELS.items():
    with strategy.scope():
      trainer = supervised.SupervisedTrainer(build_model=lambda b=build: b(size))
      trainer.compile([keras.optimizers.Adam(1e-3)])
    flops = forward_flops(trainer.student_1)
    matmul = runtime.matmul_gflops()
    seconds = timed_step(strategy, trainer, fake_batches(codec, None, batch, 0), repeats)
    matmul = max(matmul, runtime.matmul_gflops())
    rows.append({"model": name, "size": list(size), "params": trainer.student_1.count_params(),
                 "trainable_params": int(sum(np.prod(w.shape)
                                             for w in trainer.student_1.trainable_weights)),
                 "gflops_per_crop": flops / 1e9, "step_seconds": seconds,
                 "crops_per_s": batch / seconds,
                 "achieved_gflops": 3 * batch * flops / seconds / 1e9, "matmul_gflops": matmul,
                 "matmul_share": 3 * batch * flops / seconds / 1e9 / matmul})
  return rows


def pipeline_benchmark(size, batch, data_root, repeats):
  """Crops/s of the labeled pipeline and of the unlabeled pipeline for K = 0..4 (model skipped)."""
  codec = codec_lib.KeypointCodec(size)
  dataset = synthetic.make_synthetic_coco(root=data_root, split="train", num_images=300)
  instances, _ = coco.load_instances(dataset)
  rows = []

  def rate(ds, crops_per_element, window=10):
    # Sustained rate: the median over `repeats` windows of `window` consecutive batches, after
    # draining more than the prefetch buffer holds, so buffered elements do not inflate it.
    iterator = iter(ds)

    def pull():
      for _ in range(window):
        next(iterator)

    seconds = median_seconds(pull, repeats, warmup=2) / window
    del iterator
    return crops_per_element / seconds

  labeled = pipeline.labeled_dataset(instances, codec, batch, augment_lib.TopDownAugment())
  rows.append({"pipeline": "labeled", "size": list(size), "crops_per_s": rate(labeled, batch)})
  for k in (0, 1, 2, 3, 4):
    spec = spec_for(k)
    ds = pipeline.unlabeled_dataset(instances, codec, batch, spec,
                                    canvas_size=(synthetic.HEIGHT, synthetic.WIDTH))
    rows.append({"pipeline": f"unlabeled, {spec.num_views} views (K={k})", "size": list(size),
                 "crops_per_s": rate(ds, batch)})
  return rows


def markdown(result):
  """The tables of the parts `result` holds, each with the date and commit it was measured at."""
  lines = [f"Machine: {result['machine']}. Each row's float32 2048^2 matmul GFLOP/s is the "
           "higher of two measurements just before and after its step (the practical ceiling; "
           "it drifts on shared machines)."]
  measured = result.get("measured", {})

  def header(part):
    when = measured.get(part, {})
    lines.extend(["", f"Measured {when.get('date', '?')}, commit {when.get('commit', '?')}, "
                  f"batch {when.get('batch', '?')}:", ""])

  if result.get("steps"):
    header("steps")
    lines += ["| network | step | input | source crops/step | s/step | crops/s | GFLOP/step | "
              "GFLOP/s | matmul GFLOP/s | % of matmul |", "|---" * 10 + "|"]
    for row in result["steps"]:
      lines.append(f"| {row['network']} | {row['step']} | {row['size'][0]}x{row['size'][1]} | "
                   f"{row['crops']} | {row['seconds']:.3f} | {row['crops_per_s']:.1f} | "
                   f"{row['gflops_per_step']:.1f} | {row['achieved_gflops']:.0f} | "
                   f"{row['matmul_gflops']:.0f} | {100 * row['matmul_share']:.0f}% |")
    lines += ["", "Forward FLOPs per crop: " + ", ".join(
        f"{name}: {f / 1e9:.2f} GFLOP" for name, f in result["model_flops"].items())]
    lines += ["", "| pseudo-target construction (K=2) | network | input | ms | share of the step |",
              "|---|---|---|---|---|"]
    for row in result["steps"]:
      if "target_share" in row:
        share = row["target_share"]
        lines.append(f"| warp + ensemble + refine + uncertainty + select | {row['network']} | "
                     f"{row['size'][0]}x{row['size'][1]} | {1000 * share['seconds']:.1f} | "
                     f"{100 * share['share']:.1f}% |")
  if result.get("pipelines"):
    header("pipelines")
    lines += ["| input pipeline alone | input | crops/s | x the method's step (K=2) needs |",
              "|---|---|---|---|"]
    for row in result["pipelines"]:
      lines.append(f"| {row['pipeline']} | {row['size'][0]}x{row['size'][1]} | "
                   f"{row['crops_per_s']:.0f} | {row['headroom']:.1f} |")
  if result.get("models"):
    header("models")
    lines += ["| model (supervised step) | input | "
              "params (trainable) | forward GFLOP/crop | crops/s | GFLOP/s | % of matmul |",
              "|---|---|---|---|---|---|---|"]
    for row in result["models"]:
      lines.append(f"| {row['model']} | {row['size'][0]}x{row['size'][1]} | "
                   f"{row['trainable_params'] / 1e6:.2f}M | {row['gflops_per_crop']:.2f} | "
                   f"{row['crops_per_s']:.1f} | {row['achieved_gflops']:.0f} | "
                   f"{100 * row['matmul_share']:.0f}% |")
  if result.get("reference"):
    header("reference")
    lines += ["| K = 3 against DualPose's code (ResNet-18) | input | source crops/step | "
              "ours, crops/s | DualPose's code, crops/s | ours / theirs | GFLOP/step, ours; "
              "theirs | GFLOP/s, ours; theirs | per-round s/step, ours; theirs | "
              "matmul GFLOP/s, TF; torch |", "|---" * 10 + "|"]
    for row in result["reference"]:
      ours, theirs = row["ours"], row["theirs"]
      size = f"{row['size'][0]}x{row['size'][1]}"
      # Network forwards of B = crops / 2 crops per student, a gradient pass counted as 3:
      # ours (K = 3) labeled and loss view with gradient + 3 other ensemble views = 9 B;
      # DualPose's code labeled and strong view with gradient + the weak view = 7 B.
      flops = result.get("model_flops", {}).get(f"ResNet-18, {size}")
      work = ("?", "?", "?", "?")
      if flops:
        step = [2 * n * row["crops"] // 2 * flops / 1e9 for n in (9, 7)]
        work = (f"{step[0]:.0f}", f"{step[1]:.0f}",
                f"{step[0] * ours['crops_per_s'] / row['crops']:.0f}",
                f"{step[1] * theirs['crops_per_s'] / row['crops']:.0f}")
      lines.append(
          f"| method K=3 vs DualPose | {size} | {row['crops']} | "
          f"{ours['crops_per_s']:.1f} | {theirs['crops_per_s']:.1f} | "
          f"{ours['crops_per_s'] / theirs['crops_per_s']:.2f}x | {work[0]}; {work[1]} | "
          f"{work[2]}; {work[3]} | "
          f"{', '.join(f'{t:.2f}' for t in ours['round_seconds'])}; "
          f"{', '.join(f'{t:.2f}' for t in theirs['round_seconds'])} | "
          f"{ours['matmul_gflops']:.0f}; {theirs['matmul_gflops']:.0f} |")
    lines += ["", "DualPose's code: " + result["reference"][0]["theirs"]["source"]]
  if result.get("mirrored"):
    header("mirrored")
    lines += ["| MirroredStrategy (method K=2, ResNet-18) | input | s/step, 1 device | "
              "s/step, 2 logical devices | speed-up |", "|---|---|---|---|---|"]
    for row in result["mirrored"]:
      lines.append(f"| global batch {row['crops']} | {row['size'][0]}x{row['size'][1]} | "
                   f"{row['one']:.3f} | {row['two']:.3f} | {row['one'] / row['two']:.2f}x |")
  return "\n".join(lines) + "\n"


PARTS = ("steps", "pipelines", "models", "mirrored", "reference")
DEFAULT_PARTS = PARTS[:4]  # `reference` needs PyTorch and DualPose's code (flags below)
FORMAT = 2  # of <out>.json: per-part date, commit and batch; per-row matmul rate


def _define_flags():
  flags.DEFINE_list("sizes", ["128x96", "256x192"], "Input sizes HxW.")
  flags.DEFINE_integer("batch", 16, "Labeled crops per step (and as many unlabeled).")
  flags.DEFINE_integer("repeats", 5, "Timed repetitions (after 2 warm-up calls).")
  flags.DEFINE_string("out", "results/throughput", "Output prefix (.json and .md).")
  flags.DEFINE_string("data_root", "data/benchmark_synthetic", "Synthetic data for pipelines.")
  flags.DEFINE_list("parts", list(DEFAULT_PARTS),
                    "Parts to measure, each in its own process (TensorFlow keeps the memory "
                    "of every model a process built); the others are kept from an existing "
                    "<out>.json of this machine, and each part records its date and commit.")
  flags.DEFINE_string("torch_python", None, "Part `reference`: a Python interpreter with "
                      "PyTorch (and what DualPose's code imports) to run dualpose_reference.py.")
  flags.DEFINE_string("reference_dir", None, "Part `reference`: a work tree of "
                      "xierc/Semi_Human_Pose (commit 76e6623).")
  flags.DEFINE_integer("rounds", 2, "Part `reference`: alternating rounds of ours and theirs.")
  flags.DEFINE_string("commit", None, "Commit to record (default: the repository's HEAD); the "
                      "parent process passes its own to the processes of the parts.")


def commit():
  """This code's HEAD commit (short), '+changes' if tracked files other than benchmark results
  differ from it; '?' outside a git checkout."""
  root = os.environ.get("BUILD_WORKSPACE_DIRECTORY") or os.path.dirname(os.path.abspath(__file__))
  try:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=True, timeout=30).stdout.strip()
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True,
                         text=True, check=True, timeout=30).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                            ":(exclude)benchmarks"], cwd=top, capture_output=True, text=True,
                           check=True, timeout=30).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return "?"
  return head + ("+changes" if dirty else "")


def measure(part, sizes, result):
  """Measures one part into `result` (in this process)."""
  result[part] = []
  result.setdefault("measured", {})[part] = {
      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
      "commit": FLAGS.commit or commit(), "batch": FLAGS.batch}
  if part == "steps":
    result["model_flops"] = {}
    for size in sizes:
      for network in NETWORKS:
        if network != "ResNet-18" and size != sizes[0]:
          continue  # the demo's network at the first (the demo's) size only
        rows, flops = step_benchmark(size, FLAGS.batch, FLAGS.repeats, network=network)
        result["steps"] += rows
        result["model_flops"][f"{network}, {size[0]}x{size[1]}"] = flops
  elif part == "pipelines":
    for size in sizes:
      needed = next((r["crops_per_s"] for r in result.get("steps", [])
                     if r["step"] == "method K=2" and r["network"] == "ResNet-18"
                     and tuple(r["size"]) == size), None)
      if needed is None:
        raise app.UsageError(f"no ResNet-18 'method K=2' step measured at {size[0]}x{size[1]} "
                             "to compare the pipeline with; add 'steps' to --parts")
      for row in pipeline_benchmark(size, FLAGS.batch, io_utils.resolve_path(FLAGS.data_root),
                                    FLAGS.repeats):
        row["headroom"] = row["crops_per_s"] / needed
        result["pipelines"].append(row)
  elif part == "models":
    for size in sizes:
      result["models"] += model_benchmark(size, FLAGS.batch, max(2, FLAGS.repeats // 2))
  elif part == "reference":
    for size in sizes:
      result["reference"].append(reference_comparison(size, FLAGS.batch, FLAGS.repeats,
                                                      FLAGS.rounds))
  elif part == "mirrored":
    # Two logical CPU devices (configured before any TF op ran in this process).
    size = sizes[0]
    seconds = [step_benchmark(size, FLAGS.batch, FLAGS.repeats, devices=devices, ks=(2,),
                              with_supervised=False, extras=False)[0][0]["seconds"]
               for devices in (["/cpu:0"], ["/cpu:0", "/cpu:1"])]
    result["mirrored"].append({"size": list(size), "crops": 2 * FLAGS.batch,
                               "one": seconds[0], "two": seconds[1]})


def reference_comparison(size, batch, repeats, rounds):
  """Our full-width ResNet-18 K = 3 step against DualPose's own code, alternating rounds.

  Each round times ours (in this process) and theirs (`dualpose_reference.py` in a
  `--torch_python` process) with the same batch, repeats and warm-ups; each side's figure is
  its fastest round (the same rule for both: drift only slows a round).
  """
  if not (FLAGS.torch_python and FLAGS.reference_dir):
    raise app.UsageError("--parts=reference needs --torch_python and --reference_dir")
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dualpose_reference.py")
  ours, theirs = [], []
  for _ in range(rounds):
    ours.append(step_benchmark(size, batch, repeats, ks=(3,), with_supervised=False)[0][0])
    with tempfile.TemporaryDirectory() as tmp:
      out = os.path.join(tmp, "reference.json")
      subprocess.run([FLAGS.torch_python, script, f"--reference_dir={FLAGS.reference_dir}",
                      f"--input={size[0]}x{size[1]}", f"--batch={batch}",
                      f"--steps={repeats}", "--warmup=2", f"--out={out}"], check=True)
      with open(out) as f:
        theirs.append(json.load(f))
  best_ours = min(ours, key=lambda r: r["seconds"])
  best_theirs = min(theirs, key=lambda r: r["median_s_per_step"])
  return {"size": list(size), "crops": 2 * batch,
          "ours": {"crops_per_s": best_ours["crops_per_s"],
                   "round_seconds": [r["seconds"] for r in ours],
                   "matmul_gflops": max(r["matmul_gflops"] for r in ours)},
          "theirs": {"crops_per_s": best_theirs["source_crops_per_s"],
                     "round_seconds": [r["median_s_per_step"] for r in theirs],
                     "matmul_gflops": max(max(r["matmul_2048_f32_gflops_before"],
                                              r["matmul_2048_f32_gflops_after"])
                                          for r in theirs),
                     "source": (f"{best_theirs['reference']['repo']} "
                                f"{best_theirs['reference']['commit'][:7]}, PyTorch "
                                f"{best_theirs['torch_version']}, {best_theirs['torch_threads']} "
                                "threads; the network step of one training iteration "
                                "(tfpose_ssl/benchmarks/dualpose_reference.py)"),
                     "runs": theirs}}


def main(argv):
  del argv
  parts = [p for p in PARTS if p in FLAGS.parts]
  if set(FLAGS.parts) - set(PARTS) or not parts:
    raise app.UsageError(f"--parts must be a non-empty subset of {PARTS}, got {FLAGS.parts}")
  out = io_utils.resolve_path(FLAGS.out)
  if len(parts) > 1:
    # One process per part, in order (pipelines compare with the steps part's rows), all
    # recording the commit this run started from.
    label = FLAGS.commit or commit()
    for part in parts:
      command = [sys.executable, "-m", "tfpose_ssl.benchmarks.throughput", f"--parts={part}",
                 f"--sizes={','.join(FLAGS.sizes)}", f"--batch={FLAGS.batch}",
                 f"--repeats={FLAGS.repeats}", f"--out={out}",
                 f"--data_root={io_utils.resolve_path(FLAGS.data_root)}",
                 f"--commit={label}", f"--rounds={FLAGS.rounds}"]
      command += [f"--{name}={getattr(FLAGS, name)}" for name in ("torch_python", "reference_dir")
                  if getattr(FLAGS, name)]
      print(f"measuring {part}: {' '.join(command)}", flush=True)
      subprocess.run(command, check=True)
    with open(out + ".json") as f:
      print(markdown(json.load(f)), flush=True)
    return
  result = {}
  if os.path.exists(out + ".json"):
    with open(out + ".json") as f:
      result = json.load(f)
    if (result.get("machine"), result.get("format")) != (runtime.machine_description(), FORMAT):
      print(f"{out}.json was measured on {result.get('machine')} (format "
            f"{result.get('format', 1)}): its parts are dropped (one file never mixes machines "
            "or formats)", flush=True)
      result = {}
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  start = time.time()
  sizes = [tuple(int(v) for v in s.split("x")) for s in FLAGS.sizes]
  result.update({"machine": runtime.machine_description(), "format": FORMAT})
  measure(parts[0], sizes, result)
  result.setdefault("wall_seconds", {})[parts[0]] = round(time.time() - start, 1)
  io_utils.atomic_write_text(out + ".json", json.dumps(result, indent=1))
  text = markdown(result)
  io_utils.atomic_write_text(out + ".md", text)
  print(text, flush=True)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
