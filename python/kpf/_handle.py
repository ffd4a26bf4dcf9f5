"""Lifetime of the C objects behind Python objects.

Each C object (model, trajectory, operator, task, …) lives in a `_Resource`
that frees it when its last reference goes.  References are held by

  * the Python object that wraps it (a `Handle`) until `close()`;
  * the resources built on it (an operator borrows its model and
    trajectory: its resource lists theirs as parents, so the C model is
    freed after every operator on it);
  * numpy arrays that view its memory (`model.theta`, `traj.z`): their
    base object holds the resource, so a view never outlives its memory.

`close()` (or leaving a `with` block) closes the object and everything built
on it that is still open; their C memory is freed at once unless a numpy
view still refers to it, in which case it goes with the last view.  Using a
closed object raises `kpf.ClosedError` (a ValueError).  Garbage collection
does the same as close() for objects that were never closed.
"""
import threading
import weakref

import numpy as np

from ._lib import ffi


class ClosedError(ValueError):
    """An operation on a kpf object that was closed."""


class _Resource:
    __slots__ = ("ptr", "_free", "_parents", "__weakref__")

    def __init__(self, ptr, free, parents=()):
        self.ptr = ptr
        self._free = free
        self._parents = tuple(parents)

    def __del__(self):
        p, self.ptr = self.ptr, None
        if p is not None and self._free is not None:
            try:
                self._free(p)
            except Exception:  # interpreter shutdown: nothing left to report to
                pass


class _View:
    """The base object of a numpy array over C memory: keeps the resource."""
    __slots__ = ("_res", "__array_interface__")

    def __init__(self, res, addr, shape, typestr, readonly):
        self._res = res
        self.__array_interface__ = {
            "version": 3, "shape": tuple(shape), "typestr": typestr,
            "data": (addr, readonly), "strides": None,
        }


def view(res, ptr, shape, dtype="<f8", readonly=False):
    """A C-contiguous numpy array over `ptr` (shape given), alive with res."""
    addr = int(ffi.cast("uintptr_t", ptr))
    if addr == 0 or 0 in shape:
        return np.zeros(shape, dtype=np.dtype(dtype))
    return np.asarray(_View(res, addr, shape, dtype, readonly))


class Handle:
    """Base of every Python object that owns a C object."""

    _what = "object"

    def __init__(self, ptr, free, parents=(), lock=None, keep=()):
        """Own ptr (freed with `free`; None: nothing to free); `parents` are
        the Handles it borrows, `keep` any other objects (numpy buffers) its
        C memory points into."""
        self._res = _Resource(ptr, free, [p._live_res() for p in parents] + list(keep))
        self._children = weakref.WeakSet()
        self._lock = lock if lock is not None else threading.Lock()
        for p in parents:
            p._children.add(self)

    def _live_res(self):
        r = self._res
        if r is None:
            raise ClosedError(f"this {self._what} was closed")
        return r

    @property
    def _ptr(self):
        r = self._res
        if r is None:
            raise ClosedError(f"this {self._what} was closed")
        return r.ptr

    @property
    def closed(self):
        return self._res is None

    def close(self):
        """Free the C object now (after everything built on it); idempotent."""
        for c in list(self._children):
            c.close()
        self._res = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
