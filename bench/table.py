#!/usr/bin/python3
"""table.py OUT — merge kpf_bench's and torch_bench.py's results into the
benchmark table (printed, and written to OUT/table.md)."""
import os
import platform
import subprocess
import sys


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, l.rstrip("\n").split("\t"))) for l in f if l.strip()]


def machine():
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return f"{model}, {os.cpu_count()} logical CPUs, {mem} RAM, {platform.system()} {platform.release()}"


def hh_reference(out, kpf, P):
    """The hh simulation row (kpf only) as steps/s, beside the rnn forward."""
    path = os.path.join(out, "hh_times.tsv")
    if not os.path.exists(path):
        return
    P("")
    P("Simulation steps per second (kpf only; a step advances all B trials; "
      "forward includes the tape):")
    P("")
    P("| model | size | B | T | stepper | kpf ms | steps/s |")
    P("|---|---|---|---|---|---:|---:|")
    for r in read_tsv(path):
        s = float(r["median_s"])
        P(f"| hh | N = {r['N']} | {r['B']} | {r['T']} | {r['stepper']} | {1e3 * s:.2f} | "
          f"{int(r['T']) / s:.0f} |")
    for r in kpf:
        if r["model"] == "rnn" and r["row"] == "forward":
            s = float(r["median_s"])
            P(f"| rnn | n = 256 | {r['B']} | {r['T']} | euler | {1e3 * s:.2f} | "
              f"{int(r['T']) / s:.0f} |")


def main():
    out = sys.argv[1]
    kpf = read_tsv(os.path.join(out, "kpf_times.tsv"))
    tor = {(r["model"], r["B"], r["T"], r["row"]): r for r in read_tsv(os.path.join(out, "torch_times.tsv"))}
    roof = {r["label"]: r for r in read_tsv(os.path.join(out, "roofline.tsv"))}
    mem = {}
    for r in read_tsv(os.path.join(out, "mem.tsv")):
        mem[(r["side"], r["model"], r["B"], r["T"], r["op"])] = r
    pending = []
    pf = os.path.join(out, "pending.txt")
    if os.path.exists(pf):
        pending = [l.strip() for l in open(pf) if l.strip()]
    dg = float(roof["dgemm_1024"]["gflops"]) if "dgemm_1024" in roof else float("nan")
    lines = []
    P = lines.append
    P(f"machine: {machine()}")
    if os.path.exists(os.path.join(out, "conditions.txt")):
        for l in open(os.path.join(out, "conditions.txt")):
            P(l.rstrip())
    P("")
    P("roofline (cblas_dgemm, OpenBLAS, at the start of the run; the table's dgemm column is "
      "1024³ sampled again before each case): " + ", ".join(
        f"{k} {float(v['gflops']):.1f}" for k, v in roof.items()) + " GFLOP/s")
    P("")
    P("| model | B | T | row | kpf ms | PyTorch ms | PyTorch/kpf | kpf GFLOP/s | dgemm GFLOP/s | "
      "% dgemm | agree (max rel) | kpf peak MB | PyTorch peak MB |")
    P("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in kpf:
        key = (r["model"], r["B"], r["T"], r["row"])
        km = float(r["median_s"])
        fl = float(r["flops"])
        t = tor.get(key)
        tm = float(t["median_s"]) if t else None
        gf = fl / km * 1e-9 if fl > 0 else None
        rdg = float(r.get("dgemm_gflops") or dg)
        agree = (f"{t['maxrel']} {t['status']}" if t["maxrel"] else "—") if t else \
            "PyTorch not run (TORCH_MAX_BT)"
        est = bool(t) and t["status"] == "est"
        if est:
            agree = "— (PyTorch estimated)"

        def m(side):
            e = mem.get((side, r["model"], r["B"], r["T"], r["row"]))
            if not e:
                return ""
            peak, base = int(e["peak_kB"]), int(e["base_kB"])
            return f"{peak / 1024:.0f} (+{(peak - base) / 1024:.0f})"

        P(f"| {r['model']} | {r['B']} | {r['T']} | {r['row']} | {1e3 * km:.2f} | "
          f"{'' if tm is None else ('≈' if est else '') + f'{1e3 * tm:.2f}'} | "
          f"{'' if tm is None else ('≈' if est else '') + f'{tm / km:.1f}×'} | "
          f"{'' if gf is None else f'{gf:.1f}'} | {rdg:.1f} | "
          f"{'' if gf is None else f'{100 * gf / rdg:.0f}%'} | {agree} | {m('kpf')} | {m('torch')} |")
    for p in pending:
        P(f"| {p} | | | (pending) | | | | | | | | | |")
    P("")
    P("ms: medians after one warm-up (spectrum: no warm-up; ≈: PyTorch not run, estimated as "
      "kpf's K applications per solve × PyTorch's K·q time); PyTorch/kpf > 1 means kpf is "
      "faster.  Peak MB: VmHWM / ru_maxrss of a fresh process that simulates and applies the "
      "operator once, with (+ growth over the process's size after start-up).")
    hh_reference(out, kpf, P)
    # linear scaling in B·T: cost ratios against the ideal ones
    t = {(r["model"], int(r["B"]), int(r["T"]), r["row"]): float(r["median_s"]) for r in kpf}
    Bs = sorted({k[1] for k in t})
    Ts = sorted({k[2] for k in t})
    if len(Bs) >= 2 and len(Ts) >= 2:
        b0, b1, t0, t1 = Bs[0], Bs[-1], Ts[0], Ts[-1]
        P("")
        P(f"Scaling of kpf's time (ideal: B {b0}→{b1} ×{b1 / b0:.2f}, T {t0}→{t1} ×{t1 / t0:.2f}); "
          "peak memory growth (+MB) in brackets:")
        P("")
        P(f"| model | row | B×{b1 / b0:.2f} at T={t0} | T×{t1 / t0:.2f} at B={b0} | "
          f"T×{t1 / t0:.2f} at B={b1} |")
        P("|---|---|---:|---:|---:|")

        def mg(mo, B, T, row):
            e = mem.get(("kpf", mo, str(B), str(T), row))
            return int(e["peak_kB"]) - int(e["base_kB"]) if e else None

        for mo in sorted({k[0] for k in t}):
            for row in ["forward", "train", "Kq", "Pq", "Pstarq"]:
                def ratio(a, b):
                    return f"×{t[a] / t[b]:.2f}" if a in t and b in t else ""

                def mratio(a, b):
                    x, y = mg(mo, *a, row), mg(mo, *b, row)
                    return f" (mem ×{x / y:.2f})" if x and y else ""
                P(f"| {mo} | {row} | {ratio((mo, b1, t0, row), (mo, b0, t0, row))}"
                  f"{mratio((b1, t0), (b0, t0))} | "
                  f"{ratio((mo, b0, t1, row), (mo, b0, t0, row))}{mratio((b0, t1), (b0, t0))} | "
                  f"{ratio((mo, b1, t1, row), (mo, b1, t0, row))}{mratio((b1, t1), (b1, t0))} |")
    txt = "\n".join(lines)
    print(txt)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(txt + "\n")


if __name__ == "__main__":
    main()
