"""MultiWorkerMirroredStrategy: 2 worker processes on 127.0.0.1 train the dual students from
the real config with synchronized BatchNorm; both end with identical weights and BatchNorm
statistics, matching a single-process run.

The single process runs MirroredStrategy over 2 logical CPU devices, so both runs have 2
replicas, the same global batches and the same (synchronized) BatchNorm statistics. Stated
tolerance: losses within 1e-5, the median weight tensor within 1e-3 of its magnitude and the
BatchNorm moving statistics within 1e-3 (as in tests/trainers/mirrored_test.py: Adam's first
steps are ~lr * sign(gradient), so a weight whose gradient is near zero can move differently
when the cross-worker sum rounds differently).

An earlier version of this test reported that synchronized BatchNorm hung both workers in
their first step. The cause was the test: it read the workers' output pipes one after the
other, and worker 1 blocked writing its log (see below), not TensorFlow.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tests import testing

BINDINGS = ["train.epochs = 1", "train.steps_per_epoch = 4", "train.eval_every_epochs = 0",
            "train.verbose = 0", "train.num_visualized = 0", "train.image_every_epochs = 0",
            "simple_baseline.synchronized_bn = True"]


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _command(workdir, data, strategy):
  module = ("tests.reliability.two_device_train" if strategy == "mirrored" else
            "tfpose_ssl.train")
  command = [sys.executable, "-m", module, "--config=configs/smoke.gin",
             f"--workdir={workdir}", f"--gin_bindings=train.strategy = '{strategy}'",
             f"--gin_bindings=train/synthetic_coco.root = '{data}'",
             f"--gin_bindings=val/synthetic_coco.root = '{data}'"]
  return command + [f"--gin_bindings={b}" for b in BINDINGS]


def _env(tf_config=None):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONPATH=testing.REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
  env.pop("TF_CONFIG", None)
  if tf_config:
    env["TF_CONFIG"] = json.dumps(tf_config)
  return env


def _weights(checkpoint_dir):
  """Every variable of a checkpoint but the save counter (students' trainable weights are
  stored under their optimizers)."""
  reader = tf.train.load_checkpoint(checkpoint_dir)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
          if not n.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


class MultiWorkerTest(tf.test.TestCase):

  def test_two_workers_agree_and_match_one_process(self):
    tmp = self.get_temp_dir()
    data = os.path.join(tmp, "data")
    testing.make_synthetic(data)  # before the processes: a run only reads its data
    single = os.path.join(tmp, "single")
    subprocess.run(_command(single, data, "mirrored"), cwd=testing.REPO_ROOT, env=_env(),
                   check=True, capture_output=True, timeout=1200)

    workdir = os.path.join(tmp, "cluster")
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    # Each worker writes to its own file: with pipes read one after the other, worker 1 blocked
    # once its unread output filled the pipe (64 KiB; synchronized BatchNorm logs ~160 KB of
    # "Collective all_reduce" lines), and worker 0 then waited for it in a collective forever.
    logs = [os.path.join(tmp, f"worker_{i}.log") for i in range(2)]
    workers = []
    for i, log in enumerate(logs):
      with open(log, "w") as f:
        workers.append(subprocess.Popen(
            _command(workdir, data, "multi_worker"), cwd=testing.REPO_ROOT,
            env=_env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            stdout=f, stderr=subprocess.STDOUT))
    try:
      for worker in workers:
        worker.wait(timeout=1800)
    finally:  # one worker failed or timed out: the other would wait in a collective forever
      for worker in workers:
        if worker.poll() is None:
          worker.kill()
          worker.wait()
    outputs = []
    for log in logs:
      with open(log) as f:
        outputs.append(f.read())
    for i, (worker, output) in enumerate(zip(workers, outputs)):
      self.assertEqual(worker.returncode, 0, f"worker {i}:\n{output[-3000:]}")
    self.assertIn("MultiWorkerMirroredStrategy", outputs[0] + outputs[1])

    chief = _weights(os.path.join(workdir, "checkpoints"))
    other = _weights(os.path.join(workdir, "worker_1_scratch", "checkpoints"))
    self.assertNotEmpty(chief)
    self.assertGreater(len(chief), 500)
    self.assertEqual(sorted(chief), sorted(other))
    for name in chief:  # BatchNorm statistics too: synchronized over both workers' halves
      self.assertAllEqual(chief[name], other[name], msg=name)
    self.assertTrue(os.path.exists(os.path.join(workdir, "summary.json")))  # the chief's

    one = _weights(os.path.join(single, "checkpoints"))
    self.assertEqual(sorted(one), sorted(chief))
    weights = [n for n in one if "_trainable_variables" in n]
    relative = [float(np.max(np.abs(one[n] - chief[n]))) / (float(np.max(np.abs(one[n]))) or 1.0)
                for n in weights]
    self.assertLess(float(np.median(relative)), 1e-3)
    statistics = [n for n in one if "moving_" in n]
    self.assertGreater(len(statistics), 80)
    for name in statistics:
      self.assertAllClose(one[name], chief[name], atol=1e-3, rtol=1e-3, msg=name)
    with open(os.path.join(single, "summary.json")) as f:
      single_loss = json.load(f)["last_epoch_train_metrics"]["loss"]
    with open(os.path.join(workdir, "summary.json")) as f:
      cluster_loss = json.load(f)["last_epoch_train_metrics"]["loss"]
    self.assertAllClose(single_loss, cluster_loss, atol=1e-5)


if __name__ == "__main__":
  tf.test.main()
