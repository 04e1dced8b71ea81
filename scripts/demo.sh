#!/usr/bin/env bash
# The main job on the embedded default: the method and the supervised baseline on the same
# labels and schedule (tfpose_ssl/demo.py). Writes runs/synthetic/summary.md (both side by
# side) and runs/synthetic/method/skeletons.png; it first generates the synthetic data
# (data/synthetic) unless they are there.
set -euo pipefail
cd "$(dirname "$0")/.."
TFPOSE_SKIP_BAZEL=1 scripts/setup.sh
start=$(date +%s)
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
.venv/bin/python -m tfpose_ssl.demo --config=configs/synthetic.gin --workdir=runs/synthetic "$@"
echo "== demo finished in $(( $(date +%s) - start )) s (after set-up) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
echo "== results: runs/synthetic/summary.md, runs/synthetic/method/skeletons.png, logs in"
echo "   runs/synthetic/train.log; TensorBoard: .venv/bin/tensorboard --logdir runs/synthetic"
