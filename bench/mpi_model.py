#!/usr/bin/env python3
"""Strong and weak scaling of trial-parallel kpf to 64 nodes, projected from
one machine's measurements (bench/mpi_scaling.sh writes trials.tsv) and a
stated network.  Usage: mpi_model.py trials.tsv [--cores-per-node 32]
[--core-efficiency 0.7] [--latency-us 2] [--bandwidth-GBs 12.5]
[--B 4096] [--B-per-node 64] [--scale-n 1].  Prints markdown tables (docs/performance.md,
"Scale-out on MPI", explains the model).

Model.  One rank per node; a node computes at C·e times the measured
one-rank rate (C cores, parallel efficiency e of BLAS and OpenMP inside the
node: an assumption, stated in the output).  Work that scales with trials
(the J_θᵀ and J_θ passes of K, the forward and adjoint sweeps of a training
step) is measured per trial on one rank and divided over the nodes; the
only communication is one Allreduce of m doubles per K application (m + 3
per training step), modelled as the bandwidth-optimal ring/Rabenseifner
algorithm:  t_ar(N) = 2·log2(N)·α + 2·(N−1)/N · 8m / β.
Strong scaling keeps the batch (B trials) fixed; weak scaling keeps B/N."""
import argparse
import csv
import math
import sys


def load(path):
    rows = {}
    with open(path) as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            key = (int(r["ranks"]), int(r["B"]), r["row"])
            rows[key] = r
    return rows


def allreduce(m, nodes, alpha, beta):
    if nodes == 1:
        return 0.0
    return 2 * math.log2(nodes) * alpha + 2 * (nodes - 1) / nodes * 8 * m / beta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--cores-per-node", type=int, default=32)
    ap.add_argument("--core-efficiency", type=float, default=0.7)
    ap.add_argument("--latency-us", type=float, default=2.0)
    ap.add_argument("--bandwidth-GBs", type=float, default=12.5)
    ap.add_argument("--B", type=int, default=4096, help="strong scaling: trials in the batch")
    ap.add_argument("--B-per-node", type=int, default=64, help="weak scaling: trials per node")
    ap.add_argument("--scale-n", type=float, default=1.0,
                    help="project a model s times wider: per-trial work and m both × s²")
    a = ap.parse_args()
    rows = load(a.tsv)
    alpha, beta = a.latency_us * 1e-6, a.bandwidth_GBs * 1e9
    speed = a.cores_per_node * a.core_efficiency
    B_meas = max(b for (r, b, _) in rows if r == 1)
    one = {row: rows[(1, B_meas, row)] for row in ("Kq", "train")}
    s2 = a.scale_n ** 2
    m = int(round(int(one["Kq"]["m"]) * s2))
    n, T, model = one["Kq"]["n"], one["Kq"]["T"], one["Kq"]["model"]
    if a.scale_n != 1.0:
        n = f"{int(n)} × {a.scale_n:g} = {int(int(n) * a.scale_n)} (work and m × {s2:g})"
    # the work is the one-rank CPU time (the machine's other load aside)
    col = "cpu_s" if "cpu_s" in one["Kq"] else "median_s"
    work = {row: float(one[row][col]) * s2 for row in one}
    print(f"Projection from {model} n = {n}, T = {T}, m = {m}, measured on one core with "
          f"B = {B_meas} ({col}): per trial K·q {work['Kq'] / B_meas * 1e3:.3f} ms, "
          f"training step {work['train'] / B_meas * 1e3:.3f} ms.  A node = "
          f"{a.cores_per_node} cores at efficiency {a.core_efficiency} ({speed:g} core-equivalents); "
          f"network α = {a.latency_us:g} µs, β = {a.bandwidth_GBs:g} GB/s; Allreduce of "
          f"8m = {8 * m / 1e3:.1f} kB per K·q, 8(m+3) per step.\n")
    for what, vec in (("K·q", m), ("training step", m + 3)):
        row = "Kq" if what == "K·q" else "train"
        per_trial = work[row] / B_meas / speed
        print(f"| {what} | nodes | strong: time (B = {a.B}) | efficiency | comm share | "
              f"weak: time (B = {a.B_per_node}·N) | efficiency |")
        print("|---|---|---|---|---|---|---|")
        t1s = a.B * per_trial
        t1w = a.B_per_node * per_trial
        for N in (1, 2, 4, 8, 16, 32, 64):
            c = allreduce(vec, N, alpha, beta)
            ts = t1s / N + c
            tw = t1w + c
            print(f"| | {N} | {ts * 1e3:.3f} ms | {t1s / (N * ts):.2f} | {c / ts:.2f} | "
                  f"{tw * 1e3:.3f} ms | {t1w / tw:.2f} |")
        # where communication equals computation in strong scaling
        Nstar = next((N for N in range(2, 100000) if a.B * per_trial / N < allreduce(vec, N, alpha, beta)),
                     None)
        print(f"\nStrong scaling of {what} stops paying (communication > computation) at "
              f"N ≈ {Nstar} nodes (B/N ≈ {a.B / Nstar:.0f} trials per node)." if Nstar else "")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
