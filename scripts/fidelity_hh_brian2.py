#!/usr/bin/env python3
"""The hh plugin against Brian2: the same Hodgkin–Huxley network, the same
weights, inputs and initial state, integrated by kpf and by Brian2 with the
same scheme and dt; prints max |ΔV| (mV) over every neuron and step.

    PYTHONPATH=build/python /usr/bin/python3 scripts/fidelity_hh_brian2.py \
        [--n 3] [--n-in 2] [--T 3000] [--seg 100] [--seed 1] [--method rk4|euler]

Needs Debian's python3-brian (Brian2) and numpy; kpf through its Python
binding (docs/python.md).  Brian2 runs with its numpy code generator, in
float64.

Why one Brian2 neuron holding all 4N variables: the network couples neurons
through W σ(V) inside the vector field.  A Brian2 Synapses summed variable
would be refreshed once per time step, not at every RK4 stage, which is a
different scheme; writing every neuron's V, m, n, h as variables of one
group keeps the coupling inside each stage, so both sides integrate exactly
the same ODE with the same classical RK4 (or Euler).

Why inputs are set per segment rather than through a TimedArray: kpf holds
x_k constant over the whole step k, including RK4's last stage at t + dt,
whereas a TimedArray sampled at t + dt would already return x_{k+1}.  The
inputs are constant over segments of --seg steps, set as parameters before
each run() of that segment, so both sides see the same piecewise-constant
drive.
"""
import argparse
import sys
import time

import numpy as np


def kpf_side(args):
    import kpf
    m = kpf.Model("hh", n_in=args.n_in, n_out=1, seed=args.seed, n=args.n,
                  step=args.method, dt=args.dt, I_app=args.I_app)
    rng = np.random.default_rng(args.seed)
    nseg = args.T // args.seg
    xs = rng.uniform(-1.0, 1.0, size=(nseg, args.n_in))      # one value per segment
    x = np.repeat(xs, args.seg, axis=0)[None, :, :].copy()   # [1, T, n_in]
    t0 = time.process_time()
    tr = m.simulate(x)
    cpu = time.process_time() - t0
    blk = m.blocks
    return dict(W=np.array(blk["W"]), W_in=np.array(blk["W_in"]), xs=xs,
                z0=np.array(tr.z0)[0], z=np.array(tr.z)[0], cpu=cpu)


def brian_side(args, ref):
    import brian2 as b2
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = args.dt * b2.ms
    N, n_in = args.n, args.n_in
    W, W_in = ref["W"], ref["W_in"]
    # Plugin defaults (hh.c's key table), I_app as given.
    C, gNa, gK, gL = 1.0, 120.0, 36.0, 0.3
    ENa, EK, EL, Vt, Kp = 50.0, -77.0, -54.387, -35.0, 10.0
    lines = []
    for i in range(N):
        syn = " + ".join(f"({W[i, j]!r})*sig{j}" for j in range(N))
        inp = " + ".join(f"({W_in[i, k]!r})*x{k}" for k in range(n_in))
        V = f"V{i}"
        lines += [
            f"dV{i}/dt = (-{gNa}*m{i}**3*h{i}*({V} - ({ENa})) - {gK}*n{i}**4*({V} - ({EK}))"
            f" - {gL}*({V} - ({EL})) + {syn} + {inp} + ({args.I_app}))/({C})/ms : 1",
            # α_m = 1/exprel(−(V+40)/10), α_n = 0.1/exprel(−(V+55)/10): the
            # same removable-singularity-free form as hh_rates.c's y/expm1(y).
            f"dm{i}/dt = (1/exprel(-({V} + 40)/10)*(1 - m{i})"
            f" - 4*exp(-({V} + 65)/18)*m{i})/ms : 1",
            f"dn{i}/dt = (0.1/exprel(-({V} + 55)/10)*(1 - n{i})"
            f" - 0.125*exp(-({V} + 65)/80)*n{i})/ms : 1",
            f"dh{i}/dt = (0.07*exp(-({V} + 65)/20)*(1 - h{i})"
            f" - 1/(1 + exp(-({V} + 35)/10))*h{i})/ms : 1",
            f"sig{i} = 1/(1 + exp(-({V} - ({Vt}))/({Kp}))) : 1",
        ]
    lines += [f"x{k} : 1" for k in range(n_in)]
    G = b2.NeuronGroup(1, "\n".join(lines), method=args.method)
    z0 = ref["z0"]                       # [V | m | n | h], N each
    for i in range(N):
        for blk, name in enumerate("Vmnh"):
            setattr(G, f"{name}{i}", z0[blk * N + i])
    mon = b2.StateMonitor(G, [f"{nm}{i}" for nm in "Vmnh" for i in range(N)],
                          record=0, when="end")   # after the step: kpf's z[k] = z_{k+1}
    net = b2.Network(G, mon)
    t0 = time.process_time()
    for s, xv in enumerate(ref["xs"]):
        for k in range(n_in):
            setattr(G, f"x{k}", xv[k])
        net.run(args.seg * b2.defaultclock.dt)
    cpu = time.process_time() - t0
    z = np.stack([np.asarray(getattr(mon, f"{nm}{i}")[0])
                  for nm in "Vmnh" for i in range(N)], axis=1)   # [T, 4N]
    return z, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--n-in", type=int, default=2)
    ap.add_argument("--T", type=int, default=3000)
    ap.add_argument("--seg", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--I-app", type=float, default=2.0)
    ap.add_argument("--method", choices=["rk4", "euler"], default="rk4")
    args = ap.parse_args()
    if args.T % args.seg:
        sys.exit("--T must be a multiple of --seg")
    import brian2
    ref = kpf_side(args)
    zb, cpu_b = brian_side(args, ref)
    zk = ref["z"]
    if zb.shape != zk.shape:
        sys.exit(f"shape mismatch: kpf {zk.shape}, Brian2 {zb.shape}")
    N = args.n
    dV = np.abs(zk[:, :N] - zb[:, :N])
    dg = np.abs(zk[:, N:] - zb[:, N:])
    V = zk[:, :N]
    spikes = int(((V[1:] >= 0) & (V[:-1] < 0)).sum())
    print(f"Brian2 {brian2.__version__}, method {args.method}, dt {args.dt} ms, "
          f"N {N}, n_in {args.n_in}, T {args.T} steps ({args.T * args.dt:g} ms), "
          f"seed {args.seed}, I_app {args.I_app}")
    print(f"V range [{V.min():.2f}, {V.max():.2f}] mV, upward 0 mV crossings {spikes}")
    print(f"max |dV| = {dV.max():.3e} mV (at step {np.unravel_index(dV.argmax(), dV.shape)[0]}), "
          f"max |d gate| = {dg.max():.3e}")
    print(f"cpu: kpf {ref['cpu']:.3f} s, Brian2 {cpu_b:.2f} s")


if __name__ == "__main__":
    main()
