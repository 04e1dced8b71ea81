"""Dual-student semi-supervised training with denoised, uncertainty-selected pseudo-heatmaps.

One `train_step` (paper Sec. 3, Eq. 1-9) for two students theta and xi on a labeled batch and
an unlabeled batch of multi-view crops (`pipeline.unlabeled_dataset`):

1. Each student predicts, without gradient, its heatmaps on the ensemble views (weak and K
   strong) in one batched call; the heatmaps are warped into the ensemble frame: the loss
   view's frame with a margin of half its size on every side (`views.align_heatmaps`, XLA),
   so that a joint outside the loss view keeps its peak outside it.
2. Inside the tape, each student runs on [labeled crops; loss view] (one call, or two with
   `joint_forward=False`). When the loss view is one of the K strong views its
   (stop-gradient) output is also that view's ensemble member.
3. `pseudo_targets` (XLA): per student, ensemble (Eq. 4), threshold-and-refine into the loss
   view's frame, uncertainty (Eq. 6); then cross-student selection (Eq. 7), or, without
   selection, each student learns from the other's pseudo-heatmaps (Eq. 5 / DualPose's Eq. 3).
4. Loss per student: supervised (Eq. 1) + w(step) x unsupervised (Eq. 8) = Eq. 9; one
   gradient computation for both, each optimizer updates its student.

Two options apply to every semi-supervised row alike (neither is in the paper, whose students
start from ImageNet weights and are decent before the unsupervised loss matters):
`burn_in_steps` trains both students on labeled crops only for that many steps first
(Unbiased Teacher's "burn-in", Liu et al. 2021, the paper's ref. [25]); `rampup_steps` then
raises w from 0 to `unsupervised_weight` along exp(-5 (1 - t)^2) (Laine & Aila 2017,
Tarvainen & Valpola 2017).

Losses are summed per example and divided by the global batch, so replicas of a
MirroredStrategy add up to the single-device value.
"""

import gin
import keras
import tensorflow as tf

from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import losses
from tfpose_ssl.ops import pseudo_heatmaps as ph
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.trainers import base


class VectorMean(keras.metrics.Metric):
  """Running per-joint mean of `[B, J]` values with per-entry weights (NaN-free)."""

  def __init__(self, size, name, **kwargs):
    super().__init__(name=name, **kwargs)
    self.total = self.add_variable(shape=(size,), initializer="zeros", name="total")
    self.count = self.add_variable(shape=(size,), initializer="zeros", name="count")

  def update_state(self, values, weights=None):
    values = tf.cast(values, tf.float32)
    weights = tf.ones_like(values) if weights is None else tf.cast(weights, tf.float32)
    self.total.assign_add(tf.reduce_sum(values * weights, axis=0))
    self.count.assign_add(tf.reduce_sum(weights, axis=0))

  def result(self):
    return tf.math.divide_no_nan(self.total, self.count)

  def reset_state(self):
    self.total.assign(tf.zeros_like(self.total))
    self.count.assign(tf.zeros_like(self.count))


def joint_cutout(images, keypoints, scores, seed, num_joints=2, size=0.2, min_score=0.1):
  """DualPose's JointCutout: zeroes square patches around up to `num_joints` joints.

  Args:
    images: `[B, H, W, 3]` loss-view crops.
    keypoints: `[B, J, 2]` joints (input pixels) predicted by the *other* student.
    scores: `[B, J]` their confidences; joints at or below `min_score` are never chosen.
    seed: stateless seed `[2]`.
    size: patch side as a fraction of the crop width.
  """
  shape = tf.shape(images)
  height, width = shape[1], shape[2]
  noise = tf.random.stateless_uniform(tf.shape(scores), seed)
  rank = tf.where(scores > min_score, noise, -1.0)
  top = tf.math.top_k(rank, k=num_joints)
  chosen = tf.gather(keypoints, top.indices, batch_dims=1)  # [B, n, 2]
  valid = top.values >= 0.0
  half = 0.5 * size * tf.cast(width, tf.float32)
  xs = tf.range(width, dtype=tf.float32)
  ys = tf.range(height, dtype=tf.float32)
  in_x = tf.abs(xs[None, None, :] - chosen[..., 0:1]) <= half  # [B, n, W]
  in_y = tf.abs(ys[None, None, :] - chosen[..., 1:2]) <= half  # [B, n, H]
  patch = in_y[:, :, :, None] & in_x[:, :, None, :] & valid[:, :, None, None]
  keep = 1.0 - tf.cast(tf.reduce_any(patch, axis=1), images.dtype)
  return images * keep[..., None]


def sigmoid_rampup(step, start, length):
  """exp(-5 (1 - t)^2) for t = (step - start) / length clipped to [0, 1]; 1 when length is 0.

  The ramp-up of Laine & Aila (2017, "Temporal ensembling") and Mean Teacher (Tarvainen &
  Valpola 2017): 0.0067 at t = 0, 0.61 at t = 0.5, 1 at t = 1.
  """
  if not length:
    return tf.constant(1.0)
  t = tf.clip_by_value((tf.cast(step, tf.float32) - float(start)) / float(length), 0.0, 1.0)
  return tf.exp(-5.0 * tf.square(1.0 - t))


def pseudo_label_pck(heatmaps, weights, truth, radius):
  """PCK of heatmaps `[B, h, w, J]` (loss view's frame) against held-back labels `[B, J, 3]`.

  Counted: every labeled joint that gets a target (weight > 0). Correct: its label lies in
  the frame and the heatmap's maximum within `radius` `[B]` of it. So a target for a joint
  the loss view does not show counts as wrong. Returns (correct, counted), `[B, J]` each.
  """
  xy = ph.first_argmax(heatmaps)
  distance = tf.norm(xy - truth[..., :2], axis=-1)
  size = tf.cast(tf.shape(heatmaps)[1:3], tf.float32)
  inside = ((truth[..., 0] >= 0) & (truth[..., 0] <= size[1] - 1) &
            (truth[..., 1] >= 0) & (truth[..., 1] <= size[0] - 1))
  counted = tf.cast((weights > 0) & (truth[..., 2] > 0), tf.float32)
  correct = tf.cast((distance <= radius[:, None]) & inside, tf.float32) * counted
  return correct, counted


def labels_in_view(keypoints, pck_radius, view_from_base, stride):
  """Held-back labels `[B, J, 3]` (base-crop pixels) and PCK radii `[B]` in a view's heatmap
  pixels: the joints mapped by `view_from_base` `[B, 3, 3]`, the radius scaled by its zoom."""
  scale = tf.sqrt(tf.abs(tf.linalg.det(view_from_base[:, :2, :2])))
  xy = geometry.apply_affine(keypoints[..., :2], view_from_base) / stride
  return tf.concat([xy, keypoints[..., 2:]], -1), pck_radius * scale / stride


@gin.configurable(denylist=["build_model", "codec", "views", "flip_permutation"])
class DualStudentTrainer(base.PoseTrainer):
  """Two students trained together on labeled and unlabeled crops (see module docstring).

  Args:
    build_model: builds one student (called twice: two independent initializations).
    codec: the task's `KeypointCodec` (stride, default refine sigma).
    views: the `MultiViewAugment` of the unlabeled crops, built where the config is read
      (`training.train` builds it with the labeled augmentation as its weak view and gives the same
      object to the data pipeline).
    flip_permutation: the keypoint schema's left/right joint permutation, which swaps the
      joints of views mirrored relative to the loss view (the task's; COCO's person by
      default).
    aggregate: 'max' (Eq. 4) or 'mean' (Table 6 "avg").
    threshold: threshold-and-refine threshold (paper 0.1); None disables it (DualPose).
    refine: replace each kept pseudo-heatmap by a Gaussian at its maximum.
    sigma: Gaussian sigma of the refined targets (None: the codec's).
    selection: uncertainty-guided cross-student selection (Eq. 7); False: each student learns
      from the other's pseudo-heatmaps (Eq. 5).
    margin: the selection margin Delta (paper 0.05).
    unsupervised_weight: weight of Eq. 8 in Eq. 9 (paper 1.0).
    burn_in_steps: steps of supervised training of both students before the unsupervised
      loss starts (0: from the first step, as the paper).
    rampup_steps: steps after the burn-in over which the unsupervised weight rises to
      `unsupervised_weight` (0: at once, as the paper).
    joint_forward: True: one forward call per student over [labeled crops; loss view] (BatchNorm
      statistics of both); False: two calls, as DualPose's code (statistics kept apart).
    joint_cutout: JointCutout (DualPose) on the loss view; needs `views.loss_view='extra'`.
    cutout_joints, cutout_size: JointCutout patches per crop and their side (fraction of width).
    seed: seeds JointCutout's stateless randomness (with the step).
    target_bn_training: True (default): the no-gradient ensemble passes run with BatchNorm in
      training mode (batch statistics; moving statistics also updated from every view), as
      DualPose's code runs its weak view. False: pseudo-heatmaps from inference-mode students
      (~15% faster per step), but early in training the moving statistics lag and
      inference-mode outputs can be large; without threshold-and-refine the max ensemble passes
      that magnitude into the targets and training diverges (Table 4 "multi-view" row, 150
      steps: loss 2.60 with False vs 0.012 with True).
    measure_pseudo_labels: log the PCK of the pseudo-labels and of each student's own
      loss-view prediction against held-back labels of the unlabeled crops (COCO-Partial,
      synthetic data); the labels are never used for training.
  """

  uses_unlabeled = True
  num_students = 2

  def __init__(self, build_model, codec, views, aggregate="max", threshold=0.1, refine=True,
               sigma=None, selection=True, margin=ph.MARGIN, unsupervised_weight=1.0,
               burn_in_steps=0, rampup_steps=0, joint_forward=True, joint_cutout=False,
               cutout_joints=2, cutout_size=0.2, seed=0, target_bn_training=True,
               measure_pseudo_labels=False, flip_permutation=kp.FLIP_PERMUTATION, **kwargs):
    super().__init__(**kwargs)
    self.views = views
    if aggregate not in ph.AGGREGATES:
      raise ValueError(f"aggregate must be one of {ph.AGGREGATES}, got {aggregate!r}")
    if joint_cutout and self.views.loss_view_in_ensemble:
      raise ValueError("JointCutout needs MultiViewAugment.loss_view='extra' (the cut-out view "
                       "must not be one of the ensemble views)")
    if burn_in_steps < 0 or rampup_steps < 0:
      raise ValueError("burn_in_steps and rampup_steps must be >= 0")
    self.codec = codec
    self.aggregate, self.threshold, self.refine = aggregate, threshold, refine
    self.sigma = codec.sigma if sigma is None else float(sigma)
    self.selection, self.margin = selection, margin
    self.unsupervised_weight = unsupervised_weight
    self.burn_in_steps, self.rampup_steps = int(burn_in_steps), int(rampup_steps)
    self.joint_forward = joint_forward
    self.joint_cutout, self.cutout_joints, self.cutout_size = (joint_cutout, cutout_joints,
                                                               cutout_size)
    self.seed = seed
    self.target_bn_training = target_bn_training
    self.measure_pseudo_labels = measure_pseudo_labels
    self.flip_permutation = tuple(int(j) for j in flip_permutation)
    self.frame, self.frame_size = views_lib.padded_frame(codec.heatmap_size)
    self.burning_in = False  # which step `train_step` traces; see `start_phase`
    self.student_1 = build_model()
    self.student_2 = build_model()
    self.students = [self.student_1, self.student_2]
    joints = self.student_1.output_shape[-1]
    self.trackers = {}
    self.trackers["loss"] = keras.metrics.Mean(name="loss")
    # Crops whose image could not be read this epoch (their weights are zero).
    self.trackers["skipped_images"] = keras.metrics.Sum(name="skipped_images")
    self.trackers["unsup_weight"] = keras.metrics.Mean(name="unsup_weight")
    for i in (1, 2):
      for name in ("sup_loss", "unsup_loss", "from_other", "above_threshold", "uncertainty",
                   "uncertainty_floor", "pseudo_pck_before", "pseudo_pck_after", "own_pck"):
        self.trackers[f"{name}_{i}"] = keras.metrics.Mean(name=f"{name}_{i}")
      self.trackers[f"joint_uncertainty_{i}"] = VectorMean(joints, f"joint_uncertainty_{i}")
      self.trackers[f"joint_strong_max_{i}"] = VectorMean(joints, f"joint_strong_max_{i}")
    self.built = True  # else fit() calls self(x) on the first element of the data and fails

  def call(self, images, training=False):
    return 0.5 * (self.student_1(images, training=training) +
                  self.student_2(images, training=training))

  @property
  def metrics(self):
    return list(self.trackers.values())

  # Phases: supervised burn-in, then semi-supervised. `training.train` calls `start_phase` before
  # each `fit` and stops a `fit` at `phase_end`; the two steps are traced separately.

  def uses_unlabeled_at(self, step):
    """Whether the step at `step` reads unlabeled crops (False during the burn-in)."""
    return step >= self.burn_in_steps

  def phase_end(self, step):
    """The first step of the next phase after `step`, or None in the last phase."""
    return self.burn_in_steps if step < self.burn_in_steps else None

  def start_phase(self, step):
    burning_in = not self.uses_unlabeled_at(step)
    if burning_in != self.burning_in:
      self.burning_in = burning_in
      self.train_function = None  # Keras traces the other step on the next fit

  def _tracked_names(self):
    if self.burning_in:
      return ["loss", "skipped_images", "sup_loss_1", "sup_loss_2"]
    return [name for name, m in self.trackers.items()
            if self.measure_pseudo_labels or not ("pck" in name)]

  def vector_metrics(self):
    """Per-joint statistics for TensorBoard: {name: `[J]` tensor}."""
    if self.burning_in:
      return {}
    return {name: m.result() for name, m in self.trackers.items() if isinstance(m, VectorMean)}

  def progress_metrics(self):
    """Names shown by the progress bar; TensorBoard gets every scalar in `scalar_metrics`."""
    if self.burning_in:
      return ["loss", "sup_loss_1", "sup_loss_2"]
    names = ["loss", "sup_loss_1", "unsup_loss_1", "sup_loss_2", "unsup_loss_2"]
    if self.measure_pseudo_labels:
      names += ["pseudo_pck_after_1", "pseudo_pck_after_2", "own_pck_1", "own_pck_2"]
    return names

  def scalar_metrics(self):
    """Every scalar statistic of the run so far in this epoch: {name: value}."""
    return {name: self.trackers[name].result() for name in self._tracked_names()
            if not isinstance(self.trackers[name], VectorMean)}

  # Pseudo-targets (Sec. 3.2-3.3).

  def in_loss_frame(self, stack):
    """Crops `[..., H, W, J]` in the ensemble frame to the loss view's frame."""
    top, left, height, width = self.frame
    return stack[..., top:top + height, left:left + width, :]

  def align(self, heatmaps, source_from_base, loss_from_base):
    """`[N, B, h, w, J]` predictions on N views -> the ensemble frame `[N, B, H, W, J]`."""
    return views_lib.align_heatmaps(heatmaps, source_from_base, loss_from_base,
                                    float(self.codec.stride), self.frame_size, self.frame[:2],
                                    self.flip_permutation)

  def pad_to_frame(self, heatmaps):
    """The loss view's own `[B, h, w, J]` prediction placed in the ensemble frame."""
    top, left, height, width = self.frame
    bottom = self.frame_size[0] - top - height
    right = self.frame_size[1] - left - width
    return tf.pad(heatmaps, [[0, 0], [top, bottom], [left, right], [0, 0]])

  @tf.function(jit_compile=True)
  def pseudo_targets(self, views_1, views_2):
    """Eq. 4, threshold-and-refine, Eq. 6 and Eq. 7 for both students.

    Args: each student's predictions `[V, B, H, W, J]` in the ensemble frame.
    Returns per student (targets `[B, h, w, J]` and weights `[B, J]` in the loss view's frame)
    and statistics.
    """
    ensembles, refined, uncertainties = [], [], []
    for stack in (views_1, views_2):
      ensembled = ph.ensemble(stack, self.aggregate)
      ensembles.append(ensembled)
      refined.append(ph.threshold_and_refine(ensembled, self.threshold, self.sigma, self.refine,
                                             self.frame))
      uncertainties.append(ph.uncertainty(self.in_loss_frame(stack)))
    u1, u2 = uncertainties
    if self.selection:
      target_1, kept_1 = ph.select(refined[0], refined[1], u1, u2, self.margin)
      target_2, kept_2 = ph.select(refined[1], refined[0], u2, u1, self.margin)
      from_other = [1.0 - tf.cast(kept, tf.float32) for kept in (kept_1, kept_2)]
    else:
      target_1, target_2 = refined[1], refined[0]
      from_other = [tf.ones_like(u1)] * 2
    stats = {"ensembles": ensembles, "own": refined, "uncertainty": uncertainties,
             "from_other": from_other,
             "strong_max": [self._strong_max(views_1, ensembles[0]),
                            self._strong_max(views_2, ensembles[1])]}
    return target_1, target_2, stats

  def _strong_max(self, stack, ensembled):
    """`[B, J]`: 1 where the ensemble's peak value came from a strong view (paper Fig. 4)."""
    peak = ph.first_argmax(ensembled)  # [B, J, 2]
    index = tf.cast(peak[..., 1], tf.int32) * tf.shape(stack)[3] + tf.cast(peak[..., 0], tf.int32)
    flat = tf.reshape(tf.transpose(stack, [0, 1, 4, 2, 3]),
                      tf.concat([tf.shape(stack)[:2], tf.shape(stack)[4:5], [-1]], 0))
    at_peak = tf.gather(flat, tf.tile(index[None], [tf.shape(stack)[0], 1, 1]), batch_dims=3)
    winner = tf.argmax(at_peak, axis=0, output_type=tf.int32)  # [B, J] view index
    return tf.cast(winner >= self.views.num_weak, tf.float32)

  # Monitoring against held-back labels.

  def _uncertainty_floor(self, peaks, matrices, ensemble_ids, loss_matrix):
    """Eq. 6 for views that agree perfectly: `[B, J]`.

    Renders the codec's Gaussian at each joint's pseudo-label peak `[B, J, 2]` (loss view
    heatmap pixels) in every ensemble view's own frame and aligns them back, as predictions
    are. Zoom and rotation alone make the aligned Gaussians differ, so the uncertainty of
    perfect, agreeing students is not 0: this is the level Eq. 7's margin is compared against.
    """
    stride = float(self.codec.stride)
    h, w = self.codec.heatmap_size
    base = geometry.apply_affine(peaks * stride,
                                           geometry.invert_affine(loss_matrix))
    view_matrices = tf.gather(matrices, ensemble_ids, axis=1)  # [B, N, 3, 3]
    in_views = geometry.apply_affine(base[:, None], view_matrices) / stride
    rendered = tf.transpose(
        codec_lib.gaussian_heatmaps(in_views, h, w, self.codec.sigma),
        [1, 0, 2, 3, 4])  # [N, B, h, w, J]
    aligned = self.align(rendered, view_matrices, loss_matrix)
    return ph.uncertainty(self.in_loss_frame(aligned))

  # The steps.

  def _burn_in_step(self, labeled):
    """Both students on labeled crops only (Eq. 1)."""
    global_l = base.global_batch_size(labeled["image"])
    with tf.GradientTape() as tape:
      per_student, total = [], 0.0
      for i, student in enumerate(self.students):
        sup = losses.heatmap_mse(student(labeled["image"], training=True), labeled["heatmaps"],
                                 labeled["target_weight"])
        total += base.scaled(self.student_optimizers[i], tf.reduce_sum(sup) / global_l)
        per_student.append(sup)
    self._apply_gradients(tape, total)
    self.trackers["loss"].update_state(sum(tf.reduce_mean(s) for s in per_student))
    for i, sup in enumerate(per_student):
      self.trackers[f"sup_loss_{i + 1}"].update_state(tf.reduce_mean(sup))
    if "valid" in labeled:
      self.trackers["skipped_images"].update_state(tf.reduce_sum(1.0 - labeled["valid"]))
    return base.as_logs({name: self.trackers[name].result() for name in self.progress_metrics()})

  def train_step(self, data):
    """One step of Eq. 9 for both students (steps 1-4 of the module docstring)."""
    if self.burning_in:
      return self._burn_in_step(data[0] if isinstance(data, tuple) else data)
    labeled, unlabeled = data
    step = self.student_optimizers[0].iterations
    # 1. Each student's no-gradient predictions on the ensemble views.
    aligned = self._view_predictions(unlabeled)
    loss_images = self._loss_view_images(unlabeled, aligned, step)
    weight = self.unsupervised_weight * sigmoid_rampup(step, self.burn_in_steps,
                                                       self.rampup_steps)
    with tf.GradientTape() as tape:
      # 2. Training-mode predictions on the labeled crops and the loss view.
      predictions = [self._forward(s, labeled["image"], loss_images[i])
                     for i, s in enumerate(self.students)]
      # 3. Pseudo-targets: Eq. 4, threshold-and-refine, Eq. 6, Eq. 7 (or Eq. 5).
      stacks = self._ensemble_stacks(aligned, predictions)
      *targets, stats = self.pseudo_targets(stacks[0], stacks[1])
      # 4. Eq. 9 per student.
      per_student, total = self._student_losses(labeled, unlabeled, predictions, targets, weight)
    self._apply_gradients(tape, total)
    self._monitor(labeled, unlabeled, predictions, targets, stats, per_student, weight)
    return base.as_logs({name: self.trackers[name].result() for name in self.progress_metrics()})

  def _view_predictions(self, unlabeled):
    """Each student's no-gradient predictions on the other ensemble views, in the ensemble frame."""
    spec = self.views
    views, matrices = unlabeled["views"], unlabeled["matrices"]
    nograd_ids = [v for v in range(spec.num_targets) if v != spec.loss_index]
    if not nograd_ids:
      return []  # the loss view is the only ensemble view
    batch_u = tf.shape(views)[0]
    image_shape = tf.shape(views)[2:]
    loss_matrix = matrices[:, spec.loss_index]
    nograd_images = tf.reshape(tf.transpose(tf.gather(views, nograd_ids, axis=1),
                                            [1, 0, 2, 3, 4]),
                               tf.concat([[-1], image_shape], 0))
    nograd_matrices = tf.gather(matrices, nograd_ids, axis=1)
    aligned = []
    for student in self.students:
      heatmaps = tf.stop_gradient(tf.cast(
          student(nograd_images, training=self.target_bn_training), tf.float32))
      heatmaps = tf.reshape(heatmaps, tf.concat([[len(nograd_ids), batch_u],
                                                 tf.shape(heatmaps)[1:]], 0))
      aligned.append(self.align(heatmaps, nograd_matrices, loss_matrix))
    return aligned

  def _loss_view_images(self, unlabeled, aligned, step):
    """Each student's loss-view crops; with JointCutout, cut at the other student's joints."""
    loss_images = [unlabeled["views"][:, self.views.loss_index]] * 2
    if not self.joint_cutout:
      return loss_images
    seeds = tf.random.experimental.stateless_split(
        tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)]), 2)
    cut = []
    for i in (0, 1):
      other = self.in_loss_frame(ph.ensemble(aligned[1 - i], self.aggregate))
      xy, scores = self.codec.decode(other)
      cut.append(joint_cutout(loss_images[i], xy, scores, seeds[i], self.cutout_joints,
                              self.cutout_size))
    return cut

  def _forward(self, student, labeled_images, loss_images):
    """A student's training-mode heatmaps on labeled crops and on the loss view."""
    if self.joint_forward:
      out = tf.cast(student(tf.concat([labeled_images, loss_images], 0), training=True),
                    tf.float32)
      batch_l = tf.shape(labeled_images)[0]
      return out[:batch_l], out[batch_l:]
    return (tf.cast(student(labeled_images, training=True), tf.float32),
            tf.cast(student(loss_images, training=True), tf.float32))

  def _ensemble_stacks(self, aligned, predictions):
    """Each student's ensemble members `[V, B, H, W, J]`, in the views' [weak, strong] order."""
    spec = self.views
    stacks = []
    for i, (_, on_loss_view) in enumerate(predictions):
      if spec.loss_view_in_ensemble:
        # The loss view's (stop-gradient) prediction is its member, in its place (Fig. 4).
        own = self.pad_to_frame(tf.stop_gradient(on_loss_view))[None]
        members = ([aligned[i][:spec.loss_index], own, aligned[i][spec.loss_index:]] if aligned
                   else [own])
      else:
        members = [aligned[i]]
      stacks.append(tf.concat(members, axis=0))
    return stacks

  def _student_losses(self, labeled, unlabeled, predictions, targets, weight):
    """Eq. 9: each student's (supervised, unsupervised) per-example losses, their scaled sum."""
    global_l = base.global_batch_size(labeled["image"])
    global_u = base.global_batch_size(unlabeled["views"])
    per_student = []
    total = 0.0  # both students' Eq. 9, each term depends on one student
    readable = unlabeled["valid"][:, None] if "valid" in unlabeled else 1.0
    for i, (target, target_weights) in enumerate(targets):
      on_labeled, on_loss_view = predictions[i]
      sup = losses.heatmap_mse(on_labeled, labeled["heatmaps"], labeled["target_weight"])
      unsup = losses.heatmap_mse(on_loss_view, tf.stop_gradient(target),
                                 tf.stop_gradient(target_weights) * readable)
      loss = tf.reduce_sum(sup) / global_l + weight * tf.reduce_sum(unsup) / global_u
      total += base.scaled(self.student_optimizers[i], loss)
      per_student.append((sup, unsup))
    return per_student, total

  def _monitor(self, labeled, unlabeled, predictions, targets, stats, per_student, weight):
    """Updates the trackers: losses, selection and threshold rates, uncertainty, Fig. 4, PCK."""
    loss_matrix = unlabeled["matrices"][:, self.views.loss_index]
    self.trackers["unsup_weight"].update_state(weight)
    self.trackers["loss"].update_state(
        sum(tf.reduce_mean(s) + weight * tf.reduce_mean(u) for s, u in per_student))
    for batch in (labeled, unlabeled):
      if "valid" in batch:
        self.trackers["skipped_images"].update_state(tf.reduce_sum(1.0 - batch["valid"]))
    ensemble_ids = list(range(self.views.num_targets))
    for i, (sup, unsup) in enumerate(per_student):
      n = i + 1
      own_targets, own_weights = stats["own"][i]
      selected_targets, selected_weights = targets[i]
      self.trackers[f"sup_loss_{n}"].update_state(tf.reduce_mean(sup))
      self.trackers[f"unsup_loss_{n}"].update_state(tf.reduce_mean(unsup))
      self.trackers[f"from_other_{n}"].update_state(tf.reduce_mean(stats["from_other"][i]))
      self.trackers[f"above_threshold_{n}"].update_state(tf.reduce_mean(own_weights))
      self.trackers[f"uncertainty_{n}"].update_state(tf.reduce_mean(stats["uncertainty"][i]))
      self.trackers[f"joint_uncertainty_{n}"].update_state(stats["uncertainty"][i])
      self.trackers[f"joint_strong_max_{n}"].update_state(stats["strong_max"][i], own_weights)
      peaks = ph.first_argmax(self.in_loss_frame(stats["ensembles"][i]))
      floor = self._uncertainty_floor(peaks, unlabeled["matrices"], ensemble_ids, loss_matrix)
      self.trackers[f"uncertainty_floor_{n}"].update_state(
          tf.math.divide_no_nan(tf.reduce_sum(floor * own_weights), tf.reduce_sum(own_weights)))
      if self.measure_pseudo_labels:
        self._measure(unlabeled, loss_matrix, n, (own_targets, own_weights),
                      (selected_targets, selected_weights), predictions[i][1])

  def _measure(self, unlabeled, loss_matrix, n, before, after, own_prediction):
    """Pseudo-label PCK before/after selection and the student's own loss-view PCK."""
    truth, radius = labels_in_view(unlabeled["keypoints"], unlabeled["pck_radius"], loss_matrix,
                                   float(self.codec.stride))
    for name, (heatmaps, weights) in (("pseudo_pck_before", before),
                                      ("pseudo_pck_after", after),
                                      ("own_pck", (own_prediction, after[1]))):
      correct, counted = pseudo_label_pck(heatmaps, weights, truth, radius)
      self.trackers[f"{name}_{n}"].update_state(
          tf.math.divide_no_nan(tf.reduce_sum(correct), tf.reduce_sum(counted)),
          sample_weight=tf.reduce_sum(counted))

  def pseudo_label_images(self, unlabeled, max_crops=4):
    """uint8 `[1, H, W, 3]`: per crop, its views, student 1's ensembled pseudo-heatmap and the
    target selected for student 1, both in the loss view's frame (for TensorBoard)."""
    spec = self.views
    views, matrices = unlabeled["views"][:max_crops], unlabeled["matrices"][:max_crops]
    batch = tf.shape(views)[0]
    ids = list(range(spec.num_targets))
    images = tf.reshape(tf.transpose(tf.gather(views, ids, axis=1), [1, 0, 2, 3, 4]),
                        tf.concat([[-1], tf.shape(views)[2:]], 0))
    stacks = []
    for student in self.students:
      heatmaps = tf.cast(student(images, training=False), tf.float32)
      heatmaps = tf.reshape(heatmaps, tf.concat([[len(ids), batch], tf.shape(heatmaps)[1:]], 0))
      stacks.append(self.align(heatmaps, tf.gather(matrices, ids, axis=1),
                               matrices[:, spec.loss_index]))
    (targets, _), _, stats = self.pseudo_targets(stacks[0], stacks[1])
    height, width = views.shape[2], views.shape[3]

    def overlay(base, heatmap):
      heat = tf.image.resize(tf.reduce_max(heatmap, axis=-1, keepdims=True), (height, width))
      heat = tf.clip_by_value(heat, 0.0, 1.0)
      return base * (1.0 - 0.6 * heat) + 255.0 * 0.6 * heat * tf.constant([1.0, 0.2, 0.0])

    loss_view = views[:, spec.loss_index]
    columns = [views[:, v] for v in range(spec.num_views)]
    columns += [overlay(loss_view, self.in_loss_frame(stats["ensembles"][0])),
                overlay(loss_view, targets)]
    rows = tf.concat(columns, axis=2)  # [B, H, (V + 2) W, 3]
    grid = tf.reshape(rows, [-1, tf.shape(rows)[2], 3])[None]
    return tf.cast(tf.clip_by_value(grid, 0, 255), tf.uint8)
