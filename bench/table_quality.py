#!/usr/bin/python3
"""bench/table_quality.py - real tables through distill.h's command and through
PyTorch on the same protocol: teacher, student on labels, distilled student.

The tables are the classic ones Debian's python3-sklearn ships as CSV files
(iris, wine, breast cancer), read as they ship by `distill train --data
FILE.csv` (its first line is a preamble the CSV reader recognises). Nothing
here needs scikit-learn itself: only its CSV files, e.g. unpacked from the
package without installing it:

    apt-get download python3-sklearn && dpkg-deb -x python3-sklearn_*.deb build/sklearn
    make build/distill
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/table_quality.py build/sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data

Protocol, per table and seed: a stratified 20% test split (numpy, seeded)
written as train/test CSV files that both sides read; features
standardised with the training rows' mean and std (the command does it
itself and stores it in the model); Adam lr 0.01, batch 16, 100 epochs;
teacher 64-64 ReLU, student 4 ReLU units; distillation T = 4, alpha = 0.9
from the trained teacher. Prints mean and standard deviation over the
seeds of test accuracy.
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

TABLES = [("iris", "iris.csv"), ("wine", "wine_data.csv"), ("breast cancer", "breast_cancer.csv")]
SEEDS = [1, 2, 3, 4, 5]
EPOCHS, BATCH, LR, T, ALPHA = 100, 16, 0.01, 4.0, 0.9
DISTILL = "build/distill"
OUT = "build/table_quality"


def read_table(path):
    rows = open(path).read().split("\n")[1:]  # the first line is sklearn's preamble
    data = np.array([[float(v) for v in r.split(",")] for r in rows if r.strip()], dtype=np.float64)
    return data[:, :-1].astype(np.float32), data[:, -1].astype(np.int64)


def split(y, seed, fraction=0.2):
    rng = np.random.RandomState(seed)
    test = []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        test += list(rng.choice(idx, int(round(fraction * len(idx))), replace=False))
    mask = np.zeros(len(y), bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def write_csv(path, x, y):
    with open(path, "w") as f:
        for row, k in zip(x, y):
            f.write(",".join("%.9g" % v for v in row) + ",%d\n" % k)


def mlp(features, hidden, classes):
    layers, prev = [], features
    for h in hidden:
        layers += [torch.nn.Linear(prev, h), torch.nn.ReLU()]
        prev = h
    return torch.nn.Sequential(*layers, torch.nn.Linear(prev, classes))


def torch_fit(model, x, y, teacher=None, seed=1):
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), BATCH):
            b = order[i:i + BATCH]
            out = model(x[b])
            loss = F.cross_entropy(out, y[b])
            if teacher is not None:
                with torch.no_grad():
                    t = teacher(x[b])
                soft = F.kl_div(F.log_softmax(out / T, 1), F.softmax(t / T, 1), reduction="batchmean") * T * T
                loss = ALPHA * soft + (1 - ALPHA) * loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def torch_run(xtr, ytr, xte, yte, classes, seed):
    mean, std = xtr.mean(0), xtr.std(0)
    std[std == 0] = 1
    xtr, xte = torch.tensor((xtr - mean) / std), torch.tensor((xte - mean) / std)
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)
    acc = lambda m: float((m(xte).argmax(1) == yte).float().mean())
    torch.manual_seed(seed)
    teacher = torch_fit(mlp(xtr.shape[1], [64, 64], classes), xtr, ytr, seed=seed)
    torch.manual_seed(seed + 100)
    student = torch_fit(mlp(xtr.shape[1], [4], classes), xtr, ytr, seed=seed)
    torch.manual_seed(seed + 100)
    distilled = torch_fit(mlp(xtr.shape[1], [4], classes), xtr, ytr, teacher=teacher.eval(), seed=seed)
    return [acc(teacher), acc(student), acc(distilled)]


def distill_run(train, test, classes, seed):
    base = ["--data", train, "--test", test, "--epochs", str(EPOCHS), "--batch", str(BATCH), "--lr", str(LR),
            "--seed", str(seed), "--quiet"]
    out = []
    for cmd, arch, extra in [("train", "dense:64,relu,dense:64,relu,dense:%d", []),
                             ("train", "dense:4,relu,dense:%d", []),
                             ("distill", "dense:4,relu,dense:%d",
                              ["--teacher", OUT + "/teacher.bin", "--temperature", str(T), "--alpha", str(ALPHA)])]:
        name = OUT + ("/teacher.bin" if not out else "/student.bin")
        r = subprocess.run([DISTILL, cmd] + base + ["--arch", arch % classes, "--out", name] + extra,
                           capture_output=True, text=True, check=True)
        out.append(float([l for l in r.stdout.split("\n") if l.startswith("accuracy: ")][0].split()[1]))
    return out


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/python3/dist-packages/sklearn/datasets/data"
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    print("| table | rows x features | library | teacher 64-64 | student 4, labels | student 4, distilled |")
    print("|---|---|---|---:|---:|---:|")
    for name, file in TABLES:
        x, y = read_table(os.path.join(data, file))
        classes = int(y.max()) + 1
        res = {"distill.h": [], "PyTorch": []}
        for seed in SEEDS:
            tr, te = split(y, seed)
            ftr, fte = "%s/%s_%d_train.csv" % (OUT, file[:-4], seed), "%s/%s_%d_test.csv" % (OUT, file[:-4], seed)
            write_csv(ftr, x[tr], y[tr])
            write_csv(fte, x[te], y[te])
            res["distill.h"].append(distill_run(ftr, fte, classes, seed))
            res["PyTorch"].append(torch_run(x[tr], y[tr], x[te], y[te], classes, seed))
        for lib, r in res.items():
            r = np.array(r) * 100
            cells = " | ".join("%.1f%% +- %.1f" % (m, s) for m, s in zip(r.mean(0), r.std(0)))
            print("| %s | %d x %d | %s | %s |" % (name, len(y), x.shape[1], lib, cells))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
