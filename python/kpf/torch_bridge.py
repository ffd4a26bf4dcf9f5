"""PyTorch recurrent modules to kpf models and back.

    nn.GRUCell, nn.GRU (one layer)  ->  the gru plugin: PyTorch's equations
        and parameter names exactly, so kpf's hidden trajectory is PyTorch's
        h (to rounding); an nn.Linear readout maps to W_out, b_out.
    nn.RNNCell, nn.RNN (one layer)  ->  the rnn plugin with an Euler step of
        dt = 1: z' = W σ(z) + W_in x + b, with W = weight_hh, W_in =
        weight_ih, b = bias_ih + bias_hh.  kpf's state z is PyTorch's
        pre-activation, h = σ(z) (σ = tanh or relu), from z₀ = 0 ↔ h₀ = 0.
        A readout of h has no exact kpf counterpart (the core readout is
        linear in z), so none is taken.

PyTorch is optional: these functions import it when called and raise
ImportError saying so when it is absent (to_state_dict then returns numpy
arrays instead of tensors).
"""
import numpy as np


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("kpf.Model.from_torch needs PyTorch (Debian: python3-torch)") from e
    return torch


def _np(t):
    return np.ascontiguousarray(t.detach().cpu().double().numpy())


def _kind(module):
    torch = _torch()
    nn = torch.nn
    for cls, kind, style in ((nn.GRUCell, "gru", "cell"), (nn.GRU, "gru", "layer"),
                             (nn.RNNCell, "rnn", "cell"), (nn.RNN, "rnn", "layer")):
        if isinstance(module, cls):
            break
    else:
        raise TypeError(f"from_torch maps nn.GRUCell, nn.GRU, nn.RNNCell and nn.RNN; got "
                        f"{type(module).__name__}")
    if style == "layer":
        if module.num_layers != 1:
            raise ValueError(f"only one-layer {type(module).__name__}s map onto a kpf model "
                             f"(this one has num_layers = {module.num_layers})")
        if module.bidirectional:
            raise ValueError(f"a bidirectional {type(module).__name__} is not a recurrent "
                             f"map kpf can simulate")
        if getattr(module, "proj_size", 0):
            raise ValueError("proj_size is not supported")
    return kind, style


def _params(module, style):
    sfx = "_l0" if style == "layer" else ""
    p = {k: getattr(module, k + sfx) for k in ("weight_ih", "weight_hh")}
    if module.bias:
        p.update({k: getattr(module, k + sfx) for k in ("bias_ih", "bias_hh")})
    return {k: _np(v) for k, v in p.items()}


def from_torch(module, n_out=1, readout=None, seed=0):
    """A kpf.Model with module's weights (see the module docstring).
    readout: an nn.Linear(hidden_size, n_out) for the gru's W_out, b_out
    (n_out then comes from it); without one the core readout keeps its
    seeded initial values."""
    from .model import Model
    kind, style = _kind(module)
    p = _params(module, style)
    n, n_in = module.hidden_size, module.input_size
    if readout is not None:
        if kind == "rnn":
            raise ValueError("an RNN's readout reads h = σ(z); kpf's core readout is linear "
                             "in z, so it cannot be transferred exactly (leave readout=None)")
        torch = _torch()
        if not isinstance(readout, torch.nn.Linear) or readout.in_features != n:
            raise TypeError(f"readout must be an nn.Linear({n}, n_out)")
        n_out = readout.out_features
    if kind == "gru":
        m = Model("gru", n_in=n_in, n_out=n_out, seed=seed, n=n, bias=bool(module.bias))
        blk = m.blocks
        for k, v in p.items():
            blk[k][...] = v.reshape(blk[k].shape)
    else:
        act = {"tanh": "tanh", "relu": "relu"}[module.nonlinearity]
        m = Model("rnn", n_in=n_in, n_out=n_out, seed=seed, n=n, activation=act,
                  bias=bool(module.bias), step="euler", dt=1.0)
        blk = m.blocks
        blk["W"][...] = p["weight_hh"]
        blk["W_in"][...] = p["weight_ih"]
        if module.bias:
            blk["b"][...] = p["bias_ih"] + p["bias_hh"]
    if readout is not None:
        blk["W_out"][...] = _np(readout.weight)
        blk["b_out"][...] = _np(readout.bias) if readout.bias is not None else 0.0
    m.theta_changed()
    m._torch_style = style
    return m


def to_state_dict(model, style=None):
    """The recurrent module's state dict for model's θ (loadable with
    load_state_dict(strict=True) into the matching PyTorch module):
    style 'cell' (GRUCell/RNNCell names) or 'layer' (GRU/RNN: _l0 names);
    default: what from_torch was given, else 'cell'.  Tensors in float64
    when torch is installed, numpy arrays otherwise."""
    style = style or getattr(model, "_torch_style", "cell")
    if style not in ("cell", "layer"):
        raise ValueError("style must be 'cell' or 'layer'")
    blk = model.blocks
    if model.plugin == "gru":
        d = {k: blk[k].copy() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
             if k in blk}
    elif model.plugin == "rnn":
        if model.stepper != "euler" or model.dt != 1.0:
            raise ValueError("only an rnn with an Euler step of dt = 1 is a PyTorch RNN "
                             f"(this one: {model.stepper}, dt = {model.dt})")
        d = {"weight_ih": blk["W_in"].copy(), "weight_hh": blk["W"].copy()}
        if "b" in blk:
            d["bias_ih"] = blk["b"].copy()
            d["bias_hh"] = np.zeros_like(d["bias_ih"])
    else:
        raise ValueError(f"to_state_dict maps the gru and rnn plugins, not {model.plugin!r}")
    if style == "layer":
        d = {k + "_l0": v for k, v in d.items()}
    try:
        import torch
    except ImportError:
        return d
    return {k: torch.from_numpy(v) for k, v in d.items()}
