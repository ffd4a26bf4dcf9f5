#!/usr/bin/python3
"""torch_bench.py — the PyTorch side of kpf's benchmark suite (bench/run.sh).

Reads the cases kpf_bench wrote (OUT/<model>_B<B>_T<T>.h5: θ, inputs, probe
q and kpf's results), computes the same things the way the KPFlow package
does them, in float64 with the same thread count, times them (one warm-up,
median of N) and checks agreement with kpf's outputs:

  forward    loop of T cell steps under no_grad
  train      forward with autograd + readout + masked MSE + backward + Adam
  Kq         K q = J_θ (dt/B) J_θᵀ q: vjp then jvp (functorch, i.e. torch.func)
             of θ ↦ F(z_k, x_k; θ) over all B·T rows, as KPFlow's
             ParameterOperator (the forward is re-run inside vjp/jvp)
  Pq         linear form, one jvp of the cell per step (matrix-free; KPFlow's
             stored-Jacobian form would hold B·T·n² doubles, 9.4 GB here)
  Pstarq     the same backwards, one vjp of the cell per step
  spectrum   top-20 eigenvalues of the trial- and time-averaged Gram ⟨K K*⟩
             with scipy's eigsh (ARPACK, tol 1e-8 as kpf), σ = √λ: KPFlow's
             Operator.svd(keep_dims=hidden), kpf_consensus_gram.  A solve that
             would exceed --spec-budget seconds (estimated as kpf's number of
             K applications × PyTorch's K·q time) is not run; its row carries
             that estimate, marked "est".

Agreement is max|a − b| / max|b| over each array (train: the worst of the
loss, the gradient before the step and θ after it); rows worse than 1e-8
are flagged "DISAGREE" (never dropped).  Timing: one warm-up, then at least
3 and at most --reps calls, no new call once 10 s were used (as kpf_bench).

  torch_bench.py run --dir OUT [--threads N] [--reps N] [--spec-reps N]
  torch_bench.py mem FILE OP        (fresh process: peak RSS of one K·q / P·q)
"""
import argparse
import os
import resource
import statistics
import sys
import time

import h5py
import numpy as np
import torch

try:  # torch.func in PyTorch ≥ 2.0; functorch in Debian's 1.13
    from torch.func import jvp, vjp
except ImportError:
    from functorch import jvp, vjp

torch.set_default_dtype(torch.float64)
TOL = 1e-8


# ---- models ---------------------------------------------------------------

def load_case(path):
    f = h5py.File(path, "r")
    a = {k: f.attrs[k] for k in f.attrs}
    model = a["model"].decode() if isinstance(a["model"], bytes) else str(a["model"])
    blocks = []
    for name, ds in f["blocks"].items():
        blocks.append((int(ds.attrs["offset"]), name, torch.from_numpy(ds[()])))
    blocks.sort()
    c = dict(model=model, n=int(a["n"]), n_in=int(a["n_in"]), n_out=int(a["n_out"]),
             B=int(a["B"]), T=int(a["T"]), dt=float(a["dt"]), lr=float(a["lr"]),
             continuous=bool(a["continuous"]), spec_tol=float(a["spec_tol"]),
             order=[b[1] for b in blocks], params={b[1]: b[2] for b in blocks})
    tm = lambda d: torch.from_numpy(np.ascontiguousarray(np.swapaxes(d[()], 0, 1)))
    c["x"] = tm(f["x"])            # [T, B, n_in], step-major like kpf
    c["y"] = tm(f["y_target"])     # [T, B, n_out]
    c["mask"] = tm(f["mask"])      # [T, B]
    c["q"] = tm(f["q"])            # [T, B, n]
    c["kpf"] = {}
    for k in f["kpf"]:
        d = f["kpf"][k]
        c["kpf"][k] = tm(d) if d.ndim == 3 else torch.from_numpy(d[()])
    f.close()
    return c


def make_cell(c):
    """F(p, x, h): one step of the discrete map kpf simulates."""
    dt = c["dt"]
    if c["model"] == "rnn":
        def field(p, x, h):  # −z + W tanh(z) + W_in x (+ b), as plugins/rnn/rnn.c
            f = -h + torch.tanh(h) @ p["W"].T
            f = f + x @ p["W_in"].T
            if "b" in p:
                f = f + p["b"]
            return f
    elif c["model"] == "gru":
        def field(p, x, h):  # nn.GRUCell
            gi = x @ p["weight_ih"].T + p["bias_ih"]
            gh = h @ p["weight_hh"].T + p["bias_hh"]
            i_r, i_z, i_n = gi.chunk(3, 1)
            h_r, h_z, h_n = gh.chunk(3, 1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            nn_ = torch.tanh(i_n + r * h_n)
            return nn_ + z * (h - nn_)
    else:
        raise SystemExit(f"torch_bench: no PyTorch model for '{c['model']}'")
    if c["continuous"]:
        return lambda p, x, h: h + dt * field(p, x, h)
    return field


def dyn_params(c, src=None):
    """The plugin's own blocks (those the cell reads), not the readout."""
    src = src if src is not None else c["params"]
    return {k: v for k, v in src.items() if k not in ("W_out", "b_out")}


# ---- the computations ------------------------------------------------------

class Bench:
    def __init__(self, c):
        self.c = c
        self.cell = make_cell(c)
        self.p = dyn_params(c)
        self.T, self.B, self.n = c["T"], c["B"], c["n"]
        self.X = c["x"]
        self.Z = self.forward()
        h0 = torch.zeros(1, self.B, self.n)
        self.Hprev = torch.cat([h0, self.Z[:-1]], 0)  # state before step k
        R = self.B * self.T
        self.Xf = self.X.reshape(R, -1)
        self.Hf = self.Hprev.reshape(R, self.n)
        self.k_apply = 0

    @torch.no_grad()
    def forward(self):
        T, B, n = self.T, self.B, self.n
        h = torch.zeros(B, n)
        Z = torch.empty(T, B, n)
        for k in range(T):
            h = self.cell(self.p, self.X[k], h)
            Z[k] = h
        return Z

    def _F_theta(self, p):
        return self.cell(p, self.Xf, self.Hf)

    @torch.no_grad()
    def Kq(self, q):
        self.k_apply += 1
        R = self.B * self.T
        _, vjp_fn = vjp(self._F_theta, self.p)
        g = vjp_fn(q.reshape(R, self.n))[0]
        w = self.c["dt"] / self.B
        g = {k: v * w for k, v in g.items()}
        return jvp(self._F_theta, (self.p,), (g,))[1].reshape(self.T, self.B, self.n)

    @torch.no_grad()
    def Pq(self, q):
        out = torch.empty_like(q)
        out[0] = q[0]
        for k in range(1, self.T):
            xk = self.X[k]
            step = lambda h: self.cell(self.p, xk, h)
            out[k] = jvp(step, (self.Hprev[k],), (out[k - 1],))[1] + q[k]
        return out

    @torch.no_grad()
    def Pstarq(self, w):
        lam = torch.empty_like(w)
        lam[-1] = w[-1]
        for k in range(self.T - 2, -1, -1):
            xk = self.X[k + 1]
            step = lambda h: self.cell(self.p, xk, h)
            _, fn = vjp(step, self.Hprev[k + 1])
            lam[k] = w[k] + fn(lam[k + 1])[0]
        return lam

    def spectrum(self, k=20):
        from scipy.sparse.linalg import LinearOperator, eigsh
        T, B, n = self.T, self.B, self.n

        def mv(v):
            Q = torch.from_numpy(np.asarray(v, dtype=np.float64).reshape(n))
            Q = Q.expand(T, B, n).contiguous()
            return self.Kq(self.Kq(Q)).mean((0, 1)).numpy()

        op = LinearOperator((n, n), matvec=mv, dtype=np.float64)
        v0 = np.random.default_rng(7).standard_normal(n)
        vals = eigsh(op, k=k, which="LA", tol=self.c["spec_tol"], v0=v0,
                     return_eigenvectors=False)
        vals = np.sort(vals)[::-1]
        return torch.from_numpy(np.sqrt(np.clip(vals, 0, None)))

    # training: one forward + backward + Adam step on every block of θ
    def train_setup(self):
        c = self.c
        self.tp = {k: v.clone().requires_grad_(True) for k, v in c["params"].items()}
        self.opt = torch.optim.Adam([self.tp[k] for k in c["order"]], lr=c["lr"],
                                    betas=(0.9, 0.999), eps=1e-8)

    def train_loss(self):
        c = self.c
        p = self.tp
        dp = dyn_params(c, p)
        h = torch.zeros(self.B, self.n)
        hs = []
        for k in range(self.T):
            h = self.cell(dp, self.X[k], h)
            hs.append(h)
        Z = torch.stack(hs)
        Y = Z @ p["W_out"].T + p["b_out"]
        m = c["mask"][..., None]
        return (((Y - c["y"]) ** 2) * m).sum() / (c["n_out"] * c["mask"].sum())

    def train_iter(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.train_loss()
        loss.backward()
        self.opt.step()
        return loss


def rel(a, b):
    a = a.reshape(-1)
    b = b.reshape(-1)
    den = b.abs().max().item()
    return (a - b).abs().max().item() / (den if den > 0 else 1.0)


def timeit(fn, warm, reps, min_reps=3, budget=10.0):
    """warm warm-up calls, then at least min_reps and at most reps timed calls,
    no new one once the timed calls used `budget` seconds (as kpf_bench)."""
    out = None
    for _ in range(warm):
        out = fn()
    ts = []
    while len(ts) < reps and (len(ts) < min_reps or sum(ts) < budget):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
        out = out if out is not None else r
    return statistics.median(ts), min(ts), out, len(ts)


def run(args):
    cases = []
    fl = {}
    with open(os.path.join(args.dir, "kpf_times.tsv")) as f:
        next(f)
        for line in f:
            m, B, T, row = line.split("\t")[:4]
            key = (m, int(B), int(T))
            fl[key + (row,)] = float(line.split("\t")[7])
            if key not in cases:
                cases.append(key)
    args.kapply = {k: fl[k + ("spectrum",)] / fl[k + ("Kq",)]
                   for k in cases if k + ("spectrum",) in fl and fl.get(k + ("Kq",))}
    models = set(args.models.split(",")) if args.models else None
    outp = open(os.path.join(args.dir, "torch_times.tsv"), "w")
    outp.write("model\tB\tT\trow\tmedian_s\tmin_s\treps\tmaxrel\tstatus\n")
    for (m, B, T) in cases:
        if models and m not in models:
            continue
        if args.max_bt and B * T > args.max_bt:
            print(f"  torch {m} B={B} T={T}: skipped (B·T > --max-bt {args.max_bt})",
                  file=sys.stderr)
            continue
        path = os.path.join(args.dir, f"{m}_B{B}_T{T}.h5")
        c = load_case(path)
        bn = Bench(c)
        kp = c["kpf"]

        def put(row, med, mn, reps, r, status=None):
            st = "ok" if r is not None and r <= TOL else ("n/a" if r is None else "DISAGREE")
            st = status or st
            outp.write(f"{m}\t{B}\t{T}\t{row}\t{med:.6e}\t{mn:.6e}\t{reps}\t"
                       f"{'' if r is None else f'{r:.3e}'}\t{st}\n")
            outp.flush()
            print(f"  torch {m:<4} B={B:<3} T={T:<3} {row:<9} median {1e3 * med:10.3f} ms"
                  f"  maxrel {'-' if r is None else f'{r:.2e}'} {st}", file=sys.stderr)

        med, mn, Z, k = timeit(bn.forward, 1, args.reps)
        put("forward", med, mn, k, rel(Z, kp["z"]))
        q = c["q"]
        med, mn, out, k = timeit(lambda: bn.Kq(q), 1, args.reps)
        put("Kq", med, mn, k, rel(out, kp["Kq"]))
        kq_med = med
        med, mn, out, k = timeit(lambda: bn.Pq(q), 1, args.reps)
        put("Pq", med, mn, k, rel(out, kp["Pq"]))
        med, mn, out, k = timeit(lambda: bn.Pstarq(q), 1, args.reps)
        put("Pstarq", med, mn, k, rel(out, kp["Pstarq"]))
        if "spectrum" in kp:
            # A solve costs about as many K applications as kpf's (same ARPACK,
            # ncv, tol); when that would exceed the budget, report the estimate
            # n_apply(kpf) × K·q(PyTorch) instead, marked "est".
            n_apply = float(args.kapply.get((m, B, T), 0)) or None
            est = n_apply * kq_med if n_apply else None
            if est is not None and est > args.spec_budget:
                put("spectrum", est, est, 0, None, status="est")
            else:
                med, mn, s, k = timeit(bn.spectrum, 0, args.spec_reps, 1, args.spec_budget)
                put("spectrum", med, mn, k, rel(s, kp["spectrum"]))
        # training: the first iteration is compared with kpf's, then timed ones
        bn.train_setup()
        bn.opt.zero_grad(set_to_none=True)
        loss = bn.train_loss()
        loss.backward()
        g = torch.cat([bn.tp[k].grad.reshape(-1) for k in c["order"]])
        r_grad = rel(g, kp["grad"])
        r_loss = abs(loss.item() - kp["loss"].item()) / abs(kp["loss"].item())
        bn.opt.step()
        th = torch.cat([bn.tp[k].detach().reshape(-1) for k in c["order"]])
        r_th = rel(th, kp["theta_after"])
        med, mn, _, k = timeit(bn.train_iter, 0, args.reps)
        put("train", med, mn, k, max(r_grad, r_loss, r_th))
    outp.close()


def mem(args):
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c = load_case(args.file)
    bn = Bench(c)
    q = c["q"]
    {"Kq": bn.Kq, "Pq": bn.Pq, "Pstarq": bn.Pstarq}[args.op](q)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"TMEM\t{c['model']}\t{c['B']}\t{c['T']}\t{args.op}\t{base}\t{peak}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--threads", type=int, default=os.cpu_count())
    r.add_argument("--reps", type=int, default=5)
    r.add_argument("--spec-reps", type=int, default=3)
    r.add_argument("--models", default=None)
    r.add_argument("--max-bt", type=int, default=18000,
                   help="skip cases with more rows (0: none), to bound the run time")
    r.add_argument("--spec-budget", type=float, default=60.0,
                   help="seconds; longer spectrum solves are estimated, not run")
    mm = sub.add_parser("mem")
    mm.add_argument("file")
    mm.add_argument("op")
    mm.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "run":
        print(f"torch_bench: torch {torch.__version__}, {torch.get_num_threads()} threads",
              file=sys.stderr)
        run(args)
    else:
        mem(args)


if __name__ == "__main__":
    main()
