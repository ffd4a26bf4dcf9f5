#!/usr/bin/env bash
# bench/mpi_scaling.sh — kpf on 1 and 2 MPI ranks: what docs/performance.md's
# "Scale-out on MPI" section reports, and the numbers its scaling model
# starts from.  Not a test: run it by hand on a quiet machine.
#
#   1. Sweep throughput: configs/sweep_g.yaml cut to SWEEP_POINTS points
#      (fewer iterations, SWEEP_ITERS) run by `kpf run` alone and by
#      `mpirun -np 2 kpf run`; points per minute, and the two sweep.csv
#      compared (they must be identical).
#   2. Trial-parallel: bench/mpi_bench.c under mpirun -np 1 and -np 2 —
#      simulation, K·q, P·q and one data-parallel training step, the payload
#      handed to MPI per application, and the largest rank's peak memory —
#      for B = B_LIST trials (T = 60, gru n = 64 by default).
#   3. The scaling model: bench/mpi_model.py projects strong and weak
#      scaling to 64 nodes from (2) and a stated network.
#
# Environment: BUILD (build-bench-mpi: a Release build made here when
# missing; an existing build folder is used as it is configured), THREADS
# (1: BLAS/OpenMP threads per rank, so 2 ranks use the 2 cores),
# SWEEP_POINTS (6), SWEEP_ITERS (200), B_LIST (64 256), MODEL (gru), N (64),
# T (60), REPS (7), OUT ($BUILD/mpi-out).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-bench-mpi}
THREADS=${THREADS:-1}
SWEEP_POINTS=${SWEEP_POINTS:-6}
SWEEP_ITERS=${SWEEP_ITERS:-200}
B_LIST=${B_LIST:-64 256}
MODEL=${MODEL:-gru}
N=${N:-64}
T=${T:-60}
REPS=${REPS:-7}
OUT=${OUT:-$BUILD/mpi-out}
MPIRUN=(mpirun --oversubscribe --allow-run-as-root -x OPENBLAS_NUM_THREADS -x OMP_NUM_THREADS)
export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS

[ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc --all)" --target kpf_cli kpf_all_plugins >/dev/null
mkdir -p "$OUT"
KPF=$BUILD/bin/kpf
incs=()
for d in core/*/include; do incs+=(-I"$d"); done
cc -O2 -o "$OUT/mpi_bench" bench/mpi_bench.c "${incs[@]}" -I"$BUILD/core/include" \
   $(pkg-config --cflags gsl hdf5 2>/dev/null || true) -I/usr/include/hdf5/serial \
   -L"$BUILD/lib" -lkpf -Wl,-rpath,"$PWD/$BUILD/lib" -lgsl -lopenblas -lm

echo "== machine: $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. sweep throughput -------------------------------------------------------
g_values=$(python3 -c "print(', '.join(str(0.25 + 2.75 * i / max(1, $SWEEP_POINTS - 1)) for i in range($SWEEP_POINTS)))")
cfg=$OUT/sweep_bench.yaml
sed -e "s/iterations: 800/iterations: $SWEEP_ITERS/" \
    -e "s/loss_threshold: 0.02/loss_threshold: 0/" \
    -e "s/model.g: {linspace: \[0.25, 3.0, 6\]}/model.g: [$g_values]/" \
    -e "s/repeats: 2/repeats: 1/" \
    -e "s/^seed: 0/seed: 0\nthreads: $THREADS/" configs/sweep_g.yaml > "$cfg"
sweep_time() { # ranks dir
  rm -rf "$2"
  local t0 t1
  t0=$(date +%s.%N)
  if [ "$1" = 1 ]; then "$KPF" run "$cfg" -o "$2" -q >/dev/null 2>&1
  else "${MPIRUN[@]}" -np "$1" "$KPF" run "$cfg" -o "$2" >/dev/null 2>&1; fi
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
{
  echo -e "ranks\tpoints\twall_s\tpoints_per_min"
  for r in 1 2; do
    s=$(sweep_time "$r" "$OUT/sweep_r$r")
    echo -e "$r\t$SWEEP_POINTS\t$s\t$(python3 -c "print(f'{60 * $SWEEP_POINTS / $s:.2f}')")"
  done
} | tee "$OUT/sweep.tsv"
if cmp -s "$OUT/sweep_r1/sweep.csv" "$OUT/sweep_r2/sweep.csv"; then
  echo "sweep.csv: identical at 1 and 2 ranks"
else
  echo "sweep.csv: DIFFERENT at 1 and 2 ranks" >&2
  exit 1
fi

# ---- 2. trial-parallel operators and training ------------------------------------
{
  echo -e "ranks\tmodel\tn\tm\tB\tT\trow\tmedian_s\tmin_s\tcpu_s\tbytes_per_op\tpeak_rss_kB\tgrown_kB"
  for B in $B_LIST; do
    for r in 1 2; do
      "${MPIRUN[@]}" -np "$r" "$OUT/mpi_bench" --plugins "$BUILD/bin/plugins" --model "$MODEL" \
        --n "$N" --B "$B" --T "$T" --reps "$REPS"
    done
  done
} | tee "$OUT/trials.tsv"
echo "== the same at 2 ranks with the ordered (bitwise reproducible) reduction"
for B in $B_LIST; do
  "${MPIRUN[@]}" -np 2 "$OUT/mpi_bench" --plugins "$BUILD/bin/plugins" --model "$MODEL" \
    --n "$N" --B "$B" --T "$T" --reps "$REPS" --ordered 1
done | tee "$OUT/trials_ordered.tsv"

# ---- 3. the scaling model ------------------------------------------------------
python3 bench/mpi_model.py "$OUT/trials.tsv" | tee "$OUT/model.md"
