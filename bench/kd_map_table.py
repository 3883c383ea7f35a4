#!/usr/bin/env python3
"""The map of where distillation pays, from the logs of
`kd_transfer --map` (distill.h) and `kd_transfer_torch.py --map` (PyTorch):
a Markdown table and an SVG plot. Standard library only.

    python3 bench/kd_map_table.py --c LOG... --torch LOG... [--svg FILE]

Each log holds "run NAME seed S  epE val V test T ...  SECONDSs" lines, NAME
being "STUDENT COUNT labels" or "STUDENT COUNT kd". For each NAME the epoch
count is the one of best mean validation accuracy over the seeds (as the
benchmarks choose it); the table gives the test accuracy there, mean +-
sample standard deviation, and the gain of distillation (kd - labels) in
each library. Cells one library has not run are left empty.
"""
import argparse
import math
import re
import sys

RUN = re.compile(r"^run (\S+) (\d+) (labels|kd)\s+seed (\d+)\s+(.*?)\s+([0-9.]+)s$")
CK = re.compile(r"ep(\d+) val ([0-9.]+) test ([0-9.]+)")
ORDER = ["C2", "C3", "MLP32", "MLP128", "MLP512"]
PARAMS = {"C2": 5258, "C3": 56714, "MLP32": 25450, "MLP128": 101770, "MLP512": 407050}


def read(paths):
    """{(student, count, recipe): {epoch: {seed: (val, test)}}, and seconds per run"""
    runs, secs = {}, {}
    for path in paths:
        with open(path) as f:
            for line in f:
                m = RUN.match(line.strip())
                if not m:
                    continue
                key = (m.group(1), int(m.group(2)), m.group(3))
                for ep, v, t in CK.findall(m.group(5)):
                    runs.setdefault(key, {}).setdefault(int(ep), {})[int(m.group(4))] = (float(v), float(t))
                secs.setdefault(key, []).append(float(m.group(6)))
    return runs, secs


def mean_sd(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def chosen(runs, key):
    """(epochs, test mean %, test sd %, n, per-seed tests) at the epoch count of
    best mean validation accuracy; None if not run."""
    if key not in runs:
        return None
    by_ep = runs[key]
    ep = max(by_ep, key=lambda e: (sum(v for v, _ in by_ep[e].values()) / len(by_ep[e]), -e))
    tests = [100 * by_ep[ep][s][1] for s in sorted(by_ep[ep])]
    m, sd = mean_sd(tests)
    return ep, m, sd, len(tests), tests


def cell(c):
    return "" if c is None else "%.2f +- %.2f (%d ep, n=%d)" % (c[1], c[2], c[0], c[3])


def svg(path, cells, counts, students):
    """Gain (pp) against labelled count (log scale), a line per student;
    solid distill.h, dashed PyTorch."""
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    gains = [g for row in cells.values() for g in row if g is not None]
    lo, hi = min(gains + [0.0]), max(gains + [0.0])
    lo, hi = math.floor(lo) - 0.5, math.ceil(hi) + 0.5
    x0, y0, w, h = 70, 40, 560, 330

    def px(n):
        a, b = math.log(min(counts)), math.log(max(counts))
        return x0 + (math.log(n) - a) / ((b - a) or 1) * w

    def py(v):
        return y0 + h - (v - lo) / (hi - lo) * h

    out = ["<svg xmlns='http://www.w3.org/2000/svg' width='820' height='430' font-family='sans-serif'>",
           "<rect width='820' height='430' fill='white'/>",
           "<text x='350' y='22' text-anchor='middle' font-size='15'>Gain of distillation over labels alone "
           "(pp), Fashion-MNIST, teacher C1</text>",
           "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>" % (x0, y0, w, h)]
    step = 1 if hi - lo <= 12 else 2 if hi - lo <= 24 else 5
    v = math.ceil(lo / step) * step
    while v <= hi:
        out.append("<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='%s'/>" % (x0, py(v), x0 + w, py(v),
                                                                                "#444" if v == 0 else "#ddd"))
        out.append("<text x='%d' y='%.1f' text-anchor='end' font-size='11'>%+g</text>" % (x0 - 5, py(v) + 4, v))
        v += step
    for n in counts:
        out.append("<text x='%.1f' y='%d' text-anchor='middle' font-size='11'>%d</text>" % (px(n), y0 + h + 15, n))
    out.append("<text x='%d' y='%d' text-anchor='middle' font-size='12'>labelled images (the rest of the 55,000 "
               "unlabelled)</text>" % (x0 + w / 2, y0 + h + 34))
    for i, st in enumerate(students):
        for lib, dash in (("distill.h", ""), ("PyTorch", " stroke-dasharray='6,4'")):
            pts = [(px(n), py(g)) for n, g in zip(counts, cells[(st, lib)]) if g is not None]
            if not pts:
                continue
            out.append("<polyline fill='none' stroke='%s' stroke-width='2'%s points='%s'/>" % (
                colors[i % 5], dash, " ".join("%.1f,%.1f" % p for p in pts)))
            for x, y in pts:
                out.append("<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>" % (x, y, colors[i % 5]))
        out.append("<line x1='650' y1='%d' x2='680' y2='%d' stroke='%s' stroke-width='2'/>" % (
            60 + 22 * i, 60 + 22 * i, colors[i % 5]))
        out.append("<text x='686' y='%d' font-size='12'>%s (%s)</text>" % (64 + 22 * i, st, format(PARAMS.get(st, 0),
                                                                                                ",")))
    y = 60 + 22 * len(students) + 10
    out.append("<line x1='650' y1='%d' x2='680' y2='%d' stroke='#444' stroke-width='2'/>" % (y, y))
    out.append("<text x='686' y='%d' font-size='12'>distill.h</text>" % (y + 4))
    out.append("<line x1='650' y1='%d' x2='680' y2='%d' stroke='#444' stroke-width='2' "
               "stroke-dasharray='6,4'/>" % (y + 22, y + 22))
    out.append("<text x='686' y='%d' font-size='12'>PyTorch 1.13</text>" % (y + 26))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--c", nargs="+", default=[])
    ap.add_argument("--torch", nargs="+", default=[])
    ap.add_argument("--svg")
    a = ap.parse_args()
    libs = {"distill.h": read(a.c), "PyTorch": read(a.torch)}
    keys = set(k for runs, _ in libs.values() for k in runs)
    students = [s for s in ORDER if any(k[0] == s for k in keys)] + sorted(
        set(k[0] for k in keys) - set(ORDER))
    counts = sorted(set(k[1] for k in keys))
    if not keys:
        sys.exit("no run lines in the logs")
    print("| student | labels | labels alone: distill.h | PyTorch | distilled: distill.h | PyTorch "
          "| gain distill.h | gain PyTorch | distilled, difference |")
    print("|---|---:|---|---|---|---|---:|---:|---:|")
    gains = {}
    for st in students:
        for lib in libs:
            gains[(st, lib)] = []
        for n in counts:
            got = {lib: (chosen(runs, (st, n, "labels")), chosen(runs, (st, n, "kd"))) for lib, (runs, _) in
                   libs.items()}
            if all(l is None and k is None for l, k in got.values()):
                for lib in libs:
                    gains[(st, lib)].append(None)
                continue
            g = {}
            for lib, (l, k) in got.items():
                g[lib] = k[1] - l[1] if l and k else None
                gains[(st, lib)].append(g[lib])
            dk = got["distill.h"][1], got["PyTorch"][1]
            print("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                st, n, cell(got["distill.h"][0]), cell(got["PyTorch"][0]), cell(got["distill.h"][1]),
                cell(got["PyTorch"][1]),
                "" if g["distill.h"] is None else "**%+.2f**" % g["distill.h"],
                "" if g["PyTorch"] is None else "%+.2f" % g["PyTorch"],
                "%+.2f" % (dk[0][1] - dk[1][1]) if dk[0] and dk[1] else ""))
    print()
    for lib, (runs, secs) in libs.items():
        if not secs:
            continue
        print("%s, seconds per run (mean over seeds): " % lib + "; ".join(
            "%s %d %s %.0f" % (k[0], k[1], k[2], sum(v) / len(v)) for k, v in sorted(
                secs.items(), key=lambda kv: (ORDER.index(kv[0][0]) if kv[0][0] in ORDER else 99, kv[0][1],
                                              kv[0][2]))))
    if a.svg:
        svg(a.svg, gains, counts, students)


if __name__ == "__main__":
    main()
