"""Spectra, scalar measures and Lyapunov exponents through the binding,
against numpy on the dense operators and on products of step Jacobians."""
import numpy as np
import pytest

import kpf
from conftest import TOL, make_rnn, rel_err, rnn_JF, to_mem

ops = kpf.ops


@pytest.fixture
def sk(rng):
    m = make_rnn(n=3)
    tr = m.simulate(rng.standard_normal((2, 4, 2)))
    yield m, tr
    m.close()


def _wnorm(v, w):
    return np.sqrt(w * np.sum(v * v))


def test_eigsh_arpack_and_dense_against_numpy(sk):
    m, tr = sk
    K = ops.K(m, tr)
    ref = np.linalg.eigvalsh(K.to_dense())[::-1]
    vals, vecs, info = K.eigsh(4, return_info=True)
    assert rel_err(vals, ref[:4]) < TOL and info["n_apply"] > 0
    assert vecs.shape == (4, 2, 4, 3) and kpf.is_step_major(vecs[0])
    for lam, v in zip(vals, vecs):
        assert abs(_wnorm(v, K.in_weight) - 1) < TOL
        assert rel_err(K.apply(v), lam * v) < 1e-10
        assert v.reshape(-1)[np.argmax(np.abs(v))] > 0
    dvals, dvecs = K.eigsh(24, dense=True)
    assert rel_err(dvals, ref) < TOL
    # (K of the rnn is I_n ⊗ a Gram matrix: eigenspaces of dimension n, so
    # vectors are compared through the eigen-equation, not entry by entry.)
    assert rel_err(K.apply(dvecs[5]), dvals[5] * dvecs[5]) < 1e-10
    lm = kpf.spectral.eigsh(ops.P(m, tr).gram() - 2.0 * K, 2, which="LM", vectors=False)[0]
    d = np.linalg.eigvalsh((ops.P(m, tr).gram() - 2.0 * K).to_dense())
    assert rel_err(lm, d[np.argsort(-np.abs(d))][:2]) < 1e-11


def test_svds_against_numpy(sk):
    m, tr = sk
    P = ops.P(m, tr)
    ref = np.linalg.svd(P.to_dense(), compute_uv=False)
    s, U, V = P.svds(3)
    assert rel_err(s, ref[:3]) < TOL
    for i in range(3):
        assert rel_err(P.apply(V[i]), s[i] * U[i]) < 1e-10
    s2, _, _ = P.svds(24, dense=True)
    assert rel_err(s2, ref) < TOL
    W = ops.W(m, tr)                                  # between different spaces
    assert rel_err(W.svds(2, vectors=False)[0],
                   np.linalg.svd(W.to_dense(), compute_uv=False)[:2]) < TOL


def test_consensus_svd_is_kpflows_keep_dims(sk):
    """gram=True: σ = √eig(⟨A A*⟩) with ⟨·⟩ = E* · E (KPFlow's
    Operator.svd(keep_dims)); gram=False: the SVD of ⟨A⟩."""
    m, tr = sk
    P = ops.P(m, tr)
    B, T, n = P.in_shape
    Pd = P.to_dense()                                 # [B, T, n] C order
    S = np.tile(np.eye(n), (B * T, 1))                # broadcast along trials, time
    G = S.T @ Pd @ Pd.T @ S / (B * T)
    ref = np.sqrt(np.linalg.eigvalsh(G)[::-1])
    s = P.svd(2, keep="hidden")
    assert rel_err(s, ref[:2]) < TOL
    s, U = P.svd(2, keep=2, vectors=True)
    assert U.shape == (2, 1, 1, 3)
    avg = S.T @ Pd @ S / (B * T)
    ref2 = np.linalg.svd(avg, compute_uv=False)
    assert rel_err(P.svd(2, keep="hidden", gram=False), ref2[:2]) < TOL
    assert not np.allclose(P.svd(2, keep="hidden"), P.svd(2, keep="hidden", gram=False))
    full = P.svd(3, keep=(0, 1, 2))                    # nothing averaged: plain svds
    assert rel_err(full, np.linalg.svd(Pd, compute_uv=False)[:3]) < TOL


def test_rayleigh_trace_alignment(sk, rng):
    m, tr = sk
    K, P = ops.K(m, tr), ops.P(m, tr)
    q = rng.standard_normal(K.in_shape)
    assert rel_err(K.rayleigh(q), np.sum(K.apply(q) * q) / np.sum(q * q)) < TOL
    assert rel_err(K.trace(n_apply=72), np.trace(K.to_dense())) < TOL
    A, Bd = P.gram().to_dense(), K.to_dense()
    cos = np.trace(A.T @ Bd) / np.sqrt(np.trace(A.T @ A) * np.trace(Bd.T @ Bd))
    assert rel_err(kpf.alignment(P.gram(), K, n_probe=24), cos) < TOL
    assert abs(K.alignment(K, n_probe=24) - 1) < TOL


def test_effrank_and_explained_variance():
    assert kpf.effrank(np.array([1.0, 1, 1, 1, 0, 0])) == pytest.approx(3.8, abs=TOL)
    assert kpf.effrank(np.array([2.0, 1.0])) == pytest.approx(1.75, abs=TOL)
    assert kpf.effrank(np.array([2.0, 1.0]), thresh=0.5) == pytest.approx(0.625, abs=TOL)
    sv = np.array([3.0, 2.0, 1.0, 0.5])
    cum = kpf.explained_variance(sv)
    assert rel_err(cum, np.cumsum(sv ** 2) / np.sum(sv ** 2)) < TOL
    assert rel_err(kpf.explained_variance(sv, total_var=20.0), np.cumsum(sv ** 2) / 20) < TOL
    with pytest.raises(kpf.Error):
        kpf.effrank(sv, total_var=1000.0)            # cannot reach 95 %


def _phi(JF, b, k0, k1):
    M = np.eye(JF.shape[-1])
    for k in range(k0, k1):
        M = JF[k, b] @ M
    return M


def test_lyapunov_ftle_and_consensus_against_jacobian_products(rng):
    m = make_rnn(n=4, g=1.6)
    tr = m.simulate(rng.standard_normal((2, 12, 2)))
    JF = rnn_JF(m, tr)
    # A short window keeps σ_1/σ_n moderate, where numpy's SVD of the formed
    # product (absolute accuracy ε·σ_1) is itself good to 1e-12.
    ft = kpf.lyapunov.ftle(tr, 2, 5)
    for b in range(2):
        sv = np.linalg.svd(_phi(JF, b, 2, 5), compute_uv=False)
        assert rel_err(ft[b], np.log(sv) / (tr.dt * 3)) < 1e-12
    G = sum(_phi(JF, b, 1, 4) @ _phi(JF, b, 1, 4).T for b in range(2)) / 2
    ref = np.log(np.linalg.eigvalsh(G)[::-1]) / (2 * tr.dt * 3)
    assert rel_err(kpf.lyapunov.consensus(tr, 1, 4), ref) < 1e-12


def test_lyapunov_qr_sum_is_the_volume_growth(rng):
    """Σ_i λ_i over all n exponents = Σ_k log|det J_F(k)| / time, whatever
    the seeded initial frame."""
    m = make_rnn(n=4, g=1.6)
    tr = m.simulate(rng.standard_normal((2, 30, 2)))
    lam, diag = kpf.lyapunov.spectrum(tr, k=4, return_diag=True)
    assert lam.shape == (2, 4) and diag["n_qr"] > 0 and not diag["ill_conditioned"]
    JF = rnn_JF(m, tr)
    for b in range(2):
        vol = sum(np.log(abs(np.linalg.det(JF[k, b]))) for k in range(30)) / diag["time"]
        assert abs(lam[b].sum() - vol) < 1e-12 * max(1, abs(vol))
    dns = kpf.lyapunov.largest_dns(tr, t_ons=1)
    assert dns.shape == (2,) and np.all(np.isfinite(dns))


def test_kaplan_yorke():
    lam = np.array([0.5, 0.1, -0.3, -1.0])
    # j = 3 (0.5 + 0.1 − 0.3 ≥ 0), D = 3 + 0.3 / 1.0
    assert kpf.lyapunov.kaplan_yorke(lam) == pytest.approx(3.3, abs=TOL)
    assert kpf.lyapunov.kaplan_yorke(np.array([-0.1, -0.2])) == 0.0
    assert kpf.lyapunov.kaplan_yorke(np.array([0.2, 0.1])) == 2.0


def test_spectral_errors_are_kpf_errors(sk):
    m, tr = sk
    K = ops.K(m, tr)
    with pytest.raises(kpf.Error) as e:
        K.eigsh(24)                                   # ARPACK needs k < dim
    assert e.value.code == kpf.EINVAL and "k" in e.value.message
    with pytest.raises(ValueError, match="k must be"):
        K.eigsh(0)
    with pytest.raises(TypeError, match="Operator"):
        kpf.spectral.eigsh(np.eye(3), 1)
    with pytest.raises(ValueError, match="which"):
        K.eigsh(2, which="SM")


def test_rayleigh_of_memory_vector(sk, rng):
    m, tr = sk
    K = ops.K(m, tr)
    q = rng.standard_normal(K.in_shape)
    Kd = K.to_dense(order="memory")
    v = to_mem(q)
    assert rel_err(K.rayleigh(q), v @ Kd @ v / (v @ v)) < TOL


def test_lyapunov_of_a_linear_map_with_known_rates():
    """z' = W z + W_in x with W = diag(1.2, 0.5, 0.3): every method must find
    log 1.2 (and QR the whole spectrum) once the frame has aligned."""
    m = make_rnn(n=3, activation="linear")
    m.blocks["W"][...] = np.diag([1.2, 0.5, 0.3])
    m.theta_changed()
    tr = m.simulate(B=2, T=120)
    exact = np.log([1.2, 0.5, 0.3])
    lam = kpf.lyapunov.spectrum(tr, k=3, start=0, transient=60, t_ons=5)
    assert np.max(np.abs(lam - exact)) < 1e-9
    dns = kpf.lyapunov.largest_dns(tr, start=0, transient=60, t_ons=5)
    assert np.max(np.abs(dns - exact[0])) < 1e-6
    ft = kpf.lyapunov.ftle(tr, 10, 40)
    assert np.max(np.abs(ft - exact)) < 1e-12
