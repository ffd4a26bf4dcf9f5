"""Python dicts to YAML text for libkpf's config reader, and back to a tree.

Block style with one key per line, so that a config error located by
libkpf (`name:LINE:COL: model.g: …`) points at the offending key of the
dict.  Strings are written double-quoted (JSON escapes are YAML escapes),
sequences in flow style.  Only plain data is accepted: dict (string keys),
list/tuple, str, bool, int, float, None, numpy scalars.
"""
import json
import math
import re

import numpy as np

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _key(k):
    if not isinstance(k, str):
        raise TypeError(f"config keys must be strings, got {k!r}")
    return k if _PLAIN_KEY.match(k) else json.dumps(k)


def _scalar(v, where):
    if isinstance(v, np.generic):
        v = v.item()
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(x, where) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)}: {_scalar(x, where)}" for k, x in v.items()) + "}"
    raise TypeError(f"{where}: cannot write a {type(v).__name__} into a config "
                    f"(use dicts, lists, strings, numbers, booleans)")


def _lines(d, indent, where, out):
    for k, v in d.items():
        pad = "  " * indent
        if isinstance(v, dict) and v:
            out.append(f"{pad}{_key(k)}:")
            _lines(v, indent + 1, f"{where}.{k}" if where else k, out)
        else:
            out.append(f"{pad}{_key(k)}: {_scalar(v, f'{where}.{k}' if where else k)}")


def dump(d):
    """YAML text of the dict d."""
    if not isinstance(d, dict):
        raise TypeError(f"a config must be a dict, got {type(d).__name__}")
    out = []
    _lines(d, 0, "", out)
    return "\n".join(out) + "\n"
