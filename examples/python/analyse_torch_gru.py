#!/usr/bin/env python3
"""analyse_torch_gru.py — train a GRU in PyTorch on a kpf task, hand it to
kpf, and look at its learning operators.

    PYTHONPATH=build/python python3 examples/python/analyse_torch_gru.py \
        [--out DIR] [--iterations 300] [--hidden 32] [--seed 0]

1. Draws flip-flop trials from kpf's task generator and trains an nn.GRU
   with an nn.Linear readout in PyTorch (float64, Adam, masked MSE — the
   loss kpf uses).
2. Maps the trained module onto kpf's gru plugin (kpf.Model.from_torch) and
   checks that both compute the same loss on an evaluation batch.
3. Simulates the evaluation batch in kpf and builds the parameter operator
   K and the propagator P along it; prints their consensus spectra over the
   hidden axis (KPFlow's Operator.svd(keep_dims=hidden)) with effective
   ranks, and the PCA of the hidden states.
4. Writes DIR/spectra.txt, and DIR/spectra.png and DIR/pca.png when
   matplotlib is installed.

Without PyTorch it says so and exits 0.  About 10–20 s on two cores.
"""
import argparse
import os
import sys
import time

import numpy as np

try:
    import torch
except ImportError:
    print("analyse_torch_gru.py: PyTorch is not installed (Debian: python3-torch); skipping")
    sys.exit(0)

import kpf


def to_torch(a):
    """[B, T, d] (kpf) → [T, B, d] tensor (PyTorch's seq-first layout)."""
    return torch.from_numpy(np.ascontiguousarray(np.swapaxes(a, 0, 1)))


def mask_torch(mask):
    """[B, T] (kpf) → [T, B] tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(mask).T))


def masked_mse(y, target, mask):
    return (mask[..., None] * (y - target) ** 2).sum() / (y.shape[-1] * mask.sum())


def train(task, hidden, iterations, seed):
    torch.manual_seed(seed)
    gru = torch.nn.GRU(task.n_in, hidden)
    lin = torch.nn.Linear(hidden, task.n_out)
    opt = torch.optim.Adam(list(gru.parameters()) + list(lin.parameters()), lr=1e-2)
    for it in range(iterations):
        b = task.batch(32, seed=seed * 1_000_003 + it + 1)
        out, _ = gru(to_torch(b.x))
        loss = masked_mse(lin(out), to_torch(b.y), mask_torch(b.mask))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 100 == 0 or it == iterations - 1:
            print(f"  iteration {it:4d}  train loss {loss.item():.4f}")
    return gru, lin


def consensus_spectrum(op, n):
    """All n consensus singular values of op over the hidden axis, KPFlow's
    Operator.svd(keep_dims=hidden): √eig of the averaged Gram operator
    ⟨A A*⟩, which is only n × n, so the dense solver gets every value
    (op.svd(k, keep="hidden") gives the top k matrix-free)."""
    lam = op.gram().average(keep="hidden").eigsh(n, dense=True, vectors=False)[0]
    return np.sqrt(np.clip(lam, 0.0, None))


def pca(z):
    """Explained variance ratios and the first two PCs of states [B, T, n]."""
    Z = np.asarray(z).reshape(-1, z.shape[-1])
    Z = Z - Z.mean(axis=0)
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    return s ** 2 / np.sum(s ** 2), (Z @ vt[:2].T).reshape(z.shape[0], z.shape[1], 2)


def plot(out, spectra, var, pcs):
    try:
        import matplotlib
        matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (Debian: python3-matplotlib): no plots")
        return
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, s in spectra.items():
        i = np.arange(1, len(s) + 1)
        ax[0].semilogy(i, s / s[0], "o-", label=name)
        ax[1].plot(i, kpf.explained_variance(s), "o-", label=name)
    ax[0].set(xlabel="component", ylabel="σ / σ₁", title="consensus spectra (keep hidden)")
    ax[1].set(xlabel="component", ylabel="explained variance", ylim=(0, 1.02))
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "spectra.png"), dpi=120)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for b in range(pcs.shape[0]):
        ax.plot(pcs[b, :, 0], pcs[b, :, 1], lw=0.8, color=plt.cm.viridis(b / pcs.shape[0]))
    ax.set(xlabel=f"PC1 ({var[0]:.0%})", ylabel=f"PC2 ({var[1]:.0%})", title="hidden states")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "pca.png"), dpi=120)
    print(f"plots: {out}/spectra.png, {out}/pca.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/analyse_torch_gru")
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    t0 = time.time()

    task = kpf.Task("flip_flop", T=60)
    print(f"training an nn.GRU({task.n_in}, {a.hidden}) on {task.name} in PyTorch")
    gru, lin = train(task, a.hidden, a.iterations, a.seed)

    model = kpf.Model.from_torch(gru, readout=lin)
    ev = task.batch(16, seed=10_000 + a.seed, noise=False)
    with torch.no_grad():
        out, _ = gru(to_torch(ev.x))
        torch_loss = masked_mse(lin(out), to_torch(ev.y), mask_torch(ev.mask))
    kpf_loss = model.loss(ev)
    print(f"evaluation loss: PyTorch {torch_loss.item():.10f}, kpf {kpf_loss:.10f}")

    traj = model.simulate(ev.x)
    K, P = kpf.ops.K(model, traj), kpf.ops.P(model, traj)
    sK, sP = consensus_spectrum(K, model.n), consensus_spectrum(P, model.n)
    top = K.svd(5, keep="hidden")          # matrix-free (ARPACK), the top 5 only
    assert np.allclose(top, sK[:5], rtol=1e-8), (top, sK[:5])
    rK, rP = kpf.effrank(sK, 0.95), kpf.effrank(sP, 0.95)
    var, pcs = pca(traj.z)
    print(f"K: top σ {np.array2string(sK[:5], precision=3)}  effective rank {rK:.2f}")
    print(f"P: top σ {np.array2string(sP[:5], precision=3)}  effective rank {rP:.2f}")
    print(f"PCA of the hidden states: first 3 components explain "
          f"{np.array2string(np.cumsum(var[:3]), precision=3)}")
    with open(os.path.join(a.out, "spectra.txt"), "w") as f:
        f.write("# component sigma_K sigma_P (consensus spectra, keep hidden)\n")
        for i, (x, y) in enumerate(zip(sK, sP)):
            f.write(f"{i + 1} {x:.12g} {y:.12g}\n")
        f.write(f"# effective rank K {rK:.6f} P {rP:.6f}\n")
    plot(a.out, {"K": sK, "P": sP}, var, pcs)
    print(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
