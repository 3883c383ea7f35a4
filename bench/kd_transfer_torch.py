#!/usr/bin/python3
"""Distillation on a transfer set (few labels, many unlabelled images),
PyTorch side: the same protocol as bench/kd_transfer.c. Results and the
commands are in docs/DISTILLATION.md ("Few labels, many images").

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/kd_transfer_torch.py [--teacher FILE.pt]
        [--seeds N] [--quick] [--data DIR] [--missing-class K]
        [--map [--students LIST] [--labels LIST] [--epochs LIST] [--temperatures LIST]
               [--assistant ARCH [--with-teacher]]] [--cost [--pool N] [--students ARCH]]
        [--features [--pool N] [--hint-weight W] [--attention-weight W] [--only TEXT]]

Protocol (Adam lr 1e-3, batch 128, shuffled every epoch, last batch smaller,
constant lr, no augmentation, PyTorch's default init, pixels / 255):
  split     training images 0..54,999 are the pool, 55,000..59,999 the
            validation set (every choice below is made on it); the 10,000
            test images are only reported.
  teacher   C1 trained on the 55,000 pool images with their labels, 5 epochs,
            seed 1 (saved to --teacher and reused when the file exists).
  labels    C2 on the first 1,000 pool images with labels; epochs chosen on
            validation among 25, 50, 100, 200 (mean over seeds).
  transfer  C2 on the same 1,000 labelled images plus the other 54,000 pool
            images without labels: labelled samples alpha * soft + (1 - alpha)
            * hard, unlabelled ones the soft term alone, the sum over the batch
            divided by its size (distill.h's dst_kd_loss with DST_NO_LABEL);
            alpha 0.5; T chosen on validation among 2, 4, 8 (seed 1), epochs
            among 5, 10.
  ceiling   C2 on all 55,000 pool images with labels; epochs among 5, 10.
The teacher's logits on the pool are computed once (eval mode). Seeds 1..N
set the student's init and its shuffling.
--quick: 5,000 pool images, 1 teacher epoch, short students (a smoke test).
--missing-class K: Hinton et al.'s demonstration instead: the transfer set is
every pool image whose class is not K, with no labels (soft targets alone,
T = 8, 10 epochs, seeds 1..N); reported: test accuracy on class K and overall,
as trained and after adding b to the logit of class K (b chosen on validation
among 0, 0.5, ..., 10 for the best overall accuracy).
--map: the map of where distillation pays, as bench/kd_transfer.c's --map:
for each student of --students (C2, C3, MLP32, MLP128, MLP512) and each
labelled count L of --labels (500, 2000, 10000, 55000), seeds 1..N: labels
alone (the first L pool images; epochs on validation among 50-400 for
L <= 1,000, 25-200 for L <= 5,000, 10-40 for L <= 20,000, 5-20 beyond) and
distilled (the same L labelled plus the rest of the pool unlabelled, T = 2,
alpha 0.5, epochs among 5, 10, 20; --epochs LIST: these for every row,
--temperatures LIST: a "kd T=..." row for each T; --assistant ARCH: the kd
rows learn from a teacher assistant, ARCH distilled from C1 with every pool
label, T 2, alpha 0.5, 20 epochs, seed 1, and the labels rows are left out;
--with-teacher: from C1 and the assistant together, the mean of their
tempered probabilities). --cost: one epoch of each recipe on --pool
images (20,000), timed, as bench/kd_transfer.c --cost (no quantization-aware
row: docs/BENCHMARKS.md compares that one). --features: do hint and
attention terms add anything? As bench/kd_transfer.c --features (pool of
--pool images, 1,000 labelled in the transfer rows; KD, KD + hint 1:1, KD +
attention 1:1 on the transfer set; labels, KD, KD + hint, KD + attention
with every pool label; C2's first conv+ReLU against C1's, hint through a 1x1
conv adapter, weight 1; attention weight 500; T 2, alpha 0.5, epochs among
5, 10). C3: conv3x3(1->16)+ReLU, maxpool2,
conv3x3(16->32)+ReLU, maxpool2, flatten, dense(800->64)+ReLU,
dense(64->10); MLP<H>: 784-H-10 with ReLU.
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


def student(arch):
    if arch == "C2":
        return c2()
    if arch == "C3":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(800, 64), nn.ReLU(), nn.Linear(64, 10))
    if arch.startswith("MLP") and arch[3:].isdigit():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, int(arch[3:])), nn.ReLU(), nn.Linear(int(arch[3:]), 10))
    raise SystemExit("unknown architecture %s (C2, C3, MLP<width>)" % arch)


def mixed_kd_loss(s, t, y, T, alpha):
    """distill.h's loss with unlabelled rows (y < 0): per row, labelled
    alpha * T^2 KL + (1 - alpha) * CE, unlabelled T^2 KL alone; the mean over
    the batch."""
    log_ps = F.log_softmax(s / T, dim=1)
    pt = F.softmax(t / T, dim=1)
    kl = (pt * (torch.log(pt.clamp_min(1e-30)) - log_ps)).sum(1) * (T * T)
    labelled = y >= 0
    ce = F.cross_entropy(s, y.clamp(min=0), reduction="none")
    per_row = torch.where(labelled, alpha * kl + (1.0 - alpha) * ce, kl)
    return per_row.mean()


@torch.no_grad()
def logits_of(model, x):
    model.eval()
    return torch.cat([model(x[i:i + 1000]) for i in range(0, x.shape[0], 1000)])


@torch.no_grad()
def accuracy(model, x, y):
    acc = (logits_of(model, x).argmax(1) == y).float().mean().item()
    model.train()
    return acc


def train(model, x, y, checkpoints, seed, evals, tl=None, T=4.0, alpha=0.5, loss_fn=None, extra=()):
    """Trains for max(checkpoints) epochs; at each checkpoint calls evals()
    and keeps what it returns. loss_fn(model, xb, yb, idx, g), if given,
    makes each batch's loss (recipe_loss); extra: more parameters to train
    (a hint's adapter)."""
    opt = torch.optim.Adam(list(model.parameters()) + list(extra), lr=1e-3)
    g = torch.Generator()
    g.manual_seed(seed)
    n = x.shape[0]
    model.train()
    out = {}
    for ep in range(1, max(checkpoints) + 1):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 128):
            idx = perm[i:i + 128]
            if loss_fn:
                loss = loss_fn(model, x[idx], y[idx], idx, g)
            else:
                s = model(x[idx])
                loss = F.cross_entropy(s, y[idx]) if tl is None else mixed_kd_loss(s, tl[idx], y[idx], T, alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if ep in checkpoints:
            out[ep] = evals(model)
    return out


def class_acc(logits, y, cls, b):
    z = logits.clone()
    z[:, cls] += b
    right = z.argmax(1) == y
    return right.float().mean().item(), right[y == cls].float().mean().item()


def missing_class(teacher, px, py, val_x, val_y, test_x, test_y, cls, seeds):
    x = px[py != cls]
    print("missing class %d: transfer set of %d images without labels, none of class %d" % (cls, x.shape[0], cls))
    ta, tc = class_acc(logits_of(teacher, test_x), test_y, cls, 0.0)
    print("teacher: class %d test accuracy %.2f%% (all classes %.2f%%)" % (cls, 100 * tc, 100 * ta), flush=True)
    tl = logits_of(teacher, x)
    none = torch.full((x.shape[0],), -1, dtype=torch.int64)
    for s in range(1, seeds + 1):
        torch.manual_seed(s)
        m = c2()
        t0 = time.time()
        train(m, x, none, [10], s, lambda _: None, tl, 8.0, 0.5)
        vl, tst = logits_of(m, val_x), logits_of(m, test_x)
        best_b = max([0.5 * i for i in range(21)], key=lambda b: (class_acc(vl, val_y, cls, b)[0], -b))
        ta, tc = class_acc(tst, test_y, cls, 0.0)
        ta2, tc2 = class_acc(tst, test_y, cls, best_b)
        print("seed %d: class %d test accuracy %.2f%% (all classes %.2f%%); bias +%.1f (chosen on validation): "
              "class %d %.2f%%, all %.2f%%  %.0fs" % (s, cls, 100 * tc, 100 * ta, best_b, cls, 100 * tc2, 100 * ta2,
                                                      time.time() - t0), flush=True)


def shift(x, p, g):
    """Each image moved by dy, dx drawn uniformly in [-p, p] (zero padding)."""
    b, _, h, w = x.shape
    xp = F.pad(x, (p, p, p, p))
    dy = torch.randint(0, 2 * p + 1, (b,), generator=g)
    dx = torch.randint(0, 2 * p + 1, (b,), generator=g)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    return xp[torch.arange(b)[:, None, None], 0, rows, cols].unsqueeze(1)


def at_map(a):
    """Attention map: channels' sum of squares, L2-normalised per sample."""
    return F.normalize(a.pow(2).sum(1).flatten(1))


def recipe_loss(kind, teacher=None, tl=None, second=None, adapter=None, T=2.0, alpha=0.5, hint_w=1.0, at_w=500.0):
    """A batch's loss for train(): kind "labels", "cached" (KD from tl),
    "live" (the teacher run on the batch), "shift" (live on shifted views),
    "attention" or "hint" (live plus the term between both models' first
    conv+ReLU, as bench/kd_transfer.c's 1:1), "ensemble" (teacher and
    second, live, the mean of their tempered probabilities)."""
    def f(m, xb, yb, idx, g):
        if kind == "shift":
            xb = shift(xb, 2, g)
        if kind == "labels":
            return F.cross_entropy(m(xb), yb)
        if kind == "cached":
            return mixed_kd_loss(m(xb), tl[idx], yb, T, alpha)
        with torch.no_grad():
            tf = teacher[:2](xb)
            t = teacher[2:](tf)
            if kind == "ensemble":
                t = T * torch.log(0.5 * (F.softmax(t / T, dim=1) + F.softmax(second(xb) / T, dim=1)))
        sf = m[:2](xb)
        loss = mixed_kd_loss(m[2:](sf), t, yb, T, alpha)
        if kind == "attention":
            loss = loss + at_w * (at_map(sf) - at_map(tf)).pow(2).mean()
        if kind == "hint":
            loss = loss + hint_w * F.mse_loss(adapter(sf), tf)
        return loss
    return f


def hint_adapter(m, teacher):
    """The 1x1 conv from the student's first conv channels to the teacher's."""
    return nn.Conv2d(m[0].out_channels, teacher[0].out_channels, 1)


def cost(teacher, px, py, tl, cache_s, arch):
    """--cost: one epoch of each recipe (as bench/kd_transfer.c --cost)."""
    teacher.eval()
    torch.manual_seed(2)
    c3 = student("C3").eval()
    print("cost: %s student, %d images a epoch, one thread" % (arch, px.shape[0]), flush=True)
    base = None
    for name, kind in [("labels", "labels"), ("KD, cached logits", "cached"), ("KD, live teacher", "live"),
                       ("KD, live, shift 2", "shift"), ("KD, live, attention 1:1", "attention"),
                       ("KD, live, hint 1:1", "hint"), ("KD, ensemble C1+C3, live", "ensemble"),
                       ("assistant C3, KD cached", "cached")]:
        torch.manual_seed(1)
        m = student("C3" if name.startswith("assistant") else arch)
        adapter = hint_adapter(m, teacher) if kind == "hint" else None
        t0 = time.time()
        train(m, px, py, [1], 1, lambda _: None, loss_fn=recipe_loss(kind, teacher, tl, c3, adapter),
              extra=adapter.parameters() if adapter else ())
        secs = time.time() - t0
        base = base or secs
        print("cost %-32s %7.2fs per epoch  %5.2fx labels" % (name, secs, secs / base), flush=True)
    print("cost %-32s %7.2fs once        %5.2fx labels" % ("teacher logits, cached", cache_s, cache_s / base))


def features(teacher, px, py, tl, labelled, seeds, evals, record, hint_w, at_w, only):
    """--features: KD with and without a hint or an attention term, on a
    transfer set and with all labels (as bench/kd_transfer.c --features)."""
    teacher.eval()
    ymix = py.clone()
    ymix[labelled:] = -1
    rows = [("transfer KD", 1, "cached"), ("transfer KD+hint", 1, "hint"), ("transfer KD+attention", 1, "attention"),
            ("labels", 0, "labels"), ("labels KD", 0, "cached"), ("labels KD+hint", 0, "hint"),
            ("labels KD+attention", 0, "attention")]
    for s in range(1, seeds + 1):
        for name, transfer, kind in rows:
            if only and only not in name:
                continue
            torch.manual_seed(s)
            m = c2()
            adapter = hint_adapter(m, teacher) if kind == "hint" else None
            t0 = time.time()
            res = train(m, px, ymix if transfer else py, [5, 10], s, evals,
                        loss_fn=recipe_loss(kind, teacher, tl, None, adapter, hint_w=hint_w, at_w=at_w),
                        extra=adapter.parameters() if adapter else ())
            print("run %-22s seed %d  %s  %.1fs" % (name, s, "  ".join(
                "ep%d val %.4f test %.4f" % (e, v, t) for e, (v, t) in sorted(res.items())), time.time() - t0),
                flush=True)
            record(name, res, s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default="teacher_c1.pt")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--missing-class", type=int, default=-1)
    ap.add_argument("--map", action="store_true")
    ap.add_argument("--students", default="C2,C3,MLP32,MLP128,MLP512")
    ap.add_argument("--labels", default="500,2000,10000,55000")
    ap.add_argument("--epochs", default="", help="--map: these checkpoints for every row")
    ap.add_argument("--temperatures", default="", help="--map: a kd row for each T, named 'kd T=...'")
    ap.add_argument("--assistant", default="", help="--map: the kd rows learn from this teacher assistant")
    ap.add_argument("--with-teacher", action="store_true", help="--assistant: from C1 and the assistant together")
    ap.add_argument("--cost", action="store_true", help="one epoch of each recipe, timed")
    ap.add_argument("--pool", type=int, default=20000, help="--cost, --features: the pool's size")
    ap.add_argument("--features", action="store_true", help="KD with and without hint and attention terms")
    ap.add_argument("--hint-weight", type=float, default=1.0)
    ap.add_argument("--attention-weight", type=float, default=500.0)
    ap.add_argument("--only", default="", help="--features: the rows whose name holds this")
    a = ap.parse_args()
    torch.set_num_threads(1)
    tx, ty, test_x, test_y = load(a.data)
    pool, labelled, t_ep = 55000, 1000, 5
    lab_ck, kd_ck, all_ck, temps = [25, 50, 100, 200], [5, 10], [5, 10], [2.0, 4.0, 8.0]
    if a.quick:
        pool, labelled, t_ep = 5000, 500, 1
        lab_ck, kd_ck, all_ck, temps = [2, 4], [1, 2], [1, 2], [2.0, 4.0]
    px, py = tx[:pool], ty[:pool]
    val_x, val_y = tx[55000:60000], ty[55000:60000]

    def evals(m):
        return (accuracy(m, val_x, val_y), accuracy(m, test_x, test_y))

    t0 = time.time()
    teacher = c1()
    if os.path.exists(a.teacher) and not a.quick:
        teacher.load_state_dict(torch.load(a.teacher))
        print("teacher: loaded %s" % a.teacher, flush=True)
    else:
        torch.manual_seed(1)
        teacher = c1()
        train(teacher, px, py, [t_ep], 1, lambda m: None)
        if not a.quick:
            torch.save(teacher.state_dict(), a.teacher)
        print("teacher: trained in %.0fs" % (time.time() - t0), flush=True)
    tv, tt = evals(teacher)
    print("teacher C1: validation %.4f test %.4f" % (tv, tt), flush=True)
    if a.missing_class >= 0:
        missing_class(teacher, px, py, val_x, val_y, test_x, test_y, a.missing_class, a.seeds)
        return
    if (a.cost or a.features) and not a.quick:
        if not 2000 <= a.pool <= 55000:
            raise SystemExit("--pool: 2,000 to 55,000")
        pool = a.pool
        px, py = tx[:pool], ty[:pool]
    t0 = time.time()
    tl = logits_of(teacher, px)
    print("teacher logits on %d images: %.1fs" % (pool, time.time() - t0), flush=True)
    if a.cost:
        cost(teacher, px, py, tl, time.time() - t0, "C2" if "," in a.students else a.students)
        return

    # stream labels: the first `labelled` pool images keep theirs, the rest -1
    ymix = py.clone()
    ymix[labelled:] = -1
    rows = {}

    def record(name, res, seed):
        for ep, (v, t) in res.items():
            rows.setdefault((name, ep), []).append((seed, v, t))

    def report(name):
        """The row's checkpoint of best mean validation accuracy: its test accuracy over the seeds."""
        eps = sorted(e for (n, e) in rows if n == name)
        best = max(eps, key=lambda e: np.mean([v for _, v, _ in rows[(name, e)]]))
        r = rows[(name, best)]
        v = np.array([t for _, _, t in r]) * 100
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        print("%-22s epochs %3d  val %.2f  test %6.2f +- %4.2f  (n=%d: %s)" % (
            name, best, 100 * np.mean([x for _, x, _ in r]), v.mean(), sd, len(v),
            " ".join("%.2f" % e for e in v)))

    if a.features:
        features(teacher, px, py, tl, labelled, a.seeds, evals, record, a.hint_weight, a.attention_weight, a.only)
        print("\nPyTorch %s, Fashion-MNIST, C2 student, pool %d (%d labelled in the transfer rows), T = 2, alpha 0.5, "
              "hint weight %g, attention weight %g; epochs on validation, test accuracy (%%)" % (
                  torch.__version__, pool, labelled, a.hint_weight, a.attention_weight))
        for name in dict.fromkeys(n for (n, _) in rows):
            report(name)
        return

    def run(name, x, y, ck, seed, tl_=None, T=4.0, arch="C2"):
        torch.manual_seed(seed)
        m = student(arch)
        t0 = time.time()
        res = train(m, x, y, ck, seed, evals, tl_, T, 0.5)
        secs = time.time() - t0
        print("run %-22s seed %d  %s  %.1fs" % (name, seed, "  ".join(
            "ep%d val %.4f test %.4f" % (e, v, t) for e, (v, t) in sorted(res.items())), secs), flush=True)
        record(name, res, seed)

    via, tla = "", None
    if a.map and a.assistant:
        t0 = time.time()
        torch.manual_seed(1)
        am = student(a.assistant)
        a_ep = 2 if a.quick else 20
        train(am, px, py, [a_ep], 1, lambda m: None, tl, 2.0, 0.5)
        av, at = evals(am)
        print("assistant %s (distilled from C1, %d epochs, every pool label, T 2, seed 1): validation %.4f test %.4f"
              "  %.0fs" % (a.assistant, a_ep, av, at, time.time() - t0), flush=True)
        tla = logits_of(am, px)
        via = (" C1+%s" if a.with_teacher else " via %s") % a.assistant

    def kd_logits(T):
        """The kd rows' teacher: C1, the assistant, or both (logits T log p
        of the mean tempered probability p, as dst_teacher_ensemble)."""
        if tla is None:
            return tl
        if not a.with_teacher:
            return tla
        return T * torch.log(0.5 * (F.softmax(tl / T, dim=1) + F.softmax(tla / T, dim=1)))

    if a.map:
        kd_map = [1, 2] if a.quick else [5, 10, 20]
        for arch in a.students.split(","):
            for count in [int(v) for v in a.labels.split(",")]:
                if not 1 <= count <= pool:
                    raise SystemExit("--labels: 1 to %d" % pool)
                ck = ([50, 100, 200, 400] if count <= 1000 else [25, 50, 100, 200] if count <= 5000 else
                      [10, 20, 40] if count <= 20000 else [5, 10, 20])
                kck = kd_map
                if a.quick:
                    ck = [1, 2]
                if a.epochs:
                    ck = kck = [int(v) for v in a.epochs.split(",")]
                for s in range(1, a.seeds + 1) if not via else []:  # with an assistant: the plain map's
                    run("%s %d labels" % (arch, count), px[:count], py[:count], ck, s, arch=arch)
                ymix = py.clone()
                ymix[count:] = -1
                for T in [float(v) for v in a.temperatures.split(",")] if a.temperatures else [None]:
                    name = "%s %d kd" % (arch, count) + (" T=%g" % T if T else "") + via
                    tk = kd_logits(T or 2.0)
                    for s in range(1, a.seeds + 1):
                        run(name, px, ymix, kck, s, tk, T or 2.0, arch)
        return
    for s in range(1, a.seeds + 1):
        run("labels %d" % labelled, px[:labelled], py[:labelled], lab_ck, s)
    # T on seed 1, then the other seeds at the chosen T
    for T in temps:
        run("transfer T=%g" % T, px, ymix, kd_ck, 1, tl, T)
    best_T = max(temps, key=lambda T: max(np.mean([v for _, v, _ in rows[("transfer T=%g" % T, e)]])
                                          for e in kd_ck))
    for s in range(2, a.seeds + 1):
        run("transfer T=%g" % best_T, px, ymix, kd_ck, s, tl, best_T)
    for s in range(1, a.seeds + 1):
        run("labels %d (all)" % pool, px, py, all_ck, s)

    print("\nPyTorch %s, Fashion-MNIST, C2 student; choices on validation (5,000 training images), "
          "test accuracy (%%) mean +- std (n-1) over seeds%s" % (torch.__version__, " [QUICK]" if a.quick else ""))
    print("teacher C1 (%d epochs, %d labels): test %.2f" % (t_ep, pool, 100 * tt))
    for name in ["labels %d" % labelled, "transfer T=%g" % best_T, "labels %d (all)" % pool]:
        report(name)


if __name__ == "__main__":
    main()
