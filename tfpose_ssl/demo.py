r"""The main job: the method against the supervised baseline, same labels, same schedule.

  python -m tfpose_ssl.demo [--config=configs/synthetic.gin] [--workdir=runs/synthetic]
  bazel run //tfpose_ssl:demo

Each step runs the real training binary (`python -m tfpose_ssl.train`) in a subprocess with
its own workdir; running the command again resumes where it stopped.

1. The method's run up to the end of its supervised burn-in (`DualStudentTrainer.burn_in_steps`
   of the config): both students trained on the labeled crops only -> <workdir>/burn_in.
2. The supervised baseline (`configs/modes/supervised.gin`): student 1 of the burn-in
   continues on the labeled crops to the same total steps, with the same learning-rate
   schedule -> <workdir>/supervised.
3. The method continues from the same burn-in with the unlabeled crops -> <workdir>/method.
4. <workdir>/summary.md and summary.json: both side by side (COCO AP of each student and
   of their ensemble, PCK@0.1 per meta-joint); <workdir>/method/skeletons.png shows the
   method's predictions on validation images.

The synthetic splits the config names (data/synthetic for configs/synthetic.gin) are generated
first, unless they are there already (`tfpose_ssl.tools.make_synthetic`): the runs only read them.
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import contextlib
import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags
import gin

from tfpose_ssl import config as config_lib
from tfpose_ssl import io_utils
from tfpose_ssl import runtime
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl.tools import make_synthetic

FLAGS = flags.FLAGS
SUPERVISED_MODE = "configs/modes/supervised.gin"


def run_train(configs, workdir, bindings, log):
  """`python -m tfpose_ssl.train` in a subprocess, its output appended to `log`."""
  command = [sys.executable, "-m", "tfpose_ssl.train", f"--workdir={workdir}"]
  command += [f"--config={c}" for c in configs] + [f"--gin_bindings={b}" for b in bindings]
  with open(log, "a") as f:
    f.write(f"\n=== {' '.join(command)}\n")
    f.flush()
    subprocess.run(command, check=True, stdout=f, stderr=subprocess.STDOUT,
                   cwd=config_lib.REPO_ROOT,
                   env=dict(os.environ, PYTHONPATH=config_lib.REPO_ROOT + os.pathsep +
                            os.environ.get("PYTHONPATH", "")))


def make_data(configs, bindings):
  """Generates the synthetic splits of the gin config where `run_train`'s processes read them.

  Those run in the repository's folder, so a relative data root (`data/synthetic`) is taken
  relative to it here too (or, under `bazel run`, to BUILD_WORKING_DIRECTORY in both).
  """
  with contextlib.chdir(config_lib.REPO_ROOT):
    make_synthetic.make_for_config(configs, bindings)


def schedule(configs, bindings):
  """(burn-in steps, total steps) of the gin config, which must define both."""
  config_lib.parse(configs, bindings)
  try:
    steps = gin.query_parameter("DualStudentTrainer.burn_in_steps")
    epochs = gin.query_parameter("train.epochs")
    steps_per_epoch = gin.query_parameter("train.steps_per_epoch")
  except ValueError as error:
    raise ValueError("the demo needs DualStudentTrainer.burn_in_steps, train.epochs and "
                     f"train.steps_per_epoch in the config: {error}") from error
  finally:
    gin.clear_config()
  if not steps:
    raise ValueError("the demo compares the method with the supervised baseline from a shared "
                     "burn-in: set DualStudentTrainer.burn_in_steps in the config")
  if not steps_per_epoch or int(steps) >= int(epochs) * int(steps_per_epoch):
    raise ValueError(f"the burn-in ({steps} steps) must end before the training does "
                     f"(train.epochs x train.steps_per_epoch = {epochs} x {steps_per_epoch}); "
                     "a fixed steps_per_epoch gives every run the same steps")
  return int(steps), int(epochs) * int(steps_per_epoch)


def finished_summary(run_dir, total_steps):
  """The run's summary when it already ended at `total_steps` (a rerun reuses it), else None."""
  path = os.path.join(run_dir, "summary.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    summary = json.load(f)
  return summary if summary.get("step") == total_steps else None


def run_protocol(configs, workdir, bindings=(), log=None, echo=print):
  """Burn-in, supervised baseline and method (see module docstring); returns their summaries.

  `configs` are the method's gin files; `bindings` apply to all three runs.
  """
  os.makedirs(workdir, exist_ok=True)
  log = log or os.path.join(workdir, "train.log")
  steps, total_steps = schedule(configs, list(bindings))
  burn_in = os.path.join(workdir, "burn_in")
  runs = {"supervised": (list(configs) + [SUPERVISED_MODE], os.path.join(workdir, "supervised")),
          "method": (list(configs), os.path.join(workdir, "method"))}
  # A rerun resumes: finished runs are reused as they are (their summaries keep the training
  # time and metrics), an interrupted one continues from its last checkpoint.
  summaries = {name: finished_summary(run_dir, total_steps)
               for name, (_, run_dir) in runs.items()}
  if not all(summaries.values()):
    make_data(configs, list(bindings))
  start = time.time()
  if not all(summaries.values()) and not os.path.exists(
      os.path.join(burn_in, "checkpoints", f"ckpt-{steps}.index")):
    run_train(configs, burn_in, list(bindings) + [f"train.stop_at_step = {steps}"], log)
    echo(f"burn-in ({steps} supervised steps of both students): {time.time() - start:.0f} s")
  for name, (run_configs, run_dir) in runs.items():
    if summaries[name]:
      echo(f"{name}: finished before ({run_dir}/summary.json)")
      continue
    start = time.time()
    run_train(run_configs, run_dir,
              list(bindings) + [f"train.init_checkpoint = '{burn_in}'"], log)
    with open(os.path.join(run_dir, "summary.json")) as f:
      summaries[name] = json.load(f)
    echo(f"{name}: {time.time() - start:.0f} s")
  steps = {name: summary["step"] for name, summary in summaries.items()}
  if len(set(steps.values())) != 1:
    raise ValueError(f"the runs ended at different steps {steps}: set train.steps_per_epoch "
                     "(a supervised epoch is otherwise a pass over the labeled crops only)")
  return summaries


def comparison(summaries):
  """Markdown: AP and PCK of every model of every run, and the meta-joint PCK of student 1."""
  lines = ["| run | model | AP | AP50 | AP75 | AR | PCK@0.1 |", "|---|---|---|---|---|---|---|"]
  for run, summary in summaries.items():
    for model, m in summary["metrics"].items():
      lines.append(f"| {run} | {model} | {100 * m['AP']:.1f} | {100 * m['AP50']:.1f} | "
                   f"{100 * m['AP75']:.1f} | {100 * m['AR']:.1f} | {100 * m['PCK']:.1f} |")
  joints = list(next(iter(summaries.values()))["metrics"]["student_1"]["PCK_meta"])
  lines += ["", "PCK@0.1 per meta-joint (student 1):", "",
            "| run | " + " | ".join(joints) + " |", "|---|" + "---|" * len(joints)]
  for run, summary in summaries.items():
    meta = summary["metrics"]["student_1"]["PCK_meta"]
    lines.append(f"| {run} | " + " | ".join(f"{100 * meta[j]:.1f}" for j in joints) + " |")
  return "\n".join(lines)


def _define_flags():
  config_lib.define_flags()
  flags.adopt_module_key_flags(config_lib)  # --config, --gin_bindings in --help
  flags.DEFINE_string("workdir", "runs/synthetic", "Output folder.")


def main(argv):
  del argv
  configs = FLAGS.config or ["configs/synthetic.gin"]
  workdir = io_utils.resolve_path(FLAGS.workdir)
  start = time.time()
  summaries = run_protocol(configs, workdir, FLAGS.gin_bindings,
                           echo=lambda text: print(f"== {text}", flush=True))
  seconds = time.time() - start
  machine = runtime.machine_description()
  gflops = runtime.matmul_gflops()  # same run: machines of one kind differ several-fold
  steps = summaries["method"]["step"]
  text = "\n".join([
      f"# The method vs the supervised baseline ({steps} steps each, same labels and "
      "schedule; the method's first steps are the shared supervised burn-in)", "",
      comparison(summaries), "",
      f"Configs: {', '.join(configs)}; runs in {workdir}/{{burn_in,supervised,method}}.",
      f"Training and evaluation: {seconds:.0f} s on {machine}; float32 matmul (2048^2) "
      f"measured after the runs: {gflops:.0f} GFLOP/s.", ""])
  io_utils.atomic_write_text(os.path.join(workdir, "summary.md"), text)
  io_utils.atomic_write_text(
      os.path.join(workdir, "summary.json"),
      json.dumps({"runs": summaries, "seconds": round(seconds, 1), "machine": machine,
                  "matmul_gflops": round(gflops, 1)}, indent=1))
  print(text)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
