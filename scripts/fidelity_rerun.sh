#!/usr/bin/env bash
# Re-run the shipped configs behind docs/fidelity.md's rows, one at a time,
# single-threaded, each into OUT/<config>/, with its CPU cost in OUT/<config>.time
# (GNU time -v: user + sys is the cost on a shared machine, wall is not).
#   bash scripts/fidelity_rerun.sh [BUILD] [OUT] [config ...]
# BUILD defaults to build, OUT to /tmp/fidelity_runs; without configs, the
# cheap ones (each under ~5 min of CPU on the 2-core machine of docs/
# performance.md).  Seeds are the configs' own `seed:`.  Nothing is written
# into the repository.
set -u
BUILD=${1:-build}
OUT=${2:-/tmp/fidelity_runs}
shift 2 2>/dev/null || shift $#
CONFIGS=("$@")
if [ ${#CONFIGS[@]} -eq 0 ]; then
    CONFIGS=(lrnn_fig2 lrnn_fig4 lrnn_fig5 lrnn_fig6 schuessler_linear
             task_switch_tensor flipflop_delta_w ltr_teacher sweep_g
             flipflop_fixed_points memory_pro_fixed_points gru_memory_pro)
fi
here=$(cd "$(dirname "$0")/.." && pwd)
kpf="$BUILD/bin/kpf"
[ -x "$kpf" ] || { echo "no $kpf: build first (cmake --build $BUILD)" >&2; exit 2; }
mkdir -p "$OUT"
# One thread: reproducible numbers at a fixed count, and no oversubscription.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 KPF_PROGRESS=plain
for c in "${CONFIGS[@]}"; do
    cfg="$here/configs/$c.yaml"
    [ -f "$cfg" ] || { echo "$c: no $cfg" >&2; continue; }
    rm -rf "${OUT:?}/$c"
    /usr/bin/time -v -o "$OUT/$c.time" "$kpf" run "$cfg" -o "$OUT/$c" > "$OUT/$c.log" 2>&1
    rc=$?
    cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.1f", u+s}' "$OUT/$c.time")
    wall=$(awk -F': ' '/Elapsed/{print $2}' "$OUT/$c.time")
    echo "$c rc=$rc cpu=${cpu}s wall=$wall load=$(cut -d' ' -f1-3 /proc/loadavg)"
done
