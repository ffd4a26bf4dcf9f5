"""PyTorch modules through kpf.Model.from_torch (skipped, visibly, without
PyTorch): hidden trajectories equal PyTorch's to 1e-12 in float64, the
state dict goes back unchanged, and kpf's adjoint gradient equals
autograd's."""
import os
import subprocess

import numpy as np
import pytest

import kpf
from conftest import python_exe, rel_err

torch = pytest.importorskip("torch", reason="PyTorch not installed (Debian: python3-torch)")
nn = torch.nn
TOL = 1e-12


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)


def _x(B=3, T=7, n_in=2):
    return torch.randn(T, B, n_in)                    # PyTorch's seq-first layout


def _btn(t):
    return np.ascontiguousarray(t.detach().numpy().transpose(1, 0, 2))


def _cell_run(cell, x):
    h = torch.zeros(x.shape[1], cell.hidden_size)
    hs = []
    for k in range(x.shape[0]):
        h = cell(x[k], h)
        hs.append(h)
    return torch.stack(hs)                            # [T, B, n]


def test_gru_cell_trajectory_equals_pytorch():
    cell = nn.GRUCell(2, 5)
    x = _x()
    with torch.no_grad():
        h = _cell_run(cell, x)
    m = kpf.Model.from_torch(cell)
    assert m.plugin == "gru" and m.n == 5 and m.n_in == 2
    tr = m.simulate(_btn(x))
    assert rel_err(tr.z, _btn(h)) < TOL


def test_gru_layer_with_readout_equals_pytorch():
    gru, lin = nn.GRU(2, 4), nn.Linear(4, 3)
    x = _x()
    with torch.no_grad():
        out, _ = gru(x)
        y = lin(out)
    m = kpf.Model.from_torch(gru, readout=lin)
    assert m.n_out == 3
    tr = m.simulate(_btn(x))
    assert rel_err(tr.z, _btn(out)) < TOL
    assert rel_err(tr.outputs(), _btn(y)) < TOL


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_is_kpf_rnn_in_preactivation_coordinates(nonlinearity):
    cell = nn.RNNCell(2, 4, nonlinearity=nonlinearity)
    x = _x()
    with torch.no_grad():
        h = _cell_run(cell, x)
    m = kpf.Model.from_torch(cell)
    assert m.plugin == "rnn" and m.stepper == "euler" and m.dt == 1.0
    z = m.simulate(_btn(x)).z
    sigma = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
    assert rel_err(sigma(z), _btn(h)) < TOL


def test_state_dict_round_trip():
    for module in (nn.GRUCell(3, 4), nn.GRU(3, 4), nn.RNNCell(3, 4), nn.RNN(3, 4)):
        m = kpf.Model.from_torch(module)
        sd = m.to_state_dict()
        fresh = type(module)(3, 4)
        fresh.load_state_dict(sd, strict=True)
        if isinstance(module, (nn.GRUCell, nn.GRU)):
            for k, v in module.state_dict().items():
                assert torch.equal(fresh.state_dict()[k], v), k
        x = _x(n_in=3)
        with torch.no_grad():
            a = _cell_run(module, x) if "Cell" in type(module).__name__ else module(x)[0]
            b = _cell_run(fresh, x) if "Cell" in type(fresh).__name__ else fresh(x)[0]
        assert rel_err(b, a) < TOL
    cell = nn.GRUCell(3, 4)
    layer_sd = kpf.Model.from_torch(cell).to_state_dict(style="layer")
    assert set(layer_sd) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}


def test_loss_gradient_equals_autograd():
    gru, lin = nn.GRU(2, 4), nn.Linear(4, 2)
    x, target = _x(B=3, T=6), torch.randn(6, 3, 2)
    mask = (torch.rand(6, 3) > 0.3).double()
    out, _ = gru(x)
    y = lin(out)
    loss = (mask[..., None] * (y - target) ** 2).sum() / (2 * mask.sum())
    loss.backward()
    m = kpf.Model.from_torch(gru, readout=lin)
    batch = kpf.Batch.from_arrays(_btn(x), _btn(target), mask.numpy().T.copy())
    L, g = m.loss_grad(batch)
    assert abs(L - loss.item()) < TOL * loss.item()
    info = {nm: (o, r * c) for nm, o, r, c in m.block_info()}
    pairs = {"weight_ih": gru.weight_ih_l0, "weight_hh": gru.weight_hh_l0,
             "bias_ih": gru.bias_ih_l0, "bias_hh": gru.bias_hh_l0,
             "W_out": lin.weight, "b_out": lin.bias}
    for name, p in pairs.items():
        o, size = info[name]
        assert rel_err(g[o:o + size], p.grad.numpy().reshape(-1)) < 1e-11, name


def test_unsupported_modules_are_refused():
    with pytest.raises(ValueError, match="one-layer"):
        kpf.Model.from_torch(nn.GRU(2, 3, num_layers=2))
    with pytest.raises(ValueError, match="bidirectional"):
        kpf.Model.from_torch(nn.GRU(2, 3, bidirectional=True))
    with pytest.raises(TypeError, match="GRUCell"):
        kpf.Model.from_torch(nn.LSTM(2, 3))
    with pytest.raises(ValueError, match="readout"):
        kpf.Model.from_torch(nn.RNNCell(2, 3), readout=nn.Linear(3, 1))
    with pytest.raises(TypeError, match="nn.Linear"):
        kpf.Model.from_torch(nn.GRUCell(2, 3), readout=nn.Linear(4, 1))


def test_example_script_runs(tmp_path):
    from kpf import _config
    src = _config.source_dir()
    if not src:
        pytest.skip("installed package: the example lives in the source tree")
    script = os.path.join(src, "examples", "python", "analyse_torch_gru.py")
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run([python_exe(), script, "--out", str(tmp_path), "--iterations", "60"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "effective rank" in p.stdout
    assert (tmp_path / "spectra.txt").exists()
