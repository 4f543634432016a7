#!/usr/bin/env bash
# install-deps.sh - installs exactly the Debian packages attncast needs to build and test.
# Idempotent: packages already present are left alone, and apt is not touched at all when
# nothing is missing. Runs apt through sudo when not root.
#
#   tools/install-deps.sh            build + test dependencies
#   tools/install-deps.sh --parity   also python3-torch and python3-h5py, for the PyTorch parity
#                                    test (best effort: a failure here only skips that test)
#   tools/install-deps.sh --gemm-compare
#                                    also libxsmm and BLIS, for tools/gemm_compare (best effort)
#   tools/install-deps.sh --mpi      also Open MPI (libopenmpi-dev, openmpi-bin), for the
#                                    -DATTNCAST_MPI=ON build and its tests
#   tools/install-deps.sh --list     print the package list and exit
# Options combine (tools/test.sh passes --parity --gemm-compare --mpi).
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
  clang             # the libFuzzer targets of tests/fuzz (tools/fuzz.sh, the test command's smoke)
  libclang-rt-dev   # ... libFuzzer and the sanitizer runtimes for that clang
  libomp-dev        # ... OpenMP for clang
  valgrind          # tools/valgrind.sh: the suite under memcheck
)

PARITY_PACKAGES=(python3-torch python3-h5py)
MPI_PACKAGES=(libopenmpi-dev openmpi-bin) # MPI headers and library, mpirun
GEMM_PACKAGES=(libxsmm-dev libblis-dev)   # the other libraries tools/gemm_compare times

parity=0
gemm=0
mpi=0
for arg in "$@"; do
  case "$arg" in
    --list)
      printf '%s\n' "${PACKAGES[@]}"
      exit 0
      ;;
    --parity) parity=1 ;;
    --gemm-compare) gemm=1 ;;
    --mpi) mpi=1 ;;
    *)
      echo "install-deps: unknown option $arg (known: --parity --gemm-compare --mpi --list)" >&2
      exit 2
      ;;
  esac
done
[[ $mpi -eq 1 ]] && PACKAGES+=("${MPI_PACKAGES[@]}")

missing_of() { # prints the packages of "$@" that are not installed
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

mapfile -t missing < <(missing_of "${PACKAGES[@]}")
extras=()
[[ $parity -eq 1 ]] && mapfile -t extras < <(missing_of "${PARITY_PACKAGES[@]}")
gemm_extras=()
[[ $gemm -eq 1 ]] && mapfile -t gemm_extras < <(missing_of "${GEMM_PACKAGES[@]}")

if [[ ${#missing[@]} -eq 0 && ${#extras[@]} -eq 0 && ${#gemm_extras[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
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

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [[ ${#extras[@]} -gt 0 ]]; then
  echo "install-deps: installing ${extras[*]} (for the PyTorch parity test)"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${extras[@]}" ||
    echo "install-deps: warning: could not install ${extras[*]}; the parity test will be skipped"
fi
if [[ ${#gemm_extras[@]} -gt 0 ]]; then
  echo "install-deps: installing ${gemm_extras[*]} (for tools/gemm_compare)"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${gemm_extras[@]}" ||
    echo "install-deps: warning: could not install ${gemm_extras[*]}; gemm_compare is not built"
fi
