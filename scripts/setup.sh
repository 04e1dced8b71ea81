#!/usr/bin/env bash
# Sets up a fresh machine of this project's kind: .venv with the pinned packages, and Bazel
# (Debian's bazel-bootstrap) when missing. Idempotent: reinstalls only when requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== creating .venv with the pinned packages (requirements.txt)"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

if [ "${TFPOSE_SKIP_BAZEL:-0}" != 1 ] && ! command -v bazel >/dev/null 2>&1; then
  echo "== installing Bazel (Debian bazel-bootstrap)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq bazel-bootstrap >/dev/null
fi
