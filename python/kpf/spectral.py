"""Spectra of operators and the measures built on them (kpf/spectral.h,
kpf/linalg.h; docs/spectral.md).

Vectors come back as arrays [k, B, T, n] (vector i is a step-major
[B, T, n] array, ready for op.apply) with weighted norm 1, values in
descending order, each vector's largest-magnitude entry positive.  The
matrix-free solvers are ARPACK's (one solve at a time per process); the
dense ones GSL's, for small operators.
"""
import numpy as np

from . import _arrays as A
from ._lib import ARPACK_LOCK, check, ffi, lib, new_error, new_struct
from .ops import Operator, _lock_of, axes_bits

_WHICH = {"LA": 0, "LM": 1}


def _op(a, name="op"):
    if not isinstance(a, Operator):
        raise TypeError(f"{name} must be a kpf Operator, got {type(a).__name__}")
    a._check()
    return a._ptr


def _k(k, name="k"):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be an integer ≥ 1, got {k!r}")
    return int(k)


def _opts(which, tol, max_iter, ncv, seed):
    if which not in _WHICH:
        raise ValueError("which must be 'LA' (largest algebraic) or 'LM' (largest magnitude)")
    o = new_struct("kpf_eig_opts")
    o[0].which, o[0].tol, o[0].max_iter = _WHICH[which], float(tol), int(max_iter)
    o[0].ncv, o[0].seed = int(ncv), int(seed)
    return o


def _vecs(k, shape):
    """k vectors of a space, step-major each: memory [k][T][B][n]."""
    B, T, n = shape
    buf = np.empty((k, T, B, n))
    return A.ptr(buf), buf.transpose(0, 2, 1, 3)


def _info(info):
    i = info[0]
    return dict(iterations=i.iterations, n_apply=i.n_apply, n_converged=i.n_converged)


def eigsh(op, k, which="LA", vectors=True, dense=False, tol=0.0, max_iter=0, ncv=0, seed=0,
          return_info=False):
    """Top-k eigenpairs of a self-adjoint operator → (values [k], vectors
    [k, B, T, n] or None).  Matrix-free (ARPACK, k < dim) unless dense=True
    (GSL on the formed matrix, any k).  which: 'LA' or 'LM'."""
    p = _op(op)
    k = _k(k)
    vals = np.empty(k)
    pv, vecs = _vecs(k, op.in_shape) if vectors else (ffi.NULL, None)
    err = new_error()
    if dense:
        if which not in _WHICH:
            raise ValueError("which must be 'LA' or 'LM'")
        with op._lock:
            check(lib.kpf_eigsh_dense(p, k, _WHICH[which], A.ptr(vals), pv, err), err)
        return (vals, vecs, {}) if return_info else (vals, vecs)
    o = _opts(which, tol, max_iter, ncv, seed)
    info = new_struct("kpf_eig_info")
    with ARPACK_LOCK, op._lock:
        check(lib.kpf_eigsh(p, k, o, A.ptr(vals), pv, info, err), err)
    return (vals, vecs, _info(info)) if return_info else (vals, vecs)


def svds(op, k, vectors=True, dense=False, tol=0.0, max_iter=0, ncv=0, seed=0,
         return_info=False):
    """Top-k singular triplets → (s [k], U [k, out shape], V [k, in shape]).
    σ are those of A between the two weighted spaces."""
    p = _op(op)
    k = _k(k)
    s = np.empty(k)
    pu, U = _vecs(k, op.out_shape) if vectors else (ffi.NULL, None)
    pv, V = _vecs(k, op.in_shape) if vectors else (ffi.NULL, None)
    err = new_error()
    if dense:
        with op._lock:
            check(lib.kpf_svd_dense(p, k, A.ptr(s), pu, pv, err), err)
        return (s, U, V, {}) if return_info else (s, U, V)
    o = _opts("LA", tol, max_iter, ncv, seed)
    info = new_struct("kpf_eig_info")
    with ARPACK_LOCK, op._lock:
        check(lib.kpf_svds(p, k, o, A.ptr(s), pu, pv, info, err), err)
    return (s, U, V, _info(info)) if return_info else (s, U, V)


def _reduced(shape, bits):
    B, T, n = shape
    return (1 if bits & 1 else B, 1 if bits & 2 else T, 1 if bits & 4 else n)


def svd(op, k, keep=None, gram=True, vectors=False, tol=0.0, max_iter=0, ncv=0, seed=0):
    """Consensus singular values, named as KPFlow's Operator.svd(ncomps,
    keep_dims=…): `keep` is the axis or axes kept (0/'trial', 1/'time',
    2/-1/'hidden'), the others averaged (App. B.3).

    gram=True (KPFlow's default): σ_i = √λ_i(⟨A A*⟩), the averaged Gram
    operator on A's reduced output space (kpf_consensus_gram); returns s,
    or (s, U) with vectors=True.  gram=False: the SVD of the averaged
    operator ⟨A⟩ (kpf_consensus_svds); returns s or (s, U, V).  The two
    differ in general.  keep=None or all three axes: plain svds."""
    p = _op(op)
    k = _k(k)
    bits = 0 if keep is None else axes_bits(keep=keep)
    o = _opts("LA", tol, max_iter, ncv, seed)
    s = np.empty(k)
    err = new_error()
    if bits == 0:
        s, U, V = svds(op, k, vectors=vectors, tol=tol, max_iter=max_iter, ncv=ncv, seed=seed)
        return (s, U, V) if vectors else s
    pu, U = _vecs(k, _reduced(op.out_shape, bits)) if vectors else (ffi.NULL, None)
    if gram:
        with ARPACK_LOCK, op._lock:
            check(lib.kpf_consensus_gram(p, bits, k, o, A.ptr(s), pu, err), err)
        return (s, U) if vectors else s
    pv, V = _vecs(k, _reduced(op.in_shape, bits)) if vectors else (ffi.NULL, None)
    with ARPACK_LOCK, op._lock:
        check(lib.kpf_consensus_svds(p, bits, k, o, A.ptr(s), pu, pv, err), err)
    return (s, U, V) if vectors else s


def rayleigh(op, q):
    """R(A, q) = ⟨Aq, q⟩ / ⟨q, q⟩ (KPFlow eq. 75)."""
    p = _op(op)
    pq, _keep = A.traj_in(q, op.in_shape, "q")
    r = ffi.new("double *")
    err = new_error()
    with op._lock:
        check(lib.kpf_rayleigh(p, pq, r, err), err)
    return r[0]


def alignment(a, b, n_probe=21, seed=0):
    """cos(A, B) = tr(A*B) / √(tr(A*A) tr(B*B)) with n_probe seeded
    orthonormal probes (exact when n_probe ≥ dim)."""
    pa, pb = _op(a, "a"), _op(b, "b")
    c = ffi.new("double *")
    err = new_error()
    with _lock_of((a, b)):
        check(lib.kpf_op_alignment(pa, pb, _k(n_probe, "n_probe"), int(seed), c, err), err)
    return c[0]


def hutchpp(op, n_apply=30, seed=0):
    """Hutch++ estimate of tr(A) with n_apply applications (exact when
    n_apply/3 ≥ dim)."""
    p = _op(op)
    t = ffi.new("double *")
    err = new_error()
    with op._lock:
        check(lib.kpf_hutchpp(p, _k(n_apply, "n_apply"), int(seed), t, err), err)
    return t[0]


def _sv(sv):
    A._check_type(sv, "sv")
    if sv.ndim != 1 or sv.size == 0:
        raise ValueError(f"sv must be a non-empty 1-D array, got shape {sv.shape}")
    sv = np.ascontiguousarray(sv)
    return A.ptr(sv), sv


def explained_variance(sv, total_var=0.0):
    """Cumulative explained variance of descending singular values:
    cum[i] = Σ_{j≤i} σ_j² / total (total = Σσ² when total_var ≤ 0)."""
    p, sv = _sv(sv)
    cum = np.empty(sv.size)
    err = new_error()
    check(lib.kpf_explained_variance(p, sv.size, float(total_var), A.ptr(cum), err), err)
    return cum


def effrank(sv, thresh=0.95, total_var=0.0):
    """Effective rank at `thresh` of descending singular values, the
    reference code's Operator.effrank (σ² = [1,1,1,1,0,…] gives 3.8)."""
    p, sv = _sv(sv)
    r = ffi.new("double *")
    err = new_error()
    check(lib.kpf_effrank(p, sv.size, float(total_var), float(thresh), r, err), err)
    return r[0]
