"""Tasks (input, target and mask generators) and batches of trials."""
import numpy as np

from . import _arrays as A
from ._handle import Handle, view
from ._lib import check, ffi, lib, load_config, new_error, new_struct, registry

# kpf/rng.h: the stream task trials are drawn from in an experiment.
_RNG_DATA = 2


class Task(Handle):
    """A task generator (kpf_task), by name with its YAML `task:` keys:
    Task("flip_flop", bits=3, T=100).  kpf.tasks() lists the names."""

    _what = "Task"

    def __init__(self, name, **keys):
        if not isinstance(name, str):
            raise TypeError(f"task name must be a str, got {type(name).__name__}")
        cfg = load_config({"task": dict(name=name, **keys)}, f"kpf.Task({name!r})")
        node = lib.kpf_node_get(lib.kpf_config_root(cfg), b"task")
        out = ffi.new("kpf_task **")
        err = new_error()
        check(lib.kpf_registry_task_create(registry(), node, out, err), err)
        check(lib.kpf_node_check_unused(node, err), err)
        super().__init__(out[0], lib.kpf_task_free, keep=(cfg,))
        self.name = name
        # The dimensions, as a one-trial batch reports them.
        b = ffi.new("kpf_task_batch **")
        check(lib.kpf_task_batch_alloc(self._ptr, 1, b, err), err)
        self.n_in, self.n_out, self.T = b[0].n_in, b[0].n_out, b[0].T
        lib.kpf_task_batch_free(b[0])

    def __repr__(self):
        return f"kpf.Task({self.name!r}, n_in={self.n_in}, n_out={self.n_out}, T={self.T})"

    def batch(self, B, seed=0, noise=True):
        """B trials drawn from the task's data stream for `seed` (the stream
        an experiment with that seed draws from) → Batch.  noise=False
        switches the task's noise off for this draw (evaluation sets)."""
        if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < 1:
            raise ValueError(f"B must be an integer ≥ 1, got {B!r}")
        err = new_error()
        out = ffi.new("kpf_task_batch **")
        check(lib.kpf_task_batch_alloc(self._ptr, int(B), out, err), err)
        batch = Batch(out[0], lib.kpf_task_batch_free, (self,))
        rng = ffi.new("gsl_rng **")
        check(lib.kpf_rng_alloc(int(seed), _RNG_DATA, rng, err), err)
        rng = ffi.gc(rng[0], lib.gsl_rng_free)
        with self._lock:
            if not noise:
                lib.kpf_task_set_noise_scale(self._ptr, 0.0)
            try:
                check(lib.kpf_task_generate(self._ptr, rng, batch._ptr, err), err)
            finally:
                if not noise:
                    lib.kpf_task_set_noise_scale(self._ptr, 1.0)
        return batch


class Batch(Handle):
    """B trials of inputs x [B, T, n_in], targets y [B, T, n_out] and loss
    mask [B, T] (step-major views, writable), plus period labels [B, T],
    condition ids [B] and trial indices [B]."""

    _what = "Batch"

    def __init__(self, ptr, free, parents=(), keep=()):
        super().__init__(ptr, free, parents, keep=keep)
        b = self._ptr[0]
        self.B, self.T, self.n_in, self.n_out = b.B, b.T, b.n_in, b.n_out

    @classmethod
    def from_arrays(cls, x, y, mask=None, trials=None):
        """A batch over your own arrays (e.g. a PyTorch dataset), for
        Model.loss_grad: x [B, T, n_in], y [B, T, n_out], mask [B, T]
        (ones when None).  Step-major arrays are used in place, others
        copied once."""
        A._check_type(x, "x")
        A._check_type(y, "y")
        if x.ndim != 3 or y.ndim != 3 or x.shape[:2] != y.shape[:2]:
            raise ValueError(f"x and y must be [B, T, n_in] and [B, T, n_out] with the same "
                             f"B and T (got {x.shape} and {y.shape})")
        B, T = x.shape[:2]
        _, xs = A.traj_in(x, x.shape, "x")
        _, ys = A.traj_in(y, y.shape, "y")
        if mask is None:
            ms = np.ones((T, B))
        else:
            A._check_type(mask, "mask")
            if mask.shape != (B, T):
                raise ValueError(f"mask has shape {mask.shape}, expected {(B, T)} [B, T]")
            ms = np.ascontiguousarray(mask.T)
        period = np.zeros((T, B), dtype=np.intc)
        cond = np.zeros(B, dtype=np.intc)
        _, tr = A.size_array(np.arange(B) if trials is None else trials, "trials", count=B)
        c = new_struct("kpf_task_batch")
        b = c[0]
        b.B, b.T, b.n_in, b.n_out = B, T, x.shape[2], y.shape[2]
        b.x, b.y, b.mask = A.ptr(xs), A.ptr(ys), A.ptr(ms)
        b.period = ffi.cast("int *", period.ctypes.data)
        b.cond = ffi.cast("int *", cond.ctypes.data)
        b.trial = ffi.cast("size_t *", tr.ctypes.data)
        return cls(c, None, keep=(xs, ys, ms, period, cond, tr))

    def __repr__(self):
        return f"kpf.Batch(B={self.B}, T={self.T}, n_in={self.n_in}, n_out={self.n_out})"

    def _tb(self, p, d, dtype="<f8"):
        shape = (self.T, self.B, d) if d else (self.T, self.B)
        v = view(self._live_res(), p, shape, dtype)
        return v.transpose(1, 0, 2) if d else v.T

    @property
    def x(self):
        return self._tb(self._ptr[0].x, self.n_in)

    @property
    def y(self):
        return self._tb(self._ptr[0].y, self.n_out)

    @property
    def mask(self):
        return self._tb(self._ptr[0].mask, 0)

    @property
    def period(self):
        return self._tb(self._ptr[0].period, 0, "<i4")

    @property
    def cond(self):
        return view(self._live_res(), self._ptr[0].cond, (self.B,), "<i4")

    @property
    def trials(self):
        return view(self._live_res(), self._ptr[0].trial, (self.B,), "<u8")
