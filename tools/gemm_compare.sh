#!/usr/bin/env bash
# gemm_compare.sh - the GEMM comparison of docs/performance.md in one command: traces the matrix
# products of one training step, one batch-256 and one single-window forecast of every attention
# kind on both bench presets (attncast bench --trace-gemm), then times each product on OpenBLAS,
# the own kernels, BLIS and libxsmm in one paired run (build/gemm_compare, built when libxsmm is
# installed: tools/install-deps.sh --gemm-compare). One thread throughout.
#
#   tools/gemm_compare.sh [--rounds R] [--min-ms T] [--kinds K,...]   (about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ATTNCAST_BUILD:-build}
rounds=5
min_ms=20
kinds=additive,dot,gated,cosine
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --min-ms) min_ms=$2; shift 2 ;;
    --kinds) kinds=$2; shift 2 ;;
    *) echo "gemm_compare.sh: unknown option $1 (known: --rounds --min-ms --kinds)" >&2; exit 2 ;;
  esac
done
if [[ ! -x $build/gemm_compare ]]; then
  echo "gemm_compare.sh: $build/gemm_compare is not built: install libxsmm (tools/install-deps.sh --gemm-compare) and rebuild" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for preset in small large; do
  "$build/attncast" bench --preset "$preset" --threads 1 --seconds 0.2 --kinds "$kinds" \
    --trace-gemm "$work/$preset.csv" >/dev/null
  sed "s/^/$preset,/" "$work/$preset.csv" >>"$work/trace.csv"
done
"$build/gemm_compare" "$work/trace.csv" --rounds "$rounds" --min-ms "$min_ms"
