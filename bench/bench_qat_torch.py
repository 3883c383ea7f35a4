#!/usr/bin/python3
"""Quantization-aware training against post-training quantization, PyTorch
side of bench/bench_qat.c: the same student M1, the same protocol, with
PyTorch's own post-training and quantization-aware training
(torch.ao.quantization, eager mode, the onednn engine). One thread.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_qat_torch.py [--data DIR]
        [--seeds N] [--epochs E] [--teacher C1.pt] [--engine onednn]

Per seed, as bench/bench_qat.c:
- M1 (conv3x3(1->8, pad 1)+BN+ReLU, depthwise conv3x3 (stride 2, pad 1)+BN+ReLU,
  conv1x1(8->16)+BN+ReLU, depthwise conv3x3 (stride 2, pad 1)+BN+ReLU,
  conv1x1(16->32)+BN+ReLU, global average pooling, dense(32->10)) trained on
  the 60,000 labels for --epochs E (3), Adam lr 1e-3, batch 128;
- that model quantized as it is (post-training, as below);
- its batch norms folded (fuse_modules in eval mode: Conv+BN+ReLU become one
  ConvReLU2d), then one more epoch at lr 1e-4 in three ways: float (then
  post-training static quantization with the engine's default qconfig,
  calibrated on the first 1,000 training images), quantization-aware on the
  labels (prepare_qat with the engine's default QAT qconfig, then convert),
  and quantization-aware distillation from the teacher (--teacher, a state
  dict of C1 as bench/kd_transfer_torch.py saves it; T = 2, alpha = 0.5, its
  logits computed once);
- test accuracy of each float and int8 model, and the seconds of each extra
  epoch.
"""
import argparse
import copy
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.ao.quantization as tq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_int8_torch import Net, accuracy, c1, load  # noqa: E402


def m1():
    def cbr(cin, cout, k, s, p, groups=1):
        return [nn.Conv2d(cin, cout, k, s, p, groups=groups), nn.BatchNorm2d(cout), nn.ReLU()]
    body = nn.Sequential(*cbr(1, 8, 3, 1, 1), *cbr(8, 8, 3, 2, 1, 8), *cbr(8, 16, 1, 1, 0), *cbr(16, 16, 3, 2, 1, 16),
                         *cbr(16, 32, 1, 1, 0), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    return Net(body, [[str(3 * i), str(3 * i + 1), str(3 * i + 2)] for i in range(5)])


def fit(m, x, y, epochs, lr, seed, teacher=None, T=2.0, alpha=0.5):
    """Adam, batch 128, shuffled by seed; with teacher logits, alpha T^2 KL + (1 - alpha) CE."""
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    g = torch.Generator()
    g.manual_seed(seed)
    m.train()
    t0 = time.time()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0], 128):
            idx = perm[i:i + 128]
            out = m(x[idx])
            loss = F.cross_entropy(out, y[idx])
            if teacher is not None:
                soft = F.kl_div(F.log_softmax(out / T, 1), F.softmax(teacher[idx] / T, 1), reduction="batchmean")
                loss = alpha * T * T * soft + (1 - alpha) * loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    return time.time() - t0


def folded(m):
    f = copy.deepcopy(m).eval()
    f.body = tq.fuse_modules(f.body, f.fuse)
    return f


@torch.no_grad()
def ptq(m, engine, calib):
    q = copy.deepcopy(m).eval()
    q.qconfig = tq.get_default_qconfig(engine)
    tq.prepare(q, inplace=True)
    q(calib)
    return tq.convert(q)


def qat(m, engine, x, y, seed, teacher=None):
    q = copy.deepcopy(m).train()
    q.qconfig = tq.get_default_qat_qconfig(engine)
    tq.prepare_qat(q, inplace=True)
    sec = fit(q, x, y, 1, 1e-4, seed, teacher)
    fake = accuracy(q, *TEST)
    return fake, accuracy(tq.convert(q.eval()), *TEST), sec


TEST = None


def row(name, v):
    t = torch.tensor(v, dtype=torch.float64) * 100
    sd = t.std().item() if len(v) > 1 else 0.0
    print("%-52s %6.2f +- %4.2f  (%s)" % (name, t.mean().item(), sd, " ".join("%.2f" % a for a in t.tolist())))


def main():
    global TEST
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--teacher")
    ap.add_argument("--engine", default="onednn")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.backends.quantized.engine = a.engine
    tx, ty, vx, vy = load(a.data)
    TEST = (vx, vy)
    teacher = None
    if a.teacher:
        t = c1()
        t.body.load_state_dict(torch.load(a.teacher))
        t.eval()
        print("teacher %s: test accuracy %.2f%%" % (a.teacher, 100 * accuracy(t, vx, vy)))
        with torch.no_grad():
            teacher = torch.cat([t(tx[i:i + 1000]) for i in range(0, tx.shape[0], 1000)])
    print("quantization-aware training against post-training quantization: M1 on Fashion-MNIST, %d epochs, "
          "PyTorch %s, engine %s, one thread" % (a.epochs, torch.__version__, a.engine))
    ptq_name = "  int8, post-training (%s default qconfig)" % a.engine
    names = ["float, E epochs", ptq_name, "float, + 1 epoch (folded)", ptq_name,
             "quantization-aware epoch: fake-quantized forward", "  int8, converted",
             "quantization-aware distillation: fake-quantized", "  int8, converted"]
    v = [[] for _ in names]
    sec = [0.0, 0.0, 0.0]
    for s in range(1, a.seeds + 1):
        torch.manual_seed(s)
        m = m1()
        if s == 1:
            print("M1: %d parameters" % sum(p.numel() for p in m.parameters()))
        fit(m, tx, ty, a.epochs, 1e-3, s)
        v[0].append(accuracy(m, vx, vy))
        f = folded(m)
        v[1].append(accuracy(ptq(f, a.engine, tx[:1000]), vx, vy))
        fa = copy.deepcopy(f)
        sec[0] += fit(fa, tx, ty, 1, 1e-4, s + 100)
        v[2].append(accuracy(fa, vx, vy))
        v[3].append(accuracy(ptq(fa, a.engine, tx[:1000]), vx, vy))
        fake, q8, t = qat(f, a.engine, tx, ty, s + 100)
        v[4].append(fake)
        v[5].append(q8)
        sec[1] += t
        if teacher is not None:
            fake, q8, t = qat(f, a.engine, tx, ty, s + 100, teacher)
            v[6].append(fake)
            v[7].append(q8)
            sec[2] += t
        print("seed %d done" % s, file=sys.stderr, flush=True)
    print("test accuracy (%%), mean +- sd over %d seeds (each seed's value in brackets)" % a.seeds)
    for i, name in enumerate(names):
        if v[i]:
            row(name, v[i])
    print("seconds of the extra epoch: float %.1f, quantization-aware %.1f%s" % (
        sec[0] / a.seeds, sec[1] / a.seeds,
        ", quantization-aware distillation %.1f (cached teacher logits)" % (sec[2] / a.seeds) if teacher is not None else ""))


if __name__ == "__main__":
    main()
