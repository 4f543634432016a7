#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, in build-fuzz/) and
# runs each for a given time. New corpus entries go to a scratch corpus per target under
# build-fuzz/fuzz-work/<target>/corpus (read together with the seed corpus in
# tests/fuzz/corpus/<name>, which is never written); crashing, leaking, hanging or memory-hungry
# inputs are saved under build-fuzz/fuzz-work/<target>/crashes/. Each one is replayed to see
# where it happened: one inside libhdf5 itself (Debian's HDF5 is not safe against hostile files,
# see docs/robustness.md "Fuzzing") is moved to .../hdf5/ and reported, one that does no harm when replayed
# alone to .../unreproduced/; any other fails the run (exit 1).
#
#   tools/fuzz.sh                          build, then 60 s for each target
#   tools/fuzz.sh --time 1200 fuzz_csv     build, then 20 minutes of fuzz_csv
#   tools/fuzz.sh --run-only ...           skip the build (ctest's smoke tests use this)
#   tools/fuzz.sh --strict ...             findings inside libhdf5, or that do not reproduce on
#                                          their own, fail the run as well
#   build-fuzz/tests/fuzz/fuzz_csv FILE    replay one input (a saved crash, say)
#
# Targets: fuzz_csv, fuzz_config, fuzz_checkpoint, fuzz_checkpoint_resealed (see tests/fuzz).
# Extra libFuzzer flags can be given in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-max_len=65536").
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build=build-fuzz
run_only=0
strict=0
corpus_name=""
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) seconds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --run-only) run_only=1; shift ;;
    --strict) strict=1; shift ;; # findings inside libhdf5 or not reproducible fail too
    --corpus-name) corpus_name=$2; shift 2 ;; # seed corpus folder, when not the target's own
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
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

# The first frame of a replayed finding that is neither the sanitizers, libFuzzer, libc nor the
# allocator: where it happened. A frame inside the fuzz binary without a source line is the
# sanitizers' runtime linked into it (an interceptor such as strdup or memcpy, called from
# HDF5 or from attncast): the frame below it says whose call it was.
where_found() { # binary, input
  local limits=(-rss_limit_mb=2048)
  # an out-of-memory finding may pass alone: a lower limit shows where the big allocation is
  [[ "$(basename "$2")" == oom-* ]] && limits=(-rss_limit_mb=512 -malloc_limit_mb=256)
  "$1" -runs=1 -timeout=10 "${limits[@]}" "$2" 2>&1 | grep -E '^ +#[0-9]+ 0x' |
    grep -vE 'sanitizer|fuzzer::|__asan|asan_|__interceptor|__ubsan|libc\.so|sysdeps/|Allocator|Malloc|[( ]malloc|[( ]calloc|[( ]realloc' |
    grep -vE '\(/[^ )]*/tests/fuzz/fuzz_[a-z_]+\+0x[0-9a-f]+\)' |
    head -n 1 | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ //; s/ \(BuildId.*//' || true
}

failed=()
hdf5_total=0
unreproduced_total=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  [[ -x "$bin" ]] || { echo "fuzz.sh: no $bin (unknown target, or not built)" >&2; exit 2; }
  seeds="tests/fuzz/corpus/${corpus_name:-${t#fuzz_}}"
  [[ -d "$seeds" || -n "$corpus_name" ]] || seeds="tests/fuzz/corpus/$(sed 's/^fuzz_//; s/_.*//' <<<"$t")"
  [[ -d "$seeds" ]] || { echo "fuzz.sh: no seed corpus $seeds (use --corpus-name)" >&2; exit 2; }
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus" "$work/crashes" "$work/hdf5"
  log="$work/last-run.log"
  stamp="$work/.started"
  touch "$stamp"
  echo "== $t: ${seconds} s from $seeds (+ $work/corpus), log $log"
  status=0
  # Fork mode keeps fuzzing after a finding, so one run reports every kind it meets.
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
  "$bin" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/crashes/" ${FUZZ_FLAGS:-} \
    "$work/corpus" "$seeds" >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+: cov' "$log" | tail -n 1 | sed 's/^/   /' || true
  mapfile -t found < <(find "$work/crashes" -type f -newer "$stamp" | sort)
  ours=0
  for f in "${found[@]}"; do
    at=$(where_found "$bin" "$f")
    if [[ "$at" == *libhdf5* && $strict -eq 0 ]]; then
      mv "$f" "$work/hdf5/"
      hdf5_total=$((hdf5_total + 1))
      echo "   inside HDF5 (not attncast's code): $work/hdf5/$(basename "$f"): $at"
    elif [[ -z "$at" && $strict -eq 0 ]]; then
      # Fork mode saw it, but the input alone does it no harm: it needs the state an earlier
      # input left in the same process (so far always HDF5's), or the input was lost (empty).
      mkdir -p "$work/unreproduced"
      mv "$f" "$work/unreproduced/"
      unreproduced_total=$((unreproduced_total + 1))
      echo "   not reproducible alone (see $log): $work/unreproduced/$(basename "$f")"
    else
      ours=$((ours + 1))
      echo "!! $t: $f: ${at:-no stack (see $log)}" >&2
    fi
  done
  if [[ $ours -gt 0 || ($status -ne 0 && ${#found[@]} -eq 0) ]]; then
    failed+=("$t")
    [[ ${#found[@]} -eq 0 ]] && { echo "!! $t exited $status; the end of its log:" >&2; tail -n 40 "$log" >&2; }
    echo "   replay one with: $bin FILE" >&2
  fi
done
[[ $hdf5_total -eq 0 ]] || echo "fuzz.sh: $hdf5_total finding(s) inside libhdf5 itself (kept under $build/fuzz-work/*/hdf5; --strict fails on them)"
[[ $unreproduced_total -eq 0 ]] || echo "fuzz.sh: $unreproduced_total finding(s) that do not reproduce alone (kept under $build/fuzz-work/*/unreproduced; --strict fails on them)"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: findings in ${failed[*]}" >&2
  exit 1
fi
echo "== fuzz.sh: no findings in attncast's code"
