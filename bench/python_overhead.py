#!/usr/bin/env python3
"""python_overhead.py — the Python binding's overhead against the C calls.

    PYTHONPATH=build/python python3 bench/python_overhead.py \
        [--models rnn,gru] [--n 256] [--B 30] [--T 90] [--reps 40] [--threads 1]

For each model, K·q and P·q on one trajectory (n units, B trials, T steps,
flip-flop-sized inputs n_in = 3, deterministic inputs and probe), four
ways, on the same operator and arrays, in one process:

  C             kpf_op_apply timed inside C: a three-line C function
                (compiled here against the build tree's headers and libkpf)
                reads clock_gettime around the call, so no Python is inside
                the timed window;
  cffi          the bare cffi call lib.kpf_op_apply(op, q, out, err): what
                any binding pays to cross into C;
  apply(q,out)  the binding's op.apply(q, out=out): argument checks, the
                trajectory's θ check, the model lock, no copies;
  apply(q)      op.apply(q), which also allocates the output array (the
                usual call).

Times are the calling thread's CPU time by default (--clock thread:
clock_gettime(CLOCK_THREAD_CPUTIME_ID) in C, time.thread_time() in Python),
which other processes on a busy machine do not inflate and which counts
all of the work when OpenBLAS and OpenMP run on this thread (--threads 1);
--clock wall times elapsed time instead.  The four are interleaved call by
call (their order rotating), so what disturbance remains falls on all
alike; the table gives medians per call and the
binding's overhead as the median of the paired differences (binding − C)
relative to C's median, and the difference of the minima (the least
disturbed call of each way).  The binding's fixed cost per call is also
measured on a one-element operator (n = 1, B = 1, T = 1), where C's own
work is negligible.  OpenBLAS and OpenMP get --threads threads.

Needs the build tree (cc, the source headers, build/lib/libkpf.so,
build/bin/plugins); numbers in docs/performance.md ("Python binding").
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--models", default="rnn,gru")
ap.add_argument("--n", type=int, default=256)
ap.add_argument("--B", type=int, default=30)
ap.add_argument("--T", type=int, default=90)
ap.add_argument("--reps", type=int, default=40)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--clock", choices=("thread", "wall"), default="thread",
                help="thread: CPU time of the calling thread (default; insensitive to other "
                     "processes, exact for --threads 1); wall: elapsed time")
args = ap.parse_args()
if args.clock == "thread" and args.threads != 1:
    ap.error("--clock thread measures the calling thread only: use it with --threads 1")

# Before numpy or libkpf load OpenBLAS.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
from cffi import FFI  # noqa: E402

import kpf  # noqa: E402
from kpf import _config  # noqa: E402
from kpf._lib import ffi, lib, new_error  # noqa: E402

N_IN, N_OUT = 3, 3

TIMER_C = r"""
#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include "kpf/operator.h"

/* Seconds one kpf_op_apply takes, timed in C on the thread's CPU clock
 * (thread != 0) or the monotonic wall clock; *rc gets its status. */
double kpf_bench_apply(kpf_op *op, const double *in, double *out, int thread, int *rc)
{
    kpf_error err;
    struct timespec a, b;
    clockid_t c = thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    clock_gettime(c, &a);
    *rc = kpf_op_apply(op, in, out, &err);
    clock_gettime(c, &b);
    return (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
}
"""


def build_timer(workdir):
    """The C timer as a shared object linked to this build's libkpf."""
    src_dir = _config.source_dir()
    if not src_dir:
        sys.exit("python_overhead.py: needs the build tree's package (PYTHONPATH=build/python)")
    core = os.path.join(src_dir, "core")
    incs = [os.path.join(core, d, "include") for d in ("sys", "op")]
    libdir = os.path.dirname(_config.library_path())
    c, so = os.path.join(workdir, "timer.c"), os.path.join(workdir, "timer.so")
    with open(c, "w") as f:
        f.write(TIMER_C)
    subprocess.run(["cc", "-O2", "-std=c11", "-shared", "-fPIC", c, "-o", so] +
                   [f"-I{i}" for i in incs] +
                   [f"-L{libdir}", "-lkpf", f"-Wl,-rpath,{libdir}"], check=True)
    tffi = FFI()
    tffi.cdef("double kpf_bench_apply(void *op, const double *in, double *out, int thread, "
              "int *rc);\n"
              "void kpf_blas_set_threads(int n); int kpf_blas_threads(void);")
    tlib = tffi.dlopen(so)
    tlib.kpf_blas_set_threads(args.threads)          # kpf/blas.h: OpenBLAS and OpenMP
    return tffi, tlib


def case(model_name, n, B, T):
    """The model, its trajectory on deterministic inputs, and a probe q."""
    m = kpf.Model(model_name, n_in=N_IN, n_out=N_OUT, seed=args.seed, n=n)
    t, b, i = np.meshgrid(np.arange(T), np.arange(B), np.arange(N_IN), indexing="ij")
    tr = m.simulate(np.sin(0.1 * (t + 1) + 0.7 * b + 1.3 * i).transpose(1, 0, 2))
    t, b, j = np.meshgrid(np.arange(T), np.arange(B), np.arange(n), indexing="ij")
    q = np.cos(0.05 * t + 0.3 * b + 0.11 * j).transpose(1, 0, 2)          # step-major
    return m, tr, q


def time_op(timer, op, q, reps):
    """{way: [seconds per call]} for the four ways, interleaved."""
    tffi, tlib = timer
    out = kpf.empty_traj(*op.out_shape)
    qp = ffi.cast("double *", q.transpose(1, 0, 2).ctypes.data)
    outp = ffi.cast("double *", out.transpose(1, 0, 2).ctypes.data)
    op_ptr = op._ptr
    t_op = tffi.cast("void *", int(ffi.cast("uintptr_t", op_ptr)))
    t_q = tffi.cast("double *", int(ffi.cast("uintptr_t", qp)))
    t_out = tffi.cast("double *", int(ffi.cast("uintptr_t", outp)))
    rc = tffi.new("int *")

    thread = args.clock == "thread"
    clock = time.thread_time if thread else time.perf_counter

    def c_call():
        dt = tlib.kpf_bench_apply(t_op, t_q, t_out, int(thread), rc)
        assert rc[0] == 0
        return dt

    def cffi_call():
        err = new_error()
        t0 = clock()
        lib.kpf_op_apply(op_ptr, qp, outp, err)
        return clock() - t0

    def kpf_out():
        t0 = clock()
        op.apply(q, out=out)
        return clock() - t0

    def kpf_alloc():
        t0 = clock()
        op.apply(q)
        return clock() - t0

    ways = [("C", c_call), ("cffi", cffi_call), ("apply(q,out)", kpf_out),
            ("apply(q)", kpf_alloc)]
    for _, f in ways:
        f()
        f()
    res = {w: [] for w, _ in ways}
    for r in range(reps):
        for k in range(len(ways)):
            w, f = ways[(r + k) % len(ways)]
            res[w].append(f())
    ref = op.apply(q)
    op.apply(q, out=out)
    assert np.array_equal(out, ref)          # every way computed the same thing
    return res


def overhead(res, way):
    """Median of the paired differences (way − C), relative to C's median."""
    d = [a - c for a, c in zip(res[way], res["C"])]
    return statistics.median(d) / statistics.median(res["C"])


def main():
    print(f"python_overhead.py: n = {args.n}, B = {args.B}, T = {args.T}, {args.reps} "
          f"interleaved calls per way, {args.threads} thread(s), {args.clock} clock, "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as wd:
        timer = build_timer(wd)
        assert timer[1].kpf_blas_threads() == args.threads
        m, tr, q = case("rnn", 1, 1, 1)
        tiny = time_op(timer, kpf.ops.P(m, tr), q, 2000)
        rows = []
        for model in args.models.split(","):
            m, tr, q = case(model, args.n, args.B, args.T)
            for name, op in (("K·q", kpf.ops.K(m, tr)), ("P·q", kpf.ops.P(m, tr))):
                rows.append((model, name, time_op(timer, op, q, args.reps)))
            m.close()
    us = {w: statistics.median(v) * 1e6 for w, v in tiny.items()}
    print(f"\nfixed cost per call (one-element P, medians of 2000): C {us['C']:.2f} µs, "
          f"cffi {us['cffi']:.2f} µs, apply(q, out) {us['apply(q,out)']:.2f} µs, "
          f"apply(q) {us['apply(q)']:.2f} µs")
    print()
    print("| model | op | C (ms) | cffi call (ms) | apply(q, out) (ms) | apply(q) (ms) "
          "| overhead apply(q, out): paired median / min | overhead apply(q): paired median / min |")
    print("|---|---|---|---|---|---|---|---|")
    for model, name, res in rows:
        med = {w: statistics.median(v) * 1e3 for w, v in res.items()}
        mn = {w: min(v) * 1e3 for w, v in res.items()}
        ov_min = lambda w: 100 * (mn[w] - mn["C"]) / mn["C"]
        print(f"| {model} | {name} | {med['C']:.2f} | {med['cffi']:.2f} | "
              f"{med['apply(q,out)']:.2f} | {med['apply(q)']:.2f} | "
              f"{100 * overhead(res, 'apply(q,out)'):+.2f} % / {ov_min('apply(q,out)'):+.2f} % | "
              f"{100 * overhead(res, 'apply(q)'):+.2f} % / {ov_min('apply(q)'):+.2f} % |")


if __name__ == "__main__":
    main()
