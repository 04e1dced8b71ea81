"""MirroredStrategy with 2 logical CPU devices matches 1 device (run in a subprocess).

Stated tolerance, after 4 steps of the dual-student trainer with synchronized BatchNorm and
the same weights and global batches: losses within 1e-5; BatchNorm moving statistics within
1e-3 of how far they moved; the median weight tensor within 1e-3 of how far it moved. Single
weights can differ more: Adam's first steps are about lr * sign(gradient), and for weights
whose gradient is near zero the order of the cross-replica sum can flip that sign (losses
still agree to ~1e-7).
"""

import json
import os
import subprocess
import sys

import tensorflow as tf

from tests import testing


class MirroredTest(tf.test.TestCase):

  def test_two_devices_match_one(self):
    env = dict(os.environ, PYTHONPATH=testing.REPO_ROOT + os.pathsep +
               os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-m", "tests.trainers.mirrored_helper"],
                            cwd=testing.REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=1200, check=False)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertLess(report["loss_diff"], 1e-5, report)
    self.assertLess(report["max_relative_bn_statistics_diff"], 1e-3, report)
    self.assertLess(report["median_relative_weight_diff"], 1e-3, report)


if __name__ == "__main__":
  tf.test.main()
