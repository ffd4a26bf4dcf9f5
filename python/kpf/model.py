"""Models (a plugin instance with its θ) and their simulated trajectories."""
import numpy as np

from . import _arrays as A
from ._handle import Handle, view
from ._lib import check, cstr, ffi, lib, load_config, new_error, new_struct, registry


class PluginInfo(tuple):
    """(name, summary, path) of one registered extension."""
    __slots__ = ()

    def __new__(cls, name, summary, path):
        return super().__new__(cls, (name, summary, path))

    name = property(lambda s: s[0])
    summary = property(lambda s: s[1])
    path = property(lambda s: s[2])

    def __repr__(self):
        return f"PluginInfo(name={self[0]!r}, summary={self[1]!r}, path={self[2]!r})"


def _extensions(kind):
    reg = registry()
    out = []
    for i in range(lib.kpf_registry_ext_count(reg, kind)):
        e = lib.kpf_registry_ext_at(reg, kind, i)
        out.append(PluginInfo(cstr(e.desc.name), cstr(e.desc.summary), cstr(e.path)))
    return out


def plugins():
    """Every model plugin found (kpf.search_path()), as PluginInfo tuples."""
    return _extensions(lib.KPF_KIND_MODEL)


def tasks():
    """Every task: the built-in ones and those of plugin files."""
    return _extensions(lib.KPF_KIND_TASK)


def plugin_problems():
    """One line per shared object that was skipped while scanning, naming
    the file and the fix (what `kpf plugins` shows)."""
    reg = registry()
    return [cstr(lib.kpf_registry_problem(reg, i))
            for i in range(lib.kpf_registry_problem_count(reg))]


class Model(Handle):
    """One model: a plugin instance, its parameter vector θ, the core's
    readout and stepper (kpf_model_create).

    Model(plugin, n_in=…, n_out=…, seed=0, n_trials=1, **keys)

    `plugin` is a plugin name (kpf.plugins()) or a path to a .so; `keys` are
    the YAML `model:` keys of that plugin and the core's (`step`, `dt`,
    `readout`, `init`), e.g. Model("rnn", n_in=3, n_out=2, n=64, g=1.5).
    `seed` selects the initialisation stream exactly as an experiment's
    `seed:` does, so the same seed and keys give the same θ as `kpf run`.
    A bad key or value raises kpf.Error with a located message.
    """

    _what = "Model"

    def __init__(self, plugin, *, n_in, n_out, seed=0, n_trials=1, **keys):
        if not isinstance(plugin, str):
            raise TypeError(f"plugin must be a name or a path (str), got {type(plugin).__name__}")
        for nm, v in (("n_in", n_in), ("n_out", n_out), ("n_trials", n_trials), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise TypeError(f"{nm} must be an integer ≥ 0, got {v!r}")
        if n_trials < 1:
            raise ValueError("n_trials must be ≥ 1")
        reg = registry()
        err = new_error()
        pl = ffi.new("const kpf_plugin **")
        check(lib.kpf_registry_resolve(reg, plugin.encode(), pl, err), err)
        cfg = load_config({"model": dict(keys)}, f"kpf.Model({plugin!r})")
        node = lib.kpf_node_get(lib.kpf_config_root(cfg), b"model")
        out = ffi.new("kpf_model **")
        check(lib.kpf_model_create(pl[0], node, int(n_in), int(n_out), int(n_trials),
                                   int(seed), out, err), err)
        # The config stays with the model: a plugin may keep strings it read.
        super().__init__(out[0], lib.kpf_model_free, keep=(cfg,))
        self._settings = dict(plugin=plugin, n_in=int(n_in), n_out=int(n_out), seed=int(seed),
                              n_trials=int(n_trials), keys=dict(keys))
        self._version = 0      # bumped at every known change of θ
        self._ws = {}          # gradient workspaces by (B, T)
        m = self._ptr
        self.n = lib.kpf_model_state_size(m)
        self.n_in = lib.kpf_model_input_size(m)
        self.n_out = lib.kpf_model_output_size(m)
        self.n_trials = lib.kpf_model_trial_count(m)
        self.m = lib.kpf_model_param_count(m)
        self.m_model = lib.kpf_model_plugin_param_count(m)
        self.dt = lib.kpf_model_step_size(m)
        self.tape_width = lib.kpf_model_tape_width(m)
        self.continuous = bool(lib.kpf_model_is_continuous(m))
        self.core_readout = bool(lib.kpf_model_core_readout(m))
        self.plugin = cstr(lib.kpf_model_plugin_name(m))
        self.stepper = cstr(lib.kpf_model_stepper_name(m))

    def __repr__(self):
        state = "closed" if self.closed else f"n={self.n}, n_in={self.n_in}, n_out={self.n_out}, m={self.m}"
        return f"kpf.Model({self._settings['plugin']!r}, {state})"

    # ---- θ ------------------------------------------------------------------

    @property
    def theta(self):
        """θ (m values) as a writable numpy view of the model's own vector.
        After writing into it in place, call theta_changed(); assigning
        `model.theta = values` copies and does that itself."""
        return view(self._live_res(), lib.kpf_model_params(self._ptr), (self.m,))

    @theta.setter
    def theta(self, values):
        p, v = A.rows_in(values, (self.m,), "theta")
        np.copyto(self.theta, v)
        self.theta_changed()

    def theta_changed(self):
        """Tell the plugin θ changed (its prepare op) and mark every
        trajectory of this model as simulated with an older θ."""
        err = new_error()
        with self._lock:
            check(lib.kpf_model_theta_changed(self._ptr, err), err)
        self._version += 1

    def block_info(self):
        """[(name, offset, rows, cols)] of θ's named blocks, in order."""
        m = self._ptr
        out = []
        for i in range(lib.kpf_model_block_count(m)):
            b = lib.kpf_model_block_at(m, i)
            out.append((cstr(b.name), b.offset, b.rows, b.cols))
        return out

    @property
    def blocks(self):
        """{name: view} of θ's blocks: rows×cols matrices, vectors 1-D."""
        th = self.theta
        out = {}
        for name, off, r, c in self.block_info():
            seg = th[off:off + r * c]
            out[name] = seg if c == 1 else seg.reshape(r, c)
        return out

    def save_params(self, path):
        """Write θ by block to a new HDF5 file (kpf_params_save_h5)."""
        err = new_error()
        check(lib.kpf_params_save_h5(self._ptr, str(path).encode(), err), err)

    def load_params(self, path):
        """Read θ by block from an HDF5 file (kpf_params_load_h5)."""
        err = new_error()
        with self._lock:
            check(lib.kpf_params_load_h5(self._ptr, str(path).encode(), err), err)
        self.theta_changed()

    def copy(self):
        """A new model with the same settings and a copy of θ."""
        s = self._settings
        c = Model(s["plugin"], n_in=s["n_in"], n_out=s["n_out"], seed=s["seed"],
                  n_trials=s["n_trials"], **s["keys"])
        c.theta = self.theta.copy()
        return c

    # ---- plugin ops on row blocks ------------------------------------------

    def _rows(self, z, x, trial, t, zname="z"):
        """A kpf_rows for the R rows of z (+ tape), scratch reserved."""
        if z is None:
            raise TypeError(f"{zname} is required")
        A._check_type(z, zname)
        if z.ndim != 2:
            raise ValueError(f"{zname} has shape {z.shape}, expected [R, {self.n}]")
        R = z.shape[0]
        if R == 0:
            raise ValueError(f"{zname} has no rows")
        keep = []
        rows = new_struct("kpf_rows")
        r0 = rows[0]
        r0.R = R
        p, a = A.rows_in(z, (R, self.n), zname)
        r0.z = p
        keep.append(a)
        if x is None:
            x = np.zeros((R, self.n_in))
        p, a = A.rows_in(x, (R, self.n_in), "x")
        r0.x = p
        keep.append(a)
        p, a = A.size_array(np.zeros(R, dtype=np.int64) if trial is None else trial, "trial",
                            count=R)
        r0.trial = p
        keep.append(a)
        if t is None:
            t = np.zeros(R)
        elif np.isscalar(t):
            t = np.full(R, float(t))
        p, a = A.rows_in(t, (R,), "t")
        r0.t = p
        keep.append(a)
        return rows, keep

    def _with_tape(self, rows, keep, err):
        m = self._ptr
        R = rows[0].R
        check(lib.kpf_model_reserve(m, R, err), err)
        if self.tape_width:
            tape = np.empty((R, self.tape_width))
            check(lib.kpf_model_tape(m, rows, A.ptr(tape), err), err)
            rows[0].tape = A.ptr(tape)
            keep.append(tape)

    def _rowop(self, fn, z, v, vshape, vname, x, trial, t, oshape, out):
        rows, keep = self._rows(z, x, trial, t)
        R = rows[0].R
        if v is not None:
            pv, av = A.rows_in(v, vshape(R), vname)
            keep.append(av)
        po, ao = A.rows_out(out, oshape(R))
        err = new_error()
        with self._lock:
            self._with_tape(rows, keep, err)
            if v is None:
                check(fn(self._ptr, rows, po, err), err)
            else:
                check(fn(self._ptr, rows, pv, po, err), err)
        return ao

    def f(self, z, x=None, trial=None, t=None, out=None):
        """The plugin's f at R rows: next state (discrete) or dz/dt
        (continuous).  z: [R, n]; x: [R, n_in] (zeros if None); trial: R
        indices (0); t: times (0).  Returns [R, n]."""
        return self._rowop(lib.kpf_model_f, z, None, None, None, x, trial, t,
                           lambda R: (R, self.n), out)

    def jz(self, z, v, x=None, trial=None, t=None, out=None):
        """∂f/∂z · v at each row (v: [R, n]) → [R, n]."""
        return self._rowop(lib.kpf_model_jz, z, v, lambda R: (R, self.n), "v", x, trial, t,
                           lambda R: (R, self.n), out)

    def jzT(self, z, w, x=None, trial=None, t=None, out=None):
        """∂f/∂zᵀ · w at each row (w: [R, n]) → [R, n]."""
        return self._rowop(lib.kpf_model_jzT, z, w, lambda R: (R, self.n), "w", x, trial, t,
                           lambda R: (R, self.n), out)

    def jth(self, z, dtheta, x=None, trial=None, t=None, out=None):
        """∂f/∂θ · dθ at each row (dθ: [m], shared) → [R, n]."""
        return self._rowop(lib.kpf_model_jth, z, dtheta, lambda R: (self.m,), "dtheta", x,
                           trial, t, lambda R: (R, self.n), out)

    def jthT(self, z, w, x=None, trial=None, t=None, out=None):
        """Σ_rows ∂f/∂θᵀ · w_r → [m].  With `out`, ADDS into it (as the C
        op does); without, starts from zeros."""
        if out is None:
            out = np.zeros(self.m)
        return self._rowop(lib.kpf_model_jthT, z, w, lambda R: (R, self.n), "w", x, trial,
                           t, lambda R: (self.m,), out)

    def readout(self, z, x=None, trial=None, t=None, out=None):
        """y = g(z; θ) at each row → [R, n_out] (the plugin's readout or
        the core's W_out z + b_out)."""
        return self._rowop(lib.kpf_readout, z, None, None, None, x, trial, t,
                           lambda R: (R, self.n_out), out)

    # ---- simulation ----------------------------------------------------------

    def simulate(self, x=None, z0=None, trials=None, B=None, T=None):
        """Simulate B trials for T steps → Trajectory.

        x: inputs [B, T, n_in] (or None with B and T given: zero input).
        z0: initial states [B, n]; None uses the model's z₀(θ, trial).
        trials: B trial indices (default 0 … B−1)."""
        if x is None:
            if B is None or T is None:
                raise TypeError("simulate needs inputs x [B, T, n_in], or B and T")
            B, T = int(B), int(T)
        else:
            A._check_type(x, "x")
            if x.ndim != 3:
                raise ValueError(f"x has shape {x.shape}, expected [B, T, {self.n_in}]")
            B, T = x.shape[0], x.shape[1]
        if B < 1 or T < 1:
            raise ValueError(f"a trajectory needs B ≥ 1 and T ≥ 1 (got {B}, {T})")
        return Trajectory(self, B, T, x, z0, trials)

    # ---- loss and gradient -----------------------------------------------------

    def _workspace(self, B, T):
        ws = self._ws.get((B, T))
        if ws is None:
            out = ffi.new("kpf_grad_ws **")
            err = new_error()
            check(lib.kpf_grad_ws_alloc(self._ptr, B, T, out, err), err)
            ws = ffi.gc(out[0], lib.kpf_grad_ws_free)
            self._ws[(B, T)] = ws
        return ws

    def _batch_ptr(self, batch):
        from .task import Batch
        if not isinstance(batch, Batch):
            raise TypeError(f"expected a kpf.Batch (Task.batch or Batch.from_arrays), "
                            f"got {type(batch).__name__}")
        if batch.n_in != self.n_in or batch.n_out != self.n_out:
            raise ValueError(f"batch has n_in = {batch.n_in}, n_out = {batch.n_out}; the "
                             f"model has {self.n_in}, {self.n_out}")
        return batch._ptr

    def loss(self, batch):
        """Masked MSE of the model's outputs on a Batch (kpf/loss.h)."""
        bp = self._batch_ptr(batch)
        loss = ffi.new("double *")
        err = new_error()
        with self._lock:
            check(lib.kpf_model_theta_changed(self._ptr, err), err)
            ws = self._workspace(batch.B, batch.T)
            check(lib.kpf_loss_eval(self._ptr, bp, ws, loss, err), err)
        return loss[0]

    def loss_grad(self, batch, window=0):
        """(loss, ∇θ loss) on a Batch by the exact discrete adjoint
        (kpf_loss_grad); window > 0 truncates BPTT to chunks of that many
        steps."""
        bp = self._batch_ptr(batch)
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
            raise ValueError(f"window must be an integer ≥ 0, got {window!r}")
        loss = ffi.new("double *")
        grad = np.empty(self.m)
        err = new_error()
        with self._lock:
            check(lib.kpf_model_theta_changed(self._ptr, err), err)
            ws = self._workspace(batch.B, batch.T)
            check(lib.kpf_loss_grad(self._ptr, bp, int(window), ws, loss, A.ptr(grad), err),
                  err)
        return loss[0], grad

    def close(self):
        self._ws = {}
        super().close()

    # ---- PyTorch --------------------------------------------------------------

    @classmethod
    def from_torch(cls, module, n_out=1, readout=None, seed=0):
        """A kpf model with the weights of a PyTorch nn.GRUCell, nn.RNNCell
        or one-layer nn.GRU / nn.RNN (see kpf.torch_bridge)."""
        from .torch_bridge import from_torch
        return from_torch(module, n_out=n_out, readout=readout, seed=seed)

    def to_state_dict(self, style=None):
        """θ back as a PyTorch state dict (kpf.torch_bridge.to_state_dict)."""
        from .torch_bridge import to_state_dict
        return to_state_dict(self, style=style)


class Trajectory(Handle):
    """B trials × T steps simulated by a model (kpf_traj).

    Arrays have the papers' shape and step-major memory (kpf/_arrays.py):
    z [B, T, n] (z[:, k] is the state after step k, i.e. z_{k+1}),
    z0 [B, n], x [B, T, n_in], t [B, T], trials [B].  They are read-only
    views of the C trajectory, which the operators linearise around.
    """

    _what = "Trajectory"

    def __init__(self, model, B, T, x, z0, trials):
        err = new_error()
        out = ffi.new("kpf_traj **")
        check(lib.kpf_traj_alloc(model._ptr, B, T, out, err), err)
        super().__init__(out[0], lib.kpf_traj_free, parents=(model,), lock=model._lock)
        self.model = model
        self.B, self.T, self.n, self.n_in = B, T, model.n, model.n_in
        tr = self._ptr
        if x is not None:
            _, xs = A.traj_in(x, (B, T, self.n_in), "x")
            xin = view(self._res, lib.kpf_traj_inputs(tr), (T, B, self.n_in))
            np.copyto(xin, xs)
        if trials is not None:
            _, ids = A.size_array(trials, "trials", count=B)
            np.copyto(view(self._res, lib.kpf_traj_trial_ids(tr), (B,), "<u8"), ids)
        self._z0 = None
        if z0 is not None:
            _, zs = A.rows_in(z0, (B, self.n), "z0")
            self._z0 = zs.copy()
        self.resimulate()

    def resimulate(self):
        """Simulate again with the model's current θ (same inputs, trials
        and initial states): operators built on this trajectory then
        linearise around the new one."""
        m = self.model
        err = new_error()
        z0 = A.ptr(self._z0) if self._z0 is not None else ffi.NULL
        with self._lock:
            check(lib.kpf_model_theta_changed(m._ptr, err), err)
            check(lib.kpf_simulate_from(m._ptr, self._ptr, z0, err), err)
        self._version = m._version
        self.dt = lib.kpf_traj_step_size(self._ptr)

    def _check_current(self):
        if self._version != self.model._version:
            raise ValueError("θ changed since this trajectory was simulated; call "
                             "traj.resimulate() (or model.simulate) first")

    def __repr__(self):
        return f"kpf.Trajectory(B={self.B}, T={self.T}, n={self.n}{', closed' if self.closed else ''})"

    def _tbn(self, p, d):
        return view(self._live_res(), p, (self.T, self.B, d), readonly=True).transpose(1, 0, 2)

    @property
    def z(self):
        return self._tbn(lib.kpf_traj_states(self._ptr), self.n)

    @property
    def x(self):
        return self._tbn(lib.kpf_traj_inputs(self._ptr), self.n_in)

    @property
    def z0(self):
        return view(self._live_res(), lib.kpf_traj_initial_states(self._ptr), (self.B, self.n),
                    readonly=True)

    @property
    def t(self):
        return view(self._live_res(), lib.kpf_traj_times(self._ptr), (self.T, self.B),
                    readonly=True).T

    @property
    def trials(self):
        return view(self._live_res(), lib.kpf_traj_trial_ids(self._ptr), (self.B,), "<u8",
                    readonly=True)

    def outputs(self):
        """The model's readout y_k = g(z_{k+1}) with input x_k at every step
        → [B, T, n_out] (as the training loss reads them)."""
        self._check_current()
        R = self.B * self.T
        zs = self.z.transpose(1, 0, 2).reshape(R, self.n)
        xs = self.x.transpose(1, 0, 2).reshape(R, self.n_in)
        tr = np.tile(self.trials.astype(np.int64), self.T)
        ts = self.t.T.reshape(R)
        y = self.model.readout(np.ascontiguousarray(zs), np.ascontiguousarray(xs), tr,
                               np.ascontiguousarray(ts))
        return y.reshape(self.T, self.B, self.model.n_out).transpose(1, 0, 2)
