#!/usr/bin/python3
"""bench/bench_threads_torch.py - PyTorch's side of `make bench-threads`.

The measurements of bench/bench_threads.c at each thread count of
--threads-list: training throughput (samples/s; forward, cross-entropy,
backward, Adam lr 1e-3, batch 128, Fashion-MNIST training images, cycled)
of MLP-1200 (784-1200-1200-10), MLP-128 (784-128-10), C1 and C2 (the
networks of bench/bench_cnn_torch.py), and the batch-1 inference latency
(median microseconds of model(x) under no_grad) of MLP-128 and C2.

n threads means torch.set_num_threads(n) AND OPENBLAS_NUM_THREADS=n: Debian's
PyTorch does its matrix products in OpenBLAS, which reads the variable once,
when it loads. So each thread count runs in its own process (this script
started again with --worker N and the variable set); the first process never
imports torch. Prints "key value" lines that bench_threads.c reads:
    version V
    train <mlp1200|mlp128|c1|c2> <threads> <samples/s>
    latency <mlp128|c2> <threads> <microseconds>

Usage: /usr/bin/python3 bench/bench_threads_torch.py [--threads-list 1,2]
           [--seconds S] [--reps R] [--latency-runs N] [--clock wall|cpu] [--quick]
"""
import argparse
import os
import subprocess
import sys
import time

BATCH = 128
DATA = "/usr/share/datasets/fashion-mnist"


def options():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads-list", default="1,2")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one timing window")
    ap.add_argument("--reps", type=int, default=5, help="timing windows; the best is kept")
    ap.add_argument("--latency-runs", type=int, default=20000)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--quick", action="store_true", help="short windows, for a smoke test")
    ap.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.reps, a.latency_runs = 0.3, 1, 1000
    if a.seconds <= 0 or a.reps < 1 or a.latency_runs < 1:
        sys.exit("bench_threads_torch.py: --seconds, --reps and --latency-runs must be positive")
    return a


def parent(a):
    counts = [int(s) for s in a.threads_list.split(",") if s]
    if not counts or min(counts) < 1:
        sys.exit("bench_threads_torch.py: --threads-list: thread counts >= 1, comma-separated")
    args = list(sys.argv[1:])
    for n in counts:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(n), OMP_NUM_THREADS=str(n))
        sys.stdout.flush()
        rc = subprocess.call([sys.executable, os.path.abspath(__file__)] + args + ["--worker", str(n)], env=env)
        if rc != 0:
            sys.exit("bench_threads_torch.py: the run on %d thread(s) failed" % n)


def worker(a):
    import gzip
    import numpy as np
    import torch
    import torch.nn as nn

    n = a.worker
    torch.set_num_threads(n)
    clock = time.process_time if a.clock == "cpu" else time.perf_counter

    def idx(name, offset):
        with gzip.open(os.path.join(DATA, name), "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    x_all = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).astype(np.float32) / 255).view(-1, 1, 28, 28)
    y_all = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))

    nets = {
        "mlp1200": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 1200), nn.ReLU(), nn.Linear(1200, 1200),
                                          nn.ReLU(), nn.Linear(1200, 10))),
        "mlp128": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))),
        "c1": (lambda: nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                                     nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128),
                                     nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))),
        "c2": (lambda: nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3),
                                     nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 10))),
    }

    def throughput(make):
        torch.manual_seed(1)
        m = make()
        m.train()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        nb = x_all.shape[0] // BATCH
        b = [0]

        def step():
            i = b[0]
            b[0] = (i + 1) % nb
            opt.zero_grad(set_to_none=True)
            loss_fn(m(x_all[i * BATCH:(i + 1) * BATCH]), y_all[i * BATCH:(i + 1) * BATCH]).backward()
            opt.step()

        # a warm-up of at least 2 steps and 0.2 s sizes the windows, as in bench_threads.c
        t0 = clock()
        steps = 0
        while steps < 2 or clock() - t0 < 0.2:
            step()
            steps += 1
        steps = max(2, int(a.seconds / ((clock() - t0) / steps)))
        best = 0.0
        for _ in range(a.reps):
            t0 = clock()
            for _ in range(steps):
                step()
            best = max(best, steps * BATCH / (clock() - t0))
        return best

    def latency_us(make):
        torch.manual_seed(1)
        m = make().eval()
        times = []
        with torch.no_grad():
            for i in range(200):
                m(x_all[i % 64:i % 64 + 1])
            for i in range(a.latency_runs):
                x = x_all[i % 64:i % 64 + 1]
                t0 = time.perf_counter_ns()  # always wall time: a median ignores the outliers
                m(x)
                times.append(time.perf_counter_ns() - t0)
        times.sort()
        return times[len(times) // 2] / 1000.0

    print("version %s" % torch.__version__)
    print("# %d thread(s): torch.get_num_threads() = %d, OPENBLAS_NUM_THREADS = %s"
          % (n, torch.get_num_threads(), os.environ.get("OPENBLAS_NUM_THREADS")), flush=True)
    for name in ("mlp1200", "mlp128", "c1", "c2"):
        v = throughput(nets[name])
        print("train %s %d %.1f" % (name, n, v), flush=True)
        print("  torch %s, %d thread(s): %.0f samples/s" % (name, n, v), file=sys.stderr, flush=True)
    for name in ("mlp128", "c2"):
        print("latency %s %d %.3f" % (name, n, latency_us(nets[name])), flush=True)


if __name__ == "__main__":
    opts = options()
    if opts.worker:
        worker(opts)
    else:
        parent(opts)
