#!/usr/bin/env bash
# The main job on the embedded default: generate the synthetic dataset if absent, train,
# evaluate, write runs/synthetic/summary.md and runs/synthetic/skeletons.png.
set -euo pipefail
cd "$(dirname "$0")/.."
TFPOSE_SKIP_BAZEL=1 tools/setup.sh
start=$(date +%s)
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
.venv/bin/python -m tfpose_ssl.train --config=configs/synthetic.gin --workdir=runs/synthetic \
  --gin_bindings="train.verbose=2" "$@"
echo "== demo finished in $(( $(date +%s) - start )) s (after set-up)."
echo "== results: runs/synthetic/summary.md, runs/synthetic/skeletons.png,"
echo "   TensorBoard: .venv/bin/tensorboard --logdir runs/synthetic/tensorboard"
