"""Tasks, batches, the loss and its adjoint gradient, and the optimisers."""
import numpy as np
import pytest

import kpf
from conftest import TOL, dense_P, make_rnn, readout_dense, rel_err, rnn_JF, rnn_Jtheta, to_mem


@pytest.fixture
def task():
    t = kpf.Task("flip_flop", T=12)
    yield t
    t.close()


def test_task_dimensions_and_batches(task):
    assert (task.n_in, task.n_out, task.T) == (3, 3, 12)
    b = task.batch(5, seed=3)
    assert (b.B, b.T, b.n_in, b.n_out) == (5, 12, 3, 3)
    assert b.x.shape == (5, 12, 3) and b.y.shape == (5, 12, 3) and b.mask.shape == (5, 12)
    assert b.period.shape == (5, 12) and b.cond.shape == (5,)
    assert np.array_equal(b.trials, np.arange(5))
    assert kpf.is_step_major(b.x)
    same, other = task.batch(5, seed=3), task.batch(5, seed=4)
    assert np.array_equal(same.x, b.x) and not np.array_equal(other.x, b.x)
    assert set(np.unique(b.mask)) <= {0.0, 1.0}


def test_task_keys_are_checked():
    with pytest.raises(kpf.Error) as e:
        kpf.Task("flip_flop", bitz=3)
    assert e.value.code == kpf.ECONFIG and "task.bitz" in e.value.message
    with pytest.raises(kpf.Error) as e:
        kpf.Task("no_such_task")
    assert "no_such_task" in str(e.value)


def _reference_loss_grad(m, batch):
    """L and ∇θL from the definitions: y = W_out z + b_out, the masked MSE,
    dz/dθ = P J_θ (no learned initial state)."""
    tr = m.simulate(np.asarray(batch.x))
    z = np.asarray(tr.z)
    W_out, b_out = m.blocks["W_out"], m.blocks["b_out"]
    y = z @ W_out.T + b_out
    mask = np.asarray(batch.mask)[..., None]
    denom = m.n_out * mask.sum()
    L = np.sum(mask * (y - batch.y) ** 2) / denom
    dy = 2 * mask * (y - batch.y) / denom                        # [B, T, n_out]
    Jz = dense_P(rnn_JF(m, tr)) @ rnn_Jtheta(m, tr)              # dz/dθ, memory order
    g = Jz.T @ (readout_dense(m, tr.B, tr.T).T @ to_mem(dy))
    info = {nm: (o, r, c) for nm, o, r, c in m.block_info()}
    o = info["W_out"][0]
    g[o:o + W_out.size] += np.einsum("bti,btj->ij", dy, z).reshape(-1)
    o = info["b_out"][0]
    g[o:o + b_out.size] += dy.sum(axis=(0, 1))
    return L, g


def test_loss_and_gradient_match_the_definition(task):
    m = make_rnn(n=4, n_in=3, n_out=3)
    batch = task.batch(3, seed=1)
    L, g = m.loss_grad(batch)
    Lr, gr = _reference_loss_grad(m, batch)
    assert abs(L - Lr) < TOL * Lr and rel_err(g, gr) < TOL
    assert abs(m.loss(batch) - L) < TOL * L
    assert rel_err(m.loss_grad(batch, window=batch.T)[1], g) < TOL
    gw = m.loss_grad(batch, window=3)[1]
    assert not np.allclose(gw, g)                     # truncation changes it


def test_gradient_against_central_differences(task, rng):
    m = make_rnn(n=4, n_in=3, n_out=3)
    batch = task.batch(2, seed=2)
    _, g = m.loss_grad(batch)
    th = m.theta.copy()
    for _ in range(3):
        d = rng.standard_normal(m.m)
        eps = 1e-6
        m.theta = th + eps * d
        lp = m.loss(batch)
        m.theta = th - eps * d
        lm = m.loss(batch)
        assert abs((lp - lm) / (2 * eps) - g @ d) < 1e-7 * max(1, abs(g @ d))
    m.theta = th


def test_batch_from_arrays_equals_the_task_batch(task):
    m = make_rnn(n=4, n_in=3, n_out=3)
    tb = task.batch(3, seed=5)
    own = kpf.Batch.from_arrays(np.array(tb.x), np.array(tb.y), np.array(tb.mask))
    assert own.x.shape == (3, 12, 3)
    L1, g1 = m.loss_grad(tb)
    L2, g2 = m.loss_grad(own)
    assert L1 == L2 and np.array_equal(g1, g2)
    ones = kpf.Batch.from_arrays(np.array(tb.x), np.array(tb.y))
    assert np.all(ones.mask == 1)
    with pytest.raises(ValueError, match="n_in"):
        make_rnn(n=4, n_in=2, n_out=3).loss_grad(own)


def test_sgd_adam_clip_and_block_mask(task):
    m = make_rnn(n=4, n_in=3, n_out=3)
    batch = task.batch(3, seed=1)
    th0 = m.theta.copy()
    _, g = m.loss_grad(batch)
    sgd = kpf.Optimizer(m, "sgd", lr=0.1)
    sgd.step(g)
    assert rel_err(m.theta, th0 - 0.1 * g) < TOL and sgd.steps == 1
    assert sgd.last_norm == pytest.approx(np.linalg.norm(g), rel=TOL)

    m.theta = th0
    adam = kpf.Optimizer(m, "adam", lr=0.01, eps=1e-8)
    adam.step(g)
    assert rel_err(m.theta, th0 - 0.01 * g / (np.abs(g) + 1e-8)) < 1e-12

    m.theta = th0
    clipped = kpf.Optimizer(m, "sgd", lr=1.0, clip=0.5)
    g_in = g.copy()
    clipped.step(g)
    assert np.array_equal(g, g_in)                    # the caller's grad is not touched
    assert rel_err(m.theta, th0 - g * 0.5 / np.linalg.norm(g)) < TOL

    m.theta = th0
    only_w = kpf.Optimizer(m, "sgd", lr=0.1, blocks=["W"])
    only_w.step(g)
    d = m.theta - th0
    o = dict((nm, (off, r * c)) for nm, off, r, c in m.block_info())
    w0, wn = o["W"]
    assert np.count_nonzero(d[:w0]) == 0 and np.count_nonzero(d[w0 + wn:]) == 0
    assert rel_err(d[w0:w0 + wn], -0.1 * g[w0:w0 + wn]) < TOL
    with pytest.raises(ValueError, match="unknown θ block"):
        kpf.Optimizer(m, "sgd", blocks=["V"])
    with pytest.raises(ValueError, match="sgd"):
        kpf.Optimizer(m, "lbfgs")


def test_training_steps_reduce_the_loss(task):
    m = kpf.Model("rnn", n_in=3, n_out=3, n=16, seed=0)
    batch = task.batch(16, seed=0)
    opt = kpf.Optimizer(m, "adam", lr=0.02)
    losses = [kpf.train_step(m, batch, opt) for _ in range(30)]
    assert losses[-1] < 0.7 * losses[0]
    assert opt.steps == 30
