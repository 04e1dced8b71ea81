"""Every shipped gin file parses; config mistakes fail with an error naming them."""

import ast
import glob
import os
import subprocess
import sys

import gin
import tensorflow as tf

from tests import testing
from tfpose_ssl import config as config_lib
from tfpose_ssl import configurables
from tfpose_ssl import task as task_lib
from tfpose_ssl.ops import views as views_lib

CONFIGS = sorted(glob.glob(os.path.join(testing.REPO_ROOT, "configs", "*.gin")))
# Files added after a protocol config (one paper row or one model each).
ADDED = sorted(glob.glob(os.path.join(testing.REPO_ROOT, "configs", "modes", "*.gin")) +
               glob.glob(os.path.join(testing.REPO_ROOT, "configs", "models", "*.gin")))


class ConfigTest(tf.test.TestCase):

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def test_every_config_parses(self):
    self.assertGreaterEqual(len(CONFIGS), 11)
    for path in CONFIGS:
      with self.subTest(os.path.basename(path)):
        gin.clear_config()
        config_lib.parse([path], [])
        self.assertIn("train.", gin.config_str())

  def test_every_mode_and_model_file_parses_after_a_protocol(self):
    self.assertGreaterEqual(len(ADDED), 35)
    for path in ADDED:
      with self.subTest(os.path.basename(path)):
        gin.clear_config()
        config_lib.parse([os.path.join(testing.REPO_ROOT, "configs", "synthetic.gin"), path], [])

  def test_hrnet_configs(self):
    testing.parse_config("additional_hrnet_w48.gin")
    self.assertEqual(gin.query_parameter("hrnet.width"), 48)
    self.assertEqual(tuple(gin.query_parameter("%INPUT_SIZE")), (384, 288))
    self.assertEqual(gin.query_parameter("PoseTask.sigma"), 3.0)
    self.assertEqual(gin.query_parameter("train.epochs"), 400)

  def test_protocol_files_carry_the_paper_settings(self):
    expected = {"partial_0.5k.gin": (500, "resnet18"), "partial_1k.gin": (1000, "resnet18"),
                "partial_2k.gin": (2000, "resnet18"), "partial_5k.gin": (5000, "resnet50"),
                "partial_10k.gin": (10000, "resnet50")}
    for name, (num_labeled, backbone) in expected.items():
      testing.parse_config(name)
      self.assertEqual(gin.query_parameter("train.num_labeled"), num_labeled)
      self.assertEqual(gin.query_parameter("simple_baseline.backbone"), backbone)
      self.assertEqual(gin.query_parameter("train.epochs"), 100)
      self.assertEqual(tuple(gin.query_parameter("train.lr_decay_at")), (0.7, 0.9))
    testing.parse_config("additional.gin")
    self.assertEqual(gin.query_parameter("train.epochs"), 400)
    self.assertEqual(tuple(gin.query_parameter("train.lr_decay_at")), (0.75, 0.875))

  def test_synthetic_demo_schedule_is_the_same_for_every_mode(self):
    # The demo compares supervised and method runs at equal steps: without a fixed epoch
    # length a supervised epoch is a pass over the 300 labeled people (18 steps, not 169).
    for mode in ["supervised.gin", "full.gin", "dualpose.gin"]:
      testing.parse_config("synthetic.gin", [f"include 'configs/modes/{mode}'"])
      self.assertEqual(gin.query_parameter("train.steps_per_epoch"), 169, mode)
      self.assertEqual(gin.query_parameter("train.epochs"), 8, mode)
    self.assertEqual(gin.query_parameter("DualStudentTrainer.burn_in_steps"), 800)
    gin.clear_config()

  def test_coco_root_is_one_binding(self):
    testing.parse_config("partial_2k.gin", ["COCO_ROOT = '/somewhere/coco'"])
    task = task_lib.PoseTask()
    self.assertEqual(task.train_set.annotation_path,
                     "/somewhere/coco/annotations/person_keypoints_train2017.json")
    self.assertEqual(task.val_set.image_path, "/somewhere/coco/val2017")

  def test_misspelled_binding_names_it(self):
    with self.assertRaisesRegex(ValueError, "No configurable matching 'trian'"):
      testing.parse_config("synthetic.gin", ["trian.epochs = 3"])
    with self.assertRaisesRegex(ValueError, "epoch"):
      testing.parse_config("synthetic.gin", ["train.epoch = 3"])

  def test_macro_mistakes_fail_at_parse_time_naming_the_macro(self):
    # Before: a misspelled definition was accepted (K kept its value) and Table 6's K_PLUS_1
    # had to be edited by hand to stay K + 1.
    with self.assertRaisesRegex(ValueError, r"macro\(s\) \['KK'\] defined .* never used"):
      testing.parse_config("synthetic.gin", ["KK = 3"])
    with self.assertRaisesRegex(ValueError, r"macro %UNDEFINED is used but never defined"):
      testing.parse_config("synthetic.gin", ["train.epochs = %UNDEFINED"])
    testing.parse_config("synthetic.gin", ["include 'configs/modes/table6_row3_1plusK_weak_max.gin'",
                                           "K = 4"])
    self.assertEqual(views_lib.MultiViewAugment().num_weak, 5)

  def test_a_saved_config_may_not_import_or_include(self):
    workdir = self.get_temp_dir()
    testing.parse_config("synthetic.gin")
    saved = gin.config_str()
    gin.clear_config()
    path = os.path.join(workdir, config_lib.SAVED_CONFIG)
    # Configs saved before K_PLUS_1 was removed list it unused: still accepted from a workdir.
    with open(path, "w") as f:
      f.write(saved + "K_PLUS_1 = 3\n")
    config_lib.parse([], [], workdir=workdir)
    gin.clear_config()
    config_lib.parse([path], [])  # also when passed with --config (the README's reruns)
    for line in ("import os", "include '/elsewhere/other.gin'", "from os import path"):
      gin.clear_config()
      with open(path, "w") as f:
        f.write(line + "\n" + saved)
      with self.assertRaisesRegex(ValueError, "may not import modules or include other files"):
        config_lib.parse([], [], workdir=workdir)

  def test_missing_config_file(self):
    with self.assertRaisesRegex(FileNotFoundError, "nope.gin"):
      config_lib.parse(["configs/nope.gin"], [])


class ConfigurablesTest(tf.test.TestCase):

  def test_every_module_defining_a_configurable_is_registered_there(self):
    package = os.path.join(testing.REPO_ROOT, "tfpose_ssl")
    defining = set()
    for folder, _, files in os.walk(package):
      for name in files:
        if not name.endswith(".py"):
          continue
        with open(os.path.join(folder, name)) as f:
          tree = ast.parse(f.read())
        decorated = any("gin" in ast.unparse(d) and "configurable" in ast.unparse(d)
                        for node in ast.walk(tree)
                        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                        for d in node.decorator_list)
        if decorated:
          relative = os.path.relpath(os.path.join(folder, name), package)[:-3]
          defining.add("tfpose_ssl." + relative.replace(os.sep, "."))
    self.assertGreaterEqual(len(defining), 10)
    self.assertEqual(defining, {m.__name__ for m in configurables.MODULES})

  def test_a_config_parses_with_configurables_alone(self):
    # A fresh process that imports only what configurables.py's docstring shows.
    probe = ("import tfpose_ssl\nfrom tfpose_ssl import config, configurables\n"
             "config.parse(['configs/synthetic.gin', 'configs/modes/dualpose.gin'])\n"
             "import gin\nprint(gin.query_parameter('%K'))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=testing.REPO_ROOT,
                         env=dict(os.environ, PYTHONPATH=testing.REPO_ROOT,
                                  TF_CPP_MIN_LOG_LEVEL="2"),
                         capture_output=True, text=True, timeout=300)
    self.assertEqual(out.returncode, 0, out.stderr[-2000:])
    self.assertEqual(out.stdout.split()[-1], "0")  # DualPose: K = 0 strong views


class CommandLineHelpTest(tf.test.TestCase):

  def test_help_lists_the_config_flags(self):
    # Before: --config and --gin_bindings showed only under --helpfull.
    for binary, extra in (("train", ["--workdir"]), ("eval", ["--checkpoint"]),
                          ("export", ["--checkpoint"]), ("demo", [])):
      result = subprocess.run([sys.executable, "-m", f"tfpose_ssl.{binary}", "--help"],
                              cwd=testing.REPO_ROOT, capture_output=True, text=True, timeout=300,
                              check=False, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
      self.assertIn("flags:", result.stdout, binary + result.stderr[-1000:])  # absl exits 1
      for flag in ["--config", "--gin_bindings", *extra]:
        self.assertIn(f"  {flag}:", result.stdout, f"{binary} --help lacks {flag}")
      if binary == "export":  # deployment-safe defaults: one student, fp32 and fp16 TFLite
        self.assertIn("(default: 'student_1')", result.stdout)
        self.assertIn("(default: 'fp32,fp16')", result.stdout)

if __name__ == "__main__":
  tf.test.main()
