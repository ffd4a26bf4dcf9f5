"""kpf.run (the kpf command in a subprocess), kpf.open_run (with h5py and
with libkpf's own reader), and the installed package."""
import builtins
import importlib.util
import os
import shutil
import subprocess

import numpy as np
import pytest

import kpf
from conftest import python_exe, rel_err

CONFIG = {
    "seed": 3,
    "task": {"name": "flip_flop", "T": 20},
    "model": {"plugin": "rnn", "n": 8, "g": 1.2},
    "train": {"iterations": 0},
    "simulate": {"trials": 4},
}


def test_run_from_a_dict_agrees_with_the_binding(need_cli, tmp_path):
    r = kpf.run(CONFIG, tmp_path / "out")
    assert isinstance(r, kpf.Run) and r.failed is None
    assert {"summary.json", "trajectory.h5"} <= set(r.files)
    assert r.summary["seed"] == 3 and r.summary["model"]["n"] == 8
    a = r.trajectory
    assert a["z"].shape == (4, 20, 8) and a["x"].shape == (4, 20, 3)
    # the same seed and keys give the run's θ, and the same simulation
    m = kpf.Model("rnn", n_in=3, n_out=3, seed=3, n=8, g=1.2)
    for name, v in m.blocks.items():
        assert np.array_equal(a[f"theta/{name}"].reshape(v.shape), v), name
    tr = m.simulate(np.ascontiguousarray(a["x"]))
    assert rel_err(tr.z, a["z"]) < 1e-12
    assert not [f for f in os.listdir(os.getcwd()) if f.startswith(".kpf-run-")]


def test_run_a_file_with_overrides(need_cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    from kpf._yaml import dump
    cfg.write_text(dump(CONFIG))
    r = kpf.run(cfg, tmp_path / "o", set={"model.n": 6, "simulate.trials": 2})
    assert r.summary["model"]["n"] == 6
    assert r.read("trajectory.h5", "z").shape == (2, 20, 6)
    if importlib.util.find_spec("h5py"):
        assert r.attrs("trajectory.h5")["plugin"] == "rnn"


def test_progress_goes_through_when_not_quiet(need_cli, tmp_path, capsys):
    kpf.run(CONFIG, tmp_path / "loud", quiet=False)
    assert "writing to" in capsys.readouterr().err


def test_a_bad_config_is_a_run_error_before_any_output(need_cli, tmp_path):
    bad = dict(CONFIG, model={"plugin": "rnn", "n": 8, "gg": 1})
    out = tmp_path / "never"
    with pytest.raises(kpf.RunError) as e:
        kpf.run(bad, out)
    assert e.value.exit_status == 2 and e.value.code == kpf.ECONFIG
    assert "model.gg" in str(e.value) and "unknown key" in str(e.value)
    assert not out.exists() or not os.listdir(out)
    with pytest.raises(TypeError, match="path or a dict"):
        kpf.run(42, out)
    with pytest.raises(FileNotFoundError):
        kpf.run(tmp_path / "missing.yaml", out)


def test_open_run_without_h5py(need_cli, tmp_path, monkeypatch):
    r = kpf.run(CONFIG, tmp_path / "out")
    with_h5py = r.arrays("trajectory.h5")
    real_import = builtins.__import__

    def no_h5py(name, *a, **k):
        if name == "h5py":
            raise ImportError("no h5py here")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    without = kpf.open_run(tmp_path / "out").arrays("trajectory.h5")
    assert set(without) == set(with_h5py)
    for k, v in with_h5py.items():
        assert without[k].dtype == np.float64
        assert np.array_equal(without[k], np.asarray(v, dtype=np.float64)), k
    assert np.array_equal(r.read("trajectory.h5", "z"), without["z"])
    with pytest.raises(ImportError, match="h5py"):
        r.attrs("trajectory.h5")
    with pytest.raises(KeyError):
        kpf.open_run(tmp_path / "out").read("trajectory.h5", "nothing")


def test_open_run_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        kpf.open_run(tmp_path / "nowhere")
    r = kpf.open_run(tmp_path)
    assert r.summary == {}
    with pytest.raises(FileNotFoundError, match="does not exist"):
        r.arrays("trajectory.h5")


def test_the_installed_package_works(tmp_path):
    from kpf import _config
    build, cmake = _config.build_dir(), shutil.which("cmake")
    if not build or not cmake:
        pytest.skip("needs the build tree and cmake")
    prefix = tmp_path / "prefix"
    p = subprocess.run([cmake, "--install", build, "--prefix", str(prefix)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    site = prefix / "lib" / "python3" / "dist-packages"
    assert (site / "kpf" / "__init__.py").is_file()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KPF_LIBRARY")}
    env.update(PYTHONPATH=str(site), KPF_PLUGIN_PATH="")
    code = ("import kpf, numpy as np\n"
            "m = kpf.Model('rnn', n_in=2, n_out=1, n=4)\n"
            "tr = m.simulate(np.ones((2, 3, 2)))\n"
            "print(kpf.LIBRARY_PATH)\n"
            "print(next(p.path for p in kpf.plugins() if p.name == 'rnn'))\n"
            "print(kpf.ops.K(m, tr).adjoint_test() < 1e-12)\n")
    p = subprocess.run([python_exe(), "-c", code], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lib, plugin, ok = p.stdout.split()
    assert lib.startswith(str(prefix)) and plugin.startswith(str(prefix)) and ok == "True"
