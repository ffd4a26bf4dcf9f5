"""Checking numpy arguments and handing their memory to C without copies.

Trajectory-space arrays have the papers' shape [B, T, n] (trials, steps,
units) and libkpf's memory order, step-major: element (b, t, i) at
((t·B) + b)·n + i.  A [B, T, n] array in that order is the transposed view
of a C-contiguous [T, B, n] buffer (`kpf.empty_traj` makes one; every
array the binding returns is one), and passes to C as it is.  A C-ordered
[B, T, n] array (what np.zeros((B, T, n)) gives) is copied once into
step-major order.  Anything else is refused:

  * not a numpy array, or dtype other than float64     -> TypeError
  * wrong shape, or contiguous in neither order         -> ValueError

Row blocks (model.f …) are C-contiguous [R, n] arrays; parameter vectors
are contiguous 1-D arrays.  Outputs given with `out=` must already be in
the right order and writable (they are written in place, never copied).
"""
import numpy as np

from ._lib import ffi

F64 = np.dtype(np.float64)


def _check_type(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float64, got {type(a).__name__}")
    if a.dtype != F64:
        raise TypeError(f"{name} must have dtype float64, got {a.dtype} "
                        f"(convert explicitly with {name}.astype(np.float64))")


def _check_shape(a, shape, name, what):
    if a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(shape)} {what}")


def ptr(a):
    """double * to the first element of a contiguous (in memory) array."""
    return ffi.cast("double *", a.ctypes.data)


def is_step_major(a):
    """Whether a [B, T, n] array lies in step-major memory order."""
    return a.transpose(1, 0, 2).flags.c_contiguous


def empty_traj(B, T, n):
    """An uninitialised [B, T, n] float64 array in step-major order."""
    return np.empty((T, B, n)).transpose(1, 0, 2)


def zeros_traj(B, T, n):
    """A zero [B, T, n] float64 array in step-major order."""
    return np.zeros((T, B, n)).transpose(1, 0, 2)


def as_step_major(a):
    """a ([B, T, n], float64) in step-major order: a itself when it already
    is, else one copy."""
    _check_type(a, "array")
    if a.ndim != 3:
        raise ValueError(f"array has {a.ndim} dimensions, expected 3 [B, T, n]")
    if is_step_major(a):
        return a
    return np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2)


def traj_in(a, shape, name):
    """A [B, T, n] input: its step-major memory as a C pointer (a copy only
    for a C-ordered array).  Returns (pointer, array keeping it alive)."""
    _check_type(a, name)
    _check_shape(a, shape, name, "[B, T, n]")
    t = a.transpose(1, 0, 2)
    if t.flags.c_contiguous:
        return ptr(t), t
    if a.flags.c_contiguous:
        t = np.ascontiguousarray(t)
        return ptr(t), t
    raise ValueError(f"{name} is not contiguous (strides {a.strides}); pass a contiguous "
                     f"array, e.g. np.ascontiguousarray({name})")


def traj_out(out, shape, name="out"):
    """A [B, T, n] output: a new step-major array, or `out` checked to be
    writable and step-major.  Returns (pointer, array to return)."""
    if out is None:
        t = np.empty((shape[1], shape[0], shape[2]))
        return ptr(t), t.transpose(1, 0, 2)
    _check_type(out, name)
    _check_shape(out, shape, name, "[B, T, n]")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    t = out.transpose(1, 0, 2)
    if not t.flags.c_contiguous:
        raise ValueError(f"{name} must be step-major (memory [T, B, n]), as from "
                         f"kpf.empty_traj(B, T, n); it is written in place, never copied")
    return ptr(t), out


def no_alias(a, b, names):
    if np.may_share_memory(a, b):
        raise ValueError(f"{names[0]} and {names[1]} must not share memory")


def rows_in(a, shape, name):
    """A C-contiguous float64 block of rows [R, d] (or a vector [m])."""
    _check_type(a, name)
    _check_shape(a, shape, name, "")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} is not C-contiguous; pass np.ascontiguousarray({name})")
    return ptr(a), a


def rows_out(out, shape, name="out"):
    if out is None:
        a = np.empty(shape)
        return ptr(a), a
    _check_type(out, name)
    _check_shape(out, shape, name, "")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; it is written in place")
    return ptr(out), out


def size_array(values, name, count=None, below=None):
    """A size_t array from integers (trial indices …), checked."""
    try:
        v = np.asarray(values)
    except Exception as e:  # pragma: no cover - numpy raises on odd objects
        raise TypeError(f"{name} must be a sequence of integers") from e
    if v.ndim == 0:
        v = v.reshape(1)
    if v.ndim != 1 or (v.size and v.dtype.kind not in "iu"):
        raise TypeError(f"{name} must be a 1-D sequence of integers, got dtype {v.dtype}")
    if count is not None and v.size != count:
        raise ValueError(f"{name} has {v.size} entries, expected {count}")
    if v.size and v.min() < 0:
        raise ValueError(f"{name} must be ≥ 0 (got {int(v.min())})")
    if below is not None and v.size and v.max() >= below:
        raise ValueError(f"{name} must be < {below} (got {int(v.max())})")
    s = np.ascontiguousarray(v, dtype=np.uint64)
    return ffi.cast("size_t *", s.ctypes.data), s
