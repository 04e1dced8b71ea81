"""The training function: supervised or dual-student training of a top-down pose model.

`train(workdir)` trains, checkpoints, validates and resumes; its parameters come from gin (the
`train` binary, `tfpose_ssl/train.py`, parses the config and calls it). The workdir receives
config.gin, checkpoints/ (students, optimizers, step), tensorboard/, results JSONs,
summary.json/.md and skeletons.png. Running it again resumes from the last checkpoint; under a
changed config it refuses (`train.allow_config_change=True` continues on purpose).
"""

import dataclasses
import json
import os
import time
from typing import Dict, List, Optional

from absl import logging
import gin
import keras
import numpy as np
import tensorflow as tf

from tfpose_ssl import config as config_lib
from tfpose_ssl import io_utils
from tfpose_ssl import runtime
from tfpose_ssl import task as task_lib
from tfpose_ssl.evaluation import evaluator
from tfpose_ssl.evaluation import visualize
from tfpose_ssl.ops import augment as augment_lib
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.trainers import callbacks as callbacks_lib
from tfpose_ssl.trainers import supervised


STRATEGIES = ("mirrored", "multi_worker", "default")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def make_strategy(name):
  """'mirrored' (all local devices), 'multi_worker' (MultiWorkerMirroredStrategy over the
  cluster in $TF_CONFIG), or 'default' (no distribution)."""
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "default":
    return tf.distribute.get_strategy()
  raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")


def worker_role(distribution):
  """(is_chief, task id): the chief writes summaries, results and the real checkpoints."""
  resolver = getattr(distribution, "cluster_resolver", None)
  spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
  if not spec:
    return True, 0
  task_type, task_id = resolver.task_type, resolver.task_id or 0
  if task_type == "chief":
    return True, task_id
  return task_type == "worker" and task_id == 0 and "chief" not in spec, task_id


def lock_name(distribution):
  """The workdir lock file of this process: `.lock`, or one per worker of a cluster."""
  resolver = getattr(distribution, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return ".lock"
  return f".lock_{resolver.task_type}_{resolver.task_id or 0}"


def make_optimizer(schedule, precision):
  optimizer = keras.optimizers.Adam(schedule)
  if precision == "mixed_float16":  # float16 gradients underflow without loss scaling
    return keras.optimizers.LossScaleOptimizer(optimizer)
  return optimizer


def learning_rate_schedule(learning_rate, total_steps, decay_at, decay_factor):
  """Step decay: x`decay_factor` at each fraction of training in `decay_at` (paper: 0.7, 0.9)."""
  boundaries = sorted({max(1, int(round(f * total_steps))) for f in decay_at})
  values = [learning_rate * decay_factor ** i for i in range(len(boundaries) + 1)]
  return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


@dataclasses.dataclass
class TrainResult:
  """What one call of `train` did.

  Attributes:
    step: the step counter at its end.
    total_steps: the steps the config trains in all (`epochs` x `steps_per_epoch`).
    history: one dict of training logs per epoch (or part of one) this call ran.
    train_metrics: the trainer's statistics over the last epoch it ran, e.g. losses and
      pseudo-label PCK (`trainer.scalar_metrics()`); empty when it ran no step.
    report: the final evaluation (`EvalReport`); None when training stopped before the end,
      when the task has no validation set, or on a worker that is not the chief.
  """
  step: int
  total_steps: int
  history: List[Dict[str, float]]
  train_metrics: Dict[str, float]
  report: Optional[evaluator.EvalReport] = None

  @property
  def finished(self):
    return self.step >= self.total_steps


@gin.configurable(denylist=["workdir"])
def train(workdir, task=None, trainer_fn=supervised.SupervisedTrainer, epochs=100,
          steps_per_epoch=None, batch_size=32, unlabeled_batch_size=None, learning_rate=1e-3,
          lr_decay_at=(0.7, 0.9), lr_decay_factor=0.1, num_labeled=None, split_mode="random",
          split_seed=0, split_file=None, unlabeled_sources=(), seed=0, eval_every_epochs=10,
          max_val_instances=None, checkpoint_every_steps=0, keep_checkpoints=3,
          summary_every_steps=50, image_every_epochs=1, max_steps_per_run=0, strategy="mirrored",
          precision="float32", num_visualized=8, verbose="auto", init_checkpoint=None,
          stop_at_step=None, allow_config_change=False):
  """Trains, checkpoints, validates; returns a `TrainResult`.

  Args:
    workdir: output folder (created; an existing run there is resumed).
    task: the `PoseTask` (data, sizes, model); None builds one from the gin config.
    trainer_fn: `SupervisedTrainer` or `DualStudentTrainer` (called with `build_model`, `codec`;
      the dual-student trainer also with `views` and `measure_pseudo_labels`).
    epochs: training epochs of `steps_per_epoch` steps (default: one pass over the labeled
      crops, or for the semi-supervised trainer over the larger of the labeled and unlabeled
      sets).
    batch_size: labeled crops per step (global, over all replicas).
    unlabeled_batch_size: unlabeled crops per step (default: batch_size).
    learning_rate, lr_decay_at, lr_decay_factor: Adam with step decay at these fractions of
      training (paper: 1e-3, x0.1 at 70% and 90%).
    num_labeled, split_mode, split_seed, split_file: COCO-Partial: train on `num_labeled`
      instances (None: all), the rest of train is unlabeled; the split JSON defaults to
      <workdir>/split.json.
    unlabeled_sources: `UnlabeledImages` (COCO-Additional: folders + detector boxes).
    seed: seeds initialization and the data streams.
    eval_every_epochs: validation AP every this many epochs (0: only at the end).
    max_val_instances: validate on the first N val instances only (None: all).
    checkpoint_every_steps: extra checkpoints inside an epoch (0: only at epoch ends).
    max_steps_per_run: stop (with a checkpoint) after this many steps in this invocation, for
      time-boxed jobs; rerunning the command continues. 0: run to the end.
    strategy: 'mirrored' (local devices), 'multi_worker' (several machines, from $TF_CONFIG;
      the workdir must be shared storage) or 'default'.
    precision: 'float32', 'mixed_float16' (with dynamic loss scaling; steps whose gradients
      overflow are skipped and not counted) or 'mixed_bfloat16'. Heatmap outputs and the
      pseudo-heatmap math stay float32.
    stop_at_step: stop (with a checkpoint, without the final evaluation) when the step counter
      reaches this value, e.g. at the end of a burn-in that several runs continue from
      (`init_checkpoint`); rerunning stops there again.
    allow_config_change: resume a workdir whose checkpoints were trained under a different
      config (e.g. more epochs); otherwise such a resume is refused, naming the differences
      (parameters in `config.RUN_CONTROL`, such as `verbose`, and those of
      `config.RUN_CONTROL_CONFIGURABLES`, the thread pools, may always change).
    init_checkpoint: warm start: when the workdir holds no checkpoint, start from this run's
      (a workdir, checkpoint folder or prefix) students, optimizers and step, e.g. a shared
      supervised burn-in that several methods continue from. Every object of this trainer
      must be in it (a supervised trainer can start from a dual-student checkpoint: student 1).
  """
  distribution, thread_pools = start_runtime(strategy, precision,
                                             models=trainer_fn.num_students)
  is_chief, task_id = worker_role(distribution)
  task = task or task_lib.PoseTask()
  workdir = io_utils.resolve_path(workdir)
  os.makedirs(workdir, exist_ok=True)
  # One run per workdir: each process of this run holds its lock file (`lock_name`).
  with io_utils.WorkdirLock(workdir, lock_name(distribution)):
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    if io_utils.checkpoint_prefixes(checkpoint_dir) and not allow_config_change:
      config_lib.check_resumed_config(workdir)
    task_lib.check_schema(checkpoint_dir, task.schema)  # every worker, before any restore
    keras.utils.set_random_seed(seed)
    unlabeled_batch_size = unlabeled_batch_size or batch_size
    labeled, unlabeled = training_instances(
        task, split_path(workdir, split_file), num_labeled, split_seed, split_mode,
        unlabeled_sources if trainer_fn.uses_unlabeled else None, batch_size,
        unlabeled_batch_size)
    # One augmentation for the labeled crops and the weak views (ops/augment.py).
    augment = augment_lib.TopDownAugment()
    trainer = build_trainer(distribution, trainer_fn, task, augment, unlabeled)
    steps_per_epoch = steps_per_epoch or max(
        len(labeled) // batch_size, len(unlabeled) // unlabeled_batch_size if unlabeled else 0)
    total_steps = epochs * steps_per_epoch
    schedule = learning_rate_schedule(learning_rate, total_steps, lr_decay_at, lr_decay_factor)
    with distribution.scope():
      trainer.compile([make_optimizer(schedule, precision) for _ in trainer.students])
    manager = restore_or_start(trainer, workdir, is_chief, task_id, keep_checkpoints,
                               init_checkpoint)
    if is_chief:  # only now: a refused run leaves the config of the checkpoints in place
      task_lib.write_schema(checkpoint_dir, task.schema, task.category_id)
      io_utils.atomic_write_text(os.path.join(workdir, config_lib.SAVED_CONFIG), gin.config_str())
    step = callbacks_lib.current_step(trainer)
    writer = (tf.summary.create_file_writer(os.path.join(workdir, "tensorboard")) if is_chief
              else tf.summary.create_noop_writer())

    def validate():
      return evaluator.evaluate(trainer.students, task, max_instances=max_val_instances,
                                out_dir=os.path.join(workdir, "results"))

    data = TrainingData(task, trainer, augment, labeled, unlabeled, batch_size,
                        unlabeled_batch_size, seed)
    callbacks = [  # the skip check first: an epoch of unreadable data saves nothing
        callbacks_lib.SkippedImagesCallback(data.samples_per_step),
        callbacks_lib.CheckpointCallback(manager, checkpoint_every_steps),
        callbacks_lib.SummaryCallback(writer, summary_every_steps, task.schema.names),
    ]
    if is_chief and unlabeled is not None and image_every_epochs:
      callbacks.append(callbacks_lib.PseudoLabelImageCallback(writer, data.image_sample(),
                                                              image_every_epochs))
    if is_chief and task.val_set is not None:
      callbacks.append(callbacks_lib.ValidationCallback(validate, writer, eval_every_epochs,
                                                        epochs, steps_per_epoch))
    end = min(total_steps, step + max_steps_per_run) if max_steps_per_run else total_steps
    if stop_at_step is not None:
      end = min(end, stop_at_step)
    start, start_step = time.time(), step
    history = fit_until(trainer, data.stream, callbacks, step, end, steps_per_epoch, verbose)
    train_seconds = time.time() - start
    step = callbacks_lib.current_step(trainer)
    result = TrainResult(step, total_steps, history,
                         {name: float(value) for name, value in trainer.scalar_metrics().items()}
                         if history else {})
    if not result.finished:
      print(f"stopped at step {step} of {total_steps} (max_steps_per_run or stop_at_step)",
            flush=True)
      return result
    if task.val_set is None or not is_chief:
      return result
    result.report = validate()
    callbacks_lib.write_validation(writer, result.report, step)
    write_summary(workdir, result.report, task, step, train_seconds, steps_done=step - start_step,
                  num_visualized=num_visualized, train_metrics=result.train_metrics,
                  thread_pools=thread_pools)
    return result


def start_runtime(strategy, precision, models=1):
  """Thread pools (with `set_thread_pools.split_students`, the intra-op one divided among the
  `models` students trained side by side), the distribution strategy and the dtype policy,
  before any TensorFlow op; returns (strategy, `runtime.thread_pools_in_effect()`)."""
  # Before any TensorFlow op: the pools are created with the first one (runtime.py).
  runtime.set_thread_pools(models=models)
  # MultiWorkerMirroredStrategy must exist before any TensorFlow op runs.
  distribution = make_strategy(strategy)
  # The context exists now: its pools run the steps (Keras' fit adds a one-thread pool later).
  thread_pools = runtime.thread_pools_in_effect()
  logging.info("thread pools: %s", thread_pools)
  set_precision(precision)
  return distribution, thread_pools


class TrainingData:
  """A run's data streams: labeled batches, zipped with unlabeled ones in the steps that read
  them (`trainer.uses_unlabeled_at`), each keyed by the step it starts at (exact resume)."""

  def __init__(self, task, trainer, augment, labeled, unlabeled, batch_size,
               unlabeled_batch_size, seed):
    self.task, self.trainer, self.augment = task, trainer, augment
    self.labeled, self.unlabeled = labeled, unlabeled
    self.batch_size, self.unlabeled_batch_size, self.seed = batch_size, unlabeled_batch_size, seed

  def reads_unlabeled(self, step):
    return self.unlabeled is not None and self.trainer.uses_unlabeled_at(step)

  def stream(self, start_step):
    """The `tf.data.Dataset` of the steps from `start_step` on."""
    data = self.task.labeled_dataset(self.labeled, self.batch_size, self.augment, seed=self.seed,
                                     start_step=start_step)
    if self.reads_unlabeled(start_step):
      data = tf.data.Dataset.zip(data, self.task.unlabeled_dataset(
          self.unlabeled, self.unlabeled_batch_size, self.trainer.views, seed=self.seed,
          start_step=start_step))
    # Every worker builds the same global batches and keeps its share (multi-worker).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options)

  def samples_per_step(self, step):
    return self.batch_size + (self.unlabeled_batch_size if self.reads_unlabeled(step) else 0)

  def image_sample(self):
    """4 unlabeled crops' views, for the pseudo-label images in TensorBoard."""
    return next(iter(self.task.unlabeled_dataset(self.unlabeled, 4, self.trainer.views,
                                                 seed=self.seed)))


def split_path(workdir, split_file=None):
  """The COCO-Partial split JSON of a run: `split_file`, else <workdir>/split.json."""
  return io_utils.resolve_path(split_file) if split_file else os.path.join(workdir, "split.json")


def training_instances(task, split_file, num_labeled, split_seed, split_mode, unlabeled_sources,
                       batch_size, unlabeled_batch_size):
  """(labeled, unlabeled) instances of a run; unlabeled is None for a supervised trainer
  (`unlabeled_sources` None), else COCO-Partial's held-out people plus `unlabeled_sources`.
  Each must fill one batch."""
  labeled, held_out = task.split_train_set(num_labeled, split_file, split_seed, split_mode)
  if len(labeled) < batch_size:
    raise ValueError(f"{len(labeled)} labeled instances is fewer than one batch ({batch_size})")
  if unlabeled_sources is None:
    return labeled, None
  unlabeled = task.unlabeled_instances(held_out, unlabeled_sources)
  if len(unlabeled) < unlabeled_batch_size:
    raise ValueError(f"{len(unlabeled)} unlabeled instances is fewer than one batch "
                     f"({unlabeled_batch_size})")
  print(f"semi-supervised: {len(labeled)} labeled, {len(unlabeled)} unlabeled instances",
        flush=True)
  return labeled, unlabeled


def set_precision(precision):
  """Keras' global dtype policy; warns where bfloat16 is emulated (slow)."""
  if precision not in PRECISIONS:
    raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
  keras.mixed_precision.set_global_policy(precision)
  if (precision == "mixed_bfloat16" and not tf.config.list_physical_devices("GPU")
      and runtime.cpu_flags() and not runtime.has_bfloat16_units()):  # x86 flags known
    logging.warning("mixed_bfloat16 on a CPU without AVX512_BF16 or AMX (%s): bfloat16 is "
                    "emulated and training is several times slower than float32 (~9x for "
                    "the demo's step on an AVX2 CPU, results/step_variants.md)",
                    ", ".join(runtime.cpu_flags()) or "?")


def build_trainer(distribution, trainer_fn, task, augment, unlabeled):
  """The trainer under `distribution`'s scope; a semi-supervised one gets the views (with
  `augment` as the weak view) and measures its pseudo-labels when the unlabeled people have
  held-back labels (COCO-Partial, synthetic; never used to train)."""
  with distribution.scope():
    if unlabeled is None:
      return trainer_fn(build_model=task.build_model, codec=task.codec)
    return trainer_fn(build_model=task.build_model, codec=task.codec,
                      views=views_lib.MultiViewAugment(weak=augment),
                      flip_permutation=task.schema.flip_permutation(),
                      measure_pseudo_labels=bool(np.any(unlabeled.keypoints[..., 2] > 0)))


def restore_or_start(trainer, workdir, is_chief, task_id, keep_checkpoints, init_checkpoint):
  """Restores the workdir's newest checkpoint into `trainer`, else warm-starts from
  `init_checkpoint` if given; returns the `CheckpointManager` that saves this run."""
  checkpoint_dir = os.path.join(workdir, "checkpoints")
  checkpoint = tf.train.Checkpoint(**trainer.checkpoint_items())
  save_dir = checkpoint_dir
  if not is_chief:  # other workers save too (collectively) but into a scratch folder
    save_dir = os.path.join(workdir, f"worker_{task_id}_scratch", "checkpoints")
  # Every worker resumes from the chief's checkpoints; the chief repairs their state first,
  # so that the manager (which reads it) neither fails on it nor keeps a damaged one.
  latest = restore_newest(checkpoint, checkpoint_dir, repair=is_chief)
  manager = tf.train.CheckpointManager(checkpoint, save_dir, max_to_keep=keep_checkpoints)
  if latest:
    print(f"resumed from {latest}", flush=True)
  elif init_checkpoint:
    warm_start = io_utils.latest_checkpoint(io_utils.resolve_path(init_checkpoint))
    # e.g. a supervised run from both students' burn-in uses student 1 only
    checkpoint.restore(warm_start).assert_existing_objects_matched().expect_partial()
    print(f"warm start from {warm_start}", flush=True)
  return manager


def fit_until(trainer, make_data, callbacks, step, end, steps_per_epoch, verbose):
  """Runs `trainer.fit` from `step` to `end`; returns the per-epoch logs.

  A fit covers whole epochs, or runs to an epoch's end, the stop or a phase change (the
  dual-student trainer's burn-in); `make_data(step)` gives the data stream from `step`.
  """
  history = []
  while step < end:
    trainer.start_phase(step)
    stop = min(end, trainer.phase_end(step) or end)
    epoch = step // steps_per_epoch
    epoch_end = (epoch + 1) * steps_per_epoch
    if step % steps_per_epoch or stop < epoch_end:
      last_epoch, epoch_steps = epoch + 1, min(epoch_end, stop) - step
    else:
      last_epoch, epoch_steps = epoch + (stop - step) // steps_per_epoch, steps_per_epoch
    fitted = trainer.fit(make_data(step), initial_epoch=epoch, epochs=last_epoch,
                         steps_per_epoch=epoch_steps, callbacks=callbacks, verbose=verbose,
                         shuffle=False)
    history += [dict(zip(fitted.history, values)) for values in zip(*fitted.history.values())]
    step = callbacks_lib.current_step(trainer)
  return history


def restore_newest(checkpoint, checkpoint_dir, repair=True):
  """Restores the newest checkpoint of `checkpoint_dir` that reads; returns its prefix, or None
  when the folder holds no checkpoint.

  The state file names the newest; when it is unreadable or names missing files, or that
  checkpoint does not restore (a damaged data file), the `ckpt-<step>` files are tried from the
  highest step down. Checkpoint files of which none restores are an error, not a fresh start:
  training from step 0 would overwrite them. With `repair`, after such a fallback the files
  that did not restore move to `<checkpoint_dir>/damaged/` and the state file is rewritten to
  name the restored checkpoint (and the older ones), so that saving, evaluation and export
  carry on from it.
  """
  try:
    named = tf.train.latest_checkpoint(checkpoint_dir)
  except ValueError:  # an empty or unparsable state file
    named = None
  candidates = [named] if named else []
  candidates += [p for p in io_utils.checkpoint_prefixes(checkpoint_dir) if p != named]
  errors = []
  for prefix in candidates:
    try:
      checkpoint.restore(prefix).assert_existing_objects_matched()
    except Exception as e:  # pylint: disable=broad-except  (reader errors vary: OpError,
      # IndexError on a short data file, AssertionError/ValueError on other objects; all listed)
      errors.append(f"{prefix}: {type(e).__name__}: {str(e).strip().splitlines()[0][:300]}")
      print(f"could not restore {errors[-1]}", flush=True)
      continue
    if prefix != named:
      print(f"the checkpoint state file of {checkpoint_dir} "
            f"{'names ' + named if named else 'is unreadable'}; resuming from {prefix}, the "
            f"newest checkpoint that restores", flush=True)
      if repair:
        _repair_checkpoint_state(checkpoint_dir, prefix, candidates[:candidates.index(prefix)])
    return prefix
  if candidates:
    raise RuntimeError(f"none of the {len(candidates)} checkpoints in {checkpoint_dir} restores; "
                       f"not starting from step 0 over them (move them away to do that):\n"
                       + "\n".join(errors))
  return None


def _repair_checkpoint_state(checkpoint_dir, restored, damaged):
  """Moves the `damaged` checkpoints' files aside and points the state file at `restored`."""
  if damaged:
    aside = os.path.join(checkpoint_dir, "damaged")
    os.makedirs(aside, exist_ok=True)
    for prefix in damaged:
      for path in tf.io.gfile.glob(prefix + ".*"):
        os.replace(path, os.path.join(aside, os.path.basename(path)))
    print(f"moved {len(damaged)} checkpoint(s) that did not restore to {aside}", flush=True)
  kept = [p for p in io_utils.checkpoint_prefixes(checkpoint_dir) if p != restored]
  paths = kept[::-1] + [restored]
  # The state file CheckpointManager reads; with timestamps it keeps managing (and rotating)
  # these checkpoints.
  tf.compat.v1.train.update_checkpoint_state(
      checkpoint_dir, restored, all_model_checkpoint_paths=paths,
      all_model_checkpoint_timestamps=[os.path.getmtime(p + ".index") for p in paths])


def write_summary(workdir, report, task, step, train_seconds, steps_done, num_visualized,
                  train_metrics=None, thread_pools=None):
  """summary.json, summary.md and skeletons.png of the final evaluation.

  `train_metrics` (the last epoch's training statistics, e.g. pseudo-label PCK) is recorded
  when this invocation trained; `thread_pools` (`runtime.thread_pools_in_effect()`) and the
  machine next to `train_seconds`.
  """
  metrics = report.metrics
  summary = {"step": step, "train_seconds": round(train_seconds, 1), "steps_this_run": steps_done,
             "val_set": task.val_set.annotation_path, "evaluated": report.evaluated_set(),
             "metrics": metrics, "machine": runtime.machine_description(),
             "thread_pools": thread_pools}
  if train_metrics:
    summary["last_epoch_train_metrics"] = train_metrics
  io_utils.atomic_write_text(os.path.join(workdir, "summary.json"), json.dumps(summary, indent=1))
  best = report.best_model()
  meta = metrics[best].get("PCK_meta", {})
  lines = [f"# Results at step {step}", "", report.table(), ""]
  if meta:
    lines += [f"PCK@0.1 per meta-joint ({best}):", "",
              "| " + " | ".join(meta) + " |", "|" + "---|" * len(meta),
              "| " + " | ".join(f"{100 * v:.1f}" for v in meta.values()) + " |", ""]
  io_utils.atomic_write_text(os.path.join(workdir, "summary.md"), "\n".join(lines))
  print("\n".join(lines), flush=True)
  if num_visualized:
    instances = report.instances
    xy, scores = report.predictions[best]
    # Only images evaluation could read (an unreadable one has no prediction to draw).
    readable = instances.image_ids[report.valid].tolist()
    images = []
    for image_id in list(dict.fromkeys(readable))[:num_visualized]:
      rows = (instances.image_ids == image_id) & report.valid
      image = visualize.read_rgb(instances.image_paths[rows][0])
      images.append(visualize.draw_skeletons(image, xy[rows], scores[rows],
                                             schema=task.schema))
    if images:
      visualize.save_png(os.path.join(workdir, "skeletons.png"), visualize.tile(images))


def default_workdir(config_files):
  """runs/<name of each config, joined by '+'>: `--config=configs/synthetic.gin
  --config=configs/modes/supervised.gin` trains in runs/synthetic+supervised, not in the
  folder of another run that shares its last config (bindings are checked on resume)."""
  return os.path.join("runs", "+".join(os.path.splitext(os.path.basename(f))[0]
                                       for f in config_files))
