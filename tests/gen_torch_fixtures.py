#!/usr/bin/python3
"""tests/gen_torch_fixtures.py - PyTorch <-> distill.h weight-file interop fixtures.

Trains a small CNN (every layer kind the exporter takes that fits an image
classifier) for one pass over 2000 Fashion-MNIST training images, then:
  tests/fixtures/torch_cnn.dst           the model, by tools/torch/torch_export.py
  tests/fixtures/torch_cnn_logits.npy    its logits on the first 256 test images
  tests/fixtures/teacher_logits.npy      its logits on the first 2000 training
                                         images (numpy.save), to distill from in C
  tests/fixtures/c_cnn.dst, c_cnn_torch_out.npy
                                         a file distill.h wrote, imported by
                                         tools/torch/torch_import.py, and PyTorch's outputs
and checks the PyTorch round trip itself: tools/torch/torch_import.py on the exported
file gives a model whose outputs on the 256 test images match the original's
to 1e-5, and re-exporting it reproduces the file byte for byte. The C side
(tests/test_file.c) loads these files, checks distill.h's outputs against the
logits and distills a student from the teacher logits.

Run from the repository root with Debian's python3-torch, one thread:
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/gen_torch_fixtures.py
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "torch"))
import torch_export  # noqa: E402
import torch_import  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(ROOT, "tests", "fixtures")


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train_x = torch.tensor(idx("train-images-idx3-ubyte.gz")[:2000], dtype=torch.float32).div(255).unsqueeze(1)
    train_y = torch.tensor(idx("train-labels-idx1-ubyte.gz")[:2000], dtype=torch.long)
    test_x = torch.tensor(idx("t10k-images-idx3-ubyte.gz")[:256], dtype=torch.float32).div(255).unsqueeze(1)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8),
        nn.LeakyReLU(0.1),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.Dropout2d(0.1),
        nn.Conv2d(8, 16, (3, 2), stride=(2, 1), padding=(1, 0), groups=2, bias=False),
        nn.Flatten(),
        nn.Linear(16 * 4 * 6, 32),
        nn.BatchNorm1d(32),
        nn.GELU(),
        nn.Dropout(0.2),
        nn.Linear(32, 24),
        nn.Tanh(),
        nn.Linear(24, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for epoch in range(2):
        for i in range(0, 2000, 50):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(train_x[i:i + 50]), train_y[i:i + 50])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        test_logits = model(test_x)
        teacher_logits = model(train_x)
    acc = (teacher_logits.argmax(1) == train_y).float().mean().item()
    meta = {"classes": "t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot",
            "source": "tests/gen_torch_fixtures.py", "train_accuracy": acc}
    data = torch_export.to_bytes(model, (1, 28, 28), meta)
    with open(os.path.join(OUT, "torch_cnn.dst"), "wb") as f:
        f.write(data)
    np.save(os.path.join(OUT, "torch_cnn_logits.npy"), test_logits.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "teacher_logits.npy"), teacher_logits.numpy().astype(np.float32))
    # the round trip through both scripts
    back, meta2 = torch_import.from_bytes(data)
    with torch.no_grad():
        diff = (back(test_x) - test_logits).abs().max().item()
    assert diff <= 1e-5, "import(export(model)) differs by %g" % diff
    assert meta2 == meta, meta2
    again = torch_export.to_bytes(nn.Sequential(*[m for m in back]), (1, 28, 28), meta)
    assert again == data, "re-export differs"
    # the layer kinds the CNN above lacks, through both scripts (PyTorch only)
    torch.manual_seed(1)
    other = nn.Sequential(nn.Conv2d(1, 4, 5, stride=2, padding=2, dilation=1), nn.Sigmoid(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 6, bias=False), nn.BatchNorm1d(6, eps=1e-3, momentum=0.2),
                          nn.LeakyReLU(0.2), nn.Linear(6, 5), nn.Softmax(dim=1))
    other.train()
    other(test_x[:64])  # moves the batch norm statistics
    other.eval()
    back2, _ = torch_import.from_bytes(torch_export.to_bytes(other, (1, 28, 28)))
    with torch.no_grad():
        diff2 = (back2(test_x) - other(test_x)).abs().max().item()
    assert diff2 <= 1e-5, "second model: import(export(model)) differs by %g" % diff2
    # the other direction: a file distill.h wrote (tests/corpus/cnn.dst: conv with dilation and groups, batch
    # norm, leaky ReLU, max and average pooling, Dropout2d, global pooling, flatten, dense, GELU), frozen
    # as tests/fixtures/c_cnn.dst, imported; its PyTorch outputs on 16 inputs given by a formula that
    # float32 arithmetic computes the same way in C go to c_cnn_torch_out.npy for tests/test_file.c
    with open(os.path.join(ROOT, "tests", "corpus", "cnn.dst"), "rb") as f:
        cdata = f.read()
    with open(os.path.join(OUT, "c_cnn.dst"), "wb") as f:
        f.write(cdata)
    cmodel, _ = torch_import.from_bytes(cdata)
    x = ((np.arange(16 * 2 * 8 * 8) * 37) % 101).astype(np.float32) / np.float32(101) - np.float32(0.5)
    with torch.no_grad():
        cout = cmodel(torch.from_numpy(x.reshape(16, 2, 8, 8)))
    np.save(os.path.join(OUT, "c_cnn_torch_out.npy"), cout.numpy().astype(np.float32))
    print("teacher train accuracy %.3f; round trip max |diff| %g and %g; wrote torch_cnn.dst (%d bytes), "
          "torch_cnn_logits.npy, teacher_logits.npy, c_cnn.dst, c_cnn_torch_out.npy" % (acc, diff, diff2, len(data)))


if __name__ == "__main__":
    main()
