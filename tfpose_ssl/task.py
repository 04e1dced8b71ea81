"""The pose task: data, crop/heatmap geometry, model and evaluation settings.

Shared by the train, eval and export binaries so that all three build the same codec and
model from one gin config (Model Garden's task/trainer split).
"""

import dataclasses
from typing import Any, Callable, Optional, Tuple

import gin

from tfpose_ssl.data import coco
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import codec as codec_lib


@gin.configurable
@dataclasses.dataclass
class PoseTask:
  """Top-down 2D pose on COCO-format data.

  Attributes:
    train_set: `CocoKeypoints` the labeled (and, for COCO-Partial, unlabeled) crops come from.
    val_set: `CocoKeypoints` evaluated on (GT boxes unless `val_detections` is set).
    model_fn: builder `model_fn(input_size=(H, W)) -> keras.Model` producing heatmaps.
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

  @property
  def codec(self):
    return codec_lib.KeypointCodec(self.input_size, self.stride, self.sigma)

  def build_model(self):
    return self.model_fn(input_size=tuple(self.input_size))
