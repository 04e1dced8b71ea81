"""Dual-student semi-supervised training with denoised, uncertainty-selected pseudo-heatmaps.

One `train_step` (paper Sec. 3, Eq. 1-9) for two students theta and xi on a labeled batch and
an unlabeled batch of multi-view crops (`pipeline.unlabeled_dataset`):

1. Each student predicts, without gradient, its heatmaps on the ensemble views (weak and K
   strong) in one batched call; the heatmaps are warped into the loss view's frame
   (`views.align_heatmaps`, XLA).
2. Inside the tape, each student runs once on [labeled crops; loss view]. When the loss view is
   one of the K strong views its (stop-gradient) output is also that view's ensemble member.
3. `pseudo_targets` (XLA): per student, ensemble (Eq. 4), threshold-and-refine, uncertainty
   (Eq. 6); then cross-student selection (Eq. 7), or, without selection, each student learns
   from the other's pseudo-heatmaps (Eq. 5 / DualPose's Eq. 3).
4. Loss per student: supervised (Eq. 1) + `unsupervised_weight` x unsupervised (Eq. 8) = Eq. 9;
   one gradient computation for both, each optimizer updates its student.

Losses are summed per example and divided by the global batch, so replicas of a
MirroredStrategy add up to the single-device value.
"""

import gin
import keras
import tensorflow as tf

from tfpose_ssl import losses
from tfpose_ssl import pseudo_heatmaps as ph
from tfpose_ssl import views as views_lib
from tfpose_ssl.trainers import supervised


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


@gin.configurable(denylist=["build_model", "codec"])
class DualStudentTrainer(keras.Model):
  """Two students trained together on labeled and unlabeled crops (see module docstring).

  Args:
    build_model: builds one student (called twice: two independent initializations).
    codec: the task's `KeypointCodec` (stride, default refine sigma).
    views: the `MultiViewAugment` of the unlabeled crops (also used by the data pipeline).
    aggregate: 'max' (Eq. 4) or 'mean' (Table 6 "avg").
    threshold: threshold-and-refine threshold (paper 0.1); None disables it (DualPose).
    refine: replace each kept pseudo-heatmap by a Gaussian at its maximum.
    sigma: Gaussian sigma of the refined targets (None: the codec's).
    selection: uncertainty-guided cross-student selection (Eq. 7); False: each student learns
      from the other's pseudo-heatmaps (Eq. 5).
    margin: the selection margin Delta (paper 0.05).
    unsupervised_weight: weight of Eq. 8 in Eq. 9 (paper 1.0).
    joint_cutout: JointCutout (DualPose) on the loss view; needs `views.loss_view='extra'`.
    cutout_joints, cutout_size: JointCutout patches per crop and their side (fraction of width).
    seed: seeds JointCutout's stateless randomness (with the step).
    target_bn_training: True (default): the no-gradient ensemble passes run with BatchNorm in
      training mode (batch statistics; moving statistics also updated from every view), as a
      single train-mode forward over all views does in DualPose's code. False: pseudo-heatmaps
      from inference-mode students (~15% faster per step), but early in training the moving
      statistics lag and inference-mode outputs can be large; without threshold-and-refine
      the max ensemble passes that magnitude into the targets and training diverges (Table 4
      "multi-view" row, 150 steps: loss 2.60 with False vs 0.012 with True).
  """

  uses_unlabeled = True
  # Set by train() when the unlabeled crops carry held-back labels (never used for training).
  measure_pseudo_labels = False

  def __init__(self, build_model, codec, views=None, aggregate="max", threshold=0.1, refine=True,
               sigma=None, selection=True, margin=0.05, unsupervised_weight=1.0,
               joint_cutout=False, cutout_joints=2, cutout_size=0.2, seed=0,
               target_bn_training=True, **kwargs):
    super().__init__(**kwargs)
    self.views = views or views_lib.MultiViewAugment()
    if aggregate not in ph.AGGREGATES:
      raise ValueError(f"aggregate must be one of {ph.AGGREGATES}, got {aggregate!r}")
    if joint_cutout and self.views.loss_view_in_ensemble:
      raise ValueError("JointCutout needs MultiViewAugment.loss_view='extra' (the cut-out view "
                       "must not be one of the ensemble views)")
    self.codec = codec
    self.aggregate, self.threshold, self.refine = aggregate, threshold, refine
    self.sigma = codec.sigma if sigma is None else float(sigma)
    self.selection, self.margin = selection, margin
    self.unsupervised_weight = unsupervised_weight
    self.joint_cutout, self.cutout_joints, self.cutout_size = (joint_cutout, cutout_joints,
                                                               cutout_size)
    self.seed = seed
    self.target_bn_training = target_bn_training
    self.student_1 = build_model()
    self.student_2 = build_model()
    self.students = [self.student_1, self.student_2]
    joints = self.student_1.output_shape[-1]
    self.trackers = {}
    self.trackers["loss"] = keras.metrics.Mean(name="loss")
    # Crops whose image could not be read this epoch (their weights are zero).
    self.trackers["skipped_images"] = keras.metrics.Sum(name="skipped_images")
    for i in (1, 2):
      for name in ("sup_loss", "unsup_loss", "from_other", "above_threshold", "uncertainty",
                   "pseudo_pck_before", "pseudo_pck_after"):
        self.trackers[f"{name}_{i}"] = keras.metrics.Mean(name=f"{name}_{i}")
      self.trackers[f"joint_uncertainty_{i}"] = VectorMean(joints, f"joint_uncertainty_{i}")
      self.trackers[f"joint_strong_max_{i}"] = VectorMean(joints, f"joint_strong_max_{i}")
    self.built = True  # PLATFORM.md: else fit() calls self(x) on the first element.

  def compile(self, optimizers, **kwargs):  # pylint: disable=arguments-differ
    super().compile(optimizer=optimizers[0], **kwargs)
    self.student_optimizers = list(optimizers)
    supervised.build_optimizers(self.student_optimizers, self.students)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Skipped: students and optimizers are built explicitly. Keras' version takes a batch
    from the training iterator and reduces it with `strategy.reduce`, which fails for dict
    batches under MultiWorkerMirroredStrategy (and wastes one batch per `fit` call)."""
    del iterator, data_batch

  def checkpoint_items(self):
    return {"student_1": self.student_1, "student_2": self.student_2,
            "optimizer_1": self.student_optimizers[0], "optimizer_2": self.student_optimizers[1]}

  def call(self, images, training=False):
    return 0.5 * (self.student_1(images, training=training) +
                  self.student_2(images, training=training))

  @property
  def metrics(self):
    return list(self.trackers.values())

  def vector_metrics(self):
    """Per-joint statistics for TensorBoard: {name: `[J]` tensor}."""
    return {name: m.result() for name, m in self.trackers.items() if isinstance(m, VectorMean)}

  @tf.function(jit_compile=True)
  def pseudo_targets(self, views_1, views_2):
    """Eq. 4, threshold-and-refine, Eq. 6 and Eq. 7 for both students; `[V, B, h, w, J]` each.

    Returns per student (targets `[B, h, w, J]`, weights `[B, J]`) and statistics.
    """
    ensembles, refined, uncertainties = [], [], []
    for stack in (views_1, views_2):
      ensembled = ph.ensemble(stack, self.aggregate)
      ensembles.append(ensembled)
      refined.append(ph.threshold_and_refine(ensembled, self.threshold, self.sigma, self.refine))
      uncertainties.append(ph.uncertainty(stack))
    (t1, w1), (t2, w2) = refined
    u1, u2 = uncertainties
    if self.selection:
      target_1 = (ph.select(t1, t2, u1, u2, self.margin), ph.select(w1, w2, u1, u2, self.margin))
      target_2 = (ph.select(t2, t1, u2, u1, self.margin), ph.select(w2, w1, u2, u1, self.margin))
      from_other_1 = tf.cast(~(u1 + self.margin < u2), tf.float32)
      from_other_2 = tf.cast(~(u2 + self.margin < u1), tf.float32)
    else:
      target_1, target_2 = (t2, w2), (t1, w1)
      from_other_1 = from_other_2 = tf.ones_like(u1)
    stats = {"ensembles": ensembles, "own": [(t1, w1), (t2, w2)], "uncertainty": [u1, u2],
             "from_other": [from_other_1, from_other_2],
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

  def _pseudo_pck(self, targets, weights, keypoints, radius):
    """PCK of pseudo-targets `[B, h, w, J]` against held-back labels `[B, J, 3]` (same frame).

    Returns (correct `[B, J]`, counted `[B, J]`): joints with a target and a label inside the
    frame (a zoomed-in loss view does not see every joint).
    """
    xy = ph.first_argmax(targets)
    distance = tf.norm(xy - keypoints[..., :2], axis=-1)
    size = tf.cast(tf.shape(targets)[1:3], tf.float32)
    inside = ((keypoints[..., 0] >= 0) & (keypoints[..., 0] <= size[1] - 1) &
              (keypoints[..., 1] >= 0) & (keypoints[..., 1] <= size[0] - 1))
    counted = tf.cast((weights > 0) & (keypoints[..., 2] > 0) & inside, tf.float32)
    correct = tf.cast(distance <= radius[:, None], tf.float32) * counted
    return correct, counted

  def train_step(self, data):
    labeled, unlabeled = data
    spec = self.views
    views = unlabeled["views"]
    matrices = unlabeled["matrices"]
    shape = tf.shape(views)
    batch_u = shape[0]
    image_shape = tf.shape(views)[2:]
    loss_matrix = matrices[:, spec.loss_index]
    nograd_ids = [v for v in range(spec.num_targets) if v != spec.loss_index]
    stride = float(self.codec.stride)

    # 1. No-gradient predictions on the ensemble views, aligned to the loss view's frame.
    aligned = []
    if nograd_ids:
      nograd_images = tf.reshape(tf.transpose(tf.gather(views, nograd_ids, axis=1),
                                              [1, 0, 2, 3, 4]),
                                 tf.concat([[-1], image_shape], 0))
      nograd_matrices = tf.gather(matrices, nograd_ids, axis=1)
      for student in self.students:
        heatmaps = tf.stop_gradient(tf.cast(
            student(nograd_images, training=self.target_bn_training), tf.float32))
        heatmaps = tf.reshape(heatmaps, tf.concat([[len(nograd_ids), batch_u],
                                                   tf.shape(heatmaps)[1:]], 0))
        aligned.append(views_lib.align_heatmaps(heatmaps, nograd_matrices, loss_matrix, stride))

    loss_images = [views[:, spec.loss_index]] * 2
    if self.joint_cutout:
      seeds = tf.random.experimental.stateless_split(
          tf.stack([tf.constant(self.seed, tf.int64),
                    tf.cast(self.student_optimizers[0].iterations, tf.int64)]), 2)
      cut = []
      for i in (0, 1):
        other = ph.ensemble(aligned[1 - i], self.aggregate)
        xy, scores = self.codec.decode(other)
        cut.append(joint_cutout(loss_images[i], xy, scores, seeds[i], self.cutout_joints,
                                self.cutout_size))
      loss_images = cut

    x_labeled = labeled["image"]
    batch_l = tf.shape(x_labeled)[0]
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    global_l = tf.cast(batch_l * replicas, tf.float32)
    global_u = tf.cast(batch_u * replicas, tf.float32)

    with tf.GradientTape() as tape:
      predictions = [tf.cast(s(tf.concat([x_labeled, loss_images[i]], 0), training=True),
                             tf.float32) for i, s in enumerate(self.students)]
      stacks = []
      for i in (0, 1):
        members = [aligned[i]] if nograd_ids else []
        if spec.loss_view_in_ensemble:
          own = tf.stop_gradient(predictions[i][batch_l:])[None]
          # Keep the views in their [weak..., strong...] order (Fig. 4 statistics).
          members = ([aligned[i][:spec.loss_index]] if nograd_ids else []) + [own] + (
              [aligned[i][spec.loss_index:]] if nograd_ids else [])
        stacks.append(tf.concat(members, axis=0))
      target_1, target_2, stats = self.pseudo_targets(stacks[0], stacks[1])
      per_student = []
      total = 0.0  # sum of both students' (loss-scaled) Eq. 9; each depends on one student
      readable = unlabeled["valid"][:, None] if "valid" in unlabeled else 1.0
      for i, (targets, weights) in enumerate((target_1, target_2)):
        sup = losses.heatmap_mse(predictions[i][:batch_l], labeled["heatmaps"],
                                 labeled["target_weight"])
        unsup = losses.heatmap_mse(predictions[i][batch_l:], tf.stop_gradient(targets),
                                   tf.stop_gradient(weights) * readable)
        loss = (tf.reduce_sum(sup) / global_l +
                self.unsupervised_weight * tf.reduce_sum(unsup) / global_u)
        total += supervised.scaled(self.student_optimizers[i], loss)
        per_student.append((sup, unsup))
    variables = [s.trainable_variables for s in self.students]
    gradients = tape.gradient(total, variables[0] + variables[1])
    n_1 = len(variables[0])
    self.student_optimizers[0].apply_gradients(zip(gradients[:n_1], variables[0]))
    self.student_optimizers[1].apply_gradients(zip(gradients[n_1:], variables[1]))

    # Monitoring: losses, selection and threshold rates, uncertainty, Fig. 4, pseudo-label PCK.
    keypoints = unlabeled["keypoints"]
    scale = tf.sqrt(tf.abs(tf.linalg.det(loss_matrix[:, :2, :2])))
    in_loss_view = tf.concat([
        tf.einsum("bij,bnj->bni", loss_matrix[:, :2, :2], keypoints[..., :2])
        + loss_matrix[:, None, :2, 2], keypoints[..., 2:]], -1)
    truth = tf.concat([in_loss_view[..., :2] / stride, in_loss_view[..., 2:]], -1)
    radius = unlabeled["pck_radius"] * scale / stride
    self.trackers["loss"].update_state(
        sum(tf.reduce_mean(s) + self.unsupervised_weight * tf.reduce_mean(u)
            for s, u in per_student))
    for batch in (labeled, unlabeled):
      if "valid" in batch:
        self.trackers["skipped_images"].update_state(tf.reduce_sum(1.0 - batch["valid"]))
    for i, (sup, unsup) in enumerate(per_student):
      n = i + 1
      own_targets, own_weights = stats["own"][i]
      targets, weights = (target_1, target_2)[i]
      self.trackers[f"sup_loss_{n}"].update_state(tf.reduce_mean(sup))
      self.trackers[f"unsup_loss_{n}"].update_state(tf.reduce_mean(unsup))
      self.trackers[f"from_other_{n}"].update_state(tf.reduce_mean(stats["from_other"][i]))
      self.trackers[f"above_threshold_{n}"].update_state(tf.reduce_mean(own_weights))
      self.trackers[f"uncertainty_{n}"].update_state(tf.reduce_mean(stats["uncertainty"][i]))
      self.trackers[f"joint_uncertainty_{n}"].update_state(stats["uncertainty"][i])
      self.trackers[f"joint_strong_max_{n}"].update_state(stats["strong_max"][i], own_weights)
      if self.measure_pseudo_labels:
        for name, (t, w) in (("before", (own_targets, own_weights)), ("after", (targets, weights))):
          correct, counted = self._pseudo_pck(t, w, truth, radius)
          self.trackers[f"pseudo_pck_{name}_{n}"].update_state(
              tf.math.divide_no_nan(tf.reduce_sum(correct), tf.reduce_sum(counted)),
              sample_weight=tf.reduce_sum(counted))
    return supervised.as_logs({name: self.trackers[name].result()
                               for name in self.progress_metrics()})

  def progress_metrics(self):
    """Names shown by the progress bar; TensorBoard gets every scalar in `scalar_metrics`."""
    names = ["loss", "sup_loss_1", "unsup_loss_1", "sup_loss_2", "unsup_loss_2"]
    if self.measure_pseudo_labels:
      names += ["pseudo_pck_after_1", "pseudo_pck_after_2"]
    return names

  def scalar_metrics(self):
    """Every scalar statistic of the run so far in this epoch: {name: value}."""
    return {name: m.result() for name, m in self.trackers.items()
            if not isinstance(m, VectorMean) and (self.measure_pseudo_labels
                                                  or not name.startswith("pseudo_pck"))}

  def pseudo_label_images(self, unlabeled, max_crops=4):
    """uint8 `[1, H, W, 3]`: per crop, its views, student 1's ensembled pseudo-heatmap and the
    target selected for student 1, all in the loss view's frame (for TensorBoard)."""
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
      stacks.append(views_lib.align_heatmaps(heatmaps, tf.gather(matrices, ids, axis=1),
                                             matrices[:, spec.loss_index],
                                             float(self.codec.stride)))
    (targets, _), _, stats = self.pseudo_targets(stacks[0], stacks[1])
    height, width = views.shape[2], views.shape[3]

    def overlay(base, heatmap):
      heat = tf.image.resize(tf.reduce_max(heatmap, axis=-1, keepdims=True), (height, width))
      heat = tf.clip_by_value(heat, 0.0, 1.0)
      return base * (1.0 - 0.6 * heat) + 255.0 * 0.6 * heat * tf.constant([1.0, 0.2, 0.0])

    loss_view = views[:, spec.loss_index]
    columns = [views[:, v] for v in range(spec.num_views)]
    columns += [overlay(loss_view, stats["ensembles"][0]), overlay(loss_view, targets)]
    rows = tf.concat(columns, axis=2)  # [B, H, (V + 2) W, 3]
    grid = tf.reshape(rows, [-1, tf.shape(rows)[2], 3])[None]
    return tf.cast(tf.clip_by_value(grid, 0, 255), tf.uint8)
