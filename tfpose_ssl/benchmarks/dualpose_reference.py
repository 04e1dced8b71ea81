r"""Training-step time of DualPose's own reference code (PyTorch), per source crop, on this CPU.

  /path/to/torch/python tfpose_ssl/benchmarks/dualpose_reference.py --reference_dir=/tmp/shp \
      --input=128x96 --batch=16 --steps=5 --warmup=2 --out=FILE.json

NOT part of this project or its dependencies: it needs PyTorch (+ torchvision, opencv-python,
easydict, pyyaml, which the reference imports) and a work tree of xierc/Semi_Human_Pose at
commit 76e6623 (the authors' code of "An Empirical Study of the Collapsing Problem in
Semi-Supervised 2D Human Pose Estimation", ICCV 2021), e.g.
  git --git-dir=<bare repo> archive 76e6623 | tar -x -C /tmp/shp
It imports neither TensorFlow nor tfpose_ssl, so it runs in a torch-only environment.

What it measures: the median wall time of one training iteration of the reference's PoseDual
(experiments/mix_coco_coco/res18/256x192_COCO1K_PoseDual.yaml: two ResNet-18 SimpleBaselines,
24 joints, UNSUP_TRANSFORM on, no RandAugment, no joint cutout, Adam lr 1e-3 without weight
decay: get_optimizer ignores the yaml's WD for Adam), built by the reference's own code exactly
as pose_estimation/train.py builds it (get_pose_net, PoseCoLoss, utils.utils.get_optimizer over
list(model.parameters())), with no pretrained weights and the given input size (heatmaps
input/4), on random tensors. The timed call is the reference's own
core.function.train() given a one-batch list as its train_loader, so every timed iteration is
exactly the loop body of function.py lines 43-118 (plus model.train() and fresh AverageMeters,
lines 33-41; its logging branch, taken every PRINT_FREQ=100 iterations in a real run, is taken
every call here: it formats one string for a logger with no handler). Data loading and
augmentation (the DataLoader, cv2 warps, target generation) are skipped.

One iteration (per the reference; B = --batch):
  model([sup_x, unsup_x]) -> PoseCotrain.forward (lib/models/pose_dual.py):
    net1(sup_x), net2(sup_x)                      with grad      B labeled crops each
    net1(unsup_x), net2(unsup_x)                  no_grad        weak view (train mode: BN
                                                                 batch stats, running stats move)
    no_grad: per-crop random rotation/scale theta (numpy, cv2.getRotationMatrix2D);
      affine_grid + grid_sample of two clones of unsup_x (the strong view = the weak view
      re-warped, same theta for both nets) and of both teacher heatmaps
    net1(strong), net2(strong clone)              with grad
  PoseCoLoss: 0.5*MSE(net1 sup) + 0.5*MSE(net2 sup) + MSE(net1 strong, warped net2 teacher)
    + MSE(net2 strong, warped net1 teacher), target-weighted, a Python loop over 24 joints each;
    the two warped teacher heatmaps are also copied with .cpu() (pseudo_target).
  optimizer.zero_grad(); loss.backward() through the 4 graphs; Adam step on both nets.
  loss.item(); PCK accuracy in NumPy on net1's labeled heatmaps (core.evaluate.accuracy).
So each network runs 3 forward passes of B crops (2 with grad, 1 without), then one backward
through its 2 grad graphs.

Source crops: the reference's TRAIN.BATCH_SIZE counts items of its mix_coco_coco dataset, each
one (labeled crop, unlabeled crop) pair; the weak view is the unlabeled crop as loaded, the
strong view is made from it inside the step. So --batch = TRAIN.BATCH_SIZE = labeled crops =
unlabeled crops, and source crops per step = 2 * batch (the yaml's 32 is 64 source crops; our
16 + 16 convention is --batch=16).

Deviations, all to run it on a CPU without a data set: torch.Tensor.cuda is made a no-op (the
reference calls .cuda() inside the step, in get_batch_affine_transform, and on targets);
no DataParallel wrapper (a pass-through without GPUs); PyYAML >= 6 needs a Loader in
update_config's yaml.load (SafeLoader is given); MODEL.INIT_WEIGHTS = False (no ImageNet/
gluon checkpoint; PyTorch default init); targets are random, and target weights are 1 on the 17
COCO joints of the 24-joint union and 0 on the other 7 (what mix_coco_coco sets for unlabeled
crops; for labeled crops it is the annotated visibility). Input sides should be multiples of
32: otherwise the network's heatmap is not input/4 and the targets take the network's size.

Threads: torch's defaults (printed). Reported: median s/step over --steps timed iterations after
--warmup untimed ones, source crops/s, the median time of the accuracy bookkeeping alone (part
of each step), float32 2048^2 torch matmul GFLOP/s (best of a few) before and after, CPU model,
torch version, date (UTC) and the reference commit.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import warnings

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU only, like the project's benchmarks.

import numpy as np  # pylint: disable=g-import-not-at-top
import torch  # pylint: disable=g-import-not-at-top

REFERENCE_REPO = "xierc/Semi_Human_Pose"
REFERENCE_COMMIT = "76e6623823491043b6f0e4dcccdd5989e17bcaa3"
YAML = "experiments/mix_coco_coco/res18/256x192_COCO1K_PoseDual.yaml"
FILES = ("lib/models/pose_dual.py", "lib/core/function.py", "lib/core/loss.py",
         "lib/core/config.py", "lib/utils/utils.py", "pose_estimation/train.py", YAML)
# Union joints (lib/dataset/JointsDataset.py) that COCO maps to (lib/dataset/coco.py).
COCO_JOINTS_IN_UNION = (1, 2, 3, 4, 5, 6, 11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--reference_dir", required=True,
                      help="Work tree of xierc/Semi_Human_Pose (commit 76e6623).")
  parser.add_argument("--reference_commit", default=REFERENCE_COMMIT,
                      help="Commit of --reference_dir, recorded when it is not a git work tree.")
  parser.add_argument("--input", default="128x96", help="Input size HxW.")
  parser.add_argument("--batch", type=int, default=16,
                      help="Labeled crops = unlabeled crops per step (TRAIN.BATCH_SIZE).")
  parser.add_argument("--steps", type=int, default=5, help="Timed iterations.")
  parser.add_argument("--warmup", type=int, default=2, help="Untimed iterations first.")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default="", help="JSON file to write.")
  return parser.parse_args()


def cpu_model():
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def matmul_gflops(n=2048, repeats=5):
  """float32 n x n torch matmul GFLOP/s, best of `repeats` after two warm-ups (2 n^3 flops)."""
  a = torch.randn(n, n, dtype=torch.float32)
  b = torch.randn(n, n, dtype=torch.float32)
  for _ in range(2):
    torch.matmul(a, b)
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    torch.matmul(a, b)
    best = min(best, time.perf_counter() - start)
  return 2.0 * n ** 3 / best / 1e9


def reference_commit(reference_dir, given):
  try:
    out = subprocess.run(["git", "-C", reference_dir, "rev-parse", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    if out and os.path.realpath(reference_dir) == os.path.realpath(subprocess.run(
        ["git", "-C", reference_dir, "rev-parse", "--show-toplevel"], check=True,
        capture_output=True, text=True).stdout.strip()):
      return out, "git rev-parse HEAD"
  except (OSError, subprocess.CalledProcessError):
    pass
  return given, "as given (--reference_commit; the tree is not a git work tree)"


def file_hashes(reference_dir):
  hashes = {}
  for name in FILES:
    with open(os.path.join(reference_dir, name), "rb") as f:
      hashes[name] = hashlib.sha256(f.read()).hexdigest()
  return hashes


def build_reference(reference_dir, height, width):
  """The reference's config, PoseDual model, PoseCoLoss and optimizer, as train.py builds them."""
  sys.path.insert(0, os.path.join(reference_dir, "lib"))
  import yaml  # pylint: disable=g-import-not-at-top
  # Deviation: the reference targets CUDA; .cuda() on tensors (inside the step too) stays on CPU.
  torch.Tensor.cuda = lambda self, *args, **kwargs: self
  from core.config import config, update_config  # pylint: disable=g-import-not-at-top
  load = yaml.load
  # Deviation: PyYAML >= 6 requires a Loader in update_config's yaml.load(f).
  yaml.load = lambda stream, Loader=None: load(stream, Loader=Loader or yaml.SafeLoader)
  try:
    update_config(os.path.join(reference_dir, YAML))
  finally:
    yaml.load = load
  config.MODEL.IMAGE_SIZE = np.array([width, height])  # width, height (reference order)
  config.MODEL.EXTRA.HEATMAP_SIZE = np.array([width // 4, height // 4])
  config.MODEL.INIT_WEIGHTS = False  # no pretrained checkpoint
  assert config.MODEL.NAME == "pose_dual" and config.MODEL.EXTRA.NUM_LAYERS == 18
  import models  # pylint: disable=g-import-not-at-top
  from core.function import train  # pylint: disable=g-import-not-at-top
  from core.loss import PoseCoLoss  # pylint: disable=g-import-not-at-top
  from utils.utils import get_optimizer  # pylint: disable=g-import-not-at-top
  # pose_estimation/train.py lines 206-253 (minus DataParallel / .cuda()).
  model = models.pose_dual.get_pose_net(config, is_train=True)  # eval('models.'+NAME+...)
  para = list(model.parameters())
  criterion = PoseCoLoss(use_target_weight=config.LOSS.USE_TARGET_WEIGHT, cfg=config)
  optimizer = get_optimizer(config, para)
  return config, model, criterion, optimizer, train


def main():
  args = parse_args()
  height, width = (int(v) for v in args.input.lower().split("x"))
  warnings.filterwarnings("ignore", category=UserWarning)  # size_average, align_corners notices
  warnings.filterwarnings("ignore", category=SyntaxWarning)  # pose_hrnet.py's `is '*'`
  random.seed(args.seed)
  np.random.seed(args.seed)
  torch.manual_seed(args.seed)
  threads = torch.get_num_threads()
  print(f"torch {torch.__version__}, threads {threads} (interop {torch.get_num_interop_threads()})"
        f", CPU {cpu_model()}", flush=True)

  reference_dir = os.path.abspath(args.reference_dir)
  commit, commit_source = reference_commit(reference_dir, args.reference_commit)
  hashes = file_hashes(reference_dir)
  config, model, criterion, optimizer, train = build_reference(reference_dir, height, width)
  from core.evaluate import accuracy  # pylint: disable=g-import-not-at-top

  # The network's heatmap size (input/4 when both sides are multiples of 32).
  model.resnet.eval()
  with torch.no_grad():
    _, probe = model.resnet(torch.zeros(1, 3, height, width))
  hm_h, hm_w = probe.shape[2], probe.shape[3]
  if (hm_h, hm_w) != (height // 4, width // 4):
    print(f"note: the network's heatmaps are {hm_h}x{hm_w}, not input/4 = "
          f"{height // 4}x{width // 4} (input sides not multiples of 32); targets take "
          f"{hm_h}x{hm_w}", flush=True)
  joints = config.MODEL.NUM_JOINTS

  # One batch as mix_coco_coco + the DataLoader give it: input, target, target_weight and meta
  # are each [labeled, unlabeled]; the unlabeled target is unused by PoseCoLoss.
  b = args.batch
  weight = torch.zeros(b, joints, 1)
  weight[:, list(COCO_JOINTS_IN_UNION), :] = 1.0
  batch = ([torch.randn(b, 3, height, width), torch.randn(b, 3, height, width)],
           [torch.rand(b, joints, hm_h, hm_w), torch.rand(b, joints, hm_h, hm_w)],
           [weight.clone(), weight.clone()],
           [{}, {}])
  loader = [batch]  # a one-batch train_loader: one call of train() = one iteration
  writer_dict = {"writer": None, "train_global_steps": 0, "valid_global_steps": 0}

  def step():
    train(config, loader, model, criterion, optimizer, 0, "", "", writer_dict)

  gflops_before = matmul_gflops()
  for _ in range(args.warmup):
    step()
  times = []
  for _ in range(args.steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  gflops_after = matmul_gflops()

  # The accuracy bookkeeping alone (function.py lines 86-87; included in each step above).
  out_np = torch.rand(b, joints, hm_h, hm_w).numpy()
  tgt_np = batch[1][0].numpy()
  acc_times = []
  for _ in range(max(args.steps, 3)):
    start = time.perf_counter()
    accuracy(out_np, tgt_np, "gaussian")
    acc_times.append(time.perf_counter() - start)

  median = statistics.median(times)
  crops = 2 * b
  result = {
      "what": "DualPose reference training iteration (PyTorch), network step only",
      "reference": {"repo": REFERENCE_REPO, "commit": commit, "commit_source": commit_source,
                    "yaml": YAML, "sha256": hashes},
      "model": "PoseDual: 2 x SimpleBaseline ResNet-18 (3 deconv 256, 4x4), no pretrained "
               "weights",
      "settings": {"UNSUP_TRANSFORM": bool(config.UNSUP_TRANSFORM),
                   "CONS_RAND_AUG": bool(config.CONS_RAND_AUG),
                   "MASK_JOINT_NUM": int(config.MASK_JOINT_NUM),
                   "NUM_JOINTS": int(joints), "OPTIMIZER": config.TRAIN.OPTIMIZER,
                   "LR": float(config.TRAIN.LR)},
      "input_hw": [height, width],
      "heatmap_hw": [int(hm_h), int(hm_w)],
      "labeled_crops_per_step": b,
      "unlabeled_crops_per_step": b,
      "source_crops_per_step": crops,
      "network_calls_per_step": "per net: sup (grad), weak (no_grad), strong (grad); "
                                "6 forwards of B crops, 4 with grad; 1 backward; Adam",
      "warmup": args.warmup,
      "steps": args.steps,
      "step_times_s": times,
      "median_s_per_step": median,
      "source_crops_per_s": crops / median,
      "accuracy_bookkeeping_median_s": statistics.median(acc_times),
      "matmul_2048_f32_gflops_before": gflops_before,
      "matmul_2048_f32_gflops_after": gflops_after,
      "torch_threads": threads,
      "torch_interop_threads": torch.get_num_interop_threads(),
      "torch_version": torch.__version__,
      "python": platform.python_version(),
      "cpu_model": cpu_model(),
      "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
      "command": " ".join([sys.executable] + sys.argv),
  }
  print(f"DualPose reference {height}x{width}, {b}+{b} crops/step: median "
        f"{median:.3f} s/step, {crops / median:.1f} source crops/s (accuracy bookkeeping "
        f"{result['accuracy_bookkeeping_median_s'] * 1e3:.1f} ms); matmul f32 2048^2 "
        f"{gflops_before:.0f}/{gflops_after:.0f} GFLOP/s before/after; {threads} threads; "
        f"torch {torch.__version__}; ref {commit[:7]}", flush=True)
  if args.out:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
      json.dump(result, f, indent=2)
      f.write("\n")


if __name__ == "__main__":
  main()
