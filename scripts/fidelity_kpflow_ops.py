#!/usr/bin/env python3
"""kpf's operators against the KPFlow package's own code (github.com/meeree/kpflow,
src/kpflow/), on one nn.GRUCell with identical weights, inputs and probes.

    git -C <mirror of meeree/kpflow> archive HEAD src | tar -x -C /tmp/kpflow_pkg
    PYTHONPATH=build/python /usr/bin/python3 scripts/fidelity_kpflow_ops.py \
        --kpflow /tmp/kpflow_pkg/src [--n 64] [--B 8] [--T 30] [--seed 0]

Compared, each as max|a − b| / max|b| over the whole output:
  K q        ParameterOperator (J_θ J_θᵀ, functorch vjp then jvp)   vs kpf.ops.K
  P q, P* q  PropagationOperator_LinearForm (stored Jacobians)       vs kpf.ops.P / Pstar
  P_dir q    PropagationOperator_DirectForm (re-simulation)          vs kpf.ops.P(direct=True)
  spectrum   Operator.svd(k, keep_dims=-1) of K (scipy eigsh of the
             trial- and time-averaged Gram)                           vs K.svd(k, keep="hidden")
once in float32 (the package as written: it casts probes with .float()) and,
for K and its spectrum, once in float64 (where the package runs unchanged
in double), so the float32 gap can be told from a real one.

Conventions bridged here, not differences: the package's K is J_θ J_θᵀ
summed over every (trial, step) row; kpf's is (dt/B) J_θ J_θᵀ (docs/
operators.md), dt = 1 for a GRU, so K_pkg = B·K_kpf and the package's
spectrum is B times kpf's.  Both start from h_0 = 0 and put the Jacobian of
step t at the state before step t.

Shims for Debian's PyTorch 1.13 (the package targets ≥ 2.0): torch.func is
functorch's jvp/vjp/vmap plus torch.nn.utils.stateless.functional_call, and
a bare `@torch.no_grad` decorator is accepted.  Nothing of the package's
arithmetic is changed.
"""
import argparse
import sys
import time
import types

import numpy as np


def shim_torch():
    import torch
    import functorch
    from torch.nn.utils import stateless
    if "torch.func" not in sys.modules:
        mod = types.ModuleType("torch.func")
        mod.jvp, mod.vjp, mod.vmap = functorch.jvp, functorch.vjp, functorch.vmap
        mod.functional_call = stateless.functional_call
        sys.modules["torch.func"] = mod
        torch.func = mod
    if not hasattr(torch, "vmap"):
        torch.vmap = functorch.vmap
    orig = torch.no_grad
    try:
        orig(lambda: None)
    except TypeError:
        def no_grad(fn=None):
            return orig()(fn) if callable(fn) else orig()
        torch.no_grad = no_grad
    return torch


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def run(args, dtype, torch, kpf, pkg):
    torch.manual_seed(args.seed)
    torch.set_default_dtype(dtype)
    cell = torch.nn.GRUCell(args.n_in, args.n)
    for p in cell.parameters():            # PyTorch's default init, scaled up so the
        p.data.mul_(args.gain)              # GRU is not trivially contracting
    rng = np.random.default_rng(args.seed)
    # Inputs and probes drawn in float32 so that the package's .float() casts
    # are exact and both sides see bit-identical data.
    x = rng.standard_normal((args.B, args.T, args.n_in)).astype(np.float32)
    q = rng.standard_normal((args.B, args.T, args.n)).astype(np.float32)
    xt = torch.from_numpy(x.astype(np.float64)).to(dtype)
    with torch.no_grad():
        h, hs = torch.zeros(args.B, args.n, dtype=dtype), []
        for t in range(args.T):
            h = cell(xt[:, t], h)
            hs.append(h)
        hidden = torch.stack(hs, 1)

    m = kpf.Model.from_torch(cell)      # float64 copy of the same weights
    tr = m.simulate(np.ascontiguousarray(x, dtype=np.float64))
    out = {"forward": rel(hidden.numpy(), tr.z)}
    Kk = kpf.ops.K(m, tr)
    scale = args.B / m.dt                # K_pkg = (B/dt)·K_kpf
    K_pkg = pkg.parameter_op.ParameterOperator(cell, xt, hidden)
    qt = torch.from_numpy(q.astype(np.float64)).to(dtype)
    out["K q"] = rel(K_pkg(qt).numpy(), scale * Kk.apply(q.astype(np.float64)))
    if dtype == torch.float32:
        Pl = pkg.propagation_op.PropagationOperator_LinearForm(cell, xt, hidden)
        Pk, Psk = kpf.ops.P(m, tr), kpf.ops.Pstar(m, tr)
        out["P q"] = rel(Pl(qt).numpy(), Pk.apply(q.astype(np.float64)))
        out["P* q"] = rel(Pl.adjoint_call(qt).numpy(), Psk.apply(q.astype(np.float64)))
        eps = 1e-2                       # direct form: nonlinear, compare at a small probe
        Pd = pkg.propagation_op.PropagationOperator_DirectForm(cell, xt, hidden)
        Pdk = kpf.ops.P(m, tr, direct=True)
        out["P_direct (eps q)"] = rel(Pd(eps * qt).numpy(), Pdk.apply(eps * q.astype(np.float64)))
    # Consensus spectrum of K over the hidden units (trial and time averaged).
    pkg.op_common.Operator.toggle_vmap(False)   # functorch's vmap over jvp is 2.x-only
    t0 = time.process_time()
    s_pkg = np.sort(np.asarray(K_pkg.svd(args.k, keep_dims=-1), dtype=np.float64))[::-1]
    cpu_pkg = time.process_time() - t0
    t0 = time.process_time()
    s_kpf = np.sort(np.asarray(Kk.svd(args.k, keep="hidden"), dtype=np.float64))[::-1]
    cpu_kpf = time.process_time() - t0
    out[f"K spectrum (top {args.k})"] = rel(s_pkg, scale * s_kpf)
    out["_cpu"] = (cpu_pkg, cpu_kpf)
    out["_s"] = (s_pkg[:3], scale * s_kpf[:3])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kpflow", required=True, help="the package's src/ folder (holds kpflow/)")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--n-in", type=int, default=3)
    ap.add_argument("--B", type=int, default=8)
    ap.add_argument("--T", type=int, default=30)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--gain", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch = shim_torch()
    torch.set_num_threads(1)
    sys.path.insert(0, args.kpflow)
    import kpflow.op_common
    import kpflow.parameter_op
    import kpflow.propagation_op
    import kpf
    print(f"GRUCell n {args.n}, n_in {args.n_in}, B {args.B}, T {args.T}, weights "
          f"{args.gain}×PyTorch default (seed {args.seed}), 1 thread, torch {torch.__version__}")
    for dtype in (torch.float32, torch.float64):
        out = run(args, dtype, torch, kpf, kpflow)
        name = str(dtype).replace("torch.", "")
        for key, v in out.items():
            if not key.startswith("_"):
                print(f"  package {name:7s} {key:22s} rel. max diff {v:.2e}")
        print(f"  package {name:7s} top σ (package, B·kpf): {out['_s'][0]} {out['_s'][1]}; "
              f"spectrum cpu: package {out['_cpu'][0]:.2f} s, kpf {out['_cpu'][1]:.2f} s")


if __name__ == "__main__":
    main()
