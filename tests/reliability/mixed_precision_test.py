"""Mixed precision as a config switch: a few steps with finite losses; heatmaps stay float32."""

import os

import gin
import keras
import numpy as np
import tensorflow as tf

from tests import testing
from tfpose_ssl import training as train_lib


class MixedPrecisionTest(tf.test.TestCase):

  def tearDown(self):
    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")
    super().tearDown()

  def test_policies_train_with_finite_losses(self):
    data = os.path.join(self.get_temp_dir(), "data")
    testing.make_synthetic(data)
    for policy in ("mixed_float16", "mixed_bfloat16"):
      with self.subTest(policy):
        testing.parse_config("smoke.gin", [
            f"train/synthetic_coco.root = '{data}'", f"val/synthetic_coco.root = '{data}'",
            f"train.precision = '{policy}'", "train.epochs = 1", "train.steps_per_epoch = 4",
            "train.eval_every_epochs = 0", "train.verbose = 0", "train.num_visualized = 0",
            "train.image_every_epochs = 0"])
        result = train_lib.train(workdir=os.path.join(self.get_temp_dir(), policy))
        for name, value in result.train_metrics.items():
          self.assertTrue(np.isfinite(value), f"{policy}: {name} = {value}")
        self.assertGreater(result.train_metrics["sup_loss_1"], 0.0)
        self.assertTrue(np.isfinite(result.report.metrics["ensemble"]["AP"]))
        self.assertEqual(keras.mixed_precision.global_policy().name, policy)
        gin.clear_config()

  def test_unknown_precision(self):
    testing.parse_config("smoke.gin", ["train.precision = 'float8'"])
    with self.assertRaisesRegex(ValueError, "unknown precision 'float8'"):
      train_lib.train(workdir=os.path.join(self.get_temp_dir(), "x"))


if __name__ == "__main__":
  tf.test.main()
