#!/usr/bin/env bash
# install-deps.sh - installs exactly the Debian packages attncast needs to build and test.
# Idempotent: packages already present are left alone, and apt is not touched at all when
# nothing is missing. Runs apt through sudo when not root.
#
#   tools/install-deps.sh            build + test dependencies
#   tools/install-deps.sh --list     print the package list and exit
set -euo pipefail

PACKAGES=(
  build-essential   # gcc, make, libc headers
  cmake             # the build (3.25 on Debian 12)
  pkg-config        # how CMake finds the libraries below
  libopenblas-dev   # cblas_sgemm and the OpenBLAS thread control
  libhdf5-dev       # checkpoints
  hdf5-tools        # h5dump, which the checkpoint tests use to read the layout
  libinih-dev       # INI config files
  libcjson-dev      # JSON output
  libcmocka-dev     # the unit tests
  curl              # fetching datasets by name
  ca-certificates   # ... over https
  unzip             # datasets published as .zip (weather)
  gnuplot-nox       # pictures: learning curves, forecasts, attention
)

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
