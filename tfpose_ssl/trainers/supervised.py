"""Supervised top-down training of one student (the paper's "Supervised Baseline", Eq. 1)."""

import gin
import keras
import tensorflow as tf

from tfpose_ssl.ops import losses
from tfpose_ssl.trainers import base


@gin.configurable(denylist=["build_model", "codec"])
class SupervisedTrainer(base.PoseTrainer):
  """Trains one model on labeled crops with the weighted heatmap MSE.

  Batches are dicts {'image', 'heatmaps', 'target_weight'} from `pipeline.labeled_dataset`.
  Trainers share the constructor `(build_model, codec)`; the supervised step needs no codec.
  """

  def __init__(self, build_model, codec=None, **kwargs):
    super().__init__(**kwargs)
    del codec
    self.student_1 = build_model()
    self.students = [self.student_1]
    self.loss_tracker = keras.metrics.Mean(name="loss")
    # Samples whose image could not be read this epoch (their weights are zero).
    self.skipped_tracker = keras.metrics.Sum(name="skipped_images")
    self.built = True  # else fit() calls self(x) on the first element of the data and fails

  def call(self, images, training=False):
    return self.student_1(images, training=training)

  @property
  def metrics(self):
    return [self.loss_tracker, self.skipped_tracker]

  def train_step(self, data):
    labeled = data[0] if isinstance(data, tuple) else data
    with tf.GradientTape() as tape:
      predictions = self.student_1(labeled["image"], training=True)
      per_example = losses.heatmap_mse(predictions, labeled["heatmaps"], labeled["target_weight"])
      loss = tf.reduce_sum(per_example) / base.global_batch_size(per_example)
      loss_to_differentiate = base.scaled(self.student_optimizers[0], loss)
    self._apply_gradients(tape, loss_to_differentiate)
    self.loss_tracker.update_state(tf.reduce_mean(per_example))
    if "valid" in labeled:
      self.skipped_tracker.update_state(tf.reduce_sum(1.0 - labeled["valid"]))
    return base.as_logs({"loss": self.loss_tracker.result()})
