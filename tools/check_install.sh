#!/usr/bin/env bash
# check_install.sh - attncast as an installed library, the way docs/install.md tells an embedder
# to use it. Installs a build into a fresh prefix, trains a tiny model with the installed CLI,
# then builds the embedding example (tools/forecast_example.c, installed under
# share/doc/attncast/examples) four ways against the installed copy only, with the commands
# docs/install.md gives:
#   1. pkg-config, shared:  cc $(pkg-config --cflags attncast) ... $(pkg-config --libs attncast)
#   2. pkg-config, static:  the archive plus $(pkg-config --static --libs attncast)
#   3. CMake, find_package(attncast): attncast::attncast (shared)
#   4. CMake, attncast::attncast_static
# and checks that each prints exactly the forecast `attncast predict` writes, that the installed
# files are where the docs say, and that the static programs do not need libattncast.so.
# tools/test.sh runs it in its full run; it also runs alone.
#
#   tools/check_install.sh [BUILD_DIR]     default build/ (configured and built if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cc=${CC:-cc}

fail() {
  echo "check_install: FAILED: $*" >&2
  exit 1
}
step() { echo "-- $*"; }

work=$(mktemp -d /tmp/attncast-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
log=$work/log

run() { # runs a command quietly; on failure shows its output and fails with the message $1
  local what=$1
  shift
  "$@" >"$log" 2>&1 || {
    cat "$log" >&2
    fail "$what"
  }
}

if [[ ! -f $build/CMakeCache.txt ]]; then
  step "configure $build (Release)"
  run "configure $build" cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
step "build the CLI and both libraries in $build"
run "build $build" cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
  --target attncast_cli attncast attncast_shared

prefix=$work/prefix
step "cmake --install $build --prefix $prefix"
run "cmake --install" cmake --install "$build" --prefix "$prefix"

PKG_CONFIG_PATH=$(find "$prefix" -path '*/pkgconfig/attncast.pc' -printf '%h\n' | head -1)
export PKG_CONFIG_PATH
[[ -n $PKG_CONFIG_PATH ]] || fail "no lib*/pkgconfig/attncast.pc under $prefix"
pkg-config --exists attncast || fail "pkg-config cannot read $PKG_CONFIG_PATH/attncast.pc"
libdir=$(pkg-config --variable=libdir attncast)
version=$(pkg-config --modversion attncast)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
soversion=$major
[[ $major == 0 ]] && soversion=$major.$minor

step "installed files ($version, soname libattncast.so.$soversion)"
for f in bin/attncast include/attncast/attncast.h include/attncast/embed.h \
  share/attncast/datasets/exchange_rate.ini share/doc/attncast/examples/forecast_example.c; do
  [[ -f $prefix/$f ]] || fail "$prefix/$f is not installed"
done
for f in libattncast.a "libattncast.so.$version" "libattncast.so.$soversion" libattncast.so \
  cmake/attncast/attncastConfig.cmake cmake/attncast/attncastConfigVersion.cmake; do
  [[ -e $libdir/$f ]] || fail "$libdir/$f is not installed"
done
soname=$(readelf -d "$libdir/libattncast.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "libattncast.so.$soversion" ]] || fail "SONAME is '$soname', not libattncast.so.$soversion"
[[ $("$prefix/bin/attncast" --version 2>&1) == *"$version"* ]] || fail "bin/attncast --version is not $version"

# A tiny model on a generated series, trained by the installed binary.
cd "$work"
awk 'BEGIN { print "date,a,b"; for (t = 0; t < 240; t++)
  printf "2021-03-%02d %02d:00:00,%.5f,%.5f\n", 1 + int(t / 24), t % 24, 5 + sin(t * 0.5236), cos(t * 0.2618) }' >series.csv
cat >tiny.ini <<'EOF'
[data]
csv = series.csv
lookback = 24
horizon = 6
[model]
d_model = 8
heads = 2
layers = 1
d_ff = 16
patch_len = 6
patch_stride = 3
[train]
epochs = 2
batch_size = 16
seed = 3
threads = 1
EOF
step "train a tiny model with the installed attncast"
run "installed attncast train" env ATTNCAST_THREADS=1 "$prefix/bin/attncast" train tiny.ini --quiet --out run
run "installed attncast predict" "$prefix/bin/attncast" predict run/best.h5 --input series.csv --out predicted.csv
cut -d, -f2- predicted.csv >expected

same_forecast() { # program, how it was built
  "$1" run/best.h5 series.csv >"$1.out" 2>"$log" || {
    cat "$log" >&2
    fail "$2: the program failed"
  }
  cut -d, -f2- "$1.out" | cmp -s - expected ||
    fail "$2: its forecast differs from attncast predict (see $1.out against predicted.csv)"
}
needs_shared_lib() { readelf -d "$1" | grep -q 'NEEDED.*libattncast\.so'; }

example=$prefix/share/doc/attncast/examples/forecast_example.c
step "1. cc \$(pkg-config --cflags attncast) ... \$(pkg-config --libs attncast)"
# shellcheck disable=SC2046 # the flags are meant to split
# strict C11 with warnings as errors: the public headers must compile cleanly in a user's program
run "pkg-config shared link" "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 \
  $(pkg-config --cflags attncast) "$example" \
  -o ex_shared $(pkg-config --libs attncast) -Wl,-rpath,"$libdir"
needs_shared_lib ex_shared || fail "ex_shared does not load libattncast.so"
same_forecast ./ex_shared "pkg-config, shared"

step "2. cc ... libattncast.a \$(pkg-config --static --libs attncast)"
# shellcheck disable=SC2046
run "pkg-config static link" "$cc" -std=c11 -O2 $(pkg-config --cflags attncast) "$example" \
  -o ex_static -Wl,--as-needed "$libdir/libattncast.a" $(pkg-config --static --libs attncast)
! needs_shared_lib ex_static || fail "ex_static needs libattncast.so although it links the archive"
same_forecast ./ex_static "pkg-config, static"

step "3./4. CMake: find_package(attncast) and attncast::attncast, attncast::attncast_static"
mkdir consumer
cat >consumer/CMakeLists.txt <<EOF
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(attncast $version REQUIRED)
add_executable(ex_cmake_shared $example)
target_link_libraries(ex_cmake_shared PRIVATE attncast::attncast)
add_executable(ex_cmake_static $example)
target_link_libraries(ex_cmake_static PRIVATE attncast::attncast_static)
EOF
run "configure the find_package(attncast) project" \
  cmake -S consumer -B consumer/build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
run "build the find_package(attncast) project" cmake --build consumer/build -j 2
needs_shared_lib consumer/build/ex_cmake_shared || fail "attncast::attncast is not the shared library"
! needs_shared_lib consumer/build/ex_cmake_static || fail "attncast::attncast_static loads libattncast.so"
same_forecast consumer/build/ex_cmake_shared "CMake attncast::attncast"
same_forecast consumer/build/ex_cmake_static "CMake attncast::attncast_static"

echo "check_install: the installed attncast $version works through pkg-config and CMake"
