#!/usr/bin/env bash
# test.sh - the project's one test command (README's quick start and .ci/run call it).
# Installs what is missing (with python3-torch for the PyTorch parity test and libxsmm and BLIS
# for tools/gemm_compare, best effort, and Open MPI), builds the normal build (build/, matrix
# products on the own kernels) and the AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-sanitize/, products on OpenBLAS) with warnings as errors, and runs the whole ctest
# suite on both; then the MPI build (build-mpi/, -DATTNCAST_MPI=ON), in which only
# the MPI tests run (ctest -L mpi: 2 ranks under mpirun against 1 process). The full run also
# installs the normal build into a temporary prefix and builds the embedding example against it
# through pkg-config and CMake (tools/check_install.sh), and builds the libFuzzer targets with
# clang (build-fuzz/) and runs each for a short smoke (tools/fuzz.sh,
# ATTNCAST_FUZZ_SMOKE_SECONDS, default 30).
#
#   tools/test.sh                 every build
#   tools/test.sh --quick         the normal build only
#   tools/test.sh --no-mpi        the normal and sanitizer builds, without MPI
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
mpi=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 mpi=0 ;;
    --no-mpi) mpi=0 ;;
    *)
      echo "test.sh: unknown option $arg (known: --quick --no-mpi)" >&2
      exit 2
      ;;
  esac
done

if [[ $mpi -eq 1 ]]; then
  bash tools/install-deps.sh --parity --gemm-compare --mpi
else
  bash tools/install-deps.sh --parity --gemm-compare
fi

jobs=$(nproc 2>/dev/null || echo 2)
export ATTNCAST_DATA_MIRROR="${ATTNCAST_DATA_MIRROR:-}"

configure() { # dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DATTNCAST_WERROR=ON "$@" >"$dir.configure.log" 2>&1 || {
    cat "$dir.configure.log" >&2
    exit 1
  }
}

run_build() { # dir, extra cmake args...
  local dir=$1
  echo "== build $dir"
  configure "$@"
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

mkdir -p build build-sanitize
run_build build -DCMAKE_BUILD_TYPE=Release
if [[ $quick -eq 0 ]]; then
  echo "== install check: build installed into a temporary prefix (tools/check_install.sh)"
  bash tools/check_install.sh build
  # halt_on_error makes UBSan findings fail the test instead of only printing them.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  # The sanitizer build runs its products on OpenBLAS, so that the suite runs on both backends
  # (the own kernels themselves run in both: tests/tensor/test_gemm calls them directly).
  run_build build-sanitize -DCMAKE_BUILD_TYPE=Debug -DATTNCAST_SANITIZE=ON -DATTNCAST_GEMM=openblas
  unset ASAN_OPTIONS UBSAN_OPTIONS
  # The fuzz smoke: every target for ATTNCAST_FUZZ_SMOKE_SECONDS, two at a time.
  mkdir -p build-fuzz
  CC=clang run_build build-fuzz -DCMAKE_BUILD_TYPE=Debug -DATTNCAST_FUZZ=ON \
    -DATTNCAST_FUZZ_SMOKE_SECONDS="${ATTNCAST_FUZZ_SMOKE_SECONDS:-30}"
fi
if [[ $mpi -eq 1 ]]; then
  # Only what the MPI tests need is built, and only they run: the rest is the normal build's.
  echo "== build build-mpi"
  mkdir -p build-mpi
  configure build-mpi -DCMAKE_BUILD_TYPE=Release -DATTNCAST_MPI=ON
  cmake --build build-mpi -j "$jobs" --target attncast_cli test_parallel_cli
  echo "== test build-mpi (MPI tests)"
  ctest --test-dir build-mpi --output-on-failure -L mpi
fi
echo "== all tests passed"
