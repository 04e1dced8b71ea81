"""Exportable pose models: SavedModel signatures and TFLite conversion.

`PoseServingModule` wraps student 1, student 2 or their ensemble with the same graph functions
that evaluation uses (`inference.keypoints_from_crops`), so an export gives the keypoints
`python -m tfpose_ssl.eval` gives for the same checkpoint and flip setting.

Signatures of the SavedModel (J: the keypoint schema's joints, 17 for COCO's person):
  serving_default(image uint8 [H, W, 3], boxes float32 [N, 4] COCO xywh)
      -> keypoints [N, J, 2] (image pixels), scores [N, J]
  crops(crops uint8 [N, h, w, 3] at the model's input size)
      -> heatmaps [N, h/4, w/4, J], keypoints [N, J, 2] (crop pixels), scores [N, J],
         keypoints_with_scores [N, J, 3] (x, y, score; MoveNet-like, decoded in the model)
         and, when exported with uncertainty views, uncertainty [N, J]: the paper's Eq. 6 at
         inference (max over pixels of the std across fixed affine test-time views).
The metadata file beside the model holds the crop geometry and the keypoint schema
(`keypoint_schema`: names, skeleton, flip pairs, OKS sigmas, meta-joints).
"""

import dataclasses

import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-direct-tensorflow-import

from tfpose_ssl import io_utils
from tfpose_ssl.evaluation import inference
from tfpose_ssl.ops import geometry
from tfpose_ssl.ops import keypoints as kp
from tfpose_ssl.ops import pseudo_heatmaps as ph
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.ops import warp

# Fixed test-time views for the uncertainty output: (rotation deg, scale).
UNCERTAINTY_VIEWS = ((0.0, 1.0), (15.0, 1.0), (-15.0, 1.0), (0.0, 0.85), (0.0, 1.15))
METADATA_FILE = "tfpose_ssl.json"
VARIANTS = ("fp32", "fp16", "dynamic_int8", "int8")


class PoseServingModule(tf.Module):
  """Students (one, or two averaged) + codec + crop geometry as exportable tf.functions, for
  the keypoint `schema` (its flip permutation for `flip_test` and the uncertainty views; it is
  written to the metadata for `predict`)."""

  def __init__(self, models, codec, padding=1.25, flip_test=False, uncertainty_views=0,
               metadata=None, schema=kp.COCO_PERSON):
    super().__init__()
    # The Keras models are kept out of the module's object graph (set through __dict__, which
    # tf.Module does not track): their Keras variables would be saved a second time beside
    # `tf_variables` below, doubling the SavedModel (8.95 MiB for a 3.7 MiB model, measured).
    self.__dict__["models"] = list(models)
    # The students' underlying tf.Variables, tracked by this module: without them the
    # SavedModel restores its variables only through TF2's object graph, and TF1-session
    # loaders (TF Serving, `saved_model_cli run`) fail with "Could not find variable
    # <layer>/kernel" (keras-team/keras#19274, tensorflow/tensorflow#72963).
    self.tf_variables = [weight.value for model in self.models for weight in model.weights]
    self.codec = codec
    self.padding = float(padding)
    self.flip_test = bool(flip_test)
    self.uncertainty_views = UNCERTAINTY_VIEWS[:uncertainty_views]
    self.flip_permutation = schema.flip_permutation()
    self.metadata = dict(metadata or {}, input_size=list(codec.input_size),
                         stride=codec.stride, sigma=codec.sigma, padding=self.padding,
                         flip_test=self.flip_test, uncertainty_views=len(self.uncertainty_views),
                         num_models=len(self.models),
                         keypoint_schema=dataclasses.asdict(schema))
    height, width = codec.input_size
    self.serve_image = tf.function(self._serve_image, input_signature=[
        tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
        tf.TensorSpec([None, 4], tf.float32, name="boxes")])
    self.serve_crops = tf.function(self._serve_crops, input_signature=[
        tf.TensorSpec([None, height, width, 3], tf.uint8, name="crops")])

  def _serve_image(self, image, boxes):
    centers, scales = geometry.box_to_center_scale(boxes, self.codec.aspect_ratio, self.padding)
    matrices = geometry.affine_from_params(centers, scales, tf.zeros_like(centers[:, 0]),
                                           self.codec.input_size)
    crops = warp.warp_affine(image[None], matrices[None], self.codec.input_size)[0]
    keypoints, scores = inference.keypoints_from_crops(self.models, self.codec, crops, centers,
                                                       scales, self.flip_test,
                                                       self.flip_permutation)
    return {"keypoints": keypoints, "scores": scores}

  def _serve_crops(self, crops, float_decode=False):
    """`float_decode`: a float16 round trip between the heatmaps and their decoding, so that
    full int8 conversion (`tflite_bytes`) quantizes the heatmaps on their own range."""
    images = tf.cast(crops, tf.float32)
    heatmaps = inference.crop_heatmaps(self.models, images, self.flip_test,
                                       self.flip_permutation)
    decoded = tf.cast(tf.cast(heatmaps, tf.float16), tf.float32) if float_decode else heatmaps
    keypoints, scores = self.codec.decode(decoded)
    outputs = {"heatmaps": heatmaps, "keypoints": keypoints, "scores": scores,
               "keypoints_with_scores": tf.concat([keypoints, scores[..., None]], axis=-1)}
    if self.uncertainty_views:
      outputs["uncertainty"] = self._uncertainty(images, heatmaps)
    return outputs

  def _uncertainty(self, images, heatmaps):
    """Eq. 6 at inference: views of each crop, aligned back to it, pixel-wise std, max."""
    batch = tf.shape(images)[0]
    rotations = tf.constant([[r for r, _ in self.uncertainty_views[1:]]], tf.float32)
    scales = tf.constant([[s for _, s in self.uncertainty_views[1:]]], tf.float32)
    num = rotations.shape[1]
    matrices = views_lib.view_matrices(tf.tile(rotations, [batch, 1]), tf.tile(scales, [batch, 1]),
                                       self.codec.input_size)  # [B, V, 3, 3]
    views = warp.warp_affine(images, matrices, self.codec.input_size)  # [B, V, h, w, 3]
    flat = tf.reshape(tf.transpose(views, [1, 0, 2, 3, 4]),
                      tf.concat([[-1], tf.shape(images)[1:]], 0))
    predicted = inference.crop_heatmaps(self.models, flat, self.flip_test, self.flip_permutation)
    predicted = tf.reshape(predicted, tf.concat([[num, batch], tf.shape(heatmaps)[1:]], 0))
    aligned = views_lib.align_heatmaps(predicted, matrices, tf.eye(3, batch_shape=[batch]),
                                       float(self.codec.stride),
                                       flip_permutation=self.flip_permutation)
    return ph.uncertainty(tf.concat([heatmaps[None], aligned], axis=0))


def export_saved_model(module, path):
  """Writes a SavedModel (signatures `serving_default` and `crops`) and its metadata, atomically."""
  tmp = path.rstrip("/") + ".tmp"
  if tf.io.gfile.exists(tmp):
    tf.io.gfile.rmtree(tmp)
  tf.saved_model.save(module, tmp, signatures={
      "serving_default": module.serve_image.get_concrete_function(),
      "crops": module.serve_crops.get_concrete_function()})
  with open(os.path.join(tmp, METADATA_FILE), "w") as f:
    json.dump(module.metadata, f, indent=1)
  if tf.io.gfile.exists(path):
    tf.io.gfile.rmtree(path)
  os.replace(tmp, path)
  return path


def tflite_bytes(module, variant="fp32", representative_crops=None):
  """TFLite flatbuffer of the crop-level function at batch 1.

  Variants: 'fp32'; 'fp16' (float16 weights); 'dynamic_int8' (int8 weights, float
  activations); 'int8' (the network in full integer, calibrated on `representative_crops`,
  uint8 `[N, h, w, 3]`; decoding in float, see `_full_int8`).
  """
  if variant not in VARIANTS:
    raise ValueError(f"unknown TFLite variant {variant!r}; choose one of {VARIANTS}")
  if variant == "int8" and (representative_crops is None or not len(representative_crops)):
    raise ValueError("full int8 quantization needs representative crops")
  if variant == "int8" and module.uncertainty_views:
    raise ValueError("full int8 is exported without the uncertainty output (its test-time "
                     "views would be quantized with the decoding); use uncertainty_views=0")
  height, width = module.codec.input_size
  spec = [tf.TensorSpec([1, height, width, 3], tf.uint8, name="crops")]
  concrete = tf.function(  # pylint: disable=protected-access
      lambda crops: module._serve_crops(crops, float_decode=variant == "int8"),
      input_signature=spec).get_concrete_function()
  # TF 2.21's converter leaves Keras 3 variables as VAR_HANDLE/READ_VARIABLE ops that nothing
  # initializes (every output NaN, from concrete functions and from SavedModels alike), so
  # the weights are frozen into constants first; the re-wrap keeps the output names.
  frozen = convert_to_constants.convert_variables_to_constants_v2(concrete)
  named = tf.function(
      lambda crops: tf.nest.pack_sequence_as(concrete.structured_outputs, frozen(crops)),
      input_signature=spec).get_concrete_function()

  def converter():
    return tf.lite.TFLiteConverter.from_concrete_functions([named], tf.Module())

  if variant == "int8":
    return _full_int8(converter, np.asarray(representative_crops, np.uint8))
  converter = converter()
  if variant == "fp16":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
  elif variant == "dynamic_int8":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  return converter.convert()


def _full_int8(make_converter, crops):
  """The network in int8, calibrated on `crops`; heatmap decoding (arg-max, sub-pixel shift,
  scores) in float after a dequantize.

  Quantizing the decoding with the network ruined the keypoints (results/export_variants:
  11% of joints within 2 px of fp32): the outputs `keypoints_with_scores` concatenate pixel
  coordinates (0-128) with scores (0-1), and the quantizer gives a concatenation's inputs one
  scale, which it propagates through the max, gather and reshape ops into the heatmaps: they
  were quantized in steps of 0.46 for values in [-0.1, 1]. Here the ops after the network's
  last convolution are kept in float (`QuantizationDebugger` with those nodes denylisted), and
  the float16 round trip of `float_decode` keeps the heatmaps' own calibrated range (without
  it the shared scale survives the denylist).
  """
  def representative():
    for crop in crops:
      yield [crop[None]]

  float_model = make_converter().convert()
  converter = make_converter()
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.representative_dataset = representative
  options = tf.lite.experimental.QuantizationDebugOptions(
      denylisted_nodes=ops_after_last_convolution(float_model))
  debugger = tf.lite.experimental.QuantizationDebugger(
      converter=converter, debug_dataset=representative, debug_options=options)
  return debugger.get_nondebug_quantized_model()


def ops_after_last_convolution(model_content):
  """Output tensor names of the ops after the last (transposed) convolution of a TFLite model:
  the decoding, for the heatmap models of this project."""
  from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  interpreter = litert.Interpreter(model_content=model_content)
  ops = interpreter._get_ops_details()  # pylint: disable=protected-access  (no public API)
  tensors = interpreter.get_tensor_details()
  last = max(i for i, op in enumerate(ops)
             if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"))
  return [tensors[op["outputs"][0]]["name"] for op in ops[last + 1:]]


def export_tflite(module, path, variant="fp32", representative_crops=None):
  """Writes `path` (.tflite) and a sidecar `path + '.json'` with the metadata, atomically."""
  io_utils.atomic_write_bytes(path, tflite_bytes(module, variant, representative_crops))
  io_utils.atomic_write_text(path + ".json",
                             json.dumps(dict(module.metadata, tflite_variant=variant), indent=1))
  return path
