"""Training steps with kpf's optimisers (kpf/optim.h)."""
from . import _arrays as A
from ._handle import Handle
from ._lib import check, ffi, lib, new_error

_KINDS = {"sgd": 0, "adam": 1}


class Optimizer(Handle):
    """SGD or Adam over a model's θ, with global gradient-norm clipping and
    a trainable mask by block (PyTorch's Adam without weight decay).

    Optimizer(model, "adam", lr=1e-3, clip=0, blocks=None, betas=None, eps=None)
    blocks: names of the θ blocks that train (None: all)."""

    _what = "Optimizer"

    def __init__(self, model, kind="adam", lr=1e-3, clip=0.0, blocks=None, betas=None,
                 eps=None):
        from .model import Model
        if not isinstance(model, Model):
            raise TypeError(f"expected a kpf.Model, got {type(model).__name__}")
        if kind not in _KINDS:
            raise ValueError(f"optimizer kind must be 'sgd' or 'adam', got {kind!r}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if not clip >= 0:
            raise ValueError(f"clip must be ≥ 0 (0: no clipping), got {clip!r}")
        out = ffi.new("kpf_optim **")
        err = new_error()
        check(lib.kpf_optim_alloc(_KINDS[kind], model.m, float(lr), out, err), err)
        super().__init__(out[0], lib.kpf_optim_free, parents=(model,), lock=model._lock)
        self.model = model
        self.kind = kind
        o = self._ptr
        o.clip = float(clip)
        if betas is not None:
            o.beta1, o.beta2 = float(betas[0]), float(betas[1])
        if eps is not None:
            o.eps = float(eps)
        if blocks is not None:
            if isinstance(blocks, str):
                blocks = [blocks]
            info = {b[0]: b for b in model.block_info()}
            unknown = [b for b in blocks if b not in info]
            if unknown:
                raise ValueError(f"unknown θ block(s) {unknown}; the model has {list(info)}")
            lib.kpf_optim_set_trainable(o, 0, model.m, 0)
            for b in blocks:
                _, off, r, c = info[b]
                lib.kpf_optim_set_trainable(o, off, r * c, 1)

    @property
    def lr(self):
        return self._ptr.lr

    @lr.setter
    def lr(self, v):
        if not v > 0:
            raise ValueError(f"lr must be > 0, got {v!r}")
        self._ptr.lr = float(v)

    @property
    def steps(self):
        """Steps taken."""
        return self._ptr.t

    @property
    def last_norm(self):
        """Gradient norm (trainable entries) before clipping, last step."""
        return self._ptr.last_norm

    def step(self, grad):
        """One update of the model's θ from grad ([m]; not modified: the
        C step masks and clips a copy)."""
        m = self.model
        _, g = A.rows_in(grad, (m.m,), "grad")
        g = g.copy()
        err = new_error()
        o = self._ptr
        with self._lock:
            check(lib.kpf_optim_step(o, lib.kpf_model_params(m._ptr), A.ptr(g), err), err)
        m.theta_changed()


def train_step(model, batch, opt, window=0):
    """loss, grad = model.loss_grad(batch); opt.step(grad); returns the loss
    (before the step)."""
    loss, grad = model.loss_grad(batch, window)
    opt.step(grad)
    return loss
