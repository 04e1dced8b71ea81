"""Export parity: SavedModel and TFLite give what the in-memory students and eval give."""

import json
import os
import subprocess
import sys

import gin
import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import api
from tfpose_ssl import task as task_lib
from tfpose_ssl.evaluation import evaluator
from tfpose_ssl.evaluation import inference
from tfpose_ssl.evaluation import metrics
from tfpose_ssl.evaluation import visualize
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import codec as codec_lib
from tfpose_ssl.ops import views as views_lib
from tfpose_ssl.ops import warp
from tfpose_ssl.serving import exporter
from tfpose_ssl.serving import pose_module
from tfpose_ssl.serving import predictor

CODEC = codec_lib.KeypointCodec((64, 64), sigma=2.0)


def _students(seed=0):
  keras.utils.set_random_seed(seed)
  students = [simple_baseline.simple_baseline((64, 64), "resnet18", width=8, deconv_filters=16)
              for _ in range(2)]
  # Non-trivial heatmaps: scale the head so that outputs are not ~0 everywhere.
  for student in students:
    kernel, bias = student.get_layer("heatmaps").get_weights()
    student.get_layer("heatmaps").set_weights([kernel * 300.0, bias])
  return students


def _crops(n=3, seed=1):
  return np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3)).astype(np.uint8)


def _run_tflite(path, crop):
  from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  runner = litert.Interpreter(model_path=path).get_signature_runner()
  return runner(crops=crop[None])


class SavedModelTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.students = _students()
    cls.module = pose_module.PoseServingModule(cls.students, CODEC, flip_test=True,
                                           uncertainty_views=3, metadata={"model": "ensemble"})
    cls.path = pose_module.export_saved_model(
        cls.module, os.path.join(tf.compat.v1.test.get_temp_dir(), "saved_model"))
    cls.loaded = tf.saved_model.load(cls.path)

  def test_crop_signature_matches_the_keras_models(self):
    crops = _crops()
    out = self.loaded.signatures["crops"](crops=tf.constant(crops))
    expected = inference.crop_heatmaps(self.students, tf.constant(crops, tf.float32),
                                       flip_test=True)
    self.assertLessEqual(float(tf.reduce_max(tf.abs(out["heatmaps"] - expected))), 1e-5)
    keypoints, scores = CODEC.decode(expected)
    self.assertAllClose(out["keypoints"], keypoints)
    self.assertAllClose(out["scores"], scores)
    self.assertAllClose(out["keypoints_with_scores"][..., 2], scores)

  def test_every_weight_is_saved_once(self):
    # Before, the Keras models were tracked beside their tf.Variables: each weight was saved
    # twice (models/0/... and tf_variables/...) and the SavedModel was twice its size.
    reader = tf.train.load_checkpoint(os.path.join(self.path, "variables", "variables"))
    saved = {n: s for n, s in reader.get_variable_to_shape_map().items()
             if n != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    weights = [w for student in self.students for w in student.weights]
    self.assertLen(saved, len(weights))
    self.assertEqual(sum(int(np.prod(s)) for s in saved.values()),
                     sum(int(np.prod(w.shape)) for w in weights))

  def test_uncertainty_output_is_eq6_over_fixed_views(self):
    crops = _crops(2)
    out = self.loaded.signatures["crops"](crops=tf.constant(crops))
    images = tf.constant(crops, tf.float32)
    stack = [inference.crop_heatmaps(self.students, images, True).numpy()]
    for rotation, scale in pose_module.UNCERTAINTY_VIEWS[1:3]:
      m = views_lib.view_matrices(tf.fill([2, 1], rotation), tf.fill([2, 1], scale), (64, 64))
      view = warp.warp_affine(images, m[:, 0], (64, 64))
      heat = inference.crop_heatmaps(self.students, view, True)
      stack.append(views_lib.align_heatmaps(heat[None], m, tf.eye(3, batch_shape=[2]), 4.0)[0])
    expected = np.std(np.stack(stack), axis=0).max(axis=(1, 2))
    self.assertAllClose(out["uncertainty"], expected, atol=1e-5)

  def test_image_signature_equals_cropping_then_the_crop_path(self):
    image = np.random.default_rng(2).integers(0, 256, (90, 120, 3)).astype(np.uint8)
    boxes = np.array([[10, 5, 40, 70], [60, 20, 50, 60]], np.float32)
    out = self.loaded.signatures["serving_default"](image=tf.constant(image),
                                                    boxes=tf.constant(boxes))
    from tfpose_ssl.ops import geometry  # pylint: disable=g-import-not-at-top
    centers, scales = geometry.box_to_center_scale(boxes, 1.0)
    m = geometry.affine_from_params(centers, scales, [0.0, 0.0], (64, 64))
    crops = tf.stack([warp.warp_affine(image[None], m[i:i + 1], (64, 64))[0] for i in range(2)])
    keypoints, scores = inference.keypoints_from_crops(self.students, CODEC, crops, centers,
                                                       scales, True)
    self.assertAllClose(out["keypoints"], keypoints, atol=1e-3)
    self.assertAllClose(out["scores"], scores, atol=1e-5)

  def test_metadata(self):
    with open(os.path.join(self.path, pose_module.METADATA_FILE)) as f:
      metadata = json.load(f)
    self.assertEqual(metadata["model"], "ensemble")
    self.assertTrue(metadata["flip_test"])
    self.assertEqual(metadata["input_size"], [64, 64])
    self.assertEqual(metadata["uncertainty_views"], 3)


class TFLiteTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.students = _students(3)[:1]
    cls.module = pose_module.PoseServingModule(cls.students, CODEC, flip_test=False)
    cls.dir = tf.compat.v1.test.get_temp_dir()

  def test_fp32_matches_keras_within_1e_4(self):
    path = pose_module.export_tflite(self.module, os.path.join(self.dir, "fp32.tflite"))
    for crop in _crops(3, seed=4):
      out = _run_tflite(path, crop)
      expected = inference.crop_heatmaps(self.students, tf.constant(crop[None], tf.float32))
      self.assertLessEqual(float(np.max(np.abs(out["heatmaps"] - expected.numpy()))), 1e-4)
      keypoints, scores = CODEC.decode(expected)
      self.assertAllClose(out["keypoints"], keypoints, atol=1e-3)
      self.assertAllClose(out["keypoints_with_scores"][..., :2], keypoints, atol=1e-3)
    with open(path + ".json") as f:
      self.assertEqual(json.load(f)["tflite_variant"], "fp32")

  def test_quantized_variants_convert_and_decode_inside(self):
    calibration = _crops(8, seed=5)
    for variant in ("fp16", "dynamic_int8", "int8"):
      path = pose_module.export_tflite(self.module, os.path.join(self.dir, f"{variant}.tflite"),
                                   variant, calibration)
      out = _run_tflite(path, calibration[0])
      self.assertEqual(out["keypoints"].shape, (1, 17, 2), variant)
      self.assertTrue(np.all(np.isfinite(out["keypoints"])), variant)
      self.assertTrue(np.all((out["keypoints"] >= 0) & (out["keypoints"] <= 64)), variant)
    with self.assertRaisesRegex(ValueError, "representative"):
      pose_module.tflite_bytes(self.module, "int8")

  def test_full_int8_quantizes_the_network_and_decodes_in_float(self):
    # Before, the decoding was quantized with the network and the outputs' concatenation of
    # pixel coordinates and scores gave the heatmaps a shared scale of ~0.5 for values in
    # [-0.1, 1] (11% of joints within 2 px of fp32 in results/export_variants).
    from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
    calibration = _crops(8, seed=5)
    model = pose_module.tflite_bytes(self.module, "int8", calibration)
    interpreter = litert.Interpreter(model_content=model)
    ops = interpreter._get_ops_details()  # pylint: disable=protected-access
    tensors = interpreter.get_tensor_details()
    output = lambda op: tensors[op["outputs"][0]]
    last = max(i for i, op in enumerate(ops) if op["op_name"] in ("CONV_2D", "TRANSPOSE_CONV"))
    network = [op for op in ops[:last + 1] if op["op_name"] in ("CONV_2D", "TRANSPOSE_CONV")]
    self.assertGreater(len(network), 10)
    for op in network:
      self.assertEqual(output(op)["dtype"], np.int8, op["op_name"])
    decoding = ops[last + 1:]
    self.assertEqual(decoding[0]["op_name"], "DEQUANTIZE")
    self.assertNotIn(np.int8, [output(op)["dtype"] for op in decoding])
    # The heatmaps' scale follows their own range: 256 steps over at most a few units.
    heatmap_scale = output(ops[last])["quantization"][0]
    self.assertLess(heatmap_scale, 0.05)
    with self.assertRaisesRegex(ValueError, "uncertainty"):
      pose_module.tflite_bytes(pose_module.PoseServingModule(self.module.models, CODEC,
                                                     uncertainty_views=3), "int8", calibration)


class EvalParityAndPredictTest(tf.test.TestCase):
  """A checkpoint evaluated by eval and served by the SavedModel, on real COCO images."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tf.compat.v1.test.get_temp_dir()
    mini = testing.coco_mini_dir()
    testing.parse_config("smoke.gin", [  # validation on real images, no training data
        "INPUT_SIZE = (64, 64)", "PoseTask.train_set = None",
        f"val/CocoKeypoints.root = '{mini}'",
        "val/CocoKeypoints.annotation_file = 'annotations/person_keypoints_mini.json'",
        "val/CocoKeypoints.image_dir = 'images'",
        "PoseTask.val_set = @val/CocoKeypoints()"])
    cls.task = task_lib.PoseTask()
    students = _students(7)
    cls.workdir = os.path.join(cls.tmp, "run")
    tf.train.Checkpoint(student_1=students[0], student_2=students[1]).write(
        os.path.join(cls.workdir, "checkpoints", "ckpt-1"))
    with open(os.path.join(cls.workdir, "checkpoints", "checkpoint"), "w") as f:
      f.write('model_checkpoint_path: "ckpt-1"\n')
    cls.module = exporter.build_module(cls.task, cls.workdir, "ensemble", flip_test=True)
    cls.saved = pose_module.export_saved_model(cls.module, os.path.join(cls.tmp, "sm"))

  @classmethod
  def tearDownClass(cls):
    gin.clear_config()
    super().tearDownClass()

  def test_saved_model_keypoints_and_ap_equal_eval(self):
    students, _ = evaluator.restore_students(self.task, self.workdir)
    report = evaluator.evaluate(students, self.task, flip_test=True)
    instances = report.instances
    xy_eval, scores_eval = report.predictions["ensemble"]
    exported = api.load_exported(self.saved)  # the Python API users call
    xy = np.zeros_like(xy_eval)
    scores = np.zeros_like(scores_eval)
    for image_id in np.unique(instances.image_ids):
      rows = np.nonzero(instances.image_ids == image_id)[0]
      image = tf.io.decode_jpeg(tf.io.read_file(instances.image_paths[rows[0]]), channels=3)
      xy[rows], scores[rows] = exported(image, instances.boxes[rows])
    self.assertAllClose(xy, xy_eval, atol=1e-2)
    self.assertAllClose(scores, scores_eval, atol=1e-5)
    areas = instances.boxes[:, 2] * instances.boxes[:, 3] * self.task.padding ** 2
    results = metrics.to_coco_results(instances.image_ids, xy, scores, instances.scores, areas)
    ap = metrics.coco_keypoint_metrics(self.task.val_set.annotation_path, results)["AP"]
    self.assertEqual(ap, report.metrics["ensemble"]["AP"])

  def test_saved_model_cli_run_gives_what_predict_gives(self):
    # TensorFlow's own client (what TF Serving users check signatures with) on a real image.
    mini = testing.coco_mini_dir()
    image_path = os.path.join(mini, "images", "000000000785.jpg")
    detections = os.path.join(mini, "annotations", "person_detection_results_mini.json")
    saved_model = predictor.SavedModelPredictor(self.saved)
    image = visualize.read_rgb(image_path)
    boxes, _, _, _ = predictor.read_boxes(detections, 785, image.shape, 0.5)
    self.assertNotEmpty(boxes)
    inputs = os.path.join(self.tmp, "cli_inputs")
    os.makedirs(inputs, exist_ok=True)
    np.save(os.path.join(inputs, "image.npy"), image)
    np.save(os.path.join(inputs, "boxes.npy"), boxes)
    out = os.path.join(self.tmp, "cli_outputs")
    command = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run",
               f"--dir={self.saved}", "--tag_set=serve", "--signature_def=serving_default",
               f"--inputs=image={inputs}/image.npy;boxes={inputs}/boxes.npy", f"--outdir={out}",
               "--overwrite"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    keypoints, scores = saved_model(image, boxes)
    self.assertAllClose(np.load(os.path.join(out, "keypoints.npy")), keypoints, atol=1e-3)
    self.assertAllClose(np.load(os.path.join(out, "scores.npy")), scores, atol=1e-5)

  def test_predict_writes_png_and_coco_json(self):
    mini = testing.coco_mini_dir()
    detections = os.path.join(mini, "annotations", "person_detection_results_mini.json")
    tflite = pose_module.export_tflite(self.module, os.path.join(self.tmp, "pose.tflite"))
    outputs = []
    for model in (self.saved, tflite):
      results, drawn = predictor.predict(model, os.path.join(mini, "images", "000000000785.jpg"),
                                       detections)
      self.assertNotEmpty(results)
      self.assertEqual(drawn.shape, (425, 640, 3))
      self.assertEqual({r["image_id"] for r in results}, {785})
      outputs.append(results)
    # The TFLite model predicts what the SavedModel does (the same people kept, keypoints
    # within a hundredth of a pixel), so both score the same COCO AP.
    saved_results, tflite_results = outputs
    self.assertLen(tflite_results, len(saved_results))
    self.assertAllClose([r["keypoints"] for r in saved_results],
                        [r["keypoints"] for r in tflite_results], atol=1e-2)
    annotations = self.task.val_set.annotation_path
    self.assertAlmostEqual(metrics.coco_keypoint_metrics(annotations, saved_results)["AP"],
                           metrics.coco_keypoint_metrics(annotations, tflite_results)["AP"],
                           places=3)
    # Without boxes: the whole image is one person box.
    results, _ = predictor.predict(self.saved, os.path.join(mini, "images", "000000000785.jpg"))
    self.assertLen(results, 1)


if __name__ == "__main__":
  tf.test.main()
