#!/usr/bin/python3
"""bench/bench_mlp_torch.py - PyTorch's side of `make bench-mlp`.

The same measurements as bench/bench_mlp.c, on one thread: training
throughput (samples/s) of 784-1200-1200-10 and 784-128-10 ReLU MLPs at batch
128 with SGD (momentum 0.9) and Adam, the loop a user writes (forward,
cross-entropy, backward, optimizer step), the same with Adam distilling from
cached teacher logits (T = 4, alpha = 0.9), and the batch-1 inference latency
of the 784-128-10 model (median, microseconds).

One thread means torch.set_num_threads(1) AND OPENBLAS_NUM_THREADS=1 in the
environment (Debian's PyTorch does its matrix products in OpenBLAS, whose
threads set_num_threads does not control); this script refuses to run
without the latter. Prints "key value" lines that bench_mlp.c reads:
    train <model> <sgd|adam|adam-kd> <samples/s>
    latency <model> <microseconds>

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_mlp_torch.py
           [--seconds S] [--reps R] [--latency-runs N] [--clock wall|cpu] [--quick]
--clock cpu times with processor time (time.process_time) instead of wall
time, as bench_mlp.c does with the same option.
"""
import argparse
import os
import sys
import time

if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
    sys.exit("bench_mlp_torch.py: run with OPENBLAS_NUM_THREADS=1 (one thread, like the C side)")

import torch  # noqa: E402  (after the environment check, before OpenBLAS starts threads)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BATCH = 128
clock = time.perf_counter
POOL = 32  # distinct synthetic batches cycled through, as bench_mlp.c does


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def make_optimizer(kind, params):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)
    return torch.optim.Adam(params, lr=1e-3)


def kd_loss(s, t, y, T=4.0, alpha=0.9):
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean")
    return alpha * T * T * soft + (1 - alpha) * F.cross_entropy(s, y)


def train_throughput(sizes, kind, seconds, reps):
    g = torch.Generator().manual_seed(1)
    xs = torch.rand(POOL, BATCH, sizes[0], generator=g)
    ys = torch.randint(0, sizes[-1], (POOL, BATCH), generator=g)
    ts = 3.0 * torch.randn(POOL, BATCH, sizes[-1], generator=g)  # cached teacher logits
    model = mlp(sizes)
    opt = make_optimizer(kind, model.parameters())

    def step(i):
        opt.zero_grad(set_to_none=True)
        out = model(xs[i % POOL])
        if kind == "adam-kd":
            loss = kd_loss(out, ts[i % POOL], ys[i % POOL])
        else:
            loss = F.cross_entropy(out, ys[i % POOL])
        loss.backward()
        opt.step()

    # warm up, then size a timing window to about `seconds`
    t0 = clock()
    n = 0
    while n < 3 or clock() - t0 < 0.3:
        step(n)
        n += 1
    per_step = (clock() - t0) / n
    steps = max(3, int(seconds / per_step))
    best = 0.0
    for _ in range(reps):
        t0 = clock()
        for i in range(steps):
            step(i)
        dt = clock() - t0
        best = max(best, steps * BATCH / dt)
    return best


def latency_us(sizes, runs):
    model = mlp(sizes).eval()
    x = torch.rand(1, sizes[0])
    times = []
    with torch.no_grad():
        for _ in range(200):
            model(x)
        for _ in range(runs):
            t0 = time.perf_counter_ns()  # always wall time: a median ignores the outliers
            model(x)
            times.append(time.perf_counter_ns() - t0)
    times.sort()
    return times[len(times) // 2] / 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one timing window")
    ap.add_argument("--reps", type=int, default=5, help="timing windows; the best is kept")
    ap.add_argument("--latency-runs", type=int, default=20000)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--quick", action="store_true", help="short windows, for a smoke test")
    a = ap.parse_args()
    global clock
    if a.clock == "cpu":
        clock = time.process_time
    if a.quick:
        a.seconds, a.reps, a.latency_runs = 0.2, 2, 2000
    torch.set_num_threads(1)
    torch.manual_seed(1)
    print("# PyTorch %s, %d thread(s)" % (torch.__version__, torch.get_num_threads()))
    for sizes in ([784, 1200, 1200, 10], [784, 128, 10]):
        name = "-".join(str(s) for s in sizes)
        for kind in ("sgd", "adam", "adam-kd"):
            sps = train_throughput(sizes, kind, a.seconds, a.reps)
            print("train %s %s %.1f" % (name, kind, sps), flush=True)
    print("latency 784-128-10 %.3f" % latency_us([784, 128, 10], a.latency_runs), flush=True)


if __name__ == "__main__":
    main()
