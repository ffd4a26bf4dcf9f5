"""The KPFlow operators through the binding, against dense numpy matrices
built from the definitions (conftest.py): P from the step Jacobians (and
from the plugin's J_z products), K = (h/B) J_θ J_θᵀ, and their products."""
import numpy as np
import pytest

import kpf
from conftest import (TOL, dense_P, from_mem, jz_JF, make_rnn, readout_dense, rel_err,
                      rnn_JF, rnn_Jtheta, to_mem)

ops = kpf.ops


@pytest.fixture(params=[("euler", 1.0), ("euler", 0.5)], ids=["dt1", "dt0.5"])
def case(request, rng):
    step, dt = request.param
    m = make_rnn(step=step, dt=dt)
    x = rng.standard_normal((2, 4, m.n_in))
    tr = m.simulate(x)
    JF = rnn_JF(m, tr)
    P = dense_P(JF)
    J = rnn_Jtheta(m, tr)
    K = (tr.dt / tr.B) * J @ J.T
    yield m, tr, P, K, J
    m.close()


def test_P_matches_the_dense_propagator(case, rng):
    m, tr, P, K, J = case
    op = ops.P(m, tr)
    assert op.in_shape == op.out_shape == (2, 4, 3)
    assert op.in_weight == pytest.approx(tr.dt / 2)
    assert rel_err(op.to_dense(order="memory"), P) < TOL
    assert rel_err(dense_P(jz_JF(m, tr)), P) < TOL
    q = rng.standard_normal((2, 4, 3))
    assert rel_err(to_mem(op.apply(q)), P @ to_mem(q)) < TOL
    assert rel_err(to_mem(op @ q), P @ to_mem(q)) < TOL


def test_Pstar_Pinv_and_products(case, rng):
    m, tr, P, K, J = case
    q = rng.standard_normal((2, 4, 3))
    v = to_mem(q)
    assert rel_err(to_mem(ops.Pstar(m, tr).apply(q)), P.T @ v) < TOL
    assert rel_err(to_mem(ops.P(m, tr).adjoint(q)), P.T @ v) < TOL
    Pinv = np.linalg.inv(P)
    assert rel_err(ops.Pinv(m, tr).to_dense(order="memory"), Pinv) < 1e-11
    assert rel_err(ops.PKPstar(m, tr).to_dense(order="memory"), P @ K @ P.T) < TOL
    assert rel_err(ops.PPstar(m, tr).to_dense(order="memory"), P @ P.T) < TOL


def test_K_is_the_dense_parameter_kernel(case, rng):
    m, tr, P, K, J = case
    op = ops.K(m, tr)
    assert op.self_adjoint
    assert rel_err(op.to_dense(order="memory"), K) < TOL
    q = rng.standard_normal((2, 4, 3))
    assert rel_err(to_mem(op.apply(q)), K @ to_mem(q)) < TOL
    # K_j keeps one block's columns; Σ_j K_j = K (readout blocks give 0)
    total = np.zeros_like(K)
    for name, off, r, c in m.block_info():
        Kj = ops.K(m, tr, block=name).to_dense(order="memory")
        Jj = J[:, off:off + r * c]
        assert rel_err(Kj, (tr.dt / tr.B) * Jj @ Jj.T) < TOL if Jj.any() else np.all(Kj == 0)
        total += Kj
    assert rel_err(total, K) < TOL


def test_hidden_ntk_is_J_dtB_Jt_through_the_unrolled_map(case):
    m, tr, P, K, J = case
    Jfull = P @ J                    # dz/dθ: no learned initial state here
    ntk = ops.NTK(m, tr).to_dense(order="memory")
    assert rel_err(ntk, (tr.dt / tr.B) * Jfull @ Jfull.T) < TOL
    assert rel_err(ntk, ops.PKPstar(m, tr).to_dense(order="memory")) < TOL
    assert np.all(ops.InitTerm(m, tr).to_dense() == 0)


def test_readout_and_output_ntk(case):
    m, tr, P, K, J = case
    Wd = readout_dense(m, tr.B, tr.T)
    w = ops.W(m, tr)
    assert w.out_shape == (2, 4, m.n_out)
    assert rel_err(w.to_dense(order="memory"), Wd) < TOL
    theta = ops.OutputNTK(m, tr).to_dense(order="memory")
    assert rel_err(theta, Wd @ P @ K @ P.T @ Wd.T) < TOL


def test_every_operator_satisfies_its_adjoint_identity(case, rng):
    m, tr, *_ = case
    for op in (ops.P(m, tr), ops.Pstar(m, tr), ops.Pinv(m, tr), ops.K(m, tr),
               ops.PKPstar(m, tr), ops.PPstar(m, tr), ops.W(m, tr), ops.U(m, tr),
               ops.Ustar(m, tr), ops.K0(m, tr), ops.OutputNTK(m, tr), ops.NTK(m, tr)):
        assert op.adjoint_test(seed=1, trials=3) < TOL, op
        u = rng.standard_normal(op.in_shape)
        v = rng.standard_normal(op.out_shape)
        lhs = op.out_weight * np.sum(op.apply(u) * v)
        rhs = op.in_weight * np.sum(u * op.adjoint(v))
        assert abs(lhs - rhs) <= TOL * (abs(lhs) + abs(rhs) + 1e-300), op


def test_direct_P_agrees_to_second_order(small, rng):
    m, tr = small
    Pl, Pd = ops.P(m, tr), ops.P(m, tr, direct=True)
    q = rng.standard_normal((2, 4, 3))
    errs = [rel_err(Pd.apply(e * q), Pl.apply(e * q)) for e in (1e-3, 1e-4)]
    assert 5 < errs[0] / errs[1] < 20
    assert np.all(Pd.apply(np.zeros((2, 4, 3))) == 0)


def test_algebra_matches_dense_algebra(small, rng):
    m, tr = small
    P, K = ops.P(m, tr), ops.K(m, tr)
    Pd, Kd = P.to_dense(), K.to_dense()
    assert rel_err((P @ K).to_dense(), Pd @ Kd) < TOL
    assert rel_err((P + K).to_dense(), Pd + Kd) < TOL
    assert rel_err((P - K).to_dense(), Pd - Kd) < TOL
    assert rel_err((2.5 * P).to_dense(), 2.5 * Pd) < TOL
    assert rel_err((P * 2.5).to_dense(), 2.5 * Pd) < TOL
    assert rel_err((-P).to_dense(), -Pd) < TOL
    assert rel_err(P.H.to_dense(), Pd.T) < TOL
    assert rel_err(P.gram().to_dense(), Pd @ Pd.T) < TOL
    assert (P @ K).adjoint_test() < TOL


def test_to_dense_orders_are_permutations(small):
    m, tr = small
    P = ops.P(m, tr)
    mem, btn = P.to_dense(order="memory"), P.to_dense()
    perm = np.arange(24).reshape(4, 2, 3).transpose(1, 0, 2).reshape(-1)
    assert np.array_equal(btn, mem[np.ix_(perm, perm)])
    q = np.random.default_rng(0).standard_normal((2, 4, 3))
    assert rel_err(P.apply(q).reshape(-1), btn @ q.reshape(-1)) < TOL


def test_restrict_to_trials(rng):
    m = make_rnn()
    tr = m.simulate(rng.standard_normal((3, 4, 2)))
    K = ops.K(m, tr)
    Kd = K.to_dense()                                     # [B, T, n] order
    idx = lambda bs: np.concatenate([np.arange(b * 12, (b + 1) * 12) for b in bs])
    R = K.restrict([2, 0], cols=[1])
    assert R.out_shape == (2, 4, 3) and R.in_shape == (1, 4, 3)
    assert R.in_weight == K.in_weight
    assert rel_err(R.to_dense(), Kd[np.ix_(idx([2, 0]), idx([1]))]) < TOL
    S = K.restrict([1, 2])
    assert S.self_adjoint and rel_err(S.to_dense(), Kd[np.ix_(idx([1, 2]), idx([1, 2]))]) < TOL


@pytest.mark.parametrize("keep,shape", [("hidden", (1, 1, 3)), ((0, 2), (2, 1, 3)),
                                        ("time", (1, 4, 1)), ((), (1, 1, 1))])
def test_average_is_broadcast_then_mean(small, rng, keep, shape):
    m, tr = small
    K = ops.K(m, tr)
    A = K.average(keep=keep)
    assert A.in_shape == A.out_shape == shape
    u = rng.standard_normal(shape)
    full = np.broadcast_to(u, (2, 4, 3)).copy()
    ref = K.apply(full)
    axes = tuple(i for i in range(3) if shape[i] == 1)
    ref = ref.mean(axis=axes, keepdims=True) if axes else ref
    assert rel_err(A.apply(u), ref) < TOL
    assert A.adjoint_test() < TOL


def test_average_names_and_errors(small):
    m, tr = small
    K = ops.K(m, tr)
    assert K.average(average="trial").in_shape == (1, 4, 3)
    assert K.average(keep=[-1]).in_shape == (1, 1, 3)
    with pytest.raises(ValueError, match="unknown axis"):
        K.average(keep="space")
    with pytest.raises(TypeError, match="exactly one"):
        K.average(keep=0, average=1)


def test_linear_operator_for_scipy(small, rng):
    sla = pytest.importorskip("scipy.sparse.linalg")
    m, tr = small
    P = ops.P(m, tr)
    L = P.aslinearoperator()
    Pd = P.to_dense()
    v = rng.standard_normal(24)
    assert L.shape == (24, 24)
    assert rel_err(L.matvec(v), Pd @ v) < TOL
    assert rel_err(L.rmatvec(v), Pd.T @ v) < TOL
    K = ops.K(m, tr)
    vals = sla.eigsh(K.aslinearoperator(), k=3, which="LA", return_eigenvectors=False)
    ref = np.linalg.eigvalsh(K.to_dense())[-3:]
    assert rel_err(np.sort(vals), ref) < 1e-10


def test_out_argument_is_written_in_place(small, rng):
    m, tr = small
    K = ops.K(m, tr)
    q = rng.standard_normal((2, 4, 3))
    out = kpf.empty_traj(2, 4, 3)
    r = K.apply(q, out=out)
    assert r is out and rel_err(out, K.apply(q)) < TOL


def test_operators_follow_a_resimulated_trajectory(small, rng):
    m, tr = small
    K = ops.K(m, tr)
    m.blocks["W_in"][...] *= 2.0
    m.theta_changed()
    q = rng.standard_normal((2, 4, 3))
    with pytest.raises(ValueError, match="resimulate"):
        K.apply(q)
    tr.resimulate()
    Kd = (tr.dt / tr.B) * rnn_Jtheta(m, tr) @ rnn_Jtheta(m, tr).T
    assert rel_err(to_mem(K.apply(q)), Kd @ to_mem(q)) < TOL


def test_gru_P_from_its_jz_products(rng):
    m = kpf.Model("gru", n_in=2, n_out=1, n=3, seed=2)
    tr = m.simulate(rng.standard_normal((2, 3, 2)))
    P = ops.P(m, tr)
    assert rel_err(P.to_dense(order="memory"), dense_P(jz_JF(m, tr))) < TOL
    assert P.adjoint_test() < TOL and ops.K(m, tr).adjoint_test() < TOL
    # Prop. 1 as an identity: the hidden NTK is P K P* (no learned z0)
    assert rel_err(ops.NTK(m, tr).to_dense(), ops.PKPstar(m, tr).to_dense()) < 1e-11


def test_from_mem_helper_round_trips():
    a = np.arange(24.0).reshape(2, 4, 3)
    assert np.array_equal(from_mem(to_mem(a), 2, 4, 3), a)


def test_fundamental_operator_and_its_adjoint(case, rng):
    """(U δz₀)_k = J_F(k)…J_F(0) δz₀; U* = dt·Uᵀ (Z₀ has weight 1/B, 𝕋 dt/B)."""
    m, tr, P, K, J = case
    JF = rnn_JF(m, tr)
    T, B, n = JF.shape[0], tr.B, m.n
    Ud = np.zeros((T * B * n, B * n))
    for b in range(B):
        M = np.eye(n)
        for k in range(T):
            M = JF[k, b] @ M
            Ud[(k * B + b) * n:(k * B + b + 1) * n, b * n:(b + 1) * n] = M
    U = ops.U(m, tr)
    assert U.in_shape == (B, 1, n) and U.in_weight == pytest.approx(1 / B)
    assert rel_err(U.to_dense(order="memory"), Ud) < TOL
    assert rel_err(ops.Ustar(m, tr).to_dense(order="memory"), tr.dt * Ud.T) < TOL
    assert np.all(ops.K0(m, tr).to_dense() == 0)          # no learned initial state
