"""Shared fixtures and numpy references built from the papers' definitions.

The references index trajectory-space matrices in kpf's memory order: row
r = (k·B + b)·n + i for trial b, step k, unit i (compare with
op.to_dense(order="memory")).  For the rnn plugin with an Euler step h
(KPFlow eq. 8, z' = z + h(−z + W σ(z) + W_in x + b)):

    J_F(k)  = (1 − h) I + h W diag σ'(z_k)             (z_k: state before step k)
    J_{F,θ} = h [σ(z_k)ᵀ ⊗ I | x_kᵀ ⊗ I | I]           (blocks W, W_in, b)
    P       block lower-triangular per trial, P[k, j] = J_F(k)…J_F(j+1)
    K       = (h/B) J_θ J_θᵀ                               (𝕋's weight h/B)
"""
import os
import shutil
import sys

import numpy as np
import pytest

import kpf

TOL = 1e-12


def rel_err(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def make_rnn(n=3, n_in=2, n_out=2, dt=None, step=None, activation="tanh", seed=3, g=1.3):
    keys = dict(n=n, g=g, activation=activation, bias=True)
    if dt is not None:
        keys["dt"] = dt
    if step is not None:
        keys["step"] = step
    m = kpf.Model("rnn", n_in=n_in, n_out=n_out, seed=seed, **keys)
    # A non-zero bias and readout bias, so every block matters.
    r = np.random.default_rng(seed)
    m.blocks["b"][...] = 0.3 * r.standard_normal(n)
    m.blocks["b_out"][...] = 0.2 * r.standard_normal(n_out)
    m.theta_changed()
    return m


@pytest.fixture
def rnn():
    m = make_rnn()
    yield m
    m.close()


@pytest.fixture
def small(rnn, rng):
    """(model, trajectory) of the rnn: B = 2, T = 4, n = 3."""
    x = rng.standard_normal((2, 4, rnn.n_in))
    tr = rnn.simulate(x)
    return rnn, tr


# ---- the rnn from its definition ------------------------------------------------

def act(name):
    if name == "tanh":
        return np.tanh, lambda z: 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)
    return lambda z: z, lambda z: np.ones_like(z)


def rnn_parts(m):
    b = m.blocks
    return (b["W"].copy(), b["W_in"].copy(), b["b"].copy() if "b" in b else np.zeros(m.n),
            b["W_out"].copy(), b["b_out"].copy())


def rnn_step(m, z, x, activation="tanh"):
    W, W_in, b, _, _ = rnn_parts(m)
    s, _ = act(activation)
    h = m.dt
    return z + h * (-z + s(z) @ W.T + x @ W_in.T + b)


def rnn_simulate(m, x_btn, z0=None, activation="tanh"):
    """States z_1 … z_T as [B, T, n] and the states before each step."""
    B, T, _ = x_btn.shape
    z = np.zeros((B, m.n)) if z0 is None else z0.copy()
    out, before = np.empty((B, T, m.n)), np.empty((B, T, m.n))
    for k in range(T):
        before[:, k] = z
        z = rnn_step(m, z, x_btn[:, k], activation)
        out[:, k] = z
    return out, before


def state_before(tr):
    """[T, B, n]: the state each step starts from (z0, z_1, …)."""
    z = np.asarray(tr.z).transpose(1, 0, 2)
    return np.concatenate([np.asarray(tr.z0)[None], z[:-1]], axis=0)


def rnn_JF(m, tr, activation="tanh"):
    """J_F(k, b) [T, B, n, n] from the definition."""
    W = m.blocks["W"]
    _, ds = act(activation)
    zb = state_before(tr)
    h = m.dt
    I = np.eye(m.n)
    return (1 - h) * I + h * W[None, None] * ds(zb)[:, :, None, :]


def jz_JF(m, tr):
    """J_F(k, b) [T, B, n, n] from the plugin's J_z products (model.jz on
    the basis vectors), for a discrete map or an Euler step."""
    zb = state_before(tr)
    x = np.asarray(tr.x).transpose(1, 0, 2)
    T, B, n = zb.shape
    J = np.empty((T, B, n, n))
    for k in range(T):
        for b in range(B):
            Z = np.ascontiguousarray(np.repeat(zb[k, b][None], n, 0))
            X = np.ascontiguousarray(np.repeat(x[k, b][None], n, 0))
            cols = m.jz(Z, np.eye(n), x=X, trial=np.full(n, b), t=k * m.dt)
            J[k, b] = cols.T  # row j of cols is J e_j
    if m.continuous:
        J = np.eye(n) + m.dt * J
    return J


def dense_P(JF):
    """P in memory order from per-step Jacobians [T, B, n, n]."""
    T, B, n, _ = JF.shape
    P = np.zeros((T * B * n, T * B * n))
    for b in range(B):
        for j in range(T):
            M = np.eye(n)
            for k in range(j, T):
                if k > j:
                    M = JF[k, b] @ M
                r, c = (k * B + b) * n, (j * B + b) * n
                P[r:r + n, c:c + n] = M
    return P


def rnn_Jtheta(m, tr, activation="tanh"):
    """J_{F,θ} [T·B·n, m] in memory order (readout columns zero)."""
    s, _ = act(activation)
    zb = state_before(tr)
    x = np.asarray(tr.x).transpose(1, 0, 2)
    T, B, n = zb.shape
    info = {name: (off, r, c) for name, off, r, c in m.block_info()}
    J = np.zeros((T * B * n, m.m))
    h = m.dt
    for k in range(T):
        for b in range(B):
            r0 = (k * B + b) * n
            for i in range(n):
                off = info["W"][0]
                J[r0 + i, off + i * n: off + (i + 1) * n] = h * s(zb[k, b])
                off = info["W_in"][0]
                J[r0 + i, off + i * m.n_in: off + (i + 1) * m.n_in] = h * x[k, b]
                if "b" in info:
                    J[r0 + i, info["b"][0] + i] = h
    return J


def readout_dense(m, B, T):
    """W: 𝕋 → Y as a matrix in memory order (I_{T·B} ⊗ W_out)."""
    return np.kron(np.eye(T * B), m.blocks["W_out"])


def to_mem(a_btn):
    """[B, T, n] → memory-order vector."""
    return np.asarray(a_btn).transpose(1, 0, 2).reshape(-1)


def from_mem(v, B, T, n):
    return v.reshape(T, B, n).transpose(1, 0, 2)


def kpf_command():
    from kpf import _config
    p = _config.kpf_command()
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


@pytest.fixture
def need_cli():
    p = kpf_command()
    if not p:
        pytest.skip("the kpf command is not built (build the kpf_cli target)")
    return p


def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch not installed (Debian: python3-torch)")


def python_exe():
    return sys.executable or shutil.which("python3")
