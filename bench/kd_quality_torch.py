#!/usr/bin/python3
"""Distillation quality on Fashion-MNIST, PyTorch side: the same protocols as
bench/kd_quality.c (see docs/BENCHMARKS.md, "Distillation quality").

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/kd_quality_torch.py [--regime limited|short|all]
        [--seeds N] [--teachers K] [--labels-only] [--quick] [--data DIR]

Protocols (Adam lr 1e-3, batch 128, shuffled every epoch, last batch smaller,
no augmentation, PyTorch's default init, pixels / 255):
  limited: the first 10,000 training images. Teacher C1, 10 epochs. Student
           784-800-800-10 (no dropout), 20 epochs: labels alone, distilled at
           T=4 alpha=0.9 and at T=20 alpha=0.9.
  short:   all 60,000 training images, 10 epochs. Teacher C1; students
           784-128-10 and C2, labels alone and distilled at T=4 alpha=0.9.
Teacher logits on the training images are computed once (eval mode) and reused
by every distilled student, as dst_teacher_cache does. Student seed s distills
from teacher number (s - 1) mod K (K = --teachers, default: one per seed).
--quick: 2,000 training images, 2 teacher epochs, 3 student epochs (a smoke test).
--labels-only: no teacher, only the students trained on labels.
Reads the IDX .gz files with gzip + numpy (no torchvision). One thread.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load(dirname):
    def p(name):
        return os.path.join(dirname, name + ".gz")
    tx = read_idx(p("train-images-idx3-ubyte")).astype(np.float32) / 255.0
    ty = read_idx(p("train-labels-idx1-ubyte")).astype(np.int64)
    vx = read_idx(p("t10k-images-idx3-ubyte")).astype(np.float32) / 255.0
    vy = read_idx(p("t10k-labels-idx1-ubyte")).astype(np.int64)
    return (torch.from_numpy(tx).unsqueeze(1), torch.from_numpy(ty),
            torch.from_numpy(vx).unsqueeze(1), torch.from_numpy(vy))


def c1():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def c2():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 10))


def mlp(*hidden):
    layers, n = [nn.Flatten()], 784
    for h in hidden:
        layers += [nn.Linear(n, h), nn.ReLU()]
        n = h
    layers.append(nn.Linear(n, 10))
    return nn.Sequential(*layers)


ARCHS = {"C1": c1, "C2": c2, "MLP800": lambda: mlp(800, 800), "MLP128": lambda: mlp(128)}
ARCH_NAMES = {"C1": "C1 teacher", "C2": "C2 (conv8, conv16)",
              "MLP800": "784-800-800-10", "MLP128": "784-128-10"}


def kd_loss(s, t, y, T, alpha):
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean")
    return alpha * T * T * soft + (1.0 - alpha) * F.cross_entropy(s, y)


def train(model, x, y, epochs, seed, teacher_logits=None, T=4.0, alpha=0.9):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator()
    g.manual_seed(seed)
    n = x.shape[0]
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(n, generator=g)
        total, seen = 0.0, 0
        for i in range(0, n, 128):
            idx = perm[i:i + 128]
            out = model(x[idx])
            if teacher_logits is None:
                loss = F.cross_entropy(out, y[idx])
            else:
                loss = kd_loss(out, teacher_logits[idx], y[idx], T, alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
            seen += idx.shape[0]
        print("    epoch %d loss %.4f" % (ep + 1, total / seen), file=sys.stderr, flush=True)
    model.eval()


@torch.no_grad()
def logits_of(model, x):
    model.eval()
    return torch.cat([model(x[i:i + 1000]) for i in range(0, x.shape[0], 1000)])


@torch.no_grad()
def accuracy(model, x, y):
    return (logits_of(model, x).argmax(1) == y).float().mean().item()


def run(name, arch, x, y, vx, vy, epochs, seed, tl=None, T=4.0, alpha=0.9):
    torch.manual_seed(seed)
    model = ARCHS[arch]()
    t0 = time.time()
    train(model, x, y, epochs, seed, tl, T, alpha)
    secs = time.time() - t0
    acc = accuracy(model, vx, vy)
    print("run %-28s seed %d acc %.4f time %.1fs" % (name, seed, acc, secs), flush=True)
    return model, acc


def regime(kind, data, seeds, teachers, quick, labels_only, results):
    tx, ty, vx, vy = data
    n = 10000 if kind == "limited" else 60000
    t_ep, s_ep = (10, 20) if kind == "limited" else (10, 10)
    if quick:
        n, t_ep, s_ep = 2000, 2, 3
    x, y = tx[:n], ty[:n]
    if kind == "limited":
        students = [("MLP800", None), ("MLP800", 4.0), ("MLP800", 20.0)]
    else:
        students = [("MLP128", None), ("MLP128", 4.0), ("C2", None), ("C2", 4.0)]
    cache = {}
    if labels_only:
        teachers = 0
        students = [st for st in students if st[1] is None]
    for k in range(teachers):
        seed = k + 1
        t, acc = run("%s C1 teacher" % kind, "C1", x, y, vx, vy, t_ep, seed)
        results.setdefault((kind, "C1 teacher, %d epochs" % t_ep), []).append(acc)
        cache[k] = logits_of(t, x)
    for seed in range(1, seeds + 1):
        tl = cache[(seed - 1) % teachers] if teachers else None
        for arch, T in students:
            label = "%s, %s, %d epochs" % (ARCH_NAMES[arch], "labels" if T is None else
                                           "KD T=%g alpha=0.9" % T, s_ep)
            _, acc = run("%s %s %s" % (kind, arch, "labels" if T is None else "T=%g" % T),
                         arch, x, y, vx, vy, s_ep, seed, None if T is None else tl,
                         4.0 if T is None else T, 0.9)
            results.setdefault((kind, label), []).append(acc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--regime", default="limited", choices=["limited", "short", "all"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--teachers", type=int, default=0, help="teachers trained (default: one per seed)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--labels-only", action="store_true")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("note: set OPENBLAS_NUM_THREADS=1 for one thread", file=sys.stderr)
    teachers = a.teachers if a.teachers > 0 else a.seeds
    teachers = min(teachers, a.seeds)
    data = load(a.data)
    results = {}
    kinds = ["limited", "short"] if a.regime == "all" else [a.regime]
    for kind in kinds:
        regime(kind, data, a.seeds, teachers, a.quick, a.labels_only, results)
    print("\nPyTorch %s, Fashion-MNIST test accuracy (%%), mean +- std (sample, n-1) over seeds%s"
          % (torch.__version__, " [QUICK]" if a.quick else ""))
    for (kind, label), accs in results.items():
        v = np.array(accs) * 100
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        print("%-8s %-44s %6.2f +- %4.2f  (n=%d: %s)" % (kind, label, v.mean(), sd, len(v),
              " ".join("%.2f" % e for e in v)))


if __name__ == "__main__":
    main()
