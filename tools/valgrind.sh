#!/usr/bin/env bash
# valgrind.sh - runs the whole ctest suite under valgrind memcheck: every test program and every
# process it starts (the attncast CLI, forecast_example, the shell that runs them), in their own
# build (build-valgrind/: RelWithDebInfo, no sanitizers). Any memory error or leak (definite,
# indirect or possible) in any of them fails the run. The system's own programs that attncast or
# the tests call (gnuplot, python3, h5dump, curl, awk, sed, ...) are not traced. Suppressions,
# each with its reason, are in tools/valgrind.supp. One log per process in
# build-valgrind/valgrind-logs/run-<pid>/<test>-<user>-<pid>.log. Slow: the compute-heavy tests
# (sweep, training) run 30-100 times slower than natively, and tests that time things read
# ATTNCAST_TEST_TIME_SCALE; docs/robustness.md "Valgrind" gives measured times. One test program at a time
# unless ATTNCAST_VALGRIND_JOBS says more (on an otherwise idle machine).
#
#   tools/valgrind.sh                 the whole suite
#   tools/valgrind.sh -R test_csv     only the tests whose names match (ctest -R)
#   tools/valgrind.sh -E 'cli|torch'  all but some (ctest -E)
#   ATTNCAST_VALGRIND_JOBS=2 tools/valgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is missing (tools/install-deps.sh)" >&2; exit 1; }

build=build-valgrind
logs="$PWD/$build/valgrind-logs/run-$$" # one folder per run: runs may overlap
# Not traced: the system's programs (gnuplot, python3, h5dump, curl, and the awk, sed, grep and
# tail the tests use to make inputs; their own leaks are not attncast's). /bin/sh is traced, so
# the attncast it starts is too.
skip='/usr/bin/*,/usr/sbin/*,/usr/local/bin/*,/usr/local/sbin/*,*/python3*'
wrapper="valgrind;--tool=memcheck;--error-exitcode=99;--leak-check=full"
wrapper+=";--show-leak-kinds=definite,indirect,possible;--errors-for-leak-kinds=definite,indirect,possible"
wrapper+=";--trace-children=yes;--trace-children-skip=$skip;--num-callers=40;--gen-suppressions=all"
wrapper+=";--suppressions=$PWD/tools/valgrind.supp;--log-file=$logs/%q{ATTNCAST_TEST_NAME}-%q{LOGNAME}-%p.log"

echo "== build $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNCAST_WERROR=ON \
  "-DATTNCAST_TEST_WRAPPER=$wrapper" >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >"$build.build.log" 2>&1 || { tail -n 40 "$build.build.log" >&2; exit 1; }
mkdir -p "$logs"
# test_crash_safety_cli runs attncast as `nobody` (LOGNAME=nobody) from a process root forked:
# its valgrind logs here too, under a name of its own
chmod 1777 "$logs"
export LOGNAME="${LOGNAME:-$(id -un)}"
echo "== ctest under valgrind (logs in $logs)"
export ATTNCAST_TEST_TIME_SCALE=100 # timed tests allow for valgrind's slowdown
# The policy attncast sets for itself by starting again (src/cli/main.c): set here, each attncast
# process starts once under valgrind, not twice (5 s less each, a third of the suite's time), and
# the test programs' libgomp threads sleep rather than spin on valgrind's one-at-a-time threads.
# test_cli unsets it once, so the restart still runs under valgrind.
export OMP_WAIT_POLICY=PASSIVE
start=$(date +%s)
status=0
ctest --test-dir "$build" --output-on-failure -j "${ATTNCAST_VALGRIND_JOBS:-1}" "$@" || status=$?
echo "== $(($(date +%s) - start)) s"

# Children's errors do not always reach the test's exit status: read every log.
bad=$(grep -lE 'ERROR SUMMARY: [1-9]' "$logs"/*.log || true)
if [[ -n "$bad" ]]; then
  echo "valgrind.sh: memcheck errors or leaks in:" >&2
  for f in $bad; do
    echo "  $f: $(grep -m1 -E '^==[0-9]+== Command:' "$f" | sed 's/^==[0-9]*== //')" >&2
  done
  exit 1
fi
[[ $status -eq 0 ]] || { echo "valgrind.sh: ctest failed" >&2; exit 1; }
echo "== valgrind.sh: $(ls "$logs" | wc -l) processes, no memcheck errors or leaks"
