#!/bin/sh
# Figures for docs/lyapunov.md from kpf run folders of the `lyapunov`
# analysis (configs/kpflow_lyapunov_g3*.yaml), with gnuplot:
#   OUT/spectra.png  λ_i against i, one curve per run (KPFlow Supp. Fig. 10's
#                    quantity before it is reduced to a dimension)
#   OUT/ky_vs_T.png  the Kaplan–Yorke dimension against the counted time t
#                    (log x), the number of units n as the "maximal" line
# Usage: docs/lyapunov_g3_plot.sh OUT RUN_DIR...   (a sweep's point folders
# are run folders: DIR/point_*).  Reads each run's summary.json
# (kaplan_yorke, lyapunov_time) and plot-src/lyapunov.dat (first block).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OUT RUN_DIR..." >&2; exit 2; }
out=$1
shift
mkdir -p "$out"
: > "$out/ky.dat"
plots=""
n=0
for d in "$@"; do
    s="$d/summary.json"
    dat="$d/plot-src/lyapunov.dat"
    [ -f "$s" ] && [ -f "$dat" ] || { echo "$d: no summary.json or lyapunov.dat" >&2; exit 2; }
    ky=$(grep -o '"kaplan_yorke": [-0-9.e+]*' "$s" | head -1 | sed 's/.*: //')
    t=$(grep -o '"lyapunov_time": [-0-9.e+]*' "$s" | head -1 | sed 's/.*: //')
    k=$(awk 'NF == 2 && $1 !~ /#/ { k = $1 } /^$/ { exit } END { print k }' "$dat")
    echo "$t $ky $k $(basename "$d")" >> "$out/ky.dat"
    awk '/^$/ { exit } NF == 2 && $1 !~ /#/' "$dat" > "$out/spec_$n.dat"
    plots="$plots${plots:+, }'spec_$n.dat' using 1:2 with lines lw 2 lt $((n % 8 + 1)) dt $((n / 8 + 1)) title 't = $t (KY $(printf %.1f "$ky"))'"
    n=$((n + 1))
done
sort -g "$out/ky.dat" -o "$out/ky.dat"
kmax=$(awk '{ if ($3 > m) m = $3 } END { print m }' "$out/ky.dat")
cd "$out"
gnuplot <<EOF
set terminal pngcairo size 900,600
set grid
set output 'spectra.png'
set xlabel 'index i'
set ylabel 'Lyapunov exponent lambda_i (per step)'
set title 'Lyapunov spectra against the counted time t'
set xzeroaxis lt -1
set key bottom left
plot $plots
set output 'ky_vs_T.png'
set logscale x
set xlabel 'counted time t (steps)'
set ylabel 'Kaplan-Yorke dimension'
set title 'Kaplan-Yorke dimension against t ("maximal" would be n = $kmax)'
set yrange [0:$kmax * 1.05]
set key bottom right
plot 'ky.dat' using 1:2 with linespoints pt 7 lw 2 title 'kpf', $kmax with lines dt 2 lc rgb '#b2182b' title 'n (maximal)'
EOF
echo "wrote $out/spectra.png and $out/ky_vs_T.png"
