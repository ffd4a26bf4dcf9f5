"""kpf — KPFlow analysis of recurrent models, from Python.

A thin binding over libkpf's public C API (cffi, ABI mode): numpy float64
arrays in and out, C memory shared without copies where the C API allows,
the GIL released during every C call.  See docs/python.md.

    import kpf
    task = kpf.Task("flip_flop")
    model = kpf.Model("rnn", n_in=task.n_in, n_out=task.n_out, n=64, seed=0)
    batch = task.batch(32, seed=1)
    traj = model.simulate(batch.x)
    K = kpf.ops.K(model, traj)
    s = K.svd(20, keep="hidden")          # consensus spectrum
    print(kpf.effrank(s))
"""
from . import lyapunov, ops, spectral
from ._arrays import as_step_major, empty_traj, is_step_major, zeros_traj
from ._handle import ClosedError
from ._lib import LIBRARY_PATH, Error, search_path, status_string
from .model import Model, PluginInfo, Trajectory, plugin_problems, plugins, tasks
from .ops import Operator
from .run import Run, RunError, open_run, run
from .spectral import alignment, effrank, explained_variance, hutchpp, rayleigh
from .task import Batch, Task
from .train import Optimizer, train_step

__version__ = __import__("kpf._config", fromlist=["VERSION"]).VERSION

# kpf_status codes (kpf/error.h), the values of Error.code.
OK, EINVAL, ECONFIG, ENOMEM, EPLUGIN, EABI, ENUMERIC, EIO, EUNSUPPORTED, ECHECK = range(10)

__all__ = [
    "Model", "Trajectory", "Task", "Batch", "Operator", "Optimizer", "Run",
    "Error", "RunError", "ClosedError",
    "plugins", "tasks", "plugin_problems", "search_path", "status_string",
    "ops", "spectral", "lyapunov",
    "alignment", "effrank", "explained_variance", "hutchpp", "rayleigh",
    "train_step", "run", "open_run",
    "empty_traj", "zeros_traj", "as_step_major", "is_step_major",
    "LIBRARY_PATH",
]
