"""Bad input raises kpf.Error, TypeError or ValueError with a clear message
and never crashes the interpreter; objects free their C resources on
close(), in `with` blocks and at garbage collection, and stay safe after."""
import gc
import threading
import weakref

import numpy as np
import pytest

import kpf
from conftest import TOL, make_rnn, rel_err

ops = kpf.ops


# ---- library errors ------------------------------------------------------------

def test_unknown_plugin_is_a_plugin_error():
    with pytest.raises(kpf.Error) as e:
        kpf.Model("no_such_plugin", n_in=1, n_out=1)
    assert e.value.code == kpf.EPLUGIN
    assert "no plugin named 'no_such_plugin'" in e.value.message
    assert e.value.status == kpf.status_string(kpf.EPLUGIN)


def test_bad_model_keys_are_located_config_errors():
    with pytest.raises(kpf.Error) as e:
        kpf.Model("rnn", n_in=1, n_out=1, n=4, gg=2.0)
    assert e.value.code == kpf.ECONFIG
    assert "model.gg" in e.value.message and "kpf.Model('rnn')" in e.value.message
    with pytest.raises(kpf.Error) as e:
        kpf.Model("rnn", n_in=1, n_out=1, n=4, g="abc")
    assert e.value.code == kpf.ECONFIG
    assert "model.g" in e.value.message and "abc" in e.value.message
    # the message is located: "name:LINE:COL: model.g: …" with the dict's key line
    assert e.value.message.startswith("kpf.Model('rnn'):3:")
    with pytest.raises(kpf.Error, match="discrete map"):
        kpf.Model("gru", n_in=1, n_out=1, n=4, dt=0.5)


def test_bad_python_arguments():
    with pytest.raises(TypeError, match="n_in"):
        kpf.Model("rnn", n_in=-1, n_out=1)
    with pytest.raises(TypeError, match="n_in"):
        kpf.Model("rnn", n_in=1.5, n_out=1)
    with pytest.raises(TypeError):
        kpf.Model("rnn", n_out=1)                      # n_in is required
    with pytest.raises(TypeError, match="plugin"):
        kpf.Model(3, n_in=1, n_out=1)
    with pytest.raises(TypeError, match="cannot write"):
        kpf.Model("rnn", n_in=1, n_out=1, n=object())


def test_unknown_block_and_out_of_range_trials(small):
    m, tr = small
    with pytest.raises(kpf.Error) as e:
        ops.K(m, tr, block="V")
    assert e.value.code == kpf.EINVAL and "V" in e.value.message
    K = ops.K(m, tr)
    with pytest.raises(ValueError, match="< 2"):
        K.restrict([0, 5])
    with pytest.raises(ValueError, match="≥ 0"):
        K.restrict([-1])
    with pytest.raises(TypeError, match="integers"):
        K.restrict([0.5])


def test_large_dense_requests_are_refused(rng):
    m = make_rnn(n=3)
    tr = m.simulate(rng.standard_normal((2, 4, 2)))
    with pytest.raises(ValueError, match="max_entries = 10"):
        ops.K(m, tr).to_dense(max_entries=10)           # refused before allocating
    big = kpf.Model("rnn", n_in=2, n_out=1, n=64)
    tb = big.simulate(rng.standard_normal((8, 64, 2)))
    with pytest.raises(kpf.Error) as e:
        ops.NTK(big, tb)
    assert e.value.code in (kpf.EINVAL, kpf.ENOMEM)


# ---- array arguments --------------------------------------------------------------

def test_wrong_dtype_shape_and_layout(small, rng):
    m, tr = small
    K = ops.K(m, tr)
    q = rng.standard_normal((2, 4, 3))
    with pytest.raises(TypeError, match="float64"):
        K.apply(q.astype(np.float32))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        K.apply(q.tolist())
    with pytest.raises(TypeError, match="float64"):
        K.apply(q.astype(np.int64))
    with pytest.raises(ValueError, match=r"shape \(2, 4, 2\)"):
        K.apply(q[:, :, :2].copy())
    with pytest.raises(ValueError, match="not contiguous"):
        K.apply(rng.standard_normal((2, 8, 3))[:, ::2])
    with pytest.raises(ValueError, match="step-major"):
        K.apply(q, out=np.empty((2, 4, 3)))            # C order cannot be written in place
    ro = kpf.empty_traj(2, 4, 3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        K.apply(q, out=ro)
    qs = kpf.as_step_major(q)
    with pytest.raises(ValueError, match="share memory"):
        K.apply(qs, out=qs)
    # the C-ordered array is accepted (one copy) and gives the same result
    assert rel_err(K.apply(q), K.apply(qs)) < TOL


def test_row_ops_check_their_blocks(rnn, rng):
    z = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match="C-contiguous"):
        rnn.f(np.asfortranarray(z))
    with pytest.raises(ValueError, match="shape"):
        rnn.f(z, x=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="expected \\[R, 3\\]"):
        rnn.f(np.zeros(3))
    with pytest.raises(ValueError, match="no rows"):
        rnn.f(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="float64"):
        rnn.jz(z, z.astype(np.float32))
    with pytest.raises(ValueError, match="trial"):
        rnn.f(z, trial=[0, 1])
    with pytest.raises(TypeError):
        rnn.jz(z, None)


def test_simulate_checks_its_inputs(rnn, rng):
    with pytest.raises(ValueError, match="x has shape"):
        rnn.simulate(rng.standard_normal((2, 4, 5)))
    with pytest.raises(ValueError, match="expected"):
        rnn.simulate(rng.standard_normal((2, 4)))
    with pytest.raises(TypeError, match="B and T"):
        rnn.simulate()
    with pytest.raises(ValueError, match="B ≥ 1"):
        rnn.simulate(B=0, T=3)
    with pytest.raises(ValueError, match="z0"):
        rnn.simulate(B=2, T=3, z0=np.zeros((3, 3)))
    with pytest.raises(kpf.Error, match="not finite") as e:
        rnn.simulate(B=2, T=3, z0=np.full((2, 3), np.nan))
    assert e.value.code == kpf.EINVAL
    big = make_rnn(n=3, activation="linear")
    big.blocks["W"][...] = 1e200
    big.theta_changed()
    with pytest.raises(kpf.Error, match="diverged") as e:
        big.simulate(B=1, T=50, z0=np.ones((1, 3)))
    assert e.value.code == kpf.ENUMERIC


def test_wrong_pairs_of_model_and_trajectory(rng):
    a, b = make_rnn(), make_rnn()
    tr = a.simulate(rng.standard_normal((2, 3, 2)))
    with pytest.raises(ValueError, match="another model"):
        ops.K(b, tr)
    with pytest.raises(TypeError, match="Trajectory"):
        ops.K(a, np.zeros((2, 3, 3)))


# ---- lifetime ---------------------------------------------------------------------

def test_close_cascades_and_closed_objects_raise(rng):
    m = make_rnn()
    tr = m.simulate(rng.standard_normal((2, 3, 2)))
    K = ops.K(m, tr)
    PK = ops.P(m, tr) @ K
    m.close()
    for obj in (m, tr, K, PK):
        assert obj.closed
    with pytest.raises(kpf.ClosedError, match="Model was closed"):
        m.theta
    with pytest.raises(kpf.ClosedError):
        m.simulate(B=1, T=2)
    with pytest.raises(ValueError, match="closed"):         # ClosedError is a ValueError
        K.apply(np.zeros((2, 3, 3)))
    with pytest.raises(kpf.ClosedError):
        tr.z
    m.close()                                               # idempotent


def test_views_keep_memory_alive_after_close(rng):
    m = make_rnn()
    th = m.theta
    tr = m.simulate(rng.standard_normal((2, 3, 2)))
    z = tr.z
    expect_th, expect_z = th.copy(), z.copy()
    m.close()
    gc.collect()
    # the C objects are kept by the views and freed with them: reading is safe
    assert np.array_equal(th, expect_th) and np.array_equal(z, expect_z)
    th[0] += 1.0


def test_context_manager_and_garbage_collection(rng):
    with make_rnn() as m:
        tr = m.simulate(rng.standard_normal((1, 2, 2)))
        K = ops.K(m, tr)
    assert m.closed and K.closed
    # an operator keeps its model's C object alive when the Python model goes
    m2 = make_rnn()
    tr2 = m2.simulate(rng.standard_normal((1, 2, 2)))
    K2 = ops.K(m2, tr2)
    ref = weakref.ref(m2._res)
    del m2, tr2
    gc.collect()
    assert ref() is not None
    assert np.all(np.isfinite(K2.apply(np.ones((1, 2, 3)))))
    del K2
    gc.collect()
    assert ref() is None                                    # freed with the last user


def test_many_objects_are_freed(rng):
    refs = []
    for _ in range(50):
        m = make_rnn(n=8)
        tr = m.simulate(rng.standard_normal((4, 10, 2)))
        K = ops.K(m, tr)
        K.apply(np.ones((4, 10, 8)))
        refs.append(weakref.ref(m._res))
    del m, tr, K
    gc.collect()
    assert all(r() is None for r in refs)


def test_operators_of_two_models_in_one_call(rng):
    a, b = make_rnn(), make_rnn(seed=5)
    ta = a.simulate(rng.standard_normal((2, 3, 2)))
    tb = b.simulate(rng.standard_normal((2, 3, 2)))
    Ka, Kb = ops.K(a, ta), ops.K(b, tb)
    s = Ka + Kb                                      # takes both models' locks
    assert rel_err(s.to_dense(), Ka.to_dense() + Kb.to_dense()) < TOL
    assert 0 < kpf.alignment(s, Ka, n_probe=18) <= 1 + TOL


def test_threads_share_a_model_safely(rng):
    m = make_rnn(n=16)
    tr = m.simulate(rng.standard_normal((4, 20, 2)))
    K, P = ops.K(m, tr), ops.P(m, tr)
    q = rng.standard_normal((4, 20, 16))
    want_k, want_p = K.apply(q), P.apply(q)
    bad = []

    def work():
        for _ in range(20):
            if rel_err(K.apply(q), want_k) > TOL or rel_err(P.apply(q), want_p) > TOL:
                bad.append(1)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad
