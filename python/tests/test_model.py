"""Models, their θ, the plugin ops on row blocks, and simulation, against
the rnn's definition (KPFlow eq. 8) and the GRU's (PyTorch's equations)."""
import numpy as np
import pytest

import kpf
from conftest import (TOL, act, jz_JF, make_rnn, rel_err, rnn_JF, rnn_parts, rnn_simulate,
                      rnn_step)


def test_plugins_and_tasks_are_listed():
    names = {p.name for p in kpf.plugins()}
    assert {"rnn", "gru"} <= names
    rnn = next(p for p in kpf.plugins() if p.name == "rnn")
    assert rnn.path.endswith("rnn.so") and rnn.summary
    assert "flip_flop" in {t.name for t in kpf.tasks()}
    assert isinstance(kpf.plugin_problems(), list)


def test_blocks_shapes_and_theta_view(rnn):
    assert [b[0] for b in rnn.block_info()] == ["W", "W_in", "b", "W_out", "b_out"]
    blk = rnn.blocks
    assert blk["W"].shape == (3, 3) and blk["W_in"].shape == (3, 2)
    assert blk["b"].shape == (3,) and blk["W_out"].shape == (2, 3) and blk["b_out"].shape == (2,)
    assert rnn.m == 9 + 6 + 3 + 6 + 2 and rnn.m_model == 18
    assert rnn.core_readout and rnn.continuous and rnn.stepper == "euler" and rnn.dt == 1.0
    th = rnn.theta
    assert np.shares_memory(th, blk["W"])
    th[0] = 0.25                                 # a view: writes reach C
    assert rnn.blocks["W"][0, 0] == 0.25 and rnn.theta[0] == 0.25


def test_theta_setter_copies_and_checks(rnn):
    new = np.arange(rnn.m, dtype=float)
    rnn.theta = new
    assert np.array_equal(rnn.theta, new) and not np.shares_memory(rnn.theta, new)
    with pytest.raises(ValueError, match="shape"):
        rnn.theta = np.zeros(rnn.m + 1)


def test_seed_gives_the_same_theta():
    a = kpf.Model("rnn", n_in=2, n_out=1, n=4, seed=7)
    b = kpf.Model("rnn", n_in=2, n_out=1, n=4, seed=7)
    c = kpf.Model("rnn", n_in=2, n_out=1, n=4, seed=8)
    assert np.array_equal(a.theta, b.theta) and not np.array_equal(a.theta, c.theta)
    d = a.copy()
    assert np.array_equal(d.theta, a.theta) and not np.shares_memory(d.theta, a.theta)


def test_rnn_f_and_jacobians_match_the_definition(rnn, rng):
    R, n = 5, rnn.n
    z = rng.standard_normal((R, n))
    x = rng.standard_normal((R, rnn.n_in))
    W, W_in, b, W_out, b_out = rnn_parts(rnn)
    s, ds = act("tanh")
    f = -z + s(z) @ W.T + x @ W_in.T + b
    assert rel_err(rnn.f(z, x), f) < TOL
    v = rng.standard_normal((R, n))
    jz = -v + (ds(z) * v) @ W.T
    assert rel_err(rnn.jz(z, v, x), jz) < TOL
    w = rng.standard_normal((R, n))
    jzT = -w + ds(z) * (w @ W)
    assert rel_err(rnn.jzT(z, w, x), jzT) < TOL
    dth = rng.standard_normal(rnn.m)
    bl = {nm: (o, r, c) for nm, o, r, c in rnn.block_info()}
    dW = dth[bl["W"][0]:bl["W"][0] + 9].reshape(3, 3)
    dWi = dth[bl["W_in"][0]:bl["W_in"][0] + 6].reshape(3, 2)
    db = dth[bl["b"][0]:bl["b"][0] + 3]
    jth = s(z) @ dW.T + x @ dWi.T + db
    assert rel_err(rnn.jth(z, dth, x), jth) < TOL
    g = rnn.jthT(z, w, x)
    gW = w.T @ s(z)
    assert rel_err(g[bl["W"][0]:bl["W"][0] + 9], gW.reshape(-1)) < TOL
    assert rel_err(g[bl["b"][0]:bl["b"][0] + 3], w.sum(0)) < TOL
    assert np.all(g[rnn.m_model:] == 0)
    # jthT accumulates into out, as the C op does
    acc = np.ones(rnn.m)
    rnn.jthT(z, w, x, out=acc)
    assert rel_err(acc, g + 1) < TOL
    # readout: W_out z + b_out
    assert rel_err(rnn.readout(z), z @ W_out.T + b_out) < TOL


def test_gru_f_matches_pytorch_equations(rng):
    m = kpf.Model("gru", n_in=2, n_out=1, n=4, seed=1)
    blk = m.blocks
    z = rng.standard_normal((3, 4))
    x = rng.standard_normal((3, 2))
    sig = lambda a: 1 / (1 + np.exp(-a))
    gi = x @ blk["weight_ih"].T + blk["bias_ih"]
    gh = z @ blk["weight_hh"].T + blk["bias_hh"]
    r = sig(gi[:, :4] + gh[:, :4])
    u = sig(gi[:, 4:8] + gh[:, 4:8])
    c = np.tanh(gi[:, 8:] + r * gh[:, 8:])
    assert rel_err(m.f(z, x), (1 - u) * c + u * z) < TOL
    # J_z against a central difference, and its transpose exactly
    v = rng.standard_normal((3, 4))
    eps = 1e-6
    fd = (m.f(z + eps * v, x) - m.f(z - eps * v, x)) / (2 * eps)
    assert rel_err(m.jz(z, v, x), fd) < 1e-8
    w = rng.standard_normal((3, 4))
    assert abs(np.sum(m.jz(z, v, x) * w) - np.sum(v * m.jzT(z, w, x))) < TOL
    dth = rng.standard_normal(m.m)
    assert abs(np.sum(m.jth(z, dth, x) * w) - dth @ m.jthT(z, w, x)) < TOL * 10


@pytest.mark.parametrize("layout", ["step_major", "c_order"])
def test_simulate_matches_the_definition(rnn, rng, layout):
    B, T = 3, 6
    x = rng.standard_normal((B, T, rnn.n_in))
    if layout == "step_major":
        x = kpf.as_step_major(x)
        assert kpf.is_step_major(x)
    tr = rnn.simulate(x)
    z, _ = rnn_simulate(rnn, x)
    assert tr.z.shape == (B, T, 3) and kpf.is_step_major(tr.z)
    assert rel_err(tr.z, z) < TOL
    assert np.all(tr.z0 == 0) and np.array_equal(tr.x, x)
    assert np.array_equal(tr.trials, np.arange(B)) and tr.dt == 1.0
    assert np.array_equal(tr.t, np.tile(np.arange(T, dtype=float), (B, 1)))
    assert not tr.z.flags.writeable
    W_out, b_out = rnn.blocks["W_out"], rnn.blocks["b_out"]
    assert rel_err(tr.outputs(), z @ W_out.T + b_out) < TOL


def test_simulate_from_given_z0_and_trials(rnn, rng):
    x = rng.standard_normal((2, 5, rnn.n_in))
    z0 = rng.standard_normal((2, rnn.n))
    tr = rnn.simulate(x, z0=z0, trials=[1, 0])
    z, _ = rnn_simulate(rnn, x, z0)
    assert rel_err(tr.z, z) < TOL and np.array_equal(tr.z0, z0)
    assert list(tr.trials) == [1, 0]
    zero = rnn.simulate(B=2, T=3)
    assert rel_err(zero.z, rnn_simulate(rnn, np.zeros((2, 3, 2)))[0]) < TOL


@pytest.mark.parametrize("step,dt", [("euler", 0.5), ("rk4", 0.3)])
def test_continuous_steppers(rng, step, dt):
    m = make_rnn(step=step, dt=dt)
    assert m.stepper == step and m.dt == dt
    x = rng.standard_normal((2, 5, 2))
    tr = m.simulate(x)
    assert tr.dt == dt
    if step == "euler":
        assert rel_err(tr.z, rnn_simulate(m, x)[0]) < TOL
    else:
        W, W_in, b, _, _ = rnn_parts(m)
        f = lambda z, xx: -z + np.tanh(z) @ W.T + xx @ W_in.T + b
        z = np.zeros((2, 3))
        for k in range(5):
            k1 = f(z, x[:, k])
            k2 = f(z + dt / 2 * k1, x[:, k])
            k3 = f(z + dt / 2 * k2, x[:, k])
            k4 = f(z + dt * k3, x[:, k])
            z = z + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            assert rel_err(tr.z[:, k], z) < 1e-11


def test_step_jacobians_from_jz_match_the_definition(small):
    m, tr = small
    assert rel_err(jz_JF(m, tr), rnn_JF(m, tr)) < TOL


def test_resimulate_follows_theta(small):
    m, tr = small
    m.blocks["W"][...] *= 0.5
    m.theta_changed()
    with pytest.raises(ValueError, match="resimulate"):
        tr.outputs()
    tr.resimulate()
    assert rel_err(tr.z, rnn_simulate(m, np.asarray(tr.x))[0]) < TOL


def test_params_h5_round_trip(rnn, tmp_path):
    p = tmp_path / "theta.h5"
    rnn.save_params(p)
    other = make_rnn(seed=99)
    assert not np.array_equal(other.theta, rnn.theta)
    other.load_params(p)
    assert np.array_equal(other.theta, rnn.theta)
    with pytest.raises(kpf.Error) as e:
        rnn.save_params(p)                     # never overwritten
    assert e.value.code == kpf.EIO


def test_step_by_step_matches_simulation(rnn, rng):
    x = rng.standard_normal((2, 3, 2))
    tr = rnn.simulate(x)
    z = np.zeros((2, 3))
    for k in range(3):
        z = rnn_step(rnn, z, x[:, k])
        assert rel_err(tr.z[:, k], z) < TOL
