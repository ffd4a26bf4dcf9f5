#!/usr/bin/env python3
"""An independent safetensors writer and reader for test_safetensors.c.

It follows the published format (8-byte little-endian header length N, an
N-byte JSON header {name: {dtype, shape, data_offsets}, "__metadata__"},
then the raw C-order little-endian tensor bytes) using only numpy and the
standard json module, so kpf's reader and writer are checked against code
that shares nothing with them.

    safetensors_ref.py make DIR
        writes good files (one per dtype and a mixed one) with, for each,
        DIR/<stem>.manifest ("name dtype d0xd1… count" per line, in data
        order) and DIR/<stem>.<i>.f64 (the exact values of tensor i as
        little-endian float64); and bad files listed in DIR/bad.list as
        "<file>\t<substring the error must contain>".
    safetensors_ref.py dump FILE OUTDIR
        reads FILE strictly (header length a multiple of 8, known dtypes,
        offsets tiling the data) and writes OUTDIR/manifest and
        OUTDIR/<i>.f64 as above; exits 1 with a message on any violation.
"""
import json
import os
import struct
import sys

import numpy as np

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}


def bf16_bits(x):
    """float64 values -> bfloat16 bit patterns (round to nearest even)."""
    u = np.asarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def bf16_values(bits):
    return (bits.astype(np.uint32) << 16).astype("<u4").view("<f4").astype("<f8")


def encode(dtype, values):
    """(bytes, exact float64 values) of `values` stored as dtype."""
    v = np.asarray(values, dtype=np.float64)
    if dtype == "F64":
        a = v.astype("<f8")
        return a.tobytes(), a
    if dtype == "F32":
        a = v.astype("<f4")
        return a.tobytes(), a.astype("<f8")
    if dtype == "F16":
        a = v.astype("<f2")
        return a.tobytes(), a.astype("<f8")
    bits = bf16_bits(v)
    return bits.tobytes(), bf16_values(bits)


def header_bytes(header, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def write_file(path, tensors, metadata=None, order=None):
    """tensors: list of (name, dtype, shape, values); data in list order,
    header entries in `order` (a permutation) if given."""
    header, blobs, exact, offset = {}, [], [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    entries = []
    for name, dtype, shape, values in tensors:
        raw, ex = encode(dtype, np.reshape(values, -1))
        entries.append((name, {"dtype": dtype, "shape": list(shape),
                               "data_offsets": [offset, offset + len(raw)]}))
        blobs.append(raw)
        exact.append(ex)
        offset += len(raw)
    for i in (order if order is not None else range(len(entries))):
        header[entries[i][0]] = entries[i][1]
    with open(path, "wb") as f:
        f.write(header_bytes(header))
        for b in blobs:
            f.write(b)
    return exact


def write_reference(stem, tensors, exact):
    with open(stem + ".manifest", "w", encoding="utf-8") as m:
        for i, ((name, dtype, shape, _), ex) in enumerate(zip(tensors, exact)):
            dims = "x".join(str(d) for d in shape) or "-"
            m.write(f"{name}\t{dtype}\t{dims}\t{ex.size}\n")
            ex.astype("<f8").tofile(f"{stem}.{i}.f64")


def values(k, scale=1.0, shift=0.0):
    return (np.arange(k, dtype=np.float64) * 0.37 - shift) * scale


# Values that exercise each type's edges: subnormals, signed zero, the
# largest finite values, rounding.
F16_EDGE = [0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 2.0 ** -24, 3 * 2.0 ** -24,
            2.0 ** -14, 0.1, 1 / 3, 1000.7]
F32_EDGE = [0.0, -0.0, 1.0, 2.0 ** -149, 2.0 ** -126, 3.4028234663852886e38, 0.1,
            -1 / 3, 1e-30]
BF16_EDGE = [0.0, -0.0, 1.0, -1.0, 3.0e38, 1.0e-38, 9.2e-41, 0.1, 1 / 3, 255.5,
             -1.00390625, 1.01171875]


def make_good(d):
    files = {
        "good_f64": ([("W", "F64", (3, 4), values(12, 1.0, 2.0)),
                      ("b", "F64", (4,), [np.pi, -np.e, 1e-300, -1e300]),
                      ("s", "F64", (), [42.125])], {"format": "pt", "who": "numpy"}),
        "good_f32": ([("weight", "F32", (3, 3), F32_EDGE)], None),
        "good_f16": ([("weight", "F16", (2, 6), F16_EDGE)], None),
        "good_bf16": ([("weight", "BF16", (12,), BF16_EDGE)], None),
        "mixed": ([("rnn.weight_ih_l0", "F32", (6, 3), values(18, 0.5, 1.0)),
                   ("rnn.weight_hh_l0", "BF16", (6, 6), values(36, 0.25, 3.0)),
                   ("rnn.bias_ih_l0", "F16", (6,), values(6, 2.0, 0.5)),
                   ("empty", "F32", (0, 3), []),
                   ("rnn.bias_hh_l0", "F64", (6,), values(6, -1.0, 0.0)),
                   ("état", "F64", (1, 1, 2), [1.5, -2.5])], {}),
    }
    for stem, (tensors, meta) in files.items():
        order = list(reversed(range(len(tensors)))) if stem == "mixed" else None
        exact = write_file(os.path.join(d, stem + ".safetensors"), tensors, meta, order)
        write_reference(os.path.join(d, stem), tensors, exact)


def raw(d, name, header, data=b"", pad=True):
    """A file with this header (dict or raw text) and data bytes."""
    if isinstance(header, (dict, list)):
        head = header_bytes(header, pad)
    else:
        text = header.encode("utf-8")
        head = struct.pack("<Q", len(text)) + text
    with open(os.path.join(d, name), "wb") as f:
        f.write(head + data)
    return name


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def make_bad(d):
    bad = []
    good = open(os.path.join(d, "good_f32.safetensors"), "rb").read()
    hlen = struct.unpack("<Q", good[:8])[0]

    def cut(name, k):
        with open(os.path.join(d, name), "wb") as f:
            f.write(good[:k])
        return name

    z8 = bytes(8)
    bad += [
        (cut("trunc_len.safetensors", 5), "too short"),
        (cut("trunc_header.safetensors", 8 + hlen // 2), "runs past the end of the file"),
        (cut("trunc_data.safetensors", len(good) - 3), "run past the end of the data"),
        (cut("empty.safetensors", 0), "too short"),
        (raw(d, "bad_json.safetensors", '{"W": {"dtype": "F32", "shape": [2], '
             '"data_offsets": [0, 8]}', z8), "not valid JSON"),
        (raw(d, "dup_key.safetensors", '{"W": {"dtype": "F32", "shape": [2], '
             '"data_offsets": [0, 8]}, "W": {"dtype": "F32", "shape": [2], '
             '"data_offsets": [0, 8]}}', z8), "not valid JSON"),
        (raw(d, "not_object.safetensors", [1, 2]), "must be a JSON object"),
        (raw(d, "overlap.safetensors", {"A": t("F32", [2], 0, 8), "B": t("F32", [2], 4, 12)},
             bytes(12)), "overlap"),
        (raw(d, "same_range.safetensors", {"A": t("F32", [2], 0, 8),
                                           "B": t("F32", [2], 0, 8)}, z8), "overlap"),
        (raw(d, "out_of_range.safetensors", {"A": t("F32", [4], 0, 16)}, z8),
         "run past the end of the data"),
        (raw(d, "huge_offset.safetensors", {"A": t("F32", [2], 2 ** 62, 2 ** 62 + 8)}, z8),
         "run past the end of the data"),
        (raw(d, "begin_after_end.safetensors", {"A": t("F32", [0], 8, 0)}, z8),
         "end before they begin"),
        (raw(d, "gap.safetensors", {"A": t("F32", [1], 0, 4), "B": t("F32", [1], 8, 12)},
             bytes(12)), "to no tensor"),
        (raw(d, "trailing.safetensors", {"A": t("F32", [1], 0, 4)}, z8), "data region has"),
        (raw(d, "unknown_dtype.safetensors", {"A": t("F42", [2], 0, 8)}, z8),
         "unknown dtype 'F42'"),
        (raw(d, "int_dtype.safetensors", {"A": t("I64", [1], 0, 8)}, z8),
         "dtype I64 is not read by kpf"),
        (raw(d, "wrong_bytes.safetensors", {"A": t("F32", [3], 0, 8)}, z8), "need 12 bytes"),
        (raw(d, "wrong_shape.safetensors", {"A": t("F64", [2, 2], 0, 8)}, z8),
         "need 32 bytes"),
        (raw(d, "negative_dim.safetensors", {"A": t("F32", [-2], 0, 8)}, z8),
         "non-negative integer"),
        (raw(d, "float_dim.safetensors", {"A": t("F32", [2.0], 0, 8)}, z8),
         "non-negative integer"),
        (raw(d, "overflow.safetensors", {"A": t("F64", [2 ** 40, 2 ** 40, 2 ** 40], 0, 8)},
             z8), "overflows"),
        (raw(d, "rank9.safetensors", {"A": t("F64", [1] * 9, 0, 8)}, z8), "rank 9"),
        (raw(d, "no_offsets.safetensors", {"A": {"dtype": "F32", "shape": [2]}}, z8),
         "no data_offsets"),
        (raw(d, "extra_field.safetensors", {"A": dict(t("F32", [2], 0, 8), foo=1)}, z8),
         "unknown field 'foo'"),
        (raw(d, "offsets_len3.safetensors", {"A": {"dtype": "F32", "shape": [2],
                                                   "data_offsets": [0, 4, 8]}}, z8),
         "data_offsets must be [begin, end]"),
        (raw(d, "entry_not_object.safetensors", {"A": [1, 2, 3]}), "entry must be an object"),
        (raw(d, "meta_not_string.safetensors", {"__metadata__": {"k": 3}}), "__metadata__"),
        (raw(d, "empty_header.safetensors", ""), "not valid JSON"),
    ]
    with open(os.path.join(d, "huge_len.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 2 ** 63 + 5) + b"{}      ")
    bad.append(("huge_len.safetensors", "exceeds the format's limit"))
    with open(os.path.join(d, "bad.list"), "w", encoding="utf-8") as f:
        for name, why in bad:
            f.write(f"{name}\t{why}\n")
    # Non-finite values: readable, but refused with KPF_ST_REJECT_NONFINITE.
    write_file(os.path.join(d, "nonfinite.safetensors"),
               [("v", "F16", (4,), [1.0, np.inf, -np.inf, np.nan])])


def dump(path, out):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    if n % 8:
        sys.exit(f"{path}: header length {n} is not a multiple of 8")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    header.pop("__metadata__", None)
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    at = 0
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "manifest"), "w", encoding="utf-8") as m:
        for i, (name, info) in enumerate(items):
            b, e = info["data_offsets"]
            dtype, shape = info["dtype"], info["shape"]
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if b != at or e - b != count * SIZES[dtype]:
                sys.exit(f"{path}: tensor {name}: bad offsets {b}, {e}")
            at = e
            chunk = body[b:e]
            if dtype == "BF16":
                vals = bf16_values(np.frombuffer(chunk, dtype="<u2"))
            else:
                np_t = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}[dtype]
                vals = np.frombuffer(chunk, dtype=np_t).astype("<f8")
            dims = "x".join(str(x) for x in shape) or "-"
            m.write(f"{name}\t{dtype}\t{dims}\t{count}\n")
            vals.tofile(os.path.join(out, f"{i}.f64"))
    if at != len(body):
        sys.exit(f"{path}: {len(body) - at} bytes after the last tensor")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make_good(sys.argv[2])
        make_bad(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
