#!/usr/bin/env bash
# bench/run.sh — kpf against PyTorch on the same computations, and the dgemm
# roofline.  Installs what it needs, builds kpf in Release in build-bench/,
# runs bench/kpf_bench.c and bench/torch_bench.py on identical inputs, and
# prints the table (also written to build-bench/bench-out/table.md).
#
# Environment: THREADS (default nproc; OpenBLAS, OpenMP and torch all get it),
# REPS (5: at most; at least 3, fewer than REPS once a row has used 10 s),
# SPEC_REPS (3), SPEC_BUDGET (60: PyTorch spectrum solves estimated to take
# longer are estimated, not run), MODELS (rnn, plus gru when its plugin
# builds), B_LIST (30,200), T_LONG (360), TORCH_MEM (1: also PyTorch's peak
# memory at T = 90 in fresh processes), TORCH_MAX_BT (18000: PyTorch skips
# larger cases, i.e. B = 200 at T = 360, to keep the run near 10 minutes on
# two cores; 0 runs all), SPEC_B_MAX (spectrum rows only for B ≤ this;
# default all — the gru B = 200 solve alone takes minutes), HH_N (100: the
# hh reference row's neurons, B = 30, RK4, HH_T = 1000 steps; 0 skips it),
# OUT (build-bench/bench-out).
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-$(nproc)}
REPS=${REPS:-5}
SPEC_REPS=${SPEC_REPS:-3}
SPEC_BUDGET=${SPEC_BUDGET:-60}
B_LIST=${B_LIST:-30,200}
T_LONG=${T_LONG:-360}
TORCH_MEM=${TORCH_MEM:-1}
TORCH_MAX_BT=${TORCH_MAX_BT:-18000}
SPEC_B_MAX=${SPEC_B_MAX:-1000000000}
HH_N=${HH_N:-100}
HH_T=${HH_T:-1000}
OUT=${OUT:-build-bench/bench-out}
PY=/usr/bin/python3   # Debian's python, where python3-torch lives

as_root=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then as_root=(sudo); fi

# ---- dependencies: kpf's own, then the PyTorch side's ------------------------
bash scripts/deps.sh
pkgs=(python3-torch python3-h5py python3-numpy python3-scipy)
missing=()
for p in "${pkgs[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: installing ${missing[*]}"
  "${as_root[@]}" apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${pkgs[@]}"
fi

# ---- build -------------------------------------------------------------------
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DKPF_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
cc -O2 -std=c11 -Wall -Wextra -Wno-unused-parameter \
  -Icore/include -Ibuild-bench/core/include bench/kpf_bench.c \
  -o build-bench/bin/kpf_bench -Lbuild-bench/lib -lkpf \
  -Wl,-rpath,"$PWD/build-bench/lib" -lgsl -lopenblas -lm

if [ -z "${MODELS:-}" ]; then
  MODELS=rnn
  if [ -f build-bench/bin/plugins/gru.so ]; then MODELS=rnn,gru; fi
fi

export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
rm -rf "$OUT"
mkdir -p "$OUT"
case ",$MODELS," in *,gru,*) ;; *) echo "gru" >"$OUT/pending.txt" ;; esac
{
  echo "threads: $THREADS (OpenBLAS, OpenMP, torch.set_num_threads); reps: $REPS (spectrum $SPEC_REPS)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/conditions.txt"

PLUG=build-bench/bin/plugins
echo "== kpf" >&2
build-bench/bin/kpf_bench run --plugins "$PLUG" --out "$OUT" --models "$MODELS" \
  --reps "$REPS" --spec-reps "$SPEC_REPS" --B-list "$B_LIST" --T-long "$T_LONG" \
  --spec-B-max "$SPEC_B_MAX" --hh-n "$HH_N" --hh-T "$HH_T"

echo "== peak memory (fresh processes)" >&2
printf 'side\tmodel\tB\tT\top\tbase_kB\tpeak_kB\n' >"$OUT/mem.tsv"
IFS=, read -r -a models <<<"$MODELS"
IFS=, read -r -a bs <<<"$B_LIST"
for m in "${models[@]}"; do
  for T in 90 "$T_LONG"; do
    for B in "${bs[@]}"; do
      for op in Kq Pq; do
        build-bench/bin/kpf_bench mem --plugins "$PLUG" "$m" "$B" "$T" "$op" |
          sed 's/^MEM/kpf/' >>"$OUT/mem.tsv"
        if [ "$TORCH_MEM" = 1 ] && [ "$T" = 90 ]; then
          "$PY" bench/torch_bench.py mem "$OUT/${m}_B${B}_T${T}.h5" "$op" --threads "$THREADS" |
            sed 's/^TMEM/torch/' >>"$OUT/mem.tsv"
        fi
      done
    done
  done
done

echo "== PyTorch" >&2
"$PY" bench/torch_bench.py run --dir "$OUT" --threads "$THREADS" --reps "$REPS" \
  --spec-reps "$SPEC_REPS" --spec-budget "$SPEC_BUDGET" --models "$MODELS" \
  --max-bt "$TORCH_MAX_BT"

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/conditions.txt"
"$PY" bench/table.py "$OUT"
