"""Experiments: kpf.run spawns the `kpf` command; kpf.open_run reads a run
folder (summary.json and the HDF5 outputs, docs/outputs.md) into numpy.

Why a process and not kpf_experiment_run in this one: the command is the
complete, documented entry point (studies, sweeps, plots, progress,
--resume, exit status 2 for a bad config before any output), and a long
run in its own process neither holds this interpreter nor takes it down.
"""
import json
import os
import subprocess
import tempfile

import numpy as np

from . import _config
from ._lib import Error, check, cstr, ffi, lib, new_error

EXIT_CONFIG = 2  # the kpf command's status for bad usage or a bad config


class RunError(Error):
    """`kpf run` failed.  exit_status is the command's (2: bad config,
    nothing written; 1: the run failed), stderr its whole error output;
    the message is its last `kpf:` line."""

    def __init__(self, exit_status, stderr, command):
        self.exit_status = exit_status
        self.stderr = stderr
        self.command = command
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        msg = next((ln for ln in reversed(lines) if ln.startswith("kpf")),
                   lines[-1] if lines else f"kpf run exited with status {exit_status}")
        super().__init__(2 if exit_status == EXIT_CONFIG else 0, msg)
        self.status = ("bad configuration or usage" if exit_status == EXIT_CONFIG
                       else f"the run failed (exit status {exit_status})")
        self.args = (f"{msg} [{self.status}]",)

    def __str__(self):
        return self.args[0]


def _overrides(set_):
    if set_ is None:
        return []
    if isinstance(set_, dict):
        from ._yaml import _scalar
        return [f"{k}={_scalar(v, k)}" for k, v in set_.items()]
    if isinstance(set_, str):
        return [set_]
    return [str(s) for s in set_]


def run(config, out_dir, set=None, quiet=True, timeout=None):
    """Run an experiment (or study, or sweep) with the `kpf` command and
    return its folder opened (kpf.open_run).

    config: a YAML file path, or a dict with the same content (written to
    a temporary file in the working directory, so relative file paths in
    it resolve against the working directory, as for --set values).
    out_dir: the output folder; it must not exist or be empty.
    set: overrides, {"train.iterations": 10} or ["model.g=1.5", …].
    quiet=False lets the command's output and progress through to stderr as
    they come.  timeout: seconds before the command is killed
    (subprocess.TimeoutExpired).  A failure raises kpf.RunError with the
    command's message."""
    cmd = [_config.kpf_command(), "run"]
    tmp = None
    if isinstance(config, dict):
        from ._yaml import dump
        text = dump(config)
        fd, tmp = _temp_config()
        with os.fdopen(fd, "w") as f:
            f.write(text)
        cmd.append(tmp)
    elif isinstance(config, (str, os.PathLike)):
        if not os.path.isfile(config):
            raise FileNotFoundError(f"config file {os.fspath(config)!r} does not exist")
        cmd.append(os.fspath(config))
    else:
        raise TypeError(f"config must be a path or a dict, got {type(config).__name__}")
    cmd += ["-o", os.fspath(out_dir)]
    for s in _overrides(set):
        cmd += ["--set", s]
    try:
        status, err = _spawn(cmd, quiet, timeout)
    finally:
        if tmp:
            os.unlink(tmp)
    if status != 0:
        raise RunError(status, err, cmd)
    return open_run(out_dir)


def _spawn(cmd, quiet, timeout):
    """Run cmd; its stderr is kept (and echoed line by line unless quiet),
    its stdout discarded when quiet.  Returns (exit status, stderr)."""
    import sys
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if quiet else None,
                         stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        if quiet:
            _, err = p.communicate(timeout=timeout)
            return p.returncode, err
        for line in p.stderr:          # progress as it comes
            lines.append(line)
            sys.stderr.write(line)
        p.wait(timeout=timeout)
        return p.returncode, "".join(lines)
    except BaseException:
        p.kill()
        p.wait()
        raise


def _temp_config():
    try:
        return tempfile.mkstemp(prefix=".kpf-run-", suffix=".yaml", dir=os.getcwd())
    except OSError:
        return tempfile.mkstemp(prefix="kpf-run-", suffix=".yaml")


def open_run(path):
    """A run folder: its summary (dict), its files, and its HDF5 arrays."""
    return Run(path)


class Run:
    """A finished (or interrupted) run folder.

    run.summary         summary.json as a dict ({} if absent)
    run.files           the folder's file names
    run.arrays(name)    every dataset of an HDF5 file → {"z": array, "theta/W": …}
    run.read(name, ds)  one dataset
    run.trajectory      run.arrays("trajectory.h5")

    Arrays are read with h5py when it is installed (exact dtypes, and
    run.attrs(name) for attributes); without it, with libkpf's own HDF5
    reader, every numeric dataset as float64.
    """

    def __init__(self, path):
        self.dir = os.fspath(path)
        if not os.path.isdir(self.dir):
            raise FileNotFoundError(f"{self.dir!r} is not a folder")
        s = os.path.join(self.dir, "summary.json")
        self.summary = {}
        if os.path.isfile(s):
            with open(s) as f:
                self.summary = json.load(f)
        self.failed = None
        fp = os.path.join(self.dir, "FAILED")
        if os.path.isfile(fp):
            with open(fp) as f:
                self.failed = f.read().strip()

    def __repr__(self):
        return f"kpf.Run({self.dir!r})"

    @property
    def files(self):
        return sorted(os.listdir(self.dir))

    def _file(self, name):
        p = os.path.join(self.dir, name)
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{p!r} does not exist (files: {', '.join(self.files)})")
        return p

    def arrays(self, name="trajectory.h5"):
        p = self._file(name)
        try:
            import h5py
        except ImportError:
            return _read_all_kpf(p)
        out = {}
        with h5py.File(p, "r") as f:
            f.visititems(lambda k, v: out.__setitem__(k, v[()])
                         if isinstance(v, h5py.Dataset) else None)
        return out

    def read(self, name, dataset):
        p = self._file(name)
        try:
            import h5py
        except ImportError:
            return _read_kpf(p, dataset)
        with h5py.File(p, "r") as f:
            if dataset not in f:
                raise KeyError(f"{name} has no dataset {dataset!r}")
            return f[dataset][()]

    def attrs(self, name="trajectory.h5", path="/"):
        try:
            import h5py
        except ImportError as e:
            raise ImportError("reading HDF5 attributes needs h5py (Debian: python3-h5py); "
                              "datasets are readable without it") from e
        with h5py.File(self._file(name), "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else v)
                    for k, v in f[path].attrs.items()}

    @property
    def trajectory(self):
        return self.arrays("trajectory.h5")


# ---- without h5py: libkpf's reader (kpf/h5io.h) ---------------------------------

class _H5:
    def __init__(self, path):
        out = ffi.new("kpf_h5 **")
        err = new_error()
        check(lib.kpf_h5_open(path.encode(), out, err), err)
        self.h = out[0]

    def close(self):
        err = new_error()
        lib.kpf_h5_close(self.h, err)

    def read(self, ds):
        err = new_error()
        rank = ffi.new("int *")
        dims = ffi.new("size_t[8]")
        check(lib.kpf_h5_shape(self.h, ds.encode(), rank, dims, err), err)
        shape = tuple(dims[i] for i in range(rank[0]))
        a = np.empty(shape)
        check(lib.kpf_h5_read(self.h, ds.encode(), a.size, ffi.cast("double *", a.ctypes.data),
                              err), err)
        return a

    def walk(self, group, out):
        names = ffi.new("char ***")
        count = ffi.new("size_t *")
        err = new_error()
        check(lib.kpf_h5_list(self.h, group.encode(), names, count, err), err)
        try:
            items = [cstr(names[0][i]) for i in range(count[0])]
        finally:
            lib.kpf_h5_names_free(names[0], count[0])
        for nm in items:
            p = nm if group == "/" else f"{group}/{nm}"
            full = p if p.startswith("/") else "/" + p
            if lib.kpf_h5_is_dataset(self.h, full.encode()):
                out[full.lstrip("/")] = self.read(full)
            else:
                self.walk(full, out)


def _read_all_kpf(path):
    h = _H5(path)
    try:
        out = {}
        h.walk("/", out)
        return out
    finally:
        h.close()


def _read_kpf(path, dataset):
    h = _H5(path)
    try:
        ds = dataset if dataset.startswith("/") else "/" + dataset
        if not lib.kpf_h5_is_dataset(h.h, ds.encode()):
            raise KeyError(f"{os.path.basename(path)} has no dataset {dataset!r}")
        return h.read(ds)
    finally:
        h.close()
