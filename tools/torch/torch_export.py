#!/usr/bin/python3
"""tools/torch/torch_export.py - a PyTorch nn.Sequential -> a distill.h weight file.

As a module:
    from torch_export import export
    export(model, (1, 28, 28), "student.dst", meta={"classes": "t-shirt,trouser,..."})
From the shell (a whole pickled model saved with torch.save(model, path)):
    /usr/bin/python3 tools/torch/torch_export.py model.pt 1,28,28 out.dst

Supported layers: Linear, Conv2d (zero padding; stride, dilation, groups),
MaxPool2d / AvgPool2d (ceil_mode False; AvgPool2d with count_include_pad),
AdaptiveAvgPool2d(1), BatchNorm1d / BatchNorm2d (affine, running stats,
momentum not None), Flatten(1, -1), Dropout, Dropout2d, ReLU, LeakyReLU,
Sigmoid, Tanh, GELU (exact), Softmax(dim=1). Anything else raises
ValueError naming the module. Parameters keep PyTorch's layouts, so the file
holds the state_dict's values unchanged.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distill_file  # noqa: E402


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _layer(i, mod):
    """The layer dict of one module, or ValueError."""
    what = "layer %d (%s)" % (i, type(mod).__name__)
    if isinstance(mod, nn.Linear):
        return {"kind": "dense", "units": mod.out_features, "no_bias": int(mod.bias is None)}
    if isinstance(mod, nn.Conv2d):
        if mod.padding_mode != "zeros" or isinstance(mod.padding, str):
            raise ValueError("%s: only numeric zero padding" % what)
        kh, kw = _pair(mod.kernel_size)
        sh, sw = _pair(mod.stride)
        ph, pw = _pair(mod.padding)
        dh, dw = _pair(mod.dilation)
        return {"kind": "conv2d", "units": mod.out_channels, "no_bias": int(mod.bias is None), "kernel_h": kh,
                "kernel_w": kw, "stride_h": sh, "stride_w": sw, "pad_h": ph, "pad_w": pw, "dilation_h": dh,
                "dilation_w": dw, "groups": mod.groups}
    if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
        if mod.ceil_mode:
            raise ValueError("%s: ceil_mode" % what)
        if isinstance(mod, nn.MaxPool2d) and (_pair(mod.dilation) != (1, 1) or mod.return_indices):
            raise ValueError("%s: dilation or return_indices" % what)
        if isinstance(mod, nn.AvgPool2d) and (not mod.count_include_pad or mod.divisor_override):
            raise ValueError("%s: count_include_pad=False or divisor_override" % what)
        kh, kw = _pair(mod.kernel_size)
        sh, sw = _pair(mod.stride if mod.stride is not None else mod.kernel_size)
        ph, pw = _pair(mod.padding)
        return {"kind": "maxpool2d" if isinstance(mod, nn.MaxPool2d) else "avgpool2d", "kernel_h": kh,
                "kernel_w": kw, "stride_h": sh, "stride_w": sw, "pad_h": ph, "pad_w": pw}
    if isinstance(mod, nn.AdaptiveAvgPool2d):
        if _pair(mod.output_size) != (1, 1):
            raise ValueError("%s: output size must be 1" % what)
        return {"kind": "global_avgpool"}
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if not mod.affine or not mod.track_running_stats or mod.momentum is None:
            raise ValueError("%s: needs affine, running stats and a momentum" % what)
        return {"kind": "batchnorm", "param": float(mod.momentum), "eps": float(mod.eps)}
    if isinstance(mod, nn.Flatten):
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise ValueError("%s: only Flatten(1, -1)" % what)
        return {"kind": "flatten"}
    if isinstance(mod, nn.Dropout2d):
        return {"kind": "dropout2d", "param": float(mod.p)}
    if isinstance(mod, nn.Dropout):
        return {"kind": "dropout", "param": float(mod.p)}
    if isinstance(mod, nn.LeakyReLU):
        return {"kind": "leaky_relu", "param": float(mod.negative_slope)}
    if isinstance(mod, nn.GELU):
        if getattr(mod, "approximate", "none") != "none":
            raise ValueError("%s: only the exact (erf) GELU" % what)
        return {"kind": "gelu"}
    if isinstance(mod, nn.Softmax):
        if mod.dim not in (1, -1):
            raise ValueError("%s: only dim=1" % what)
        return {"kind": "softmax"}
    simple = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
    for cls, kind in simple.items():
        if isinstance(mod, cls):
            return {"kind": kind}
    raise ValueError("%s is not supported by distill.h" % what)


def to_bytes(model, input_shape, meta=None, seed=1):
    """The weight file's bytes for an nn.Sequential taking (N, *input_shape)."""
    if not isinstance(model, nn.Sequential):
        raise ValueError("export takes an nn.Sequential")
    c, h, w = (tuple(input_shape) + (1, 1))[:3]
    layers, tensors = [], {}
    for i, mod in enumerate(model):
        layers.append(_layer(i, mod))
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(mod, name, None)
            if isinstance(t, torch.Tensor):
                a = t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4")
                tensors["%d.%s" % (i, name)] = (tuple(a.shape), a.tobytes())
    return distill_file.write({"input": (c, h, w), "seed": seed, "layers": layers}, tensors, meta)


def export(model, input_shape, path, meta=None):
    data = to_bytes(model, input_shape, meta)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model = torch.load(sys.argv[1])
    export(model, tuple(int(v) for v in sys.argv[2].split(",")), sys.argv[3])
    print("wrote %s" % sys.argv[3])
