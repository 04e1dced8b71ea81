#!/usr/bin/env bash
# The whole test suite, each test once: `bazel test //...` builds every target (so BUILD files
# are checked) and runs the tests not tagged "slow"; pytest then runs the "slow" ones (one
# process, no per-file start-up). Prints one line "N passed, N failed" adding both up.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1
mkdir -p .ci/out
export TF_CPP_MIN_LOG_LEVEL=2
start=$(date +%s)

bazel test //... 2>&1 | tee .ci/out/bazel.log
bazel_status=${PIPESTATUS[0]}
bz_pass=$(grep -cE "^//[^ ]+ +(\(cached\) )?PASSED" .ci/out/bazel.log)
bz_fail=$(grep -cE "^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)" .ci/out/bazel.log)
if [ "$bazel_status" != 0 ] && [ "$bz_fail" = 0 ]; then bz_fail=1; fi  # a build error
# The source files of the tests tagged "slow" (skipped above by --test_tag_filters=-slow).
slow=$(bazel query 'kind("source file", labels(srcs, attr(tags, "slow", tests(//...))))' \
         2>/dev/null | sed -e 's|^//||' -e 's|:|/|' | grep '_test\.py$')
bazel shutdown >/dev/null 2>&1 || true
echo "== bazel test: $(( $(date +%s) - start )) s; pytest runs the slow tests:" $slow

.venv/bin/python -m pytest -q -p no:cacheprovider $slow --junitxml=.ci/out/pytest.xml
pytest_status=$?
read -r py_pass py_fail < <(.venv/bin/python - <<'PY'
import xml.etree.ElementTree as ET
try:
  root = ET.parse(".ci/out/pytest.xml").getroot()
except (OSError, ET.ParseError):
  print(0, 1)
else:
  suites = [root] if root.tag == "testsuite" else list(root)
  total = sum(int(s.get("tests", 0)) for s in suites)
  failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
  skipped = sum(int(s.get("skipped", 0)) for s in suites)
  print(total - failed - skipped, failed)
PY
)
[ -n "$slow" ] || { py_fail=1; echo "no slow tests found by bazel query"; }

echo "== test suite: $(( $(date +%s) - start )) s on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "bazel test: ${bz_pass} passed, ${bz_fail} failed (test files); pytest (slow files): ${py_pass} passed, ${py_fail} failed (test cases)"
echo "$(( py_pass + bz_pass )) passed, $(( py_fail + bz_fail )) failed"
[ "$pytest_status" = 0 ] && [ "$bazel_status" = 0 ] && [ -n "$slow" ]
