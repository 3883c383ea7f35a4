#!/usr/bin/python3
# bench/bench_cnn_torch.py - the PyTorch side of bench/bench_cnn.c: the same
# networks, batch, data, optimizer and timing, one thread. Needs Debian's
# python3-torch (/usr/bin/python3). `make bench-cnn` runs it first:
#   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_cnn_torch.py [--reps R] [--clock wall|cpu] > build/bench_cnn_torch.txt
# and bench_cnn reads the "name value" lines it prints.
import argparse, gzip, os, sys, time
import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)
BATCH = 128
DATA = "/usr/share/datasets/fashion-mnist"
ap = argparse.ArgumentParser()
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
args = ap.parse_args()
repeats = max(1, args.reps)
clock = time.process_time if args.clock == "cpu" else time.perf_counter


def idx(name, offset):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


x_all = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).astype(np.float32) / 255).view(-1, 1, 28, 28)
y_all = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))


def c1():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 10))


def c2():
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 10))


def throughput(make, steps):
    torch.manual_seed(1)
    m = make()
    m.train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    nb = x_all.shape[0] // BATCH

    def step(b):
        xb, yb = x_all[b * BATCH:(b + 1) * BATCH], y_all[b * BATCH:(b + 1) * BATCH]
        opt.zero_grad()
        loss_fn(m(xb), yb).backward()
        opt.step()

    for s in range(3):
        step(s)
    best = 0
    for r in range(repeats):
        t0 = clock()
        for s in range(steps):
            step((r * steps + s) % nb)
        best = max(best, steps * BATCH / (clock() - t0))
    return best


def conv_alone():
    torch.manual_seed(7)
    conv = nn.Conv2d(32, 64, 3)
    x = torch.randn(BATCH, 32, 26, 26, requires_grad=True)
    dy = torch.randn(BATCH, 64, 24, 24)
    conv(x).backward(dy)
    f = fb = 1e30
    for r in range(repeats):
        x.grad = None
        conv.zero_grad()
        t0 = clock()
        y = conv(x)
        t1 = clock()
        y.backward(dy)
        t2 = clock()
        f, fb = min(f, (t1 - t0) * 1e3), min(fb, (t2 - t0) * 1e3)
    return f, fb


f, fb = conv_alone()
print("version %s" % torch.__version__)
print("threads %d" % torch.get_num_threads())
print("c1_train %.1f" % throughput(c1, 10))
print("c2_train %.1f" % throughput(c2, 40))
print("conv_fwd %.2f" % f)
print("conv_fwdbwd %.2f" % fb)
