#!/usr/bin/python3
"""tests/gen_kd_fixtures.py - PyTorch references for mixup's loss and for an
ensemble of teachers (tests/test_augment.c reads them).

Run from the repository root with Debian's python3-torch:
    /usr/bin/python3 tests/gen_kd_fixtures.py

Writes tests/fixtures/torch_mixup_ensemble.bin:
  mixup.*     dst_kd_loss_mixup: per row, a labelled one
              alpha T^2 KL + (1 - alpha) (lam CE(a) + (1 - lam) CE(b)), an
              unlabelled one (-1) T^2 KL alone, the mean over the rows; value
              and gradient for three (T, alpha) and without a teacher
  ensemble.*  KD against an ensemble of three teachers' logits with weights:
              the target is sum_i w_i softmax(t_i / T) / sum_i w_i, the loss
              alpha T^2 kl_div(log_softmax(s / T), target, batchmean)
              + (1 - alpha) cross_entropy(s, y); value and gradient for T = 1, 4

Inputs are float32 values; references are computed in float64 (the helpers
of tests/gen_fixtures.py) and stored as float32. Fixed seeds: the same bytes
every run.
"""
import torch
import torch.nn.functional as F

from fixtures_io import Writer
from gen_fixtures import rnd, fl


def mixup_kd_loss(s, t, y, yb, lam, T, alpha):
    """dst_kd_loss_mixup; t None: the mixed cross-entropy alone"""
    labelled = y >= 0
    ce = lam * F.cross_entropy(s, y.clamp(min=0), reduction="none") + \
        (1 - lam) * F.cross_entropy(s, yb.clamp(min=0), reduction="none")
    if t is None:
        return ce.mean()
    kl = T * T * F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="none").sum(1)
    return torch.where(labelled, alpha * kl + (1 - alpha) * ce, kl).mean()


def ensemble_kd_loss(s, ts, w, y, T, alpha):
    target = sum(wi * F.softmax(ti / T, 1) for wi, ti in zip(w, ts)) / sum(w)
    kl = F.kl_div(F.log_softmax(s / T, 1), target, reduction="batchmean")
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(s, y)


def main():
    w = Writer("torch_mixup_ensemble.bin")
    torch.manual_seed(211)
    s, t = rnd(6, 7, scale=3), rnd(6, 7, scale=5)
    y = torch.tensor([3, -1, 0, -1, 5, 6])
    yb = torch.tensor([1, 4, 0, 2, 2, 3])
    lam = torch.tensor([0.7, 0.6, 1.0, 0.5, 0.55, 0.9], dtype=torch.float32).to(torch.float64)
    w.add("mixup.s", s)
    w.add("mixup.t", t)
    w.add("mixup.y", y)
    w.add("mixup.yb", yb)
    w.add("mixup.lam", lam)
    cases = [(1.0, 0.5), (4.0, 0.9), (4.0, 0.0), (1.0, -1.0)]  # alpha -1: no teacher, every row labelled
    for k, (T, alpha) in enumerate(cases):
        sg = s.clone().requires_grad_(True)
        if alpha < 0:
            loss = mixup_kd_loss(sg, None, y.abs(), yb, lam, fl(T), 0.0)
        else:
            loss = mixup_kd_loss(sg, t, y, yb, lam, fl(T), fl(alpha))
        loss.backward()
        w.add("mixup%d.cfg" % k, [T, alpha])
        w.add("mixup%d.loss" % k, [loss])
        w.add("mixup%d.grad" % k, sg.grad)
    ts = [rnd(6, 7, scale=3), rnd(6, 7, scale=5), rnd(6, 7, scale=8)]
    weights = [1.0, 2.0, 0.5]
    ye = torch.randint(0, 7, (6,))
    for i, ti in enumerate(ts):
        w.add("ensemble.t%d" % i, ti)
    w.add("ensemble.w", weights)
    w.add("ensemble.y", ye)
    for k, T in enumerate([1.0, 4.0]):
        sg = s.clone().requires_grad_(True)
        loss = ensemble_kd_loss(sg, ts, weights, ye, fl(T), fl(0.7))
        loss.backward()
        w.add("ensemble%d.T" % k, [T])
        w.add("ensemble%d.loss" % k, [loss])
        w.add("ensemble%d.grad" % k, sg.grad)
    w.close()


if __name__ == "__main__":
    main()
