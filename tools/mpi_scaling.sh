#!/usr/bin/env bash
# mpi_scaling.sh - the MPI scaling table of docs/mpi.md (Scaling on this machine): training
# windows/s of one epoch for 1 process (1 and 2 threads) and for 2 MPI ranks (1 thread each), on
# the two bench-shaped configs, and the time of one fused gradient allreduce of each model's size.
#
#   tools/mpi_scaling.sh [BUILD_DIR]     (default build-mpi; needs ATTNCAST_DATA_MIRROR or the
#                                         datasets in the cache, and mpicc for the allreduce timing)
#
# small: models/default.ini (exchange_rate, the small bench preset's shape), 1 epoch.
# large: the large bench preset's shape (d_model 128, 8 heads, 3 layers, d_ff 256, C 21) on the
#        first 2000 rows of weather, 1 epoch.
# Each row is the median of REPEATS runs (default 3), taken in turns so that a busy machine
# slows every setting alike.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-mpi}
bin=$PWD/$build/attncast
repeats=${REPEATS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d /tmp/attncast-scaling-XXXXXX)
trap 'rm -rf "$work"' EXIT

weather=$("$bin" datasets fetch weather | awk '$1 == "path" {print $2}')
head -n 2001 "$weather" >"$work/weather2000.csv"
cat >"$work/large.ini" <<EOF
[data]
csv = $work/weather2000.csv
[model]
d_model = 128
heads = 8
layers = 3
d_ff = 256
[train]
epochs = 1
patience = 0
EOF

# windows/s of one epoch: config, mode (t1, t2, r2), extra --set
train_wps() {
  local config=$1 mode=$2 out="$work/run-$RANDOM$RANDOM" cmd
  case $mode in
    t1) cmd=("$bin" train "$config" --set train.threads=1) ;;
    t2) cmd=("$bin" train "$config" --set train.threads=2) ;;
    r2) cmd=(mpirun --bind-to none -np 2 "$bin" train "$config" --set train.threads=1) ;;
  esac
  local TIMEFORMAT='%U %S' cpu
  cpu=$({ time "${cmd[@]}" --set train.epochs=1 --set train.patience=0 --out "$out" --quiet \
    >/dev/null; } 2>&1 | tail -n 1)
  # windows/s of the epoch's training, and the CPU seconds of the whole run (every rank)
  awk -F, -v cpu="$cpu" 'NR == 2 {split(cpu, c, " "); printf "%s/%.1f\n", $6, c[1] + c[2]}' \
    "$out/history.csv"
  sed -n 's/.*"parameters":[^0-9]*\([0-9]*\).*/\1/p' "$out/metrics.json" >"$work/weights"
  rm -rf "$out"
}



cat >"$work/allreduce.c" <<'EOF'
/* The median time of one MPI_Allreduce (sum, in place) of n floats over the ranks. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int n = atoi(argv[1]), rank, rounds = 200;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    float *buf = calloc((size_t)n, sizeof *buf);
    double t[200];
    for (int i = 0; i < 20; i++) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (int i = 0; i < rounds; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t[i] = MPI_Wtime() - t0;
    }
    qsort(t, (size_t)rounds, sizeof t[0], cmp);
    if (rank == 0) printf("%.1f\n", t[rounds / 2] * 1e6);
    free(buf);
    MPI_Finalize();
    return 0;
}
EOF
have_mpicc=0
command -v mpicc >/dev/null && mpicc -O2 -o "$work/allreduce" "$work/allreduce.c" && have_mpicc=1

printf '%-6s %8s %8s %14s %14s %14s %8s %8s %12s\n' config weights batch "1x1 win/s,cpu" \
  "1x2 win/s,cpu" "2x1 win/s,cpu" speedup "MB/step" "allreduce us"
for name in small large; do
  config=models/default.ini
  [[ $name == large ]] && config=$work/large.ini
  declare -A got=([t1]="" [t2]="" [r2]="")
  for ((i = 0; i < repeats; i++)); do
    for mode in t1 t2 r2; do got[$mode]+="$(train_wps "$config" $mode) "; done
  done
  declare -A med=()
  for mode in t1 t2 r2; do # median windows/s, and the CPU seconds of that same run
    med[$mode]=$(tr ' ' '\n' <<<"${got[$mode]}" | grep . | sort -t/ -g -k1,1 |
      awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  done
  weights=$(cat "$work/weights")
  us="-"
  [[ $have_mpicc -eq 1 ]] && us=$(mpirun --bind-to none -np 2 "$work/allreduce" $((weights + 1)))
  printf '%-6s %8s %8s %14s %14s %14s %8s %8s %12s\n' $name "$weights" 32 "${med[t1]/\//,}" \
    "${med[t2]/\//,}" "${med[r2]/\//,}" \
    "$(awk -v a="${med[r2]%%/*}" -v b="${med[t1]%%/*}" 'BEGIN {printf "%.2f", a / b}')" \
    "$(awk -v w="$weights" 'BEGIN {printf "%.2f", (w + 1) * 4 / 1e6}')" "$us"
  echo "  runs (win/s/cpu s): 1x1 ${got[t1]}| 1x2 ${got[t2]}| 2x1 ${got[r2]}"
done
