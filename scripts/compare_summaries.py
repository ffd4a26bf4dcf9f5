#!/usr/bin/env python3
"""Compare two runs' summary.json files, ignoring what legitimately differs
between runs (wall times, paths, the config path, the kpf version).

usage: compare_summaries.py A/summary.json B/summary.json [--rel TOL]
Exit 0 when every number agrees within TOL (default 0: bitwise) and every
other value is equal; 1 otherwise, listing each difference."""
import json
import math
import sys

IGNORED = ("seconds", "time_s", "wall", "path", "config", "kpf_version", "version",
           "threads_used", "timings")


def ignored(key):
    return any(part in key for part in IGNORED) and "half_time" not in key


def walk(a, b, where, tol, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if ignored(k):
                continue
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'second' if k in b else 'first'}")
                continue
            walk(a[k], b[k], f"{where}.{k}", tol, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: lengths {len(a)} and {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{where}[{i}]", tol, out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool):
        if a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)):
            return
        if abs(a - b) > tol * max(abs(a), abs(b)):
            out.append(f"{where}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")


def main():
    args = sys.argv[1:]
    tol = 0.0
    if "--rel" in args:
        i = args.index("--rel")
        tol = float(args[i + 1])
        del args[i:i + 2]
    with open(args[0]) as f:
        a = json.load(f)
    with open(args[1]) as f:
        b = json.load(f)
    out = []
    walk(a, b, "summary", tol, out)
    for line in out:
        print(line)
    print(f"{args[0]} vs {args[1]}: {'same' if not out else f'{len(out)} differences'}")
    sys.exit(1 if out else 0)


if __name__ == "__main__":
    main()
