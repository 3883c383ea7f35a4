#!/usr/bin/python3
# bench/bench_cnn_torch.py - the PyTorch side of bench/bench_cnn.c, same
# networks, same batch, one thread, same output lines. Needs Debian's
# python3-torch (/usr/bin/python3). Run with OPENBLAS_NUM_THREADS=1
# (`make bench-cnn` does):
#   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_cnn_torch.py [repeats]
import gzip, os, sys, time
import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)
BATCH = 128
DATA = "/usr/share/datasets/fashion-mnist"
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5


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
        t0 = time.perf_counter()
        for s in range(steps):
            step((r * steps + s) % nb)
        best = max(best, steps * BATCH / (time.perf_counter() - t0))
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
        t0 = time.perf_counter()
        y = conv(x)
        t1 = time.perf_counter()
        y.backward(dy)
        t2 = time.perf_counter()
        f, fb = min(f, (t1 - t0) * 1e3), min(fb, (t2 - t0) * 1e3)
    return f, fb


print("PyTorch %s, %d thread, best of %d" % (torch.__version__, torch.get_num_threads(), repeats))
print("C1 train samples/s     %10.0f" % throughput(c1, 10))
print("C2 train samples/s     %10.0f" % throughput(c2, 40))
f, fb = conv_alone()
print("conv 32->64 fwd ms     %10.1f" % f)
print("conv 32->64 fwd+bwd ms %10.1f" % fb)
