#!/usr/bin/python3
"""examples/offline_teacher.py - the teacher side of examples/offline_npy.c.

Trains a small PyTorch CNN on an MNIST-format data set and saves its logits
for every training image, in the data set's order, with numpy.save:
a float32 array of shape (train_count, classes).

    /usr/bin/python3 examples/offline_teacher.py /usr/share/datasets/fashion-mnist build/teacher_logits.npy [EPOCHS]

Needs PyTorch and NumPy (Debian: python3-torch). One thread unless
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS say otherwise.
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn as nn


def read_idx(directory, name):
    """An IDX file, plain or .gz, as a numpy array."""
    path = os.path.join(directory, name)
    opener = open
    if not os.path.exists(path):
        path += ".gz"
        opener = gzip.open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: offline_teacher.py DATA_DIR OUT.npy [EPOCHS]")
    directory, out = sys.argv[1], sys.argv[2]
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    x = torch.from_numpy(read_idx(directory, "train-images-idx3-ubyte").astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(read_idx(directory, "train-labels-idx1-ubyte").astype(np.int64))
    classes = int(y.max()) + 1
    h, w = x.shape[2], x.shape[3]
    teacher = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * (h // 4) * (w // 4), 128), nn.ReLU(), nn.Linear(128, classes))
    opt = torch.optim.Adam(teacher.parameters(), lr=1e-3)
    for epoch in range(epochs):
        teacher.train()
        order = torch.randperm(len(x))
        total, correct = 0.0, 0
        for i in range(0, len(x), 128):
            idx = order[i:i + 128]
            logits = teacher(x[idx])
            loss = nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (logits.argmax(1) == y[idx]).sum().item()
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, accuracy {correct / len(x):.4f}", flush=True)
    teacher.eval()
    with torch.no_grad():  # the logits of every training image, in order
        logits = torch.cat([teacher(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    np.save(out, logits.numpy().astype(np.float32))
    print(f"wrote {out}: {tuple(logits.shape)} float32 logits")


if __name__ == "__main__":
    main()
