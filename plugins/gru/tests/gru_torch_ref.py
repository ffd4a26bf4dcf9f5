"""An independent reference for loading PyTorch GRU weights from .safetensors.

    gru_torch_ref.py make DIR     write the files and the reference step
    gru_torch_ref.py read FILE    print every tensor of FILE (name dtype shape
                                  then the values, one line each), read with
                                  numpy and json following the published format

Only numpy and the json module: the format (an 8-byte little-endian header
length, a JSON header, raw little-endian C-order tensors) is written and read
here from its specification, not through kpf.  The reference step is
PyTorch's nn.GRUCell, written out in float64:

    r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

with weight_ih = [W_ir; W_iz; W_in], weight_hh = [W_hr; W_hz; W_hn] and the
biases stacked the same way (gates r, z, n).
"""
import json
import os
import struct
import sys

import numpy as np

N, N_IN, R = 5, 3, 4
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}


def write(path, tensors, dtype="F64", metadata=None):
    """tensors: list of (name, array); all stored as dtype."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors:
        b = np.ascontiguousarray(a, dtype=DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(a)),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype=DTYPES[e["dtype"]]).astype(np.float64)
        out[name] = (e["dtype"], e["shape"], a.reshape(e["shape"]))
    return out, meta


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def gru_step(w, h, x):
    """h' for rows h [R, N], x [R, N_IN] (float64)."""
    gi = x @ w["weight_ih"].T + w["bias_ih"]
    gh = h @ w["weight_hh"].T + w["bias_hh"]
    r = sigmoid(gi[:, :N] + gh[:, :N])
    z = sigmoid(gi[:, N:2 * N] + gh[:, N:2 * N])
    n = np.tanh(gi[:, 2 * N:] + r * gh[:, 2 * N:])
    return (1 - z) * n + z * h


def save_rows(path, a):
    np.savetxt(path, a.reshape(a.shape[0], -1), fmt="%.17g")


def make(d):
    rng = np.random.default_rng(20240611)
    k = 1 / np.sqrt(N)
    w = {"weight_ih": rng.uniform(-k, k, (3 * N, N_IN)) * 3,
         "weight_hh": rng.uniform(-k, k, (3 * N, N)) * 3,
         "bias_ih": rng.uniform(-k, k, 3 * N),
         "bias_hh": rng.uniform(-k, k, 3 * N)}
    h = rng.standard_normal((R, N))
    x = rng.standard_normal((R, N_IN))
    order = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    # a GRUCell's state_dict, float64
    write(os.path.join(d, "cell.safetensors"), [(k_, w[k_]) for k_ in order])
    # an nn.GRU inside a module: rnn.*_l0, a readout outside the prefix
    write(os.path.join(d, "layer.safetensors"),
          [("rnn." + k_ + "_l0", w[k_]) for k_ in order] +
          [("readout.weight", rng.standard_normal((2, N))), ("readout.bias", np.zeros(2))],
          metadata={"format": "pt"})
    # names of one's own, mapped with init.names
    mine = {"weight_ih": "enc.Wx", "weight_hh": "enc.Wh", "bias_ih": "enc.bx", "bias_hh": "enc.bh"}
    write(os.path.join(d, "mapped.safetensors"), [(mine[k_], w[k_]) for k_ in order])
    # float32 weights: the reference uses the float32 values, exactly
    w32 = {k_: v.astype(np.float32).astype(np.float64) for k_, v in w.items()}
    write(os.path.join(d, "cell32.safetensors"), [(k_, w[k_]) for k_ in order], dtype="F32")
    # faults
    write(os.path.join(d, "shape.safetensors"),
          [(k_, w[k_] if k_ != "weight_hh" else w[k_][:, :N - 1]) for k_ in order])
    write(os.path.join(d, "missing.safetensors"), [(k_, w[k_]) for k_ in order[:3]])
    bad = dict(w)
    bad["bias_hh"] = w["bias_hh"].copy()
    bad["bias_hh"][4] = np.nan
    write(os.path.join(d, "nan.safetensors"), [(k_, bad[k_]) for k_ in order])
    write(os.path.join(d, "stray.safetensors"),
          [(k_, w[k_]) for k_ in order] + [("weight_hr", w["weight_hh"])])
    save_rows(os.path.join(d, "h.txt"), h)
    save_rows(os.path.join(d, "x.txt"), x)
    save_rows(os.path.join(d, "ref.txt"), gru_step(w, h, x))
    save_rows(os.path.join(d, "ref32.txt"), gru_step(w32, h, x))


def dump(path):
    tensors, meta = read(path)
    for k_, v in sorted(meta.items()):
        print(f"meta {k_} {v}")
    for name in sorted(tensors):
        dtype, shape, a = tensors[name]
        print(name, dtype, "x".join(str(s) for s in shape) or "scalar")
        print(" ".join(f"{v:.17g}" for v in a.ravel()))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "read":
        dump(sys.argv[2])
    else:
        sys.exit(__doc__)
