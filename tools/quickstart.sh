#!/usr/bin/env bash
# quickstart.sh - the main job: installs what is missing, builds attncast, and runs it.
# In this release (0.1, the engine) it prints the version and the engine's matmul benchmark;
# training a forecaster on real data (`attncast train models/default.ini`) arrives next.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.configure.log 2>&1 || {
  cat build.configure.log >&2
  exit 1
}
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

./build/attncast --version
echo
./build/attncast bench-ops
echo
echo "Training (attncast train models/default.ini) arrives in the next release; see README.md."
