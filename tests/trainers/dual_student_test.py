"""Tests of the dual-student trainer: every mode file steps, selection, JointCutout."""

import glob
import os

import gin
import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import pseudo_heatmaps as ph
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.trainers import dual_student

CODEC = codec_lib.KeypointCodec((64, 64), sigma=2.0)
MODE_FILES = sorted(glob.glob(os.path.join(testing.REPO_ROOT, "configs", "modes", "*.gin")))


def tiny_model():
  return simple_baseline.simple_baseline((64, 64), "resnet18", width=8, deconv_filters=16)


def two_layer_model():
  """A stand-in student for tests that only exercise the trainer's logic (fast to trace)."""
  inputs = keras.Input((64, 64, 3))
  x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
  x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
  x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)
  x = keras.layers.BatchNormalization()(x)
  x = keras.layers.ReLU()(x)
  return keras.Model(inputs, keras.layers.Conv2D(17, 1, dtype="float32")(x))


def fixed_batch(spec, batch=4, seed=0):
  """A labeled and an unlabeled batch of noise images with consistent shapes."""
  rng = np.random.default_rng(seed)
  keypoints = np.concatenate([rng.uniform(8, 56, (batch, 17, 2)), np.full((batch, 17, 1), 2.0)],
                             -1).astype(np.float32)
  heatmaps, weights = CODEC.encode(keypoints)
  labeled = {"image": tf.constant(rng.uniform(0, 255, (batch, 64, 64, 3)), tf.float32),
             "heatmaps": heatmaps, "target_weight": weights}
  rotations, scales, flips = spec.sample(tf.constant([seed, 1], tf.int64), batch)
  matrices = views_lib.view_matrices(rotations, scales, CODEC.input_size, flips)
  base = tf.constant(rng.uniform(0, 255, (batch, 64, 64, 3)), tf.float32)
  unlabeled = {"views": views_lib.make_views(base, matrices, tf.eye(3, batch_shape=[batch]),
                                                         CODEC.input_size), "matrices": matrices,
               "keypoints": tf.constant(keypoints), "pck_radius": tf.fill([batch], 6.0)}
  return labeled, unlabeled


def padded(trainer, stack):
  """`[V, B, h, w, J]` heatmaps in the loss view's frame -> the trainer's ensemble frame."""
  return tf.stack([trainer.pad_to_frame(view) for view in tf.constant(stack)])


def make_trainer(**kwargs):
  kwargs.setdefault("views", views_lib.MultiViewAugment())  # after the test's gin bindings
  trainer = dual_student.DualStudentTrainer(build_model=tiny_model, codec=CODEC, **kwargs)
  trainer.compile([keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)])
  return trainer


class DualStudentStepTest(tf.test.TestCase):

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def test_one_step_of_every_mode_file_gives_finite_losses(self):
    self.assertGreaterEqual(len(MODE_FILES), 30)
    for path in MODE_FILES:
      name = os.path.basename(path)
      if name == "supervised.gin":
        continue
      with self.subTest(name):
        testing.parse_config("synthetic.gin", [f"include '{path}'"])
        keras.utils.set_random_seed(0)
        trainer = dual_student.DualStudentTrainer(build_model=two_layer_model, codec=CODEC,
                                                  views=views_lib.MultiViewAugment(),
                                                  measure_pseudo_labels=True)
        trainer.compile([keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)])
        logs = tf.function(trainer.train_step)(fixed_batch(trainer.views))
        for key, value in logs.items():
          self.assertTrue(np.isfinite(float(value)), f"{name}: {key} = {value}")
        self.assertGreater(float(logs["sup_loss_1"]), 0.0)

  def test_mode_files_set_what_their_names_say(self):
    def trainer_for(mode):
      testing.parse_config("synthetic.gin", [f"include 'configs/modes/{mode}'"])
      return dual_student.DualStudentTrainer(build_model=tiny_model, codec=CODEC,
                                             views=views_lib.MultiViewAugment())
    dualpose = trainer_for("dualpose.gin")
    self.assertEqual((dualpose.views.num_weak, dualpose.views.num_strong), (1, 0))
    self.assertEqual(dualpose.views.loss_view, "extra")
    self.assertEqual((dualpose.threshold, dualpose.refine, dualpose.selection),
                     (None, False, False))
    full = trainer_for("full.gin")
    self.assertEqual((full.threshold, full.refine, full.selection, full.aggregate),
                     (0.1, True, True, "max"))
    row4 = trainer_for("table6_row4_Kweak_1strong_avg.gin")
    self.assertEqual((row4.views.num_weak, row4.views.num_strong, row4.aggregate), (2, 1, "mean"))
    fig5 = trainer_for("fig5_k6_nosel.gin")
    self.assertEqual((fig5.views.num_strong, fig5.selection), (6, False))
    table7 = trainer_for("table7_t03_norefine.gin")
    self.assertEqual((table7.threshold, table7.refine), (0.3, False))

  def test_a_few_steps_lower_the_unsupervised_loss_on_a_fixed_batch(self):
    keras.utils.set_random_seed(1)
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=2)
    trainer = make_trainer(views=spec, threshold=None, refine=True, unsupervised_weight=10.0)
    step = tf.function(trainer.train_step)
    data = fixed_batch(spec)
    unsup = []
    for _ in range(12):
      for tracker in trainer.metrics:
        tracker.reset_state()
      logs = step(data)
      unsup.append(float(logs["unsup_loss_1"]) + float(logs["unsup_loss_2"]))
    self.assertTrue(np.all(np.isfinite(unsup)))
    self.assertLess(np.mean(unsup[-3:]), 0.5 * np.mean(unsup[:3]))

  def test_selection_takes_the_more_certain_students_targets(self):
    trainer = make_trainer(views=views_lib.MultiViewAugment(num_weak=1, num_strong=2),
                           threshold=0.1, refine=True, margin=0.05)
    rng = np.random.default_rng(0)
    agree = np.zeros((3, 1, 16, 16, 17), np.float32)
    agree[:, 0, 4, 5, :] = 0.9  # student 1: three views agree -> uncertainty 0
    disagree = np.zeros((3, 1, 16, 16, 17), np.float32)
    for v in range(3):  # student 2: three views peak in different places
      disagree[v, 0, 2 + 4 * v, 10, :] = 0.9
    target_1, target_2, stats = trainer.pseudo_targets(padded(trainer, agree),
                                                       padded(trainer, disagree))
    self.assertAllClose(stats["uncertainty"][0], np.zeros((1, 17)))
    self.assertAllClose(stats["uncertainty"][1], np.full((1, 17), 0.9 * np.sqrt(2) / 3), atol=1e-6)
    self.assertAllClose(stats["from_other"][0], np.zeros((1, 17)))
    self.assertAllClose(stats["from_other"][1], np.ones((1, 17)))
    # Both students are taught student 1's refined target: a Gaussian at (x=5, y=4).
    for targets, weights in (target_1, target_2):
      self.assertAllClose(targets[0, 4, 5], np.ones(17))
      self.assertAllClose(weights, np.ones((1, 17)))
    del rng

  def test_without_selection_each_student_learns_from_the_other(self):
    trainer = make_trainer(views=views_lib.MultiViewAugment(num_weak=1, num_strong=1),
                           threshold=None, refine=False, selection=False)
    one = np.full((2, 1, 16, 16, 17), 0.2, np.float32)
    two = np.full((2, 1, 16, 16, 17), 0.7, np.float32)
    (t1, w1), (t2, w2), _ = trainer.pseudo_targets(padded(trainer, one), padded(trainer, two))
    self.assertAllClose(t1, two[0])
    self.assertAllClose(t2, one[0])

  def test_joint_cutout_zeroes_patches_at_confident_joints(self):
    images = tf.ones([1, 64, 64, 3])
    keypoints = np.zeros((1, 17, 2), np.float32)
    keypoints[0, 3] = [10, 20]
    keypoints[0, 9] = [50, 40]
    scores = np.zeros((1, 17), np.float32)
    scores[0, [3, 9]] = 0.8  # only two joints are confident
    out = dual_student.joint_cutout(images, keypoints, scores, tf.constant([0, 0], tf.int64),
                                    num_joints=2, size=0.25).numpy()[0, ..., 0]
    self.assertEqual(out[20, 10], 0.0)
    self.assertEqual(out[40, 50], 0.0)
    self.assertEqual(out[20, 18], 0.0)  # half side = 0.125 * 64 = 8 pixels: x in [2, 18]
    self.assertEqual(out[20, 19], 1.0)
    self.assertAllClose(out.sum(), 64 * 64 - 2 * 17 * 17)
    none = dual_student.joint_cutout(images, keypoints, np.zeros((1, 17), np.float32),
                                     tf.constant([0, 0], tf.int64))
    self.assertAllEqual(none, images)

  def test_joint_cutout_needs_an_extra_loss_view(self):
    with self.assertRaisesRegex(ValueError, "loss_view='extra'"):
      make_trainer(views=views_lib.MultiViewAugment(loss_view="strong"), joint_cutout=True)
    trainer = make_trainer(views=views_lib.MultiViewAugment(loss_view="extra"), joint_cutout=True)
    logs = tf.function(trainer.train_step)(fixed_batch(trainer.views))
    self.assertTrue(np.isfinite(float(logs["loss"])))

  def test_pseudo_label_images(self):
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=2)
    trainer = make_trainer(views=spec)
    grid = trainer.pseudo_label_images(fixed_batch(spec)[1], max_crops=2)
    self.assertEqual(grid.dtype, tf.uint8)
    self.assertEqual(grid.shape, (1, 2 * 64, (3 + 2) * 64, 3))

  def test_held_back_labels_of_unlabeled_crops_never_change_training(self):
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=2)
    labeled, unlabeled = fixed_batch(spec)
    hidden = dict(unlabeled, keypoints=tf.zeros_like(unlabeled["keypoints"]))
    weights = []
    for batch in (unlabeled, hidden):
      keras.utils.set_random_seed(3)
      trainer = make_trainer(views=spec, threshold=None, measure_pseudo_labels=True)
      logs = tf.function(trainer.train_step)((labeled, batch))
      weights.append(trainer.student_1.get_weights())
      del logs
    for a, b in zip(*weights):
      self.assertAllEqual(a, b)

  def test_perfect_students_targets_joints_inside_the_loss_view_only(self):
    # Students that predict every view perfectly. A joint outside the loss view (but seen by
    # the zoomed-out views) gets weight 0 and no target; a joint inside gets a unit target at
    # its position. Ensembling in the loss view's own frame put the first on its border.
    codec = codec_lib.KeypointCodec((128, 96), sigma=2.0)
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=2)
    trainer = dual_student.DualStudentTrainer(build_model=tiny_model, codec=codec, views=spec)
    batch = 8
    # Weak view: the base crop; strong views: zoomed in 1.6x (the loss view) and out 1.6x.
    matrices = views_lib.view_matrices(tf.zeros([batch, 3]), tf.tile([[1.0, 1 / 1.6, 1.6]],
                                                                     [batch, 1]), (128, 96))
    rng = np.random.default_rng(4)
    keypoints = np.concatenate([rng.uniform([2, 2], [94, 126], (batch, 17, 2)),
                                np.full((batch, 17, 1), 2.0)], -1).astype(np.float32)
    views = []
    for v in range(3):
      xy = geometry.apply_affine(keypoints[..., :2], matrices[:, v]) / 4.0
      views.append(codec_lib.gaussian_heatmaps(xy, 32, 24, 2.0))
    loss_matrix = matrices[:, 1]
    nograd = trainer.align(tf.stack([views[0], views[2]]), tf.gather(matrices, [0, 2], axis=1),
                           loss_matrix)
    stack = tf.concat([nograd[:1], trainer.pad_to_frame(views[1])[None], nograd[1:]], 0)
    (targets, weights), _, _ = trainer.pseudo_targets(stack, stack)
    truth = geometry.apply_affine(keypoints[..., :2], loss_matrix).numpy() / 4.0
    outside = ((truth[..., 0] < -1) | (truth[..., 0] > 24) | (truth[..., 1] < -1)
               | (truth[..., 1] > 32))
    inside = ((truth[..., 0] > 1) & (truth[..., 0] < 22) & (truth[..., 1] > 1)
              & (truth[..., 1] < 30))
    self.assertGreater(outside.sum(), 20)
    self.assertGreater(inside.sum(), 20)
    weights, targets = weights.numpy(), targets.numpy()
    self.assertAllEqual(weights[outside], np.zeros(outside.sum()))
    self.assertAllEqual(np.abs(targets).max(axis=(1, 2))[outside], np.zeros(outside.sum()))
    self.assertAllEqual(weights[inside], np.ones(inside.sum()))
    peaks = ph.first_argmax(tf.constant(targets)).numpy()
    self.assertLessEqual(np.abs(peaks - truth)[inside].max(), 1.6)  # 1 pixel x the zoom
    self.assertAllClose(targets.max(axis=(1, 2))[inside], np.ones(inside.sum()))

  def test_burn_in_and_rampup(self):
    self.assertAllClose([float(dual_student.sigmoid_rampup(s, 10, 20)) for s in (0, 10, 20, 30)],
                        [np.exp(-5.0), np.exp(-5.0), np.exp(-1.25), 1.0], atol=1e-6)
    self.assertEqual(float(dual_student.sigmoid_rampup(3, 10, 0)), 1.0)
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=1)
    trainer = make_trainer(views=spec, burn_in_steps=2, rampup_steps=4)
    self.assertEqual((trainer.phase_end(0), trainer.phase_end(2)), (2, None))
    self.assertEqual((trainer.uses_unlabeled_at(1), trainer.uses_unlabeled_at(2)), (False, True))
    labeled, unlabeled = fixed_batch(spec)
    trainer.start_phase(0)
    logs = tf.function(trainer.train_step)(labeled)  # burn-in: labeled crops only
    self.assertEqual(sorted(logs), ["loss", "sup_loss_1", "sup_loss_2"])
    self.assertAllClose(float(logs["loss"]), float(logs["sup_loss_1"]) + float(logs["sup_loss_2"]))
    self.assertEqual(int(trainer.student_optimizers[1].iterations), 1)
    trainer.student_optimizers[0].iterations.assign(4)  # the step counter
    trainer.start_phase(4)
    for tracker in trainer.metrics:
      tracker.reset_state()
    logs = tf.function(trainer.train_step)((labeled, unlabeled))
    self.assertIn("unsup_loss_1", logs)
    self.assertAllClose(float(trainer.trackers["unsup_weight"].result()), np.exp(-5 * 0.25))

  def test_separate_forward_passes_keep_batch_statistics_apart(self):
    # With one call, the loss view's BatchNorm statistics mix with the labeled crops'; the
    # labeled predictions then depend on the unlabeled batch. With two calls they do not.
    spec = views_lib.MultiViewAugment(num_weak=1, num_strong=1)
    labeled, unlabeled = fixed_batch(spec)
    bright = dict(unlabeled, views=unlabeled["views"] * 0.2)
    for joint, expect_equal in ((True, False), (False, True)):
      keras.utils.set_random_seed(5)
      trainer = make_trainer(views=spec, joint_forward=joint)
      outs = [trainer._forward(trainer.student_1, labeled["image"], u["views"][:, 1])[0]
              for u in (unlabeled, bright)]
      if expect_equal:
        self.assertAllClose(outs[0], outs[1])
      else:
        self.assertNotAllClose(outs[0], outs[1])

  def test_checkpoint_items_hold_both_students_and_optimizers(self):
    trainer = make_trainer()
    self.assertEqual(sorted(trainer.checkpoint_items()),
                     ["optimizer_1", "optimizer_2", "student_1", "student_2"])
    self.assertIsNot(trainer.student_1, trainer.student_2)
    self.assertNotAllClose(trainer.student_1.get_layer("heatmaps").kernel,
                           trainer.student_2.get_layer("heatmaps").kernel)


if __name__ == "__main__":
  tf.test.main()
