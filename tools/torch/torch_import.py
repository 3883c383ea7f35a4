#!/usr/bin/python3
"""tools/torch/torch_import.py - a distill.h weight file -> a PyTorch nn.Sequential.

As a module:
    from torch_import import load
    model, meta = load("student.dst")      # in eval mode
From the shell (writes a pickled model for torch.load):
    /usr/bin/python3 tools/torch/torch_import.py student.dst model.pt

The model takes (N, C, H, W) when the file's input has H or W > 1, else (N, C).
Where distill.h flattens implicitly (a dense layer after a spatial one) an
nn.Flatten() is inserted, so module indices can differ from the file's layer
indices; the metadata comes back as a dict.
"""
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distill_file  # noqa: E402


def _tensor(tensors, name):
    shape, data = tensors[name]
    n = len(data) // 4
    return torch.tensor(struct.unpack("<%df" % n, data), dtype=torch.float32).reshape(shape)


def from_bytes(data):
    arch, tensors, meta = distill_file.read(data)
    c, h, w = arch["input"]
    spatial = h > 1 or w > 1   # the activation is (N, C, H, W) rather than (N, C)
    mods = []
    for i, L in enumerate(arch["layers"]):
        k = L["kind"]
        if k == "dense":
            W = _tensor(tensors, "%d.weight" % i)
            if spatial:
                mods.append(nn.Flatten())
                spatial = False
            m = nn.Linear(W.shape[1], W.shape[0], bias=not L["no_bias"])
            with torch.no_grad():
                m.weight.copy_(W)
                if not L["no_bias"]:
                    m.bias.copy_(_tensor(tensors, "%d.bias" % i))
            c = W.shape[0]
        elif k == "conv2d":
            W = _tensor(tensors, "%d.weight" % i)
            m = nn.Conv2d(W.shape[1] * L["groups"], W.shape[0], (L["kernel_h"], L["kernel_w"]),
                          (L["stride_h"], L["stride_w"]), (L["pad_h"], L["pad_w"]),
                          (L["dilation_h"], L["dilation_w"]), L["groups"], bias=not L["no_bias"])
            with torch.no_grad():
                m.weight.copy_(W)
                if not L["no_bias"]:
                    m.bias.copy_(_tensor(tensors, "%d.bias" % i))
            c = W.shape[0]
        elif k in ("maxpool2d", "avgpool2d"):
            args = ((L["kernel_h"], L["kernel_w"]), (L["stride_h"] or L["kernel_h"], L["stride_w"] or L["kernel_w"]),
                    (L["pad_h"], L["pad_w"]))
            m = nn.MaxPool2d(*args) if k == "maxpool2d" else nn.AvgPool2d(*args)
        elif k == "global_avgpool":
            m = nn.AdaptiveAvgPool2d(1)
        elif k == "batchnorm":
            g = _tensor(tensors, "%d.weight" % i)
            m = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(g.shape[0], eps=L["eps"], momentum=L["param"])
            with torch.no_grad():
                m.weight.copy_(g)
                m.bias.copy_(_tensor(tensors, "%d.bias" % i))
                m.running_mean.copy_(_tensor(tensors, "%d.running_mean" % i))
                m.running_var.copy_(_tensor(tensors, "%d.running_var" % i))
        elif k == "flatten":
            m = nn.Flatten()
            spatial = False
        elif k == "dropout":
            m = nn.Dropout(L["param"])
        elif k == "dropout2d":
            m = nn.Dropout2d(L["param"])
        elif k == "leaky_relu":
            m = nn.LeakyReLU(L["param"])
        elif k == "softmax":
            m = nn.Softmax(dim=1)
        else:
            m = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}[k]()
        mods.append(m)
    model = nn.Sequential(*mods)
    model.eval()
    return model, meta


def load(path):
    with open(path, "rb") as f:
        return from_bytes(f.read())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model, meta = load(sys.argv[1])
    torch.save(model, sys.argv[2])
    print(model)
    print("metadata:", meta)
