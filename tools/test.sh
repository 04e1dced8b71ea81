#!/usr/bin/env bash
# The whole test suite, each test once: `bazel test //...` builds every target (so BUILD files
# are checked) and runs the tests not tagged "slow"; pytest then runs the "slow" test files,
# two at a time. Prints one line "N passed, N failed" adding both up (Bazel counts test
# files, pytest test cases); logs in .ci/out/.
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
# The source files of the tests tagged "slow" (skipped above by --test_tag_filters=-slow),
# longest first (their Bazel size: enormous > 200 s, large > 60 s on the slower CPU kind).
slow=$(for size in enormous large medium small; do
         bazel query "kind('source file', labels(srcs, attr(size, $size,
                      attr(tags, 'slow', tests(//...)))))" 2>/dev/null
       done | sed -e 's|^//||' -e 's|:|/|' | grep '_test\.py$')
bazel shutdown >/dev/null 2>&1 || true
echo "== bazel test: $(( $(date +%s) - start )) s; pytest runs the slow tests:" $slow

# Two test files at a time, each in its own pytest process: much of a slow test is
# single-threaded tracing and start-up, so two processes use the 2 cores better than one.
rm -f .ci/out/pytest-*.xml
printf '%s\n' $slow | xargs -P 2 -I{} sh -c \
  'f={}; x=$(echo "$f" | tr / -); .venv/bin/python -m pytest -q -p no:cacheprovider "$f" \
     --junitxml=".ci/out/pytest-$x.xml" > ".ci/out/pytest-$x.log" 2>&1;
   s=$?; echo "   $f: exit $s"; tail -n 1 ".ci/out/pytest-$x.log"; exit $s'
pytest_status=$?
for f in .ci/out/pytest-*.log; do
  grep -qE "(failed|error)" <(tail -n 1 "$f") && { echo "== $f"; tail -n 60 "$f"; }
done
read -r py_pass py_fail < <(.venv/bin/python - $slow <<'PY'
import sys
import xml.etree.ElementTree as ET
passed = failed = 0
for path in sys.argv[1:]:
  name = ".ci/out/pytest-" + path.replace("/", "-") + ".xml"
  try:
    root = ET.parse(name).getroot()
  except (OSError, ET.ParseError):
    failed += 1  # the file did not run to the end
    continue
  suites = [root] if root.tag == "testsuite" else list(root)
  total = sum(int(s.get("tests", 0)) for s in suites)
  bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
  skipped = sum(int(s.get("skipped", 0)) for s in suites)
  passed += total - bad - skipped
  failed += bad
print(passed, failed)
PY
)
[ -n "$slow" ] || { py_fail=1; echo "no slow tests found by bazel query"; }

echo "== test suite: $(( $(date +%s) - start )) s on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "bazel test: ${bz_pass} passed, ${bz_fail} failed (test files); pytest (slow files): ${py_pass} passed, ${py_fail} failed (test cases)"
echo "$(( py_pass + bz_pass )) passed, $(( py_fail + bz_fail )) failed"
[ "$pytest_status" = 0 ] && [ "$bazel_status" = 0 ] && [ -n "$slow" ]
