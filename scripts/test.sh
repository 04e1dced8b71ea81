#!/usr/bin/env bash
# The whole test suite, each test once: `bazel test //...` builds every target (so BUILD files
# are checked) and runs the tests not tagged "slow"; pytest then runs the "slow" test files,
# two at a time. Prints one line "N passed, N failed" adding both up (Bazel counts test
# files, pytest test cases); logs in .ci/out/.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
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
                      attr(tags, '[\[ ]slow[,\]]', tests(//...)))))" 2>/dev/null \
           || echo "QUERY_FAILED"
       done | sed -e 's|^//||' -e 's|:|/|' | grep -E '_test\.py$|^QUERY_FAILED$')
query_failed=0
case "$slow" in *QUERY_FAILED*) query_failed=1; slow=$(printf '%s\n' $slow | grep -v QUERY_FAILED);; esac
bazel shutdown >/dev/null 2>&1 || true
echo "== bazel test: $(( $(date +%s) - start )) s; pytest runs the slow tests:" $slow

# Two test files at a time, each in its own pytest process: much of a slow test is
# single-threaded tracing and start-up, so two processes use the 2 cores better than one.
rm -f .ci/out/pytest-*.xml .ci/out/pytest-*.log .ci/out/pytest-*.rc
printf '%s\n' $slow | xargs -P 2 -I{} sh -c \
  'f={}; x=$(echo "$f" | tr / -); .venv/bin/python -m pytest -q -p no:cacheprovider "$f" \
     --junitxml=".ci/out/pytest-$x.xml" > ".ci/out/pytest-$x.log" 2>&1;
   s=$?; echo "$s" > ".ci/out/pytest-$x.rc"; echo "   $f: exit $s";
   tail -n 1 ".ci/out/pytest-$x.log"; exit $s'
pytest_status=$?
shopt -s nullglob
for f in .ci/out/pytest-*.rc; do  # the log of every file that did not pass
  [ "$(cat "$f")" = 0 ] || { echo "== ${f%.rc}.log"; tail -n 60 "${f%.rc}.log"; }
done
read -r py_pass py_fail < <(.venv/bin/python - $slow <<'PY'
import sys
import xml.etree.ElementTree as ET
passed = failed = 0
for path in sys.argv[1:]:
  name = ".ci/out/pytest-" + path.replace("/", "-")
  try:
    root = ET.parse(name + ".xml").getroot()
    with open(name + ".rc") as f:
      status = int(f.read())
  except (OSError, ValueError, ET.ParseError):
    failed += 1  # the file did not run to the end
    continue
  suites = [root] if root.tag == "testsuite" else list(root)
  total = sum(int(s.get("tests", 0)) for s in suites)
  bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
  skipped = sum(int(s.get("skipped", 0)) for s in suites)
  passed += total - bad - skipped
  failed += bad or (status != 0)  # e.g. nothing collected, or a crash after the report
print(passed, failed)
PY
)
[ -n "$slow" ] || { py_fail=1; echo "no slow tests found by bazel query"; }
[ "$query_failed" = 0 ] || { py_fail=$(( py_fail + 1 )); echo "a bazel query for slow tests failed"; }

echo "== test suite: $(( $(date +%s) - start )) s on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "bazel test: ${bz_pass} passed, ${bz_fail} failed (test files); pytest (slow files): ${py_pass} passed, ${py_fail} failed (test cases)"
echo "$(( py_pass + bz_pass )) passed, $(( py_fail + bz_fail )) failed"
[ "$pytest_status" = 0 ] && [ "$bazel_status" = 0 ] && [ -n "$slow" ] && [ "$query_failed" = 0 ]
