"""Lyapunov exponents along a simulated trajectory (kpf/lyapunov.h).

Exponents are those of the discrete map the simulation computed, per unit
time (log growth per step / dt), docs/spectral.md.
"""
import numpy as np

from . import _arrays as A
from ._lib import check, ffi, lib, new_error, new_struct


def _traj(traj):
    from .model import Trajectory
    if not isinstance(traj, Trajectory):
        raise TypeError(f"expected a kpf.Trajectory, got {type(traj).__name__}")
    traj._check_current()
    return traj.model, traj


def _size(v, name, lo=0):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer ≥ {lo}, got {v!r}")
    return int(v)


def _opts(k, t_ons, start, transient, seed):
    o = new_struct("kpf_lyap_opts")
    o[0].k, o[0].t_ons = _size(k, "k", 1), _size(t_ons, "t_ons")
    o[0].start, o[0].transient = _size(start, "start"), _size(transient, "transient")
    o[0].seed = int(seed)
    return o


def spectrum(traj, k=None, t_ons=1, start=0, transient=0, seed=0, return_diag=False):
    """The k largest exponents of each trial by the QR (Benettin) method →
    [B, k] (QR order; descending up to statistical error).  k defaults to
    n.  return_diag=True also returns the conditioning diagnostic."""
    m, tr = _traj(traj)
    k = m.n if k is None else k
    o = _opts(k, t_ons, start, transient, seed)
    lam = np.empty((tr.B, o[0].k))
    diag = new_struct("kpf_lyap_diag")
    err = new_error()
    with m._lock:
        check(lib.kpf_lyapunov_qr(m._ptr, tr._ptr, o, A.ptr(lam), diag, err), err)
    if not return_diag:
        return lam
    d = diag[0]
    return lam, dict(cond_first=d.cond_first, cond_diag_max=d.cond_diag_max,
                     ill_conditioned=bool(d.ill_conditioned), n_qr=d.n_qr, time=d.time)


def largest_dns(traj, t_ons=1, start=0, transient=0, seed=0, eps_rel=0.0):
    """The largest exponent of each trial by direct re-simulation of a
    perturbed copy (Engelken's check) → [B]."""
    m, tr = _traj(traj)
    o = _opts(1, t_ons, start, transient, seed)
    lam = np.empty(tr.B)
    err = new_error()
    with m._lock:
        check(lib.kpf_lyapunov_dns(m._ptr, tr._ptr, o, float(eps_rel), A.ptr(lam), err), err)
    return lam


def _window(tr, k0, k1):
    k1 = tr.T if k1 is None else k1
    return _size(k0, "k0"), _size(k1, "k1")


def ftle(traj, k0=0, k1=None, t_ons=1):
    """Finite-time exponents over steps [k0, k1) (k1: T) → [B, n], each
    trial's log σ_i(Φ_b) / (dt (k1 − k0)), descending."""
    m, tr = _traj(traj)
    k0, k1 = _window(tr, k0, k1)
    out = np.empty((tr.B, m.n))
    err = new_error()
    with m._lock:
        check(lib.kpf_lyapunov_ftle(m._ptr, tr._ptr, k0, k1, _size(t_ons, "t_ons"),
                                    A.ptr(out), err), err)
    return out


def consensus(traj, k0=0, k1=None, t_ons=1):
    """Consensus finite-time spectrum over trials (App. B.3, eq. 42) → [n]:
    λ_i = log μ_i(E_b[Φ_b Φ_bᵀ]) / (2 dt (k1 − k0))."""
    m, tr = _traj(traj)
    k0, k1 = _window(tr, k0, k1)
    out = np.empty(m.n)
    err = new_error()
    with m._lock:
        check(lib.kpf_lyapunov_consensus(m._ptr, tr._ptr, k0, k1, _size(t_ons, "t_ons"),
                                         A.ptr(out), err), err)
    return out


def kaplan_yorke(lambdas):
    """Kaplan–Yorke dimension of a spectrum (sorted first)."""
    A._check_type(lambdas, "lambdas")
    if lambdas.ndim != 1 or lambdas.size == 0:
        raise ValueError(f"lambdas must be a non-empty 1-D array, got shape {lambdas.shape}")
    lam = np.ascontiguousarray(lambdas)
    d = ffi.new("double *")
    err = new_error()
    check(lib.kpf_kaplan_yorke(A.ptr(lam), lam.size, d, err), err)
    return d[0]
