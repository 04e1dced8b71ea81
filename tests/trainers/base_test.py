"""Tests of the trainer interface (trainers/base.py): checkpoint names, restoring, one phase."""

import os

import keras
import numpy as np
import tensorflow as tf

from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.trainers import base
from tfpose_ssl.trainers import dual_student
from tfpose_ssl.trainers import supervised

CODEC = codec_lib.KeypointCodec((64, 64), sigma=2.0)


def one_layer_model():
  """A stand-in student with a BatchNorm (non-trainable variables) and a heatmap head."""
  inputs = keras.Input((64, 64, 3))
  x = keras.layers.Conv2D(4, 3, strides=4, padding="same")(inputs)
  x = keras.layers.BatchNormalization()(x)
  return keras.Model(inputs, keras.layers.Conv2D(17, 1)(x))


def dual_trainer():
  trainer = dual_student.DualStudentTrainer(build_model=one_layer_model, codec=CODEC,
                                            views=views_lib.MultiViewAugment())
  trainer.compile([keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)])
  return trainer


def supervised_trainer():
  trainer = supervised.SupervisedTrainer(build_model=one_layer_model)
  trainer.compile([keras.optimizers.Adam(1e-3)])
  return trainer


def checkpointed_values(trainer):
  """{checkpoint item name: [its variables' values]}."""
  return {name: [v.numpy() for v in item.variables]
          for name, item in trainer.checkpoint_items().items()}


class PoseTrainerTest(tf.test.TestCase):

  def test_checkpoint_items_keep_their_names(self):
    # The names are the checkpoints' format: runs written before base.py must restore.
    trainer = dual_trainer()
    self.assertEqual(trainer.checkpoint_items(),
                     {"student_1": trainer.student_1, "optimizer_1": trainer.student_optimizers[0],
                      "student_2": trainer.student_2, "optimizer_2": trainer.student_optimizers[1]})
    trainer = supervised_trainer()
    self.assertEqual(trainer.checkpoint_items(),
                     {"student_1": trainer.student_1, "optimizer_1": trainer.student_optimizers[0]})

  def test_num_students_says_how_many_students_are_built(self):
    # Read before construction (the thread pools are sized by it): it must match the students.
    for make, cls in ((dual_trainer, dual_student.DualStudentTrainer),
                      (supervised_trainer, supervised.SupervisedTrainer)):
      self.assertLen(make().students, cls.num_students)
    self.assertEqual(dual_student.DualStudentTrainer.num_students, 2)

  def test_a_dual_student_checkpoint_restores_into_a_fresh_trainer(self):
    keras.utils.set_random_seed(0)
    trainer = dual_trainer()
    rng = np.random.default_rng(0)
    for item in trainer.checkpoint_items().values():  # weights, BatchNorm statistics, slots
      for variable in item.variables:
        variable.assign(rng.uniform(1, 9, variable.shape).astype(variable.dtype))
    saved = checkpointed_values(trainer)
    path = tf.train.Checkpoint(**trainer.checkpoint_items()).save(
        os.path.join(self.get_temp_dir(), "ckpt"))
    fresh = dual_trainer()
    self.assertNotAllClose(fresh.student_1.trainable_variables[0],
                           trainer.student_1.trainable_variables[0])
    tf.train.Checkpoint(**fresh.checkpoint_items()).restore(path).assert_consumed()
    restored = checkpointed_values(fresh)
    self.assertEqual(sorted(restored), sorted(saved))
    for name, values in saved.items():
      self.assertEqual(len(restored[name]), len(values), name)
      for a, b in zip(values, restored[name]):
        self.assertAllEqual(a, b)
    # A supervised run starts from a dual-student run's student 1 (training.train's warm start).
    warm = supervised_trainer()
    tf.train.Checkpoint(**warm.checkpoint_items()).restore(
        path).assert_existing_objects_matched().expect_partial()
    for a, b in zip(warm.student_1.variables, trainer.student_1.variables):
      self.assertAllEqual(a, b)

  def test_both_trainers_share_the_interface(self):
    self.assertTrue(issubclass(supervised.SupervisedTrainer, base.PoseTrainer))
    self.assertTrue(issubclass(dual_student.DualStudentTrainer, base.PoseTrainer))
    self.assertEqual((supervised.SupervisedTrainer.uses_unlabeled,
                      dual_student.DualStudentTrainer.uses_unlabeled), (False, True))
    trainer = supervised_trainer()  # one phase, labeled crops only
    self.assertEqual((trainer.uses_unlabeled_at(0), trainer.phase_end(0)), (False, None))
    self.assertEqual(sorted(trainer.scalar_metrics()), ["loss", "skipped_images"])
    self.assertEqual(trainer.vector_metrics(), {})

  def test_each_optimizer_applies_its_students_gradients(self):
    keras.utils.set_random_seed(1)
    trainer = dual_student.DualStudentTrainer(build_model=one_layer_model, codec=CODEC,
                                              views=views_lib.MultiViewAugment())
    trainer.compile([keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.01)])
    x = tf.random.uniform([2, 64, 64, 3])

    def loss():
      return (tf.reduce_sum(trainer.student_1(x)) +
              3.0 * tf.reduce_sum(tf.square(trainer.student_2(x))))

    with tf.GradientTape() as tape:
      total = loss()
    variables = [student.trainable_variables for student in trainer.students]
    gradients = tape.gradient(total, variables)
    expected = [[v.numpy() - rate * g.numpy() for v, g in zip(student_variables, student_gradients)]
                for rate, student_variables, student_gradients in zip((0.1, 0.01), variables,
                                                                      gradients)]
    with tf.GradientTape() as tape:
      total = loss()
    trainer._apply_gradients(tape, total)
    self.assertEqual([int(o.iterations) for o in trainer.student_optimizers], [1, 1])
    for student, values in zip(trainer.students, expected):
      for variable, value in zip(student.trainable_variables, values, strict=True):
        self.assertAllClose(variable, value)


if __name__ == "__main__":
  tf.test.main()
