"""The KPFlow operators on trajectory space (kpf/operator.h, kpf/kpflow.h).

Every operator acts on [B, T, n] arrays (docs/operators.md):

    K(model, traj)            parameter operator, q ↦ J_θ (dt/B) Σ J_θᵀ q
    K(model, traj, block="W") K_j, one parameter block
    P(model, traj)            propagator (tangent sweep); direct=True: by
                              re-simulation (nonlinear, O(‖q‖²) from P)
    Pstar(model, traj)        its adjoint (backward sweep)
    Pinv(model, traj)         exact inverse of P
    PKPstar(model, traj)      P K P*  (Prop. 1)
    PPstar(model, traj)       P P*
    NTK(model, traj)          the hidden NTK J (dt/B) Jᵀ, formed densely in
                              forward mode: tiny cases only
    OutputNTK(model, traj)    Θ = W P K P* W* on outputs
    W(model, traj)            the readout Jacobian 𝕋 → Y
    U, Ustar, K0, InitTerm    initial-state operators

Each has .apply(q) (also `op @ q`), .adjoint(q), algebra (`A @ B`, `A + B`,
`2 * A`, `A.H`, `A.gram()`), .restrict(trials), .average(keep=…),
.to_dense(), .aslinearoperator() for scipy, and the spectral methods of
kpf.spectral (.eigsh, .svds, .svd, .rayleigh, .trace, .alignment).

Operators borrow their model and trajectory: closing either closes the
operator.  The trajectory must be simulated with the model's current θ;
after θ changes, traj.resimulate() and the operators work again.  One
apply at a time per model (a lock per model enforces it).
"""
import numpy as np

from . import _arrays as A
from ._handle import Handle
from ._lib import check, cstr, ffi, lib, new_error

AXIS_TRIAL, AXIS_TIME, AXIS_UNIT = 1, 2, 4
_AXIS_NAMES = {
    "trial": AXIS_TRIAL, "trials": AXIS_TRIAL, "batch": AXIS_TRIAL, 0: AXIS_TRIAL,
    "time": AXIS_TIME, "t": AXIS_TIME, 1: AXIS_TIME,
    "hidden": AXIS_UNIT, "unit": AXIS_UNIT, "units": AXIS_UNIT, "neuron": AXIS_UNIT,
    2: AXIS_UNIT, -1: AXIS_UNIT,
}


def axes_bits(keep=None, average=None):
    """Bits of the axes to AVERAGE, from `keep` (the axes kept, as KPFlow's
    keep_dims: 0/'trial', 1/'time', 2/-1/'hidden', one or a sequence) or
    from `average` (the axes averaged, same names)."""
    if (keep is None) == (average is None):
        raise TypeError("give exactly one of keep= and average=")
    names = keep if keep is not None else average
    if isinstance(names, (str, int)):
        names = (names,)
    bits = 0
    for a in names:
        if isinstance(a, bool) or a not in _AXIS_NAMES:
            raise ValueError(f"unknown axis {a!r}: use 0/'trial', 1/'time', 2/-1/'hidden'")
        bits |= _AXIS_NAMES[a]
    return (7 & ~bits) if keep is not None else bits


class _Locks:
    """The locks of several models, taken in a fixed order."""

    def __init__(self, locks):
        uniq = {id(lk): lk for lk in locks}
        self._locks = [uniq[k] for k in sorted(uniq)]

    def __enter__(self):
        for lk in self._locks:
            lk.acquire()

    def __exit__(self, *exc):
        for lk in reversed(self._locks):
            lk.release()


def _lock_of(handles):
    locks = []
    for h in handles:
        locks.extend(h._lock._locks if isinstance(h._lock, _Locks) else [h._lock])
    return locks[0] if len({id(x) for x in locks}) == 1 else _Locks(locks)


class Operator(Handle):
    """A matrix-free linear operator (kpf_op) between two spaces of
    [B, T, n] arrays with weights (⟨u, v⟩ = weight · Σ u v)."""

    _what = "Operator"

    def __init__(self, ptr, name, parents, trajs):
        super().__init__(ptr, lib.kpf_op_free, parents=parents, lock=_lock_of(parents))
        self.name = name
        self._trajs = tuple(trajs)
        op = self._ptr
        self.in_shape, self.in_weight = _space(op, 0)
        self.out_shape, self.out_weight = _space(op, 1)
        self.self_adjoint = bool(lib.kpf_op_is_self_adjoint(op))
        self.type_name = cstr(lib.kpf_op_type_name(op))

    def __repr__(self):
        s = "closed" if self.closed else f"{self.in_shape} -> {self.out_shape}"
        return f"kpf.Operator({self.name}, {s})"

    @property
    def in_size(self):
        return int(np.prod(self.in_shape))

    @property
    def out_size(self):
        return int(np.prod(self.out_shape))

    def _check(self):
        for t in self._trajs:
            t._check_current()

    # ---- application ---------------------------------------------------------

    def _run(self, fn, q, ishape, oshape, out):
        pq, _keep = A.traj_in(q, ishape, "q")
        po, res = A.traj_out(out, oshape)
        if out is not None:
            A.no_alias(q, out, ("q", "out"))
        op = self._ptr
        self._check()
        err = new_error()
        with self._lock:
            rc = fn(op, pq, po, err)
        check(rc, err)
        return res

    def apply(self, q, out=None):
        """A q → [B, T, n] of the output space (a new step-major array, or
        written into `out`)."""
        return self._run(lib.kpf_op_apply, q, self.in_shape, self.out_shape, out)

    __call__ = apply

    def adjoint(self, q, out=None):
        """A* q, the adjoint in the spaces' weighted inner products."""
        return self._run(lib.kpf_op_apply_adjoint, q, self.out_shape, self.in_shape, out)

    # ---- algebra ----------------------------------------------------------------

    def _derive(self, fn, name, others, *args):
        ops = (self,) + tuple(others)
        out = ffi.new("kpf_op **")
        err = new_error()
        check(fn(*args, out, err), err)
        trajs = tuple(t for o in ops for t in o._trajs)
        return Operator(out[0], name, ops, trajs)

    @property
    def H(self):
        """The adjoint operator A* (kpf_op_adjoint)."""
        return self._derive(lib.kpf_op_adjoint, f"{self.name}*", (), self._ptr)

    def __matmul__(self, other):
        if isinstance(other, Operator):
            return self._derive(lib.kpf_op_compose, f"{self.name}∘{other.name}", (other,),
                                self._ptr, other._ptr)
        if isinstance(other, np.ndarray):
            return self.apply(other)
        return NotImplemented

    def _sum(self, a, other, b, sign):
        if not isinstance(other, Operator):
            return NotImplemented
        return self._derive(lib.kpf_op_sum, f"({self.name} {sign} {other.name})", (other,),
                            float(a), self._ptr, float(b), other._ptr)

    def __add__(self, other):
        return self._sum(1.0, other, 1.0, "+")

    def __sub__(self, other):
        return self._sum(1.0, other, -1.0, "-")

    def __mul__(self, s):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, float, np.integer, np.floating)):
            return NotImplemented
        return self._derive(lib.kpf_op_scale, f"{float(s):g}·{self.name}", (), float(s),
                            self._ptr)

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def gram(self):
        """A A* (self-adjoint on the output space)."""
        return self._derive(lib.kpf_op_gram, f"{self.name}{self.name}*", (), self._ptr)

    def restrict(self, trials, cols=None):
        """S_rows A S_colsᵀ: the operator between the given trial subsets
        (cols = trials when None); per-element weights are kept."""
        pr, r = A.size_array(trials, "trials", below=self.out_shape[0])
        if r.size == 0:
            raise ValueError("trials is empty")
        if cols is None:
            pc, c = ffi.NULL, None
            nc = 0
        else:
            pc, c = A.size_array(cols, "cols", below=self.in_shape[0])
            if c.size == 0:
                raise ValueError("cols is empty")
            nc = c.size
        return self._derive(lib.kpf_op_restrict_trials, f"{self.name}|trials", (), self._ptr,
                            pr, r.size, pc, nc)

    def average(self, keep=None, average=None):
        """⟨A⟩ = E* A E on the spaces reduced along the averaged axes (KPFlow
        App. B.3): averaged axes have size 1.  keep= names the axes kept
        (KPFlow's keep_dims), average= those averaged."""
        bits = axes_bits(keep, average)
        return self._derive(lib.kpf_op_average, f"<{self.name}>", (), self._ptr, bits)

    # ---- dense and scipy ---------------------------------------------------------

    def adjoint_test(self, seed=0, trials=3):
        """Worst relative gap of ⟨Au, v⟩ = ⟨u, A*v⟩ over seeded random pairs."""
        rel = ffi.new("double *")
        err = new_error()
        self._check()
        with self._lock:
            check(lib.kpf_op_adjoint_test(self._ptr, int(seed), int(trials), rel, err), err)
        return rel[0]

    def to_dense(self, max_entries=1 << 24, order="btn"):
        """The matrix of A in Euclidean coordinates, out_size × in_size.
        order="btn": rows and columns index arrays flattened in [B, T, n]
        C order (q.reshape(-1)); order="memory": in step-major order."""
        if order not in ("btn", "memory"):
            raise ValueError("order must be 'btn' or 'memory'")
        if self.out_size * self.in_size > max_entries:
            raise ValueError(f"the dense matrix would have {self.out_size} × {self.in_size} "
                             f"entries, more than max_entries = {max_entries}")
        M = np.empty((self.out_size, self.in_size))
        err = new_error()
        self._check()
        with self._lock:
            check(lib.kpf_op_to_dense(self._ptr, int(max_entries), A.ptr(M), err), err)
        if order == "memory":
            return M
        return M[np.ix_(_btn_perm(self.out_shape), _btn_perm(self.in_shape))]

    def aslinearoperator(self):
        """A scipy.sparse.linalg.LinearOperator on vectors flattened in
        [B, T, n] C order, in Euclidean coordinates: matvec is A, rmatvec
        the Euclidean transpose (w_in/w_out)·A*."""
        try:
            from scipy.sparse.linalg import LinearOperator
        except ImportError as e:
            raise ImportError("aslinearoperator needs scipy (Debian: python3-scipy)") from e
        ratio = self.in_weight / self.out_weight

        def mv(v):
            return self.apply(np.asarray(v, dtype=np.float64).reshape(self.in_shape)).reshape(-1)

        def rmv(v):
            v = np.asarray(v, dtype=np.float64).reshape(self.out_shape)
            return ratio * self.adjoint(v).reshape(-1)

        return LinearOperator((self.out_size, self.in_size), matvec=mv, rmatvec=rmv,
                              dtype=np.float64)

    # ---- spectra (kpf.spectral) ------------------------------------------------------

    def eigsh(self, k, **kw):
        from .spectral import eigsh
        return eigsh(self, k, **kw)

    def svds(self, k, **kw):
        from .spectral import svds
        return svds(self, k, **kw)

    def svd(self, k, keep=None, **kw):
        from .spectral import svd
        return svd(self, k, keep=keep, **kw)

    def rayleigh(self, q):
        from .spectral import rayleigh
        return rayleigh(self, q)

    def trace(self, n_apply=30, seed=0):
        from .spectral import hutchpp
        return hutchpp(self, n_apply, seed)

    def alignment(self, other, n_probe=21, seed=0):
        from .spectral import alignment
        return alignment(self, other, n_probe, seed)


def _space(op, output):
    """([B, T, n], weight) of op's input (0) or output (1) space."""
    d = ffi.new("size_t[3]")
    w = ffi.new("double *")
    lib.kpf_op_space_shape(op, output, d, d + 1, d + 2, w)
    return (d[0], d[1], d[2]), w[0]


def _btn_perm(shape):
    """Memory (step-major) index of each element of a [B, T, n] array
    flattened in C order."""
    B, T, n = shape
    return np.arange(B * T * n).reshape(T, B, n).transpose(1, 0, 2).reshape(-1)


# ---- constructors (kpf/kpflow.h) -------------------------------------------------------

def _make(fn, name, model, traj, *extra):
    from .model import Model, Trajectory
    if not isinstance(model, Model):
        raise TypeError(f"expected a kpf.Model, got {type(model).__name__}")
    if not isinstance(traj, Trajectory):
        raise TypeError(f"expected a kpf.Trajectory, got {type(traj).__name__}")
    if traj.model is not model:
        raise ValueError("the trajectory was simulated by another model")
    traj._check_current()
    out = ffi.new("kpf_op **")
    err = new_error()
    with model._lock:
        check(fn(model._ptr, traj._ptr, *extra, out, err), err)
    return Operator(out[0], name, (model, traj), (traj,))


def K(model, traj, block=None):
    """The parameter operator K (or K_j for θ block `block`)."""
    if block is None:
        return _make(lib.kpf_op_param, "K", model, traj)
    if not isinstance(block, str):
        raise TypeError(f"block must be a block name (str), got {type(block).__name__}")
    return _make(lib.kpf_op_param_block, f"K[{block}]", model, traj, block.encode())


def P(model, traj, direct=False):
    """The propagator P (linear, tangent sweep); direct=True: by
    re-simulating the nonlinear model (agrees with P to O(‖q‖²))."""
    if direct:
        return _make(lib.kpf_op_propagator_direct, "P_direct", model, traj)
    return _make(lib.kpf_op_propagator, "P", model, traj)


def Pstar(model, traj):
    """P*, the adjoint propagator (backward sweep)."""
    return _make(lib.kpf_op_propagator_adjoint, "P*", model, traj)


def Pinv(model, traj):
    """P⁻¹, (P⁻¹q)_k = q_k − J_F(k) q_{k−1}."""
    return _make(lib.kpf_op_propagator_inverse, "P^-1", model, traj)


def PKPstar(model, traj):
    """P K P*, the hidden-state GD flow of Prop. 1."""
    return _make(lib.kpf_op_pkp, "PKP*", model, traj)


def PPstar(model, traj):
    """P P*, parameter-free learning (App. B.4)."""
    return _make(lib.kpf_op_pp, "PP*", model, traj)


def NTK(model, traj):
    """The full hidden NTK J (dt/B) Jᵀ, J = dz/dθ formed column by column and
    stored densely (B·T·n·m_model doubles, at most 2²²): for checks on tiny
    networks.  Equals P K P* + U K₀ U*."""
    return _make(lib.kpf_op_hidden_ntk, "NTK", model, traj)


def OutputNTK(model, traj):
    """Θ = W P K P* W* on the output space (Cor. 1)."""
    return _make(lib.kpf_op_output_ntk, "Theta", model, traj)


def W(model, traj):
    """The readout Jacobian 𝕋 → Y."""
    return _make(lib.kpf_op_readout, "W", model, traj)


def U(model, traj):
    """The fundamental operator Z₀ → 𝕋 (initial-state perturbations)."""
    return _make(lib.kpf_op_fundamental, "U", model, traj)


def Ustar(model, traj):
    """U*: 𝕋 → Z₀."""
    return _make(lib.kpf_op_fundamental_adjoint, "U*", model, traj)


def K0(model, traj):
    """K₀ on Z₀ (zero without a learned initial state)."""
    return _make(lib.kpf_op_param_init, "K0", model, traj)


def InitTerm(model, traj):
    """U K₀ U*, the initial-state part of the GD flow."""
    return _make(lib.kpf_op_init_term, "UK0U*", model, traj)
