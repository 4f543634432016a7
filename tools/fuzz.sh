#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, in build-fuzz/) and
# runs each for a given time. New corpus entries go to a scratch corpus per target under
# build-fuzz/fuzz-work/<target>/corpus (read together with the seed corpus in
# tests/fuzz/corpus/<name>, which is never written); crashing, leaking or hanging inputs are
# saved under build-fuzz/fuzz-work/<target>/crashes/. Exits non-zero when any target found one.
#
#   tools/fuzz.sh                          build, then 60 s for each target
#   tools/fuzz.sh --time 1200 fuzz_csv     build, then 20 minutes of fuzz_csv
#   tools/fuzz.sh --run-only ...           skip the build (ctest's smoke tests use this)
#   build-fuzz/tests/fuzz/fuzz_csv FILE    replay one input (a saved crash, say)
#
# Targets: fuzz_csv, fuzz_config, fuzz_checkpoint, fuzz_checkpoint_resealed (see tests/fuzz).
# Extra libFuzzer flags can be given in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-max_len=65536").
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build=build-fuzz
run_only=0
corpus_name=""
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) seconds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --run-only) run_only=1; shift ;;
    --corpus-name) corpus_name=$2; shift 2 ;; # seed corpus folder, when not the target's own
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_csv fuzz_config fuzz_checkpoint fuzz_checkpoint_resealed)
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz.sh: --time wants seconds" >&2; exit 2; }

if [[ $run_only -eq 0 ]]; then
  command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (tools/install-deps.sh)" >&2; exit 1; }
  echo "== build $build (clang, libFuzzer, ASan + UBSan)"
  CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DATTNCAST_FUZZ=ON \
    -DATTNCAST_WERROR=ON >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}"
fi

# One thread everywhere: inputs are small, and the machine is shared.
export ATTNCAST_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  [[ -x "$bin" ]] || { echo "fuzz.sh: no $bin (unknown target, or not built)" >&2; exit 2; }
  seeds="tests/fuzz/corpus/${corpus_name:-${t#fuzz_}}"
  [[ -d "$seeds" ]] || seeds="tests/fuzz/corpus/${t#fuzz_}"
  [[ -d "$seeds" ]] || seeds="tests/fuzz/corpus/$(sed 's/^fuzz_//; s/_.*//' <<<"$t")"
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus" "$work/crashes"
  log="$work/last-run.log"
  echo "== $t: ${seconds} s from $seeds (+ $work/corpus), log $log"
  status=0
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
  "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/crashes/" ${FUZZ_FLAGS:-} "$work/corpus" "$seeds" >"$log" 2>&1 || status=$?
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$log" | sed 's/^/   /' || true
  if [[ $status -ne 0 ]]; then
    failed+=("$t")
    echo "!! $t failed (exit $status); the end of its log:" >&2
    tail -n 60 "$log" >&2
    ls -1 "$work/crashes" | sed "s|^|   saved: $work/crashes/|" >&2
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: findings in ${failed[*]}" >&2
  exit 1
fi
echo "== fuzz.sh: no findings"
