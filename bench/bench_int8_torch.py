#!/usr/bin/python3
"""int8 models against their float models, PyTorch side of bench/bench_int8.c:
the same students, the same training protocol and the same calibration sets,
quantized by PyTorch's own post-training static quantization
(torch.ao.quantization, eager mode), on each quantized engine this PyTorch
offers (Debian's 1.13: onednn and qnnpack). One thread.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_int8_torch.py [--data DIR]
        [--runs N] [--epochs E] [--c1 FILE.pt] [--engines onednn,qnnpack]

What is measured, as bench/bench_int8.c does:
- the MLP 784-128-10 and the CNN C2 (conv3x3(1->8)+ReLU, maxpool2,
  conv3x3(8->16)+ReLU, maxpool2, flatten, dense(400->10)), trained on the
  60,000 labels (Adam, lr 1e-3, batch 128, --epochs E, 5 by default,
  seed 1); with --c1, also the teacher C1 read from FILE.pt (a state dict of
  bench/kd_transfer_torch.py's C1);
- quantized with each engine's default qconfig (onednn: per-channel
  symmetric int8 weights, histogram observer for activations; qnnpack:
  per-tensor weights, min/max activations), ReLUs fused into the layer
  before them, calibrated on 1,000 training images at offsets 0, 20,000,
  40,000; accuracy on the 10,000 test images;
- batch-1 latency: median of --runs forward calls on one test image, after
  200 warm-up calls, microseconds; batch-128 throughput: images per second
  over the test set in batches of 128, best of 3; size: bytes of
  torch.save(state_dict).
"""
import argparse
import copy
import gzip
import io
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.ao.quantization as tq


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(d):
    def p(n):
        return os.path.join(d, n + ".gz")
    tx = torch.from_numpy(read_idx(p("train-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    ty = torch.from_numpy(read_idx(p("train-labels-idx1-ubyte")).astype(np.int64))
    vx = torch.from_numpy(read_idx(p("t10k-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    vy = torch.from_numpy(read_idx(p("t10k-labels-idx1-ubyte")).astype(np.int64))
    return tx, ty, vx, vy


class Net(nn.Module):
    """A sequential body between a quantize and a dequantize stub; `fuse`
    lists the index groups to fuse (conv/linear + ReLU)."""

    def __init__(self, body, fuse):
        super().__init__()
        self.quant, self.body, self.dequant, self.fuse = tq.QuantStub(), body, tq.DeQuantStub(), fuse

    def forward(self, x):
        return self.dequant(self.body(self.quant(x)))


def mlp():
    return Net(nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), [["1", "2"]])


def c2():
    return Net(nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 10)), [["0", "1"], ["3", "4"]])


def c1():
    return Net(nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(128, 10)), [["0", "1"], ["2", "3"], ["7", "8"]])


def train(m, x, y, epochs):
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    g = torch.Generator()
    g.manual_seed(1)
    m.train()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0], 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(m(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    return m


@torch.no_grad()
def accuracy(m, x, y):
    return sum((m(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, x.shape[0], 1000)) / x.shape[0]


@torch.no_grad()
def quantize(m, engine, calib):
    torch.backends.quantized.engine = engine
    q = copy.deepcopy(m).eval()
    q.body = tq.fuse_modules(q.body, q.fuse)
    q.qconfig = tq.get_default_qconfig(engine)
    tq.prepare(q, inplace=True)
    q(calib)
    tq.convert(q, inplace=True)
    return q


@torch.no_grad()
def latency_us(m, x, runs):
    for _ in range(200):
        m(x)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        m(x)
        t.append(time.perf_counter() - t0)
    return sorted(t)[runs // 2] * 1e6


@torch.no_grad()
def throughput(m, x):
    n = x.shape[0] // 128 * 128
    best = 0
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(0, n, 128):
            m(x[i:i + 128])
        best = max(best, n / (time.perf_counter() - t0))
    return best


def size_bytes(m):
    b = io.BytesIO()
    torch.save(m.state_dict(), b)
    return len(b.getvalue())


def report(name, m, tx, vx, vy, runs, engines):
    acc_f = accuracy(m, vx, vy)
    print("\n### %s (PyTorch %s)\n" % (name, torch.__version__))
    print("| engine, calibration (1,000 images) | offset 0 | offset 20,000 | offset 40,000 | mean "
          "| vs float %.2f%% |" % (100 * acc_f))
    print("|---|---:|---:|---:|---:|---:|")
    timed = {}
    for engine in engines:
        accs = []
        for s in range(3):
            q = quantize(m, engine, tx[s * 20000:s * 20000 + 1000])
            accs.append(accuracy(q, vx, vy))
            if s == 0:
                timed[engine] = q
        print("| %s, default qconfig | %s | %.2f%% | %+.2f pp |" % (
            engine, " | ".join("%.2f%%" % (100 * a) for a in accs), 100 * np.mean(accs),
            100 * (np.mean(accs) - acc_f)), flush=True)
    print("\n| %s | float | %s |" % (name, " | ".join("int8 %s" % e for e in engines)))
    print("|---|---:|%s" % ("---:|" * len(engines)))
    lat = [latency_us(m, vx[:1], runs)]
    thr = [throughput(m, vx)]
    for e in engines:
        torch.backends.quantized.engine = e
        lat.append(latency_us(timed[e], vx[:1], runs))
        thr.append(throughput(timed[e], vx))
    print("| batch-1 latency, us (median of %d) | %s |" % (runs, " | ".join("%.2f" % v for v in lat)))
    print("| batch-128 throughput, images/s | %s |" % " | ".join("%.0f" % v for v in thr))
    print("| state dict, bytes | %d | %s |" % (size_bytes(m), " | ".join(str(size_bytes(timed[e])) for e in engines)),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--c1")
    ap.add_argument("--engines", default="onednn,qnnpack")
    a = ap.parse_args()
    torch.set_num_threads(1)
    engines = [e for e in a.engines.split(",") if e in torch.backends.quantized.supported_engines]
    tx, ty, vx, vy = load(a.data)
    print("int8 against float, Fashion-MNIST, PyTorch %s, engines %s, one thread, %d epochs" % (
        torch.__version__, ",".join(engines), a.epochs))
    for name, make in (("MLP 784-128-10", mlp), ("C2 (conv8, conv16)", c2)):
        torch.manual_seed(1)
        t0 = time.time()
        m = train(make(), tx, ty, a.epochs)
        print("%s trained in %.1f s" % (name, time.time() - t0), flush=True)
        report(name, m, tx, vx, vy, a.runs, engines)
    if a.c1:
        m = c1()
        m.body.load_state_dict(torch.load(a.c1))
        m.eval()
        report("C1 teacher (read from %s)" % a.c1, m, tx, vx, vy, a.runs, engines)


if __name__ == "__main__":
    main()
