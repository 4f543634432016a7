#!/usr/bin/env bash
# quickstart.sh - the main job: installs what is missing, builds attncast, and trains the quick
# start's forecaster (models/quickstart.ini: dot attention on ETTh1, horizon 96, about half a
# minute on 2 cores), printing its test metrics next to the baselines. Extra arguments go to
# `attncast train`, e.g.
#   tools/quickstart.sh --set train.epochs=3
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.configure.log 2>&1 || {
  cat build.configure.log >&2
  exit 1
}
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

exec ./build/attncast train models/quickstart.ini "$@"
