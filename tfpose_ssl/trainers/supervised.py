"""Supervised top-down training of one student (the paper's "Supervised Baseline", Eq. 1)."""

import gin
import keras
import tensorflow as tf

from tfpose_ssl.ops import losses


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


@gin.configurable(denylist=["build_model", "codec"])
class SupervisedTrainer(keras.Model):
  """Trains one model on labeled crops with the weighted heatmap MSE.

  Batches are dicts {'image', 'heatmaps', 'target_weight'} from `pipeline.labeled_dataset`.
  Trainers share the constructor `(build_model, codec)`; the supervised step needs no codec.
  """

  uses_unlabeled = False

  def __init__(self, build_model, codec=None, **kwargs):
    super().__init__(**kwargs)
    del codec
    self.student_1 = build_model()
    self.students = [self.student_1]
    self.loss_tracker = keras.metrics.Mean(name="loss")
    # Samples whose image could not be read this epoch (their weights are zero).
    self.skipped_tracker = keras.metrics.Sum(name="skipped_images")
    self.built = True  # else fit() calls self(x) on the first element of the data and fails

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
    return {"student_1": self.student_1, "optimizer_1": self.student_optimizers[0]}

  def call(self, images, training=False):
    return self.student_1(images, training=training)

  @property
  def metrics(self):
    return [self.loss_tracker, self.skipped_tracker]

  def scalar_metrics(self):
    return {"loss": self.loss_tracker.result(),
            "skipped_images": self.skipped_tracker.result()}

  def vector_metrics(self):
    return {}

  # One phase (see DualStudentTrainer): the same interface for training.train.
  def uses_unlabeled_at(self, step):
    del step
    return False

  def phase_end(self, step):
    del step
    return None

  def start_phase(self, step):
    del step

  def train_step(self, data):
    labeled = data[0] if isinstance(data, tuple) else data
    with tf.GradientTape() as tape:
      predictions = self.student_1(labeled["image"], training=True)
      per_example = losses.heatmap_mse(predictions, labeled["heatmaps"], labeled["target_weight"])
      loss = tf.reduce_sum(per_example) / global_batch_size(per_example)
      loss_to_differentiate = scaled(self.student_optimizers[0], loss)
    variables = self.student_1.trainable_variables
    gradients = tape.gradient(loss_to_differentiate, variables)
    self.student_optimizers[0].apply_gradients(zip(gradients, variables))
    self.loss_tracker.update_state(tf.reduce_mean(per_example))
    if "valid" in labeled:
      self.skipped_tracker.update_state(tf.reduce_sum(1.0 - labeled["valid"]))
    return as_logs({"loss": self.loss_tracker.result()})
