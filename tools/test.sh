#!/usr/bin/env bash
# test.sh - the project's one test command (README's quick start and .ci/run call it).
# Installs what is missing (with python3-torch for the PyTorch parity test, best effort), builds
# the normal build (build/) and the AddressSanitizer +
# UndefinedBehaviorSanitizer build (build-sanitize/) with warnings as errors, and runs the
# whole ctest suite on both. Then it builds the libFuzzer targets with clang (build-fuzz/) and
# runs each for a short smoke (tools/fuzz.sh, ATTNCAST_FUZZ_SMOKE_SECONDS, default 30).
#
#   tools/test.sh                 all three builds
#   tools/test.sh --quick         the normal build only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

bash tools/install-deps.sh --parity

jobs=$(nproc 2>/dev/null || echo 2)
export ATTNCAST_DATA_MIRROR="${ATTNCAST_DATA_MIRROR:-}"

run_build() { # dir, extra cmake args...
  local dir=$1
  shift
  echo "== build $dir"
  cmake -S . -B "$dir" -DATTNCAST_WERROR=ON "$@" >"$dir.configure.log" 2>&1 || {
    cat "$dir.configure.log" >&2
    exit 1
  }
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

mkdir -p build build-sanitize
run_build build -DCMAKE_BUILD_TYPE=Release
if [[ $quick -eq 0 ]]; then
  # halt_on_error makes UBSan findings fail the test instead of only printing them.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  run_build build-sanitize -DCMAKE_BUILD_TYPE=Debug -DATTNCAST_SANITIZE=ON
  # The fuzz smoke: every target for ATTNCAST_FUZZ_SMOKE_SECONDS, two at a time.
  mkdir -p build-fuzz
  CC=clang run_build build-fuzz -DCMAKE_BUILD_TYPE=Debug -DATTNCAST_FUZZ=ON \
    -DATTNCAST_FUZZ_SMOKE_SECONDS="${ATTNCAST_FUZZ_SMOKE_SECONDS:-30}"
fi
echo "== all tests passed"
