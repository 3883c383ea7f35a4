#!/usr/bin/python3
"""tests/gen_conv_fixtures.py - PyTorch references for the convolutional layers.

Writes tests/fixtures/conv_conv2d.bin, conv_pool.bin and conv_batchnorm.bin in
the format tests/test.h reads: named float32 arrays, little-endian,
  u32 name_len, name, u32 ndim, u32 dims[ndim], f32 data[prod(dims)].
Inputs are random float32; the references are computed in float64 from those
float32 values and stored as float32.

Run from the repository root with Debian's python3-torch:
    /usr/bin/python3 tests/gen_conv_fixtures.py
"""
import os

import torch
import torch.nn.functional as F

from fixtures_io import OUT, Writer  # the file format, shared with gen_fixtures.py


def rand(*shape):
    """float32 values, returned as float64 leaf tensors"""
    return (torch.rand(*shape, dtype=torch.float32) * 2 - 1).double().requires_grad_(True)


# in_c, in_h, in_w, out_c, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias, batch
CONV = [
    (3, 7, 6, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1, 2),    # plain 3x3
    (2, 9, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2),    # stride 2, padding 1
    (3, 8, 8, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 2),    # dilation 2
    (6, 5, 4, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 3),    # 1x1: plain GEMM
    (4, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1, 2),    # depthwise
    (3, 8, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 3, 1, 2),    # depthwise, multiplier 2, stride 2
    (4, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 2),    # 2 groups
    (2, 7, 9, 3, 3, 5, 1, 2, 1, 2, 1, 1, 1, 0, 2),    # 3x5, no bias, per-axis stride and padding
    (1, 10, 10, 4, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, 2),  # 5x5
    (2, 12, 11, 3, 7, 7, 2, 2, 3, 3, 2, 1, 1, 1, 1),  # 7x7, stride 2, dilation 2x1
    (3, 6, 6, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2),    # 1x1 stride 2: im2col path
    (4, 5, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1, 2),    # grouped 1x1
    (4, 6, 5, 4, 3, 3, 1, 1, 0, 0, 1, 1, 4, 0, 2),    # depthwise, no bias, no padding
]

# channels, h, w, kh, kw, sh, sw, ph, pw, batch
POOL = [
    (2, 6, 6, 2, 2, 2, 2, 0, 0, 2),
    (3, 7, 8, 3, 3, 2, 2, 1, 1, 2),
    (2, 5, 7, 3, 2, 1, 2, 1, 0, 2),
    (1, 6, 6, 3, 3, 1, 1, 1, 1, 2),
    (2, 9, 9, 3, 3, 3, 3, 0, 0, 1),
]

# channels, h, w, batch, momentum, eps
BN = [
    (3, 4, 5, 4, 0.1, 1e-5),
    (5, 1, 1, 6, 0.1, 1e-5),   # BatchNorm1d after a dense layer
    (2, 3, 3, 2, 0.3, 1e-3),
]


def conv_fixtures():
    w = Writer("conv_conv2d.bin")
    w.add("count", torch.tensor([len(CONV)]))
    for i, c in enumerate(CONV):
        in_c, in_h, in_w, out_c, kh, kw, sh, sw, ph, pw, dh, dw, g, bias, n = c
        x = rand(n, in_c, in_h, in_w)
        wt = rand(out_c, in_c // g, kh, kw)
        b = rand(out_c) if bias else None
        y = F.conv2d(x, wt, b, (sh, sw), (ph, pw), (dh, dw), g)
        dy = rand(*y.shape).detach()
        y.backward(dy)
        p = "c%d." % i
        w.add(p + "cfg", torch.tensor(c, dtype=torch.float32))
        w.add(p + "x", x)
        w.add(p + "w", wt)
        if bias:
            w.add(p + "b", b)
            w.add(p + "db", b.grad)
        w.add(p + "y", y)
        w.add(p + "dy", dy)
        w.add(p + "dx", x.grad)
        w.add(p + "dw", wt.grad)
    w.close()


def pool_fixtures():
    w = Writer("conv_pool.bin")
    w.add("count", torch.tensor([len(POOL)]))
    for i, c in enumerate(POOL):
        ch, h, wd, kh, kw, sh, sw, ph, pw, n = c
        p = "p%d." % i
        w.add(p + "cfg", torch.tensor(c, dtype=torch.float32))
        x = rand(n, ch, h, wd)
        w.add(p + "x", x)
        for kind, fn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
            xx = x.detach().clone().requires_grad_(True)
            y = fn(xx, (kh, kw), (sh, sw), (ph, pw))
            dy = rand(*y.shape).detach()
            y.backward(dy)
            w.add(p + kind + ".y", y)
            w.add(p + kind + ".dy", dy)
            w.add(p + kind + ".dx", xx.grad)
    # global average pooling
    x = rand(3, 4, 5, 3)
    y = F.adaptive_avg_pool2d(x, 1)
    dy = rand(*y.shape).detach()
    y.backward(dy)
    w.add("g.x", x)
    w.add("g.y", y)
    w.add("g.dy", dy)
    w.add("g.dx", x.grad)
    w.close()


def bn_fixtures():
    w = Writer("conv_batchnorm.bin")
    w.add("count", torch.tensor([len(BN)]))
    for i, c in enumerate(BN):
        ch, h, wd, n, mom, eps = c
        p = "b%d." % i
        bn = torch.nn.BatchNorm2d(ch, eps=eps, momentum=mom).double()
        x = (rand(n, ch, h, wd) * 3 + 0.5).float().double().detach().requires_grad_(True)
        with torch.no_grad():
            bn.weight.copy_(rand(ch) + 1.5)
            bn.bias.copy_(rand(ch))
            bn.running_mean.copy_(rand(ch))
            bn.running_var.copy_(rand(ch) + 1.5)
        # round the starting values to float32, as the C side sees them
        with torch.no_grad():
            for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                t.copy_(t.float().double())
        w.add(p + "cfg", torch.tensor(c, dtype=torch.float32))
        w.add(p + "x", x)
        w.add(p + "gamma", bn.weight)
        w.add(p + "beta", bn.bias)
        w.add(p + "rm0", bn.running_mean)
        w.add(p + "rv0", bn.running_var)
        bn.train()
        y = bn(x)
        dy = rand(*y.shape).detach()
        y.backward(dy)
        w.add(p + "y", y)
        w.add(p + "dy", dy)
        w.add(p + "dx", x.grad)
        w.add(p + "dgamma", bn.weight.grad)
        w.add(p + "dbeta", bn.bias.grad)
        w.add(p + "rm1", bn.running_mean)
        w.add(p + "rv1", bn.running_var)
        # inference with the updated running statistics, rounded to float32
        with torch.no_grad():
            bn.running_mean.copy_(bn.running_mean.float().double())
            bn.running_var.copy_(bn.running_var.float().double())
        bn.eval()
        w.add(p + "y_eval", bn(x))
    w.close()


if __name__ == "__main__":
    torch.manual_seed(20260501)
    os.makedirs(OUT, exist_ok=True)
    conv_fixtures()
    pool_fixtures()
    bn_fixtures()
