"""Unit-level checks of the benchmark code (the benchmarks themselves are too slow for CI)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl.benchmarks import export_variants
from tfpose_ssl.benchmarks import quality
from tfpose_ssl.benchmarks import step_variants
from tfpose_ssl.benchmarks import throughput


class QualityBenchmarkTest(tf.test.TestCase):

  def test_aggregate_and_table_from_known_summaries(self):
    def summary(ap1, ap2, ens, pck, before, after, own=0.1):
      meta = {j: pck for j in ("ankle", "knee", "hip", "wrist", "elbow", "shoulder", "head")}
      metrics = {"student_1": {"AP": ap1, "PCK": pck, "PCK_meta": meta},
                 "student_2": {"AP": ap2, "PCK": pck, "PCK_meta": meta},
                 "ensemble": {"AP": ens, "PCK": pck, "PCK_meta": meta}}
      return {"metrics": metrics, "last_epoch_train_metrics": {
          "pseudo_pck_before_1": before, "pseudo_pck_before_2": before,
          "pseudo_pck_after_1": after, "pseudo_pck_after_2": after,
          "own_pck_1": own, "own_pck_2": own + 0.1}}
    runs = {(100, "Full method (+ selection)"): [summary(0.1, 0.3, 0.25, 0.5, 0.4, 0.6),
                                                 summary(0.3, 0.3, 0.35, 0.7, 0.2, 0.4)]}
    table = quality.aggregate(runs)
    row = table["100/Full method (+ selection)"]
    self.assertAllClose(row["AP_student"], (0.25, 0.05))  # seeds: 0.2 and 0.3
    self.assertAllClose(row["AP_ensemble"], (0.3, 0.05))
    self.assertAllClose(row["pseudo_pck_before"], (0.3, 0.1))
    self.assertAllClose(row["pseudo_pck_after"], (0.5, 0.1))
    self.assertAllClose(row["own_pck"], (0.15, 0.0))
    self.assertEqual(row["seeds"], 2)
    text = quality.markdown(table, quality.MODES["test"], "test")
    self.assertIn("| 100 | Full method (+ selection) | 25.0 ± 5.0 | 30.0 ± 5.0 | 60.0 ± 10.0 |",
                  text)
    # The PCK columns are the summaries' groups, in their order (the keypoint schema's).
    self.assertEqual([name for name in row if name.startswith("PCK_")],
                     ["PCK_ankle", "PCK_knee", "PCK_hip", "PCK_wrist", "PCK_elbow",
                      "PCK_shoulder", "PCK_head"])
    self.assertIn("| ankle | knee | hip | wrist | elbow | shoulder | head | pseudo PCK before |",
                  text)

  def test_tiny_end_to_end_run_resumes(self):
    out = os.path.join(self.get_temp_dir(), "quality")
    data = os.path.join(self.get_temp_dir(), "data")
    # Two of the five method rows (each a training process; configs/modes/ is tested by
    # config_test, the trainers by their own tests): the benchmark's code is the same for all.
    command = [sys.executable, "-m", "tfpose_ssl.benchmarks.quality", "--mode=test",
               f"--out={out}", f"--data_root={data}", "--base_config=configs/smoke.gin",
               "--methods=supervised,full"]
    methods = ["Supervised", "Full method (+ selection)"]
    self.assertEqual(quality.selected_methods(["full", "supervised"]), methods)
    with self.assertRaisesRegex(ValueError, r"unknown \['fulll'\]"):
      quality.selected_methods(["fulll"])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, cwd=testing.REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=1800, check=False)
    self.assertEqual(result.returncode, 0, result.stdout[-2000:] + result.stderr[-2000:])
    self.assertFalse(os.path.exists(os.path.join(out, "test.md")))  # the table of every row
    with open(os.path.join(out, "test_supervised_full.md")) as f:
      table = f.read()
    for method in quality.METHODS:
      self.assertEqual(f"| 8 | {method} |" in table, method in methods)
    self.assertIn(f"| all | {quality.ALL_LABELS} |", table)
    # Every row of the budget started from the same burn-in checkpoint (step 2 of 4).
    for method in methods:
      with open(os.path.join(quality.run_dir(out, "test", 8, method, 0), "summary.json")) as f:
        self.assertEqual(json.load(f)["step"], 4)
    burn_in = quality.run_dir(out, "test", 8, "burn-in", 0)
    self.assertTrue(quality.tf_checkpoint_exists(burn_in, 2))
    self.assertFalse(os.path.exists(os.path.join(burn_in, "summary.json")))
    # A second invocation reuses every finished run (resumable benchmark).
    again = subprocess.run(command, cwd=testing.REPO_ROOT, env=env, capture_output=True,
                           text=True, timeout=600, check=False)
    self.assertEqual(again.returncode, 0)
    self.assertNotIn("seed=0:", again.stdout)


class ThroughputHelpersTest(tf.test.TestCase):

  def test_forward_flops_hand_count(self):
    inputs = keras.Input((8, 6, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)  # out 4x3x4
    x = keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same")(x)  # in 4x3x4
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5)(x)  # 8*6*2 = 96 inputs
    model = keras.Model(inputs, x)
    expected = 2 * (3 * 3 * 3 * 4 * 4 * 3) + 2 * (4 * 4 * 4 * 2 * 4 * 3) + 2 * 96 * 5
    self.assertEqual(throughput.forward_flops(model), expected)

  def test_markdown_shows_share_of_matmul_and_when_measured(self):
    row = {"network": "demo (ResNet-18 / 4)", "step": "method K=2", "size": [128, 96],
           "crops": 32, "seconds": 0.5, "crops_per_s": 64.0, "gflops_per_step": 26.0,
           "achieved_gflops": 52.0, "matmul_gflops": 130.0, "matmul_share": 0.4}
    result = {"machine": "CPU X (AVX2), 2 cores", "format": throughput.FORMAT, "steps": [row],
              "model_flops": {"demo (ResNet-18 / 4), 128x96": 1.0e8},
              "measured": {"steps": {"date": "2026-11-28 12:00 UTC", "commit": "abc1234",
                                     "batch": 16}}}
    text = throughput.markdown(result)
    self.assertIn("| demo (ResNet-18 / 4) | method K=2 | 128x96 | 32 | 0.500 | 64.0 | 26.0 | 52 "
                  "| 130 | 40% |", text)
    self.assertIn("Measured 2026-11-28 12:00 UTC, commit abc1234, batch 16:", text)
    self.assertIn("CPU X (AVX2), 2 cores", text)
    self.assertNotIn("input pipeline alone", text)  # parts not measured are left out

  def test_reference_rows_count_each_side_s_network_work(self):
    # ours K = 3: 9 B forward-equivalents per student, DualPose's code 7 B (B = 16): with
    # 1 GFLOP per crop forward that is 288 and 224 GFLOP per step.
    theirs = {"crops_per_s": 8.0, "round_seconds": [4.0, 4.5], "matmul_gflops": 140.0,
              "source": "xierc/Semi_Human_Pose 76e6623"}
    ours = {"crops_per_s": 6.4, "round_seconds": [5.0, 5.2], "matmul_gflops": 150.0}
    result = {"machine": "CPU X", "format": throughput.FORMAT,
              "model_flops": {"ResNet-18, 128x96": 1.0e9},
              "reference": [{"size": [128, 96], "crops": 32, "ours": ours, "theirs": theirs}],
              "measured": {"reference": {"date": "2026-11-28 17:00 UTC", "commit": "abc1234",
                                         "batch": 16}}}
    text = throughput.markdown(result)
    # GFLOP/s: 288 * 6.4 / 32 = 57.6, 224 * 8 / 32 = 56.
    self.assertIn("| method K=3 vs DualPose | 128x96 | 32 | 6.4 | 8.0 | 0.80x | 288; 224 | "
                  "58; 56 | 5.00, 5.20; 4.00, 4.50 | 150; 140 |", text)
    self.assertIn("DualPose's code: xierc/Semi_Human_Pose 76e6623", text)

  def test_commit_names_head(self):
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=testing.REPO_ROOT,
                          capture_output=True, text=True, check=False).stdout.strip()
    if not head:
      self.skipTest("not a git checkout")
    self.assertEqual(throughput.commit().split("+")[0], head)


class StepVariantsTest(tf.test.TestCase):

  def test_markdown_takes_medians_over_rounds(self):
    def row(method, supervised, gflops, matmul):
      return {"method_seconds": method, "supervised_seconds": supervised,
              "method_gflops": gflops, "matmul_gflops": matmul, "onednn": True}

    result = {"machine": "CPU X (AVX2)", "commit": "abc1234", "date": "2026-11-28 13:00 UTC",
              "rounds": 3, "repeats": 10,
              "variants": {"default": [row(0.4, 0.14, 60.0, 150.0), row(0.5, 0.2, 50.0, 100.0),
                                       row(0.45, 0.15, 58.0, 145.0)]}}
    text = step_variants.markdown(result)
    # Medians: 0.45 s, 0.15 s, 58 GFLOP/s; share: median of 0.4, 0.5, 0.4 = 40%.
    self.assertIn("| default | 0.450 | 0.150 | 58 | 40% | on | 0.40, 0.50, 0.45 |", text)
    self.assertIn("3 alternating rounds", text)
    self.assertIn("commit abc1234", text)
    self.assertNotIn("batch_32", text)
    result["variants"]["batch_32"] = [row(0.9, 0.3, 56.0, 150.0)]
    text = step_variants.markdown(result)
    self.assertIn("the row batch_32: 32 + 32 crops", text)
    self.assertIn("| batch_32 | 0.900 | 0.300 | 56 | 37% | on | 0.90 |", text)
    self.assertIn("the demo's network and step", text)
    result.update(network="ResNet-18", k=3)  # --network=ResNet-18 --k=3
    text = step_variants.markdown(result)
    self.assertIn("the network ResNet-18 (SimpleBaseline; 128x96, 16 + 16 crops, K = 3; the row "
                  "batch_32: 32 + 32 crops, its supervised step 64).", text)
    self.assertIn("| variant | method step (K=3), s |", text)


class ExportVariantsTest(tf.test.TestCase):

  def test_heatmap_correlation_by_hand(self):
    a = np.zeros((1, 2, 2, 2))
    a[0, :, :, 0] = [[0.0, 1.0], [2.0, 3.0]]
    a[0, :, :, 1] = [[1.0, 0.0], [0.0, 0.0]]
    b = a.copy()
    self.assertAllClose(export_variants.heatmap_correlation(a, b), 1.0)
    b[0, :, :, 1] = [[0.0, 1.0], [0.0, 0.0]]  # joint 2: corr([1,0,0,0], [0,1,0,0]) = -1/3
    self.assertAllClose(export_variants.heatmap_correlation(a, b), (1.0 - 1.0 / 3.0) / 2.0)

  def test_markdown_names_calibration_commit_and_correlation(self):
    row = {"variant": "TFLite int8", "bytes": 2 ** 20, "latency_s": 0.0015,
           "mean_error_px": 0.4342, "median_error_px": 0.0, "within_2px": 0.968,
           "heatmap_correlation": 0.99961, "reference": "TFLite fp32"}
    text = export_variants.markdown({
        "checkpoint": "runs/synthetic/method", "input_size": [128, 96], "crops": 200,
        "calibration_crops": 64, "machine": "AMD EPYC", "matmul_gflops": 151.4,
        "date": "2026-11-28 15:00 UTC",
        "commit": "abc1234", "rows": [row]})
    self.assertIn("calibrated on 64 other validation crops", text)
    self.assertIn("commit abc1234", text)
    self.assertIn("float32 matmul 151 GFLOP/s", text)
    self.assertIn("| TFLite int8 | 1.00 | 1.50 | 0.434 / 0.000 | 96.8% | 0.9996 | TFLite fp32 |",
                  text)


if __name__ == "__main__":
  tf.test.main()
