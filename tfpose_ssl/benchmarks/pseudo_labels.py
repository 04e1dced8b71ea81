r"""How accurate are the pseudo-labels each view ensemble would give? (paper Sec. 3.2, Table 6)

  python -m tfpose_ssl.benchmarks.pseudo_labels --checkpoint=<training workdir> \
      [--num_strong=2] [--batches=20] [--out=<folder>]
  bazel run //tfpose_ssl/benchmarks:pseudo_labels -- --checkpoint=$PWD/runs/synthetic/method

No training: restores the students of a workdir (its saved config.gin gives data, model and
split), draws multi-view crops of the run's unlabeled people and measures each student's
pseudo-labels against their held-back labels (COCO-Partial and synthetic data have them; they
are never used for training). Every crop gets 1 + K weak views, K strong views and one more
strong view, the loss view, whose frame everything is measured in (as the trainer's targets):

- PCK@0.1 of each single view's heatmaps aligned to the loss view, and of the student's own
  prediction on the loss view;
- PCK of the ensembles of Table 6: 1 weak; 1 weak + K strong; 1 + K weak, each with the
  maximum (Eq. 4) and the mean;
- the mean peak value of the student's raw heatmaps on weak and on strong views, how often a
  strong view holds the maximum of "1 weak + K strong" (the paper's Fig. 4 statistic), and that
  ensemble's PCK when the weak view holds it and when a strong view does.

A joint counts when it is labeled; it is correct when its label lies in the loss view and the
heatmap's maximum inside the loss view is within 0.1 x the box's longer side of it.
Writes `<out>/pseudo_labels.json` and `.md` (default out: `<workdir>/pseudo_labels`).
"""

import tfpose_ssl  # pylint: disable=unused-import  (first: TensorFlow's options, runtime.py)
import json
import os
import subprocess
import time

from absl import app
from absl import flags
import gin
import tensorflow as tf

from tfpose_ssl import config as config_lib
from tfpose_ssl import configurables  # pylint: disable=unused-import  (gin's names)
from tfpose_ssl import io_utils
from tfpose_ssl import runtime
from tfpose_ssl import task as task_lib
from tfpose_ssl import training as train_lib
from tfpose_ssl.evaluation import evaluator
from tfpose_ssl.ops import augment as augment_lib
from tfpose_ssl.ops import pseudo_heatmaps as ph
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.trainers import dual_student

FLAGS = flags.FLAGS


def ensembles(aligned, num_strong):
  """The Table 6 ensembles of `aligned` `[2K + 1, B, h, w, J]` = [weak x (1 + K), strong x K]:
  name -> `[B, h, w, J]`."""
  weak_and_strong = tf.gather(aligned, [0] + list(range(num_strong + 1, 2 * num_strong + 1)))
  weak = aligned[:num_strong + 1]
  rows = {"1 weak": aligned[0]}
  for mode in ph.AGGREGATES:
    rows[f"1 weak + {num_strong} strong, {mode}"] = ph.ensemble(weak_and_strong, mode)
    rows[f"{1 + num_strong} weak, {mode}"] = ph.ensemble(weak, mode)
  return rows


def winner_statistics(aligned, num_strong, truth, radius):
  """For the max over 1 weak + K strong views in `aligned` (loss frame, `[2K + 1, B, h, w, J]`):
  (strong wins, correct when the weak view wins, correct when a strong view wins), `[B, J]`
  each, 1/0, over labeled joints only (0 elsewhere).

  The winner is the view holding the ensemble's maximum value (on ties the first view).
  """
  members = tf.gather(aligned, [0] + list(range(num_strong + 1, 2 * num_strong + 1)))
  peaks = tf.reduce_max(members, axis=[2, 3])  # [1 + K, B, J]
  strong = tf.cast(tf.argmax(peaks, axis=0) > 0, tf.float32)
  correct, counted = dual_student.pseudo_label_pck(
      tf.reduce_max(members, axis=0), tf.ones_like(truth[..., 2]), truth, radius)
  return strong * counted, correct * (1.0 - strong), correct * strong


class Tally:
  """Sums of `[B, J]` numerators and denominators by name."""

  def __init__(self):
    self.sums = {}

  def add(self, name, numerator, denominator):
    total = self.sums.setdefault(name, [0.0, 0.0])
    total[0] += float(tf.reduce_sum(numerator))
    total[1] += float(tf.reduce_sum(denominator))

  def result(self):
    return {name: {"value": num / den if den else float("nan"), "count": den}
            for name, (num, den) in self.sums.items()}


def measure(students, codec, batches, num_strong, frame, flip_permutation):
  """Runs the measurements on `batches` of `pipeline.unlabeled_dataset` elements whose views are
  [weak x (1 + K), strong x K, loss view]; returns {student_n: {measure: {value, count}}}.
  `flip_permutation`: the keypoint schema's (mirrored views swap its left/right joints)."""
  stride = float(codec.stride)
  num_ensemble = 2 * num_strong + 1
  tallies = [Tally() for _ in students]
  for batch in batches:
    views, matrices = batch["views"], batch["matrices"]
    batch_size = tf.shape(views)[0]
    loss_matrix = matrices[:, num_ensemble]
    truth, radius = dual_student.labels_in_view(batch["keypoints"], batch["pck_radius"],
                                                loss_matrix, stride)
    labeled = tf.cast(truth[..., 2] > 0, tf.float32) * batch["valid"][:, None]
    images = tf.reshape(tf.transpose(views[:, :num_ensemble], [1, 0, 2, 3, 4]),
                        tf.concat([[-1], tf.shape(views)[2:]], 0))
    for student, tally in zip(students, tallies):
      raw = tf.cast(student(images, training=False), tf.float32)
      raw = tf.reshape(raw, tf.concat([[num_ensemble, batch_size], tf.shape(raw)[1:]], 0))
      peaks = tf.reduce_max(raw, axis=[2, 3])
      tally.add("mean peak, weak views", tf.reduce_sum(peaks[:num_strong + 1] * labeled, 0),
                (num_strong + 1) * labeled)
      tally.add("mean peak, strong views", tf.reduce_sum(peaks[num_strong + 1:] * labeled, 0),
                num_strong * labeled)
      aligned = views_lib.align_heatmaps(raw, matrices[:, :num_ensemble], loss_matrix, stride,
                                         frame["size"], frame["offset"], flip_permutation)
      top, left, height, width = frame["loss"]
      aligned = aligned[:, :, top:top + height, left:left + width]
      own = tf.cast(student(views[:, num_ensemble], training=False), tf.float32)
      singles = {"own prediction on the loss view": own}
      for v in range(num_ensemble):
        kind = "weak" if v <= num_strong else "strong"
        singles[f"single {kind} view {v + 1}"] = aligned[v]
      for name, heatmaps in {**singles, **ensembles(aligned, num_strong)}.items():
        correct, counted = dual_student.pseudo_label_pck(heatmaps, labeled, truth, radius)
        tally.add(name, correct, counted)
      strong, weak_ok, strong_ok = winner_statistics(aligned, num_strong, truth, radius)
      strong *= labeled
      tally.add("strong view holds the max", strong, labeled)
      tally.add("max PCK when the weak view holds it", weak_ok * labeled, labeled - strong)
      tally.add("max PCK when a strong view holds it", strong_ok * labeled, strong)
  return {f"student_{i + 1}": tally.result() for i, tally in enumerate(tallies)}


def markdown(report):
  names = list(report["students"]["student_1"])
  header = "| measure | " + " | ".join(report["students"]) + " |"
  lines = ["# Pseudo-label accuracy of view ensembles", "",
           f"checkpoint `{report['checkpoint']}`, {report['crops']} unlabeled crops, "
           f"K = {report['num_strong']}, seed {report['seed']}; PCK@0.1 in % in the loss view's "
           f"frame; peaks of the raw heatmaps. {report['date']}, commit {report['commit']}, "
           f"{report['machine']}", "",
           header, "|---|" + "---|" * len(report["students"])]
  for name in names:
    cells = []
    for student in report["students"].values():
      value = student[name]["value"]
      cells.append(f"{value:.3f}" if name.startswith("mean peak") else f"{100 * value:.1f}")
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def source_commit():
  """The git commit of this source tree, or None outside a git checkout."""
  try:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return None


def workdir_of(checkpoint):
  """The training workdir of a workdir, of its checkpoints/ folder or of a checkpoint prefix."""
  path = checkpoint.rstrip("/")
  if os.path.isdir(path):
    return os.path.dirname(path) if os.path.basename(path) == "checkpoints" else path
  return os.path.dirname(os.path.dirname(path))


def run(checkpoint, num_strong, num_batches, batch_size, seed, out_dir):
  """Measures the students of `checkpoint` (a training workdir); writes and returns the report."""
  if num_strong < 1:
    raise ValueError(f"num_strong must be >= 1, got {num_strong}")
  bindings = gin.get_bindings("train")
  num_labeled = bindings.get("num_labeled")
  if not num_labeled:
    raise ValueError("the run has no COCO-Partial split (train.num_labeled): its unlabeled "
                     "people have no held-back labels to measure pseudo-labels against")
  task = task_lib.PoseTask()  # after the check: it loads the data
  codec = task.codec
  workdir = workdir_of(checkpoint)
  _, held_out = task.split_train_set(
      num_labeled, train_lib.split_path(workdir, bindings.get("split_file")),
      bindings.get("split_seed", 0), bindings.get("split_mode", "random"))
  students, path = evaluator.restore_students(task, checkpoint)
  evaluator.check_schema(task, path)  # the data's flip pairs are the students'
  spec = views_lib.MultiViewAugment(num_weak=1 + num_strong, num_strong=num_strong,
                                    loss_view="extra", weak=augment_lib.TopDownAugment())
  data = task.unlabeled_dataset(held_out, batch_size, spec, seed=seed)
  loss, size = views_lib.padded_frame(codec.heatmap_size)
  frame = {"loss": loss, "size": size, "offset": loss[:2]}
  report = {"checkpoint": os.path.relpath(path) if path.startswith(os.getcwd()) else path,
            "num_strong": num_strong, "crops": num_batches * batch_size, "seed": seed,
            "date": time.strftime("%Y-%m-%d"), "commit": source_commit(),
            "machine": runtime.machine_description(),
            "students": measure(students, codec, data.take(num_batches), num_strong, frame,
                                task.schema.flip_permutation())}
  os.makedirs(out_dir, exist_ok=True)
  io_utils.atomic_write_text(os.path.join(out_dir, "pseudo_labels.json"),
                             json.dumps(report, indent=1))
  io_utils.atomic_write_text(os.path.join(out_dir, "pseudo_labels.md"), markdown(report))
  return report


def _define_flags():
  config_lib.define_flags()
  flags.adopt_module_key_flags(config_lib)  # --config, --gin_bindings in --help
  flags.DEFINE_string("checkpoint", None,
                      "Training workdir, its checkpoints/ folder or a checkpoint prefix (the "
                      "workdir's config.gin is used unless --config is given).")
  flags.DEFINE_integer("num_strong", 2, "K: strong views (and 1 + K weak views).")
  flags.DEFINE_integer("batches", 20, "Batches of unlabeled crops to measure.")
  flags.DEFINE_integer("batch_size", 16, "Crops per batch.")
  flags.DEFINE_integer("seed", 5, "Seed of the crops' order and views.")
  flags.DEFINE_string("out", None, "Output folder (default: <workdir>/pseudo_labels).")
  flags.mark_flag_as_required("checkpoint")


def main(argv):
  del argv
  checkpoint = io_utils.resolve_path(FLAGS.checkpoint)
  workdir = workdir_of(checkpoint)
  config_lib.parse(FLAGS.config, FLAGS.gin_bindings, workdir=workdir)
  out_dir = (io_utils.resolve_path(FLAGS.out) if FLAGS.out else
             os.path.join(workdir, "pseudo_labels"))
  report = run(checkpoint, FLAGS.num_strong, FLAGS.batches, FLAGS.batch_size, FLAGS.seed,
               out_dir)
  print(markdown(report))
  print(f"written to {out_dir}")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
