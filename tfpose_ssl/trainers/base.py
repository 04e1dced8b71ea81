"""What a trainer is to the rest of the package (`PoseTrainer`), and the code trainers share:
one optimizer per student, checkpoint items, gradient application, loss scaling, logs."""

import keras
import tensorflow as tf


def global_batch_size(local_batch):
  """Batch size summed over replicas, for losses that sum to the single-device value."""
  replicas = tf.distribute.get_strategy().num_replicas_in_sync
  return tf.cast(tf.shape(local_batch)[0] * replicas, tf.float32)


def scaled(optimizer, loss):
  """The loss to differentiate: multiplied by the loss scale under mixed_float16."""
  if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
    return optimizer.scale_loss(loss)
  return loss


def as_logs(values):
  """Logs to return from `train_step`. Under MultiWorkerMirroredStrategy Keras 3 reduces each
  one with `strategy.reduce("MEAN", v, axis=0)`, which rejects scalars: give them shape [1]."""
  if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
    return {name: tf.reshape(value, [1]) for name, value in values.items()}
  return values


def build_optimizers(optimizers, students):
  """Creates every optimizer variable now: built lazily inside a MirroredStrategy step, Keras 3
  fails with `You must feed a value for placeholder tensor ...` (TF 2.21)."""
  for optimizer, student in zip(optimizers, students):
    optimizer.build(student.trainable_variables)


class PoseTrainer(keras.Model):
  """A Keras model that trains its students, each with its own optimizer, in `train_step`.

  `training.train` and the callbacks (`trainers/callbacks.py`) use a trainer through this
  interface only:

  - `uses_unlabeled` (class attribute, read before construction): whether the trainer takes
    unlabeled crops. It decides the construction, `cls(build_model=..., codec=...)`, plus
    `views=` (a `MultiViewAugment`) and `measure_pseudo_labels=` when True, and the data.
  - `num_students` (class attribute, read before construction): how many students the trainer
    trains side by side; with `set_thread_pools.split_students` the intra-op thread pool is
    divided among them (`runtime.set_thread_pools`).
  - `students`: the trained Keras models; `training.train` gives each one an optimizer,
    and evaluates them as student_1, student_2, ...
  - `compile(optimizers)`: one optimizer per student, in order; built at once.
  - `student_optimizers`: those optimizers. `student_optimizers[0].iterations` is the step
    counter (`callbacks.current_step`); each one's `learning_rate` is logged.
  - `checkpoint_items()`: {name: student or optimizer} for `tf.train.Checkpoint` (and the
    variables `CheckpointCallback` checks are finite before saving).
  - `start_phase(step)`, `phase_end(step)`, `uses_unlabeled_at(step)`: training phases (one
    by default). `training.train` calls `start_phase` before each `fit` and ends a `fit` at
    `phase_end`; the data of a `fit` holds unlabeled crops when `uses_unlabeled_at` its first
    step.
  - `fit(...)` (Keras: runs `train_step` on (labeled) or (labeled, unlabeled) batches).
  - `scalar_metrics()`: {name: scalar} of this epoch so far (TensorBoard; `skipped_images`,
    when present, counts unreadable samples and stops a run that reads mostly those).
  - `vector_metrics()`: {name: `[J]` per-joint values} for TensorBoard.
  - When `uses_unlabeled`: `views`, the `MultiViewAugment` the unlabeled pipeline draws the
    views with, and `pseudo_label_images(unlabeled_batch)`, a uint8 `[1, H, W, 3]` image.

  The benchmarks and tests also call `train_step` directly (in a `tf.function`) after
  `compile`.

  Subclasses build `students` in `__init__` (also as attributes `student_1`, ...; set
  `self.built = True` there, else `fit` calls the trainer on a batch) and define `train_step`,
  `call` and `metrics` (every tracker; Keras resets them when an epoch starts).
  """

  uses_unlabeled = False
  num_students = 1

  def compile(self, optimizers, **kwargs):  # pylint: disable=arguments-differ
    super().compile(optimizer=optimizers[0], **kwargs)
    self.student_optimizers = list(optimizers)
    build_optimizers(self.student_optimizers, self.students)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Skipped: students and optimizers are built explicitly. Keras' version takes a batch
    from the training iterator and reduces it with `strategy.reduce`, which fails for dict
    batches under MultiWorkerMirroredStrategy (and wastes one batch per `fit` call)."""
    del iterator, data_batch

  def checkpoint_items(self):
    """{student_i: student, optimizer_i: its optimizer} for i = 1, 2, ... (the names are the
    checkpoints' format: a supervised run can start from a dual-student run's student_1)."""
    items = {}
    for i, (student, optimizer) in enumerate(zip(self.students, self.student_optimizers)):
      items[f"student_{i + 1}"] = student
      items[f"optimizer_{i + 1}"] = optimizer
    return items

  def _apply_gradients(self, tape, loss):
    """One gradient computation of `loss` for every student's trainable variables; each
    optimizer updates its student."""
    per_student = [student.trainable_variables for student in self.students]
    gradients = tape.gradient(loss, [v for variables in per_student for v in variables])
    start = 0
    for optimizer, variables in zip(self.student_optimizers, per_student):
      optimizer.apply_gradients(zip(gradients[start:start + len(variables)], variables))
      start += len(variables)

  def scalar_metrics(self):
    """Every scalar statistic of the run so far in this epoch: {name: value}."""
    return {metric.name: metric.result() for metric in self.metrics}

  def vector_metrics(self):
    """Per-joint statistics for TensorBoard: {name: `[J]` tensor}; none by default."""
    return {}

  # One phase by default; see DualStudentTrainer for two.

  def uses_unlabeled_at(self, step):
    """Whether the step at `step` reads unlabeled crops."""
    del step
    return self.uses_unlabeled

  def phase_end(self, step):
    """The first step of the next phase after `step`, or None in the last phase."""
    del step
    return None

  def start_phase(self, step):
    """Prepares the step of the phase that `step` is in (before a `fit`)."""
    del step
