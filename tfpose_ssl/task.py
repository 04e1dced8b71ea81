"""The pose task: data, crop/heatmap geometry, model and evaluation settings.

Shared by the train, eval and export binaries so that all three build the same codec, model
and datasets from one gin config (Model Garden's task/trainer split).
"""

import dataclasses
import json
import os
from typing import Any, Callable, Optional, Tuple

import gin
import numpy as np

from tfpose_ssl import io_utils
from tfpose_ssl.data import coco
from tfpose_ssl.data import pipeline
from tfpose_ssl.data import splits
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import keypoints as kp


@gin.configurable
@dataclasses.dataclass
class PoseTask:
  """Top-down 2D pose on COCO-format data, with the data's keypoint schema (`schema`).

  Attributes:
    train_set: `CocoKeypoints` the labeled (and, for COCO-Partial, unlabeled) crops come from.
    val_set: `CocoKeypoints` evaluated on (GT boxes unless `val_detections` is set).
    model_fn: builder `model_fn(input_size=(H, W), num_joints=J) -> keras.Model` producing
      heatmaps.
    input_size: (H, W) of crops; heatmaps are (H/stride, W/stride).
    stride, sigma: heatmap stride and target Gaussian sigma (heatmap pixels).
    padding: box padding when cutting crops (1.25 as SimpleBaseline).
    val_detections: COCO detection-results JSON for val boxes (None: ground-truth boxes).
    val_score_threshold: detection score threshold.
    flip_test: average with the mirrored crop at test time (the paper's val runs use False).
    canvas_size: (H, W) every unlabeled image is padded to (larger ones are downscaled) so that
      a batch's views are warped from full images in one XLA call; COCO images fit 640x640.
  """
  train_set: Optional[coco.CocoKeypoints] = None
  val_set: Optional[coco.CocoKeypoints] = None
  model_fn: Callable[..., Any] = simple_baseline.simple_baseline
  input_size: Tuple[int, int] = (256, 192)
  stride: int = 4
  sigma: float = codec_lib.SIGMA
  padding: float = 1.25
  val_detections: Optional[str] = None
  val_score_threshold: float = 0.0
  flip_test: bool = False
  canvas_size: Tuple[int, int] = (640, 640)
  # Set by `for_checkpoint` (not configurable): the keypoints and category saved beside a
  # checkpoint, for a task built without its datasets.
  saved_schema: Optional[kp.KeypointSchema] = dataclasses.field(default=None, init=False,
                                                                repr=False)
  saved_category_id: Optional[int] = dataclasses.field(default=None, init=False, repr=False)

  @property
  def codec(self):
    return codec_lib.KeypointCodec(self.input_size, self.stride, self.sigma)

  @property
  def schema(self):
    """The data's `KeypointSchema`: the validation set's, else the training set's (the two
    must agree: `split_train_set` checks); COCO's person when neither set is configured."""
    dataset = self.val_set or self.train_set
    if dataset is not None:
      return dataset.schema
    return self.saved_schema or kp.COCO_PERSON

  @property
  def category_id(self):
    """The id of the data's keypoint category (of the set `schema` comes from; 1 without one)."""
    dataset = self.val_set or self.train_set
    if dataset is not None:
      return dataset.category_id
    return 1 if self.saved_category_id is None else self.saved_category_id

  def build_model(self, schema=None):
    """The model, with one heatmap per joint of `schema` (default: the data's, `self.schema`)."""
    schema = schema or self.schema
    return self.model_fn(input_size=tuple(self.input_size), num_joints=schema.num_joints)

  def split_train_set(self, num_labeled=None, split_path=None, split_seed=0, split_mode="random"):
    """(labeled, held-out) training instances: all of `train_set` labeled when `num_labeled` is
    None; else COCO-Partial's split, read from (or first written to) `split_path`."""
    if self.train_set is None:
      raise ValueError("PoseTask.train_set is not configured")
    instances, counts = coco.load_instances(self.train_set)
    if self.train_set.schema != self.schema:
      raise ValueError(f"the training set's keypoints ({self.train_set.annotation_path}: "
                       f"{self.train_set.schema}) are not the validation set's "
                       f"({self.schema})")
    skipped = {k: v for k, v in counts.items() if v}
    print(f"train set: {len(instances)} instances with keypoints"
          + (f" (skipped or fixed: {skipped})" if skipped else ""), flush=True)
    if not num_labeled:
      return instances, instances.select(np.zeros(len(instances), bool))
    if not split_path:
      raise ValueError("a COCO-Partial split (num_labeled) needs the path of its split JSON")
    split = splits.get_or_make_split(instances, split_path, num_labeled, split_seed, split_mode)
    return splits.apply_split(instances, split, source=split_path)

  def unlabeled_instances(self, held_out, sources=()):
    """Unlabeled people: COCO-Partial's held-out split plus every `UnlabeledImages` source."""
    parts = [held_out] if len(held_out) else []
    for source in sources:
      instances, counts = coco.load_unlabeled(source, self.schema.num_joints,
                                              self.category_id)
      skipped = {k: v for k, v in counts.items() if v}
      print(f"unlabeled source {source.image_dir}: {len(instances)} person boxes"
            + (f" (skipped {skipped})" if skipped else ""), flush=True)
      parts.append(instances)
    if not parts:
      raise ValueError("the semi-supervised trainer needs unlabeled people: set "
                       "train.num_labeled (COCO-Partial) or train.unlabeled_sources")
    return coco.Instances.concatenate(parts)

  def labeled_dataset(self, instances, batch_size, augment, seed=0, start_step=0):
    """Batches of augmented labeled crops with their target heatmaps (`pipeline`)."""
    return pipeline.labeled_dataset(instances, self.codec, batch_size, augment, seed=seed,
                                    start_step=start_step, padding=self.padding,
                                    schema=self.schema)

  def unlabeled_dataset(self, instances, batch_size, views, seed=0, start_step=0):
    """Batches of unlabeled people as the weak and strong views of `views` (`pipeline`)."""
    return pipeline.unlabeled_dataset(instances, self.codec, batch_size, views, seed=seed,
                                      start_step=start_step, padding=self.padding,
                                      canvas_size=self.canvas_size)


def for_checkpoint(checkpoint):
  """The `PoseTask` of the gin config for restoring and serving `checkpoint` (a workdir, a
  checkpoint folder or prefix), without its datasets when the checkpoint carries its keypoints
  and category (`write_schema`): no annotation file is read and no synthetic split needs to be
  on this machine. `schema` and `category_id` are then the saved ones; `train_set` and
  `val_set` are None. Checkpoints without them (runs before 2026-11-29) get `PoseTask()`, the
  data's schema, which needs the data."""
  path = io_utils.latest_checkpoint(checkpoint)
  schema, category_id = _read_schema_file(path)
  if schema is None or category_id is None:
    try:
      return PoseTask()
    except FileNotFoundError as e:
      missing = "the keypoint schema" if schema is None else "the category id"
      raise FileNotFoundError(
          f"{e}\n{path} was saved without {missing} ({SCHEMA_FILE} beside it), so its "
          "keypoints come from the config's data, which is not here. Run where the data is, "
          + ("or add \"category_id\": <id of its keypoint category> to that file"
             if schema is not None else "or copy that file from the run's checkpoints")) from e
  # Passed positionally, the datasets' gin bindings are never evaluated (gin evaluates bound
  # references, e.g. `@synthetic_coco()`, for every parameter but positional ones).
  task = PoseTask(None, None)
  task.saved_schema, task.saved_category_id = schema, category_id
  return task


SCHEMA_FILE = "keypoint_schema.json"


def check_schema(checkpoint_dir, schema):
  """Raises if the checkpoints in `checkpoint_dir` were trained on keypoints other than
  `schema` (the data's: another dataset, or the same file edited). Run by every worker before
  it restores anything (a restore of another joint count fails with a less useful message)."""
  saved = read_schema(os.path.join(checkpoint_dir, "ckpt"))
  if saved is not None and saved != schema:
    raise ValueError(f"the checkpoints in {checkpoint_dir} were trained on the keypoints "
                     f"{saved.names} ({SCHEMA_FILE} there); this run's data has {schema.names} "
                     "(with its sigmas, flip pairs, groups): use another workdir")


def write_schema(checkpoint_dir, schema, category_id=1):
  """Saves `schema` and the data's keypoint category id beside a run's checkpoints
  (`keypoint_schema.json`), so that restoring and exporting them needs no annotation file;
  refuses a differing schema (`check_schema`)."""
  check_schema(checkpoint_dir, schema)
  os.makedirs(checkpoint_dir, exist_ok=True)
  saved = dict(dataclasses.asdict(schema), category_id=int(category_id))
  io_utils.atomic_write_text(os.path.join(checkpoint_dir, SCHEMA_FILE),
                             json.dumps(saved, indent=1))


def _read_schema_file(checkpoint):
  """(KeypointSchema, category id or None) saved beside the checkpoint prefix `checkpoint`, or
  (None, None) where there is no file (runs before it, or checkpoints copied without it)."""
  path = os.path.join(os.path.dirname(checkpoint), SCHEMA_FILE)
  if not os.path.isfile(path):
    return None, None
  with open(path) as f:
    try:
      data = json.load(f)
      category_id = data.pop("category_id", None)  # files before it: None
      if category_id is not None and (isinstance(category_id, bool)
                                      or not isinstance(category_id, int)):
        raise ValueError(f"category_id {category_id!r} is not an integer")
      return kp.KeypointSchema(**data), category_id
    except (ValueError, TypeError, AttributeError) as e:
      raise ValueError(f"{path}: not a keypoint schema ({e})") from e


def read_schema(checkpoint):
  """The `KeypointSchema` saved beside the checkpoint prefix `checkpoint` (`write_schema`), or
  None where there is none (checkpoints of runs before it, or copied without it)."""
  return _read_schema_file(checkpoint)[0]


def read_category_id(checkpoint):
  """The keypoint category id saved beside the checkpoint prefix `checkpoint`, or None (no
  file, or one written before the id was saved)."""
  return _read_schema_file(checkpoint)[1]
