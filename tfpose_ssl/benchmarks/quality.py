r"""Learning-quality benchmark: a synthetic COCO-Partial protocol on this machine.

  python -m tfpose_ssl.benchmarks.quality --mode=quick
  python -m tfpose_ssl.benchmarks.quality --mode=full
  bazel run //tfpose_ssl/benchmarks:quality -- --mode=full

Generates a fixed synthetic train/val set with the project's generator (unless it is under
--data_root already), draws labeled budgets from train (the rest unlabeled), and trains
Supervised, DualPose, the full method and the Table 4 rows with the same backbone, input size,
number of steps, batch sizes and seeds (seed k draws split k and initialization k), plus a
supervised run on all labels as the upper reference (trained from scratch to the same total
steps). Every other row starts from the same supervised burn-in of its seed (both students
trained on the labeled crops for the config's `DualStudentTrainer.burn_in_steps` steps): the
supervised row continues student 1 on labeled crops, the semi-supervised rows add the unlabeled
crops, all to the same total steps under one learning-rate schedule (see `tfpose_ssl.demo`).
Every run is the real training binary in a subprocess with its own workdir, so an interrupted
benchmark resumes where it stopped. Writes `<out>/<mode>.json` (every run and the aggregates)
and `<out>/<mode>.md` (the table: AP mean +- std for student and ensemble, PCK@0.1 of the 7
meta-joints, the pseudo-label PCK before and after selection and the students' own PCK on the
loss view for the same joints).
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import json
import os
import time

from absl import app
from absl import flags
import numpy as np

from tfpose_ssl import demo
from tfpose_ssl import io_utils
from tfpose_ssl import runtime

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

METHODS = {  # name -> mode file (configs/modes/)
    "Supervised": "supervised.gin",
    "DualPose": "dualpose.gin",
    "+ multi-view (T4)": "table4_multiview.gin",
    "+ threshold-and-refine (T4)": "table4_refine.gin",
    "Full method (+ selection)": "full.gin",
}
ALL_LABELS = "Supervised, all labels"

MODES = {
    # Smoke check: one budget, every method, one seed, a short schedule.
    "quick": {"budgets": [300], "seeds": [0], "steps": 300, "burn_in": 150, "num_images": 600,
              "val_images": 150, "batch": 16},
    # The protocol of docs/benchmarks.md (~50 min per seed on a 2-core AVX2 EPYC).
    "full": {"budgets": [300], "seeds": [0, 1, 2], "steps": 2000, "burn_in": 1000,
             "num_images": 1500, "val_images": 150, "batch": 16},
    # Unit-level check of the benchmark code itself (tests, with --base_config=configs/smoke.gin).
    "test": {"budgets": [8], "seeds": [0], "steps": 4, "burn_in": 2, "num_images": 8,
             "val_images": 2, "batch": 4},
}

COMMON_BINDINGS = [
    # Same schedule for every method: fixed steps and batch sizes (set per mode).
    "train.epochs = 1",
    "train.eval_every_epochs = 0", "train.verbose = 2", "train.num_visualized = 0",
    "train.image_every_epochs = 0", "train.summary_every_steps = 100",
]


def run_dir(out, mode, budget, method, seed):
  slug = {ALL_LABELS: "all_labels", "burn-in": "burn_in"}.get(method) or METHODS[method][:-4]
  return os.path.join(out, "runs", mode, f"labeled_{budget}", slug, f"seed_{seed}")


def data_bindings(data_root, spec):
  """The synthetic train and val sets of every run of the mode `spec`, under `data_root`."""
  return [f"train/synthetic_coco.root = '{data_root}'", f"val/synthetic_coco.root = '{data_root}'",
          f"train/synthetic_coco.num_images = {spec['num_images']}",
          f"val/synthetic_coco.num_images = {spec['val_images']}"]


def run_one(out, mode, budget, method, seed, data_root, spec, log,
            base_config="configs/synthetic.gin"):
  """Trains one configuration (or reuses a finished run); returns its summary dict.

  `method` is a key of METHODS, ALL_LABELS, or "burn-in" (the shared start of the budget's
  rows for this seed: it stops after `spec["burn_in"]` steps and returns None).
  """
  workdir = run_dir(out, mode, budget, method, seed)
  summary_path = os.path.join(workdir, "summary.json")
  if os.path.exists(summary_path):
    with open(summary_path) as f:
      summary = json.load(f)
    if summary.get("step") == spec["steps"]:
      return summary
  bindings = COMMON_BINDINGS + [
      f"train.batch_size = {spec['batch']}", f"train.unlabeled_batch_size = {spec['batch']}",
      f"train.steps_per_epoch = {spec['steps']}", f"train.split_seed = {seed}",
      f"train.seed = {seed}", f"DualStudentTrainer.burn_in_steps = {spec['burn_in']}",
  ] + data_bindings(data_root, spec)
  configs = [base_config]
  if method == ALL_LABELS:
    configs.append("configs/modes/supervised.gin")
    bindings.append("train.num_labeled = None")
  else:
    bindings.append(f"train.num_labeled = {budget}")
  if method == "burn-in":
    if tf_checkpoint_exists(workdir, spec["burn_in"]):
      return None
    bindings.append(f"train.stop_at_step = {spec['burn_in']}")
  elif method in METHODS:
    configs.append(f"configs/modes/{METHODS[method]}")
    bindings.append(f"train.init_checkpoint = '{run_dir(out, mode, budget, 'burn-in', seed)}'")
  start = time.time()
  demo.run_train(configs, workdir, bindings, log)
  print(f"  {method:30s} labeled={budget!s:>5} seed={seed}: {time.time() - start:.0f} s",
        flush=True)
  if method == "burn-in":
    return None
  with open(summary_path) as f:
    return json.load(f)


def tf_checkpoint_exists(workdir, step):
  return os.path.exists(os.path.join(workdir, "checkpoints", f"ckpt-{step}.index"))


def _mean_std(values):
  values = [v for v in values if v is not None and np.isfinite(v)]
  if not values:
    return None, None
  return float(np.mean(values)), float(np.std(values))


def aggregate(runs):
  """Per (budget, method): mean and std over seeds of every reported number."""
  table = {}
  for (budget, method), summaries in runs.items():
    row = {}
    student = [np.mean([s["metrics"][n]["AP"] for n in s["metrics"] if n.startswith("student")])
               for s in summaries]
    row["AP_student"] = _mean_std(student)
    row["AP_ensemble"] = _mean_std([s["metrics"].get("ensemble", {}).get("AP")
                                    for s in summaries])
    row["PCK"] = _mean_std([s["metrics"]["student_1"]["PCK"] for s in summaries])
    for joint in summaries[0]["metrics"]["student_1"]["PCK_meta"]:  # the schema's groups
      row[f"PCK_{joint}"] = _mean_std([s["metrics"]["student_1"]["PCK_meta"][joint]
                                       for s in summaries])
    for name in ("pseudo_pck_before", "pseudo_pck_after", "own_pck"):
      row[name] = _mean_std([
          np.mean([s.get("last_epoch_train_metrics", {}).get(f"{name}_{i}", np.nan)
                   for i in (1, 2)]) for s in summaries])
    row["seeds"] = len(summaries)
    table[f"{budget}/{method}"] = row
  return table


def markdown(table, spec, mode):
  def fmt(pair, scale=100.0):
    mean, std = pair
    return "-" if mean is None else f"{scale * mean:.1f} ± {scale * std:.1f}"

  joints = [name[4:] for name in next(iter(table.values())) if name.startswith("PCK_")]
  lines = [f"Synthetic COCO-Partial, {mode} mode: {spec['num_images']} train images, labeled "
           f"budgets {spec['budgets']}, {spec['steps']} steps of {spec['batch']} labeled "
           f"(+ {spec['batch']} unlabeled) crops, the first {spec['burn_in']} a supervised "
           "burn-in shared by every row of a seed, "
           f"{min(r['seeds'] for r in table.values())} of {len(spec['seeds'])} seeds "
           f"done {spec['seeds']}. AP in %, mean ± std over seeds; 'student' averages "
           "the two students of a dual-student run. Pseudo PCK: PCK@0.1 of the training "
           "targets against the unlabeled crops' held-back labels (last epoch), before and "
           "after selection; own PCK: the students' own loss-view predictions on the same "
           "joints.", "",
           "| labeled | method | AP student | AP ensemble | PCK@0.1 | "
           + " | ".join(joints) + " | pseudo PCK before | pseudo PCK after | own PCK |",
           "|---|---|---|---|---|" + "---|" * len(joints) + "---|---|---|"]
  for key, row in table.items():
    budget, method = key.split("/", 1)
    cells = [budget, method, fmt(row["AP_student"]), fmt(row["AP_ensemble"]), fmt(row["PCK"])]
    cells += [fmt(row[f"PCK_{j}"]) for j in joints]
    cells += [fmt(row["pseudo_pck_before"]), fmt(row["pseudo_pck_after"]),
              fmt(row["own_pck"])]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


FLAGS = flags.FLAGS


def selected_methods(names):
  """The METHODS keys of the mode-file names `names` (`--methods`), in METHODS' order."""
  by_file = {mode[:-4]: method for method, mode in METHODS.items()}
  unknown = sorted(set(names) - set(by_file))
  if unknown:
    raise ValueError(f"--methods: unknown {unknown}; the methods are {list(by_file)}")
  return [method for method in METHODS if METHODS[method][:-4] in names]


def _define_flags():
  flags.DEFINE_enum("mode", "quick", list(MODES), "quick (smoke check) or full (docs/benchmarks.md table).")
  flags.DEFINE_string("out", "results/quality", "Output folder (runs/, <mode>.json, .md).")
  flags.DEFINE_string("data_root", "data/benchmark_synthetic", "Synthetic data folder.")
  flags.DEFINE_string("base_config", "configs/synthetic.gin", "Config the runs start from.")
  flags.DEFINE_list("methods", [mode[:-4] for mode in METHODS.values()],
                    "The rows to run, by mode file (configs/modes/<name>.gin), e.g. "
                    "supervised,full; default: all. The all-labels row always runs.")


def main(argv):
  del argv
  spec = MODES[FLAGS.mode]
  methods = selected_methods(FLAGS.methods)
  # A subset of the rows writes its own files (<mode>_<methods>.md): it never replaces the table
  # of every method.
  name = FLAGS.mode if len(methods) == len(METHODS) else "_".join(
      [FLAGS.mode] + [METHODS[m][:-4] for m in methods])
  out = io_utils.resolve_path(FLAGS.out)
  data_root = io_utils.resolve_path(FLAGS.data_root)
  os.makedirs(out, exist_ok=True)
  log = os.path.join(out, f"{name}.log")
  start = time.time()
  demo.make_data([FLAGS.base_config], data_bindings(data_root, spec))  # the runs only read it
  runs = {}
  # Seed-major order: after each round every (budget, method) has one more seed, and the
  # tables are rewritten, so an interrupted benchmark still leaves a complete (smaller) table.
  for seed in spec["seeds"]:
    for budget in spec["budgets"]:
      run_one(out, FLAGS.mode, budget, "burn-in", seed, data_root, spec, log, FLAGS.base_config)
      for method in methods:
        runs.setdefault((budget, method), []).append(
            run_one(out, FLAGS.mode, budget, method, seed, data_root, spec, log,
                    FLAGS.base_config))
    runs.setdefault(("all", ALL_LABELS), []).append(
        run_one(out, FLAGS.mode, "all", ALL_LABELS, seed, data_root, spec, log,
                FLAGS.base_config))
    table = aggregate(runs)
    result = {"mode": FLAGS.mode, "spec": spec, "bindings": COMMON_BINDINGS,
              "wall_seconds": round(time.time() - start, 1), "table": table,
              "runs": {f"{b}/{m}": r for (b, m), r in runs.items()},
              "machine": runtime.machine_description()}
    io_utils.atomic_write_text(os.path.join(out, f"{name}.json"),
                               json.dumps(result, indent=1))
    text = markdown(table, spec, FLAGS.mode)
    io_utils.atomic_write_text(os.path.join(out, f"{name}.md"), text)
  print(text)
  print(f"wall time {time.time() - start:.0f} s; results in {out}")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
