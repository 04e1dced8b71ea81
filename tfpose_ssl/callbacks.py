"""Training callbacks: checkpoints, TensorBoard scalars, periodic validation, NaN guard."""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from tfpose_ssl import keypoints as kp


class NonFiniteLossError(FloatingPointError):
  """Training produced a NaN or Inf loss or weights; the last good checkpoint is kept."""


def non_finite_variables(items):
  """Paths of the floating-point variables of `items` ({name: model or optimizer}) that hold a
  NaN or an Inf: students' weights and BatchNorm statistics, optimizer slots."""
  bad = []
  for item_name, item in items.items():
    for variable in item.variables:
      if (tf.as_dtype(variable.dtype).is_floating and
          not bool(tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(variable))))):
        bad.append(f"{item_name}/{getattr(variable, 'path', variable.name)}")
  return bad


def current_step(trainer):
  return int(trainer.student_optimizers[0].iterations.numpy())


class CheckpointCallback(keras.callbacks.Callback):
  """Saves students, optimizers and the step at epoch ends and every `every_steps` steps.

  A NaN/Inf loss, or a NaN/Inf in any variable about to be saved, raises `NonFiniteLossError`:
  the bad weights are never saved. (The loss is computed before the step's update, so the
  update that breaks the weights shows in the loss only one step later, after a save.)
  """

  def __init__(self, manager, every_steps=0):
    super().__init__()
    self.manager = manager
    self.every_steps = every_steps

  def save(self):
    step = current_step(self.model)
    if self.manager.latest_checkpoint is None or not self.manager.latest_checkpoint.endswith(
        f"-{step}"):
      bad = non_finite_variables(self.model.checkpoint_items())
      if bad:
        raise NonFiniteLossError(
            f"{len(bad)} variables became NaN or Inf at step {step} (first: {bad[0]}); "
            f"training stopped, nothing saved. Last good checkpoint: "
            f"{self.manager.latest_checkpoint}")
      self.manager.save(checkpoint_number=step)

  def on_train_batch_end(self, batch, logs=None):
    logs = logs or {}
    for name, value in logs.items():
      if name.endswith("loss") and not math.isfinite(float(value)):
        raise NonFiniteLossError(
            f"{name} became {float(value)} at step {current_step(self.model)}; training "
            f"stopped. Last good checkpoint: {self.manager.latest_checkpoint}")
    if self.every_steps and current_step(self.model) % self.every_steps == 0:
      self.save()

  def on_epoch_end(self, epoch, logs=None):
    self.save()


class SummaryCallback(keras.callbacks.Callback):
  """Writes the logged losses/metrics and the learning rate to TensorBoard every N steps."""

  def __init__(self, writer, every_steps=50):
    super().__init__()
    self.writer = writer
    self.every_steps = max(1, every_steps)
    self._last = None

  def _write(self, logs):
    step = current_step(self.model)
    with self.writer.as_default(step=step):
      scalars = {name: float(value) for name, value in self.model.scalar_metrics().items()}
      for name, value in (logs or {}).items():
        scalars.setdefault(name, float(value))
      for name, value in scalars.items():
        tf.summary.scalar(f"train/{name}", value)
      for i, optimizer in enumerate(self.model.student_optimizers):
        tf.summary.scalar(f"train/learning_rate_{i + 1}", float(optimizer.learning_rate))
      for name, values in self.model.vector_metrics().items():
        for joint, value in zip(kp.KEYPOINT_NAMES, values.numpy()):
          tf.summary.scalar(f"joints/{name}/{joint}", float(value))
      now = time.time()
      if self._last is not None:
        tf.summary.scalar("train/steps_per_second", self.every_steps / max(now - self._last, 1e-9))
      self._last = now
    self.writer.flush()

  def on_train_batch_end(self, batch, logs=None):
    if current_step(self.model) % self.every_steps == 0:
      self._write(logs)

  def on_epoch_end(self, epoch, logs=None):
    self._write(logs)


class SkippedImagesCallback(keras.callbacks.Callback):
  """Prints, at the end of each epoch, how many samples were skipped as unreadable images."""

  def __init__(self):
    super().__init__()
    self.history = []

  def on_epoch_end(self, epoch, logs=None):
    skipped = int(round(float(self.model.scalar_metrics().get("skipped_images", 0.0))))
    self.history.append(skipped)
    if skipped:
      print(f"epoch {epoch + 1}: skipped {skipped} samples whose image could not be read "
            "(truncated, empty or not an image); their weights were zero", flush=True)


class PseudoLabelImageCallback(keras.callbacks.Callback):
  """Every `every_epochs` epochs: images of a fixed unlabeled batch's views, student 1's
  ensembled pseudo-heatmaps and its selected targets."""

  def __init__(self, writer, unlabeled_batch, every_epochs=1):
    super().__init__()
    self.writer = writer
    self.batch = unlabeled_batch
    self.every_epochs = every_epochs

  def on_epoch_end(self, epoch, logs=None):
    if (epoch + 1) % self.every_epochs:
      return
    with self.writer.as_default(step=current_step(self.model)):
      tf.summary.image("pseudo_labels/views_ensemble_target",
                       self.model.pseudo_label_images(self.batch))
    self.writer.flush()


class ValidationCallback(keras.callbacks.Callback):
  """Every `every_epochs` epochs, scores the students on the validation set (COCO AP, PCK)."""

  def __init__(self, evaluate_fn, writer, every_epochs, last_epoch, steps_per_epoch):
    super().__init__()
    self.evaluate_fn = evaluate_fn
    self.writer = writer
    self.every_epochs = every_epochs
    self.last_epoch = last_epoch
    self.steps_per_epoch = steps_per_epoch

  def on_epoch_end(self, epoch, logs=None):
    done = epoch + 1
    if current_step(self.model) % self.steps_per_epoch:
      return  # a run stopped inside an epoch
    if not self.every_epochs or done % self.every_epochs or done == self.last_epoch:
      return  # the final evaluation runs after training
    report = self.evaluate_fn()
    write_validation(self.writer, report, current_step(self.model))
    print(" | ".join(f"{name} AP {100 * m['AP']:.1f}" for name, m in report.items()
                     if not name.startswith("_")), flush=True)


def write_validation(writer, report, step):
  with writer.as_default(step=step):
    for name, metrics in report.items():
      if name.startswith("_"):
        continue
      for key in ("AP", "AP50", "AP75", "AR", "PCK"):
        if key in metrics and np.isfinite(metrics[key]):
          tf.summary.scalar(f"val/{name}/{key}", metrics[key])
  writer.flush()
