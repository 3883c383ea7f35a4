#!/usr/bin/python3
"""tests/gen_fixtures.py - PyTorch references for the core of distill.h.

Run from the repository root with Debian's python3-torch (the python3 on
PATH may lack torch):
    /usr/bin/python3 tests/gen_fixtures.py [--float32-report]

(--float32-report also prints how far PyTorch's own float32 run of each
training-parity run lands from the float64 reference: the yardstick for
distill.h's distance, which tests/test_torch.c prints.)

Writes, in the format of tests/fixtures_io.py (read by tests/test.h):
  torch_gemm.bin     dst_sgemm: the four transpose combinations, odd shapes,
                     alpha / beta, leading dimensions wider than the matrix
  torch_loss.bin     dst_softmax at T = 0.1 .. 100, dst_kd_loss (value and
                     gradient) for alpha x T (T = 0.1 .. 100), labels NULL,
                     teacher NULL, logits of +-1e4, a teacher with -inf
                     logits, 300 classes; dst_mse_loss
  torch_act.bin      every activation, forward and backward
  torch_dense.bin    dense layers forward / backward through a model, an MLP
                     with every activation, a softmax layer
  torch_optim.bin    SGD / Adam / AdamW traces of 10 steps, StepLR and cosine
                     schedules, clip_grad_norm_
  torch_train_mlp.bin, torch_train_mlp_wide.bin, torch_train_cnn.bin,
  torch_train_cnn2.bin
                     training parity: initial weights, the batches (20, or
                     fewer cycled as epochs), teacher logits and a teacher
                     model, and for each run PyTorch's parameters and batch
                     norm's running statistics after 20 steps, the trained
                     model's inference logits and cross-entropy
  torch_transfer.bin a transfer set: dst_kd_loss with unlabelled rows, and
                     dst_model_fit on labelled plus unlabelled samples
  torch_attention.bin  attention transfer: dst_attention_loss, and
                     dst_model_fit with attention terms from a teacher model
  torch_hint.bin     FitNets hints: dst_hint_loss (value, gradients wrt the
                     student and the adapter), and dst_model_fit with hint
                     terms (conv maps, pooled either side, flat features)

Every input is a float32 value; the references are computed in float64 from
those values (PyTorch in double precision) and stored as float32, so a test
measures distill.h's float32 arithmetic against the exact answer. Seeds are
fixed: running the script again writes the same bytes.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from fixtures_io import Writer

torch.set_num_threads(1)
D = torch.float64


def f32(t):
    """a float64 tensor holding float32 values"""
    return torch.as_tensor(t).to(torch.float32).to(D)


def rnd(*shape, scale=1.0):
    """uniform [-scale, scale), float32 values, as float64"""
    return f32((torch.rand(*shape, dtype=torch.float32) * 2 - 1) * scale)


def fl(x):
    """the float32 value nearest x, as a Python float (what C receives)"""
    return float(torch.tensor(x, dtype=torch.float32))


# ---- GEMM ---------------------------------------------------------------------

# trans_a, trans_b, m, n, k, alpha, beta, extra columns in lda / ldb / ldc
GEMM = [
    (0, 0, 7, 5, 3, 1.0, 0.0, 0),
    (0, 1, 8, 10, 40, 1.0, 0.0, 0),     # a dense forward, x W^T
    (0, 0, 8, 40, 10, 1.0, 0.0, 0),     # its input gradient, dy W
    (1, 0, 10, 40, 8, 1.0, 1.0, 0),     # its weight gradient, dy^T x, accumulated
    (1, 0, 13, 17, 19, 0.5, 2.0, 3),
    (0, 1, 1, 33, 65, -1.5, 0.25, 2),
    (1, 1, 31, 1, 9, 2.0, 0.0, 1),
    (1, 1, 9, 23, 37, 0.75, -0.5, 5),
    (0, 0, 1, 1, 1, 3.0, 0.0, 0),
    (0, 1, 17, 13, 67, 1.0, 0.0, 3),
    (1, 0, 3, 4, 0, 1.0, 0.5, 1),       # k = 0: C = beta C
]


def gemm_fixtures():
    torch.manual_seed(101)  # each file its own stream: adding to one leaves the others as they are
    w = Writer("torch_gemm.bin")
    w.add("count", [len(GEMM)])
    for i, (ta, tb, m, n, k, alpha, beta, pad) in enumerate(GEMM):
        ar, ac = (k, m) if ta else (m, k)       # A as stored
        br, bc = (n, k) if tb else (k, n)
        lda, ldb, ldc = ac + pad, bc + pad, n + pad
        a = rnd(ar, lda)
        b = rnd(br, ldb)
        c0 = rnd(m, ldc)
        if beta == 0:
            c0[:, :n] = float("nan")            # beta 0: C must not be read
        opa = a[:, :ac].t() if ta else a[:, :ac]
        opb = b[:, :bc].t() if tb else b[:, :bc]
        c = c0.clone()
        prod = alpha * (opa @ opb) if k > 0 else torch.zeros(m, n, dtype=D)
        c[:, :n] = prod + (beta * c0[:, :n] if beta != 0 else 0)
        p = "g%d." % i
        w.add(p + "cfg", [ta, tb, m, n, k, alpha, beta, lda, ldb, ldc])
        w.add(p + "a", a)
        w.add(p + "b", b)
        w.add(p + "c0", c0)
        w.add(p + "c", c)
    w.close()


# ---- softmax, KD loss, MSE ------------------------------------------------------

SOFTMAX_T = [0.1, 1.0, 4.0, 20.0, 100.0]
KD_ALPHA = [0.0, 0.5, 0.9, 1.0]
KD_T = [0.1, 0.5, 1.0, 4.0, 20.0, 100.0]  # the contract: stable for T from 0.1 to 100


def kd_reference(s, t, y, T, alpha):
    """PyTorch's KD loss and its gradient, float64, with the semantics of
    dst_kd_loss: t None = cross-entropy; y None = T^2 KL alone"""
    s = s.clone().requires_grad_(True)
    if t is None:
        loss = F.cross_entropy(s, y)
    else:
        soft = T * T * F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
        loss = soft if y is None else alpha * soft + (1 - alpha) * F.cross_entropy(s, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()
    return loss.detach(), s.grad


def loss_fixtures():
    torch.manual_seed(102)
    w = Writer("torch_loss.bin")
    # softmax: rows of very different scales, an all-equal row, huge logits
    z = torch.cat([rnd(2, 11), rnd(1, 11, scale=10), rnd(1, 11, scale=100),
                   torch.full((1, 11), 3.0, dtype=D), rnd(1, 11, scale=1e4),
                   f32(torch.linspace(-1e4, 1e4, 11)).unsqueeze(0)])
    w.add("sm.z", z)
    w.add("sm.T", SOFTMAX_T)
    for i, T in enumerate(SOFTMAX_T):
        w.add("sm.%d.p" % i, F.softmax(z / fl(T), 1))
    # KD: ordinary logits, huge ones (+-1e4, as an overconfident network gives),
    # and a teacher with -inf logits
    rows, cols = 6, 7
    cases = {
        "n": (rnd(rows, cols, scale=3), rnd(rows, cols, scale=5)),
        "h": (rnd(rows, cols, scale=1e4), rnd(rows, cols, scale=1e4)),
    }
    # a teacher that rules classes out with -inf logits (probability 0): one per row
    masked = cases["n"][1].clone()
    for i in range(rows):
        masked[i, (2 * i + 1) % cols] = float("-inf")
    cases["m"] = (cases["n"][0], masked)
    y = torch.randint(0, cols, (rows,))
    w.add("kd.y", y)
    w.add("kd.alpha", KD_ALPHA)
    w.add("kd.T", KD_T)
    for key, (s, t) in cases.items():
        w.add("kd.%s.s" % key, s)
        w.add("kd.%s.t" % key, t)
        for a, alpha in enumerate(KD_ALPHA):
            for b, T in enumerate(KD_T):
                loss, g = kd_reference(s, t, y, fl(T), fl(alpha))
                w.add("kd.%s.%d.%d.loss" % (key, a, b), [loss])
                w.add("kd.%s.%d.%d.grad" % (key, a, b), g)
        for b, T in enumerate(KD_T):            # labels NULL: T^2 KL, alpha ignored
            loss, g = kd_reference(s, t, None, fl(T), 0.0)
            w.add("kd.%s.nolabels.%d.loss" % (key, b), [loss])
            w.add("kd.%s.nolabels.%d.grad" % (key, b), g)
        loss, g = kd_reference(s, None, y, 1.0, 0.0)  # teacher NULL: cross-entropy
        w.add("kd.%s.ce.loss" % key, [loss])
        w.add("kd.%s.ce.grad" % key, g)
    # 300 classes: more than dst_kd_loss's stack scratch holds
    s, t, yw = rnd(3, 300, scale=6), rnd(3, 300, scale=6), torch.tensor([0, 151, 299])
    loss, g = kd_reference(s, t, yw, 3.0, fl(0.7))
    w.add("kdw.s", s)
    w.add("kdw.t", t)
    w.add("kdw.y", yw)
    w.add("kdw.loss", [loss])
    w.add("kdw.grad", g)
    # MSE
    pred, target = rnd(37, scale=2), rnd(37, scale=2)
    pred.requires_grad_(True)
    loss = F.mse_loss(pred, target)
    loss.backward()
    w.add("mse.pred", pred)
    w.add("mse.target", target)
    w.add("mse.loss", [loss])
    w.add("mse.grad", pred.grad)
    w.close()


# ---- activations ----------------------------------------------------------------

# name as in the test, distill.h's param, the PyTorch function
ACTS = [
    ("relu", 0.0, F.relu),
    ("leaky001", 0.01, lambda x: F.leaky_relu(x, 0.01)),
    ("leaky02", 0.2, lambda x: F.leaky_relu(x, fl(0.2))),
    ("sigmoid", 0.0, torch.sigmoid),
    ("tanh", 0.0, torch.tanh),
    ("gelu", 0.0, F.gelu),                      # exact erf form, PyTorch's default
]


def act_fixtures():
    torch.manual_seed(103)
    w = Writer("torch_act.bin")
    special = f32([0.0, -0.0, 1e-7, -1e-7, 1e-30, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 5.5, -5.5,
                   9.0, -9.0, 15.0, -15.0, 30.0, -30.0, 88.0, -88.0, 100.0, -100.0])
    x = torch.cat([special, rnd(41, scale=4)])
    dy = rnd(x.numel(), scale=2)
    w.add("x", x)
    w.add("dy", dy)
    w.add("count", [len(ACTS)])
    for i, (name, param, fn) in enumerate(ACTS):
        xx = x.clone().requires_grad_(True)
        y = fn(xx)
        y.backward(dy)
        w.add("a%d.param" % i, [param])
        w.add("a%d.y" % i, y)
        w.add("a%d.dx" % i, xx.grad)
    w.close()


# ---- dense layers through a model ----------------------------------------------

def linear(i, o):
    lin = nn.Linear(i, o).double()
    with torch.no_grad():
        lin.weight.copy_(f32(lin.weight))
        lin.bias.copy_(f32(lin.bias))
    return lin


def dense_fixtures():
    torch.manual_seed(104)
    w = Writer("torch_dense.bin")
    # two dense layers: the second's input gradient is the first's dy, so dW1
    # and db1 check dx of the second
    l1, l2 = linear(9, 6), linear(6, 4)
    x = rnd(5, 9)
    out = l2(l1(x))
    dy = rnd(5, 4)
    out.backward(dy)
    w.add("d.x", x)
    w.add("d.dy", dy)
    w.add("d.y", out)
    for j, lin in enumerate((l1, l2)):
        w.add("d.%d.w" % j, lin.weight)
        w.add("d.%d.b" % j, lin.bias)
        w.add("d.%d.dw" % j, lin.weight.grad)
        w.add("d.%d.db" % j, lin.bias.grad)
    # every activation as a model layer: 7-8-gelu-8-tanh-8-sigmoid-8-leaky(0.1)-8-relu-3
    sizes = [7, 8, 8, 8, 8, 8, 3]
    acts = [F.gelu, torch.tanh, torch.sigmoid, lambda v: F.leaky_relu(v, fl(0.1)), F.relu]
    lins = [linear(sizes[j], sizes[j + 1]) for j in range(6)]
    x = rnd(4, 7, scale=2)
    h = x
    for j, lin in enumerate(lins):
        h = lin(h)
        if j < 5:
            h = acts[j](h)
    dy = rnd(4, 3)
    h.backward(dy)
    w.add("a.x", x)
    w.add("a.dy", dy)
    w.add("a.y", h)
    for j, lin in enumerate(lins):  # dense layers are the model's layers 0, 2, .. 10
        w.add("a.%d.w" % (2 * j), lin.weight)
        w.add("a.%d.b" % (2 * j), lin.bias)
        w.add("a.%d.dw" % (2 * j), lin.weight.grad)
        w.add("a.%d.db" % (2 * j), lin.bias.grad)
    # a softmax layer after a dense one: probabilities forward, its Jacobian backward
    lin = linear(6, 5)
    x = rnd(3, 6, scale=2)
    y = F.softmax(lin(x), 1)
    dy = rnd(3, 5)
    y.backward(dy)
    w.add("s.x", x)
    w.add("s.dy", dy)
    w.add("s.y", y)
    w.add("s.0.w", lin.weight)
    w.add("s.0.b", lin.bias)
    w.add("s.0.dw", lin.weight.grad)
    w.add("s.0.db", lin.bias.grad)
    w.close()


# ---- optimizers, schedules, clipping -------------------------------------------

SGD, ADAM, ADAMW = 0, 1, 2  # dst_optimizer_kind
# kind, lr, momentum, dampening, nesterov, beta1, beta2, eps, weight_decay
OPTIM = [
    (SGD, 0.1, 0.0, 0.0, 0, 0, 0, 0, 0.0),
    (SGD, 0.1, 0.9, 0.0, 0, 0, 0, 0, 0.0),
    (SGD, 0.1, 0.9, 0.5, 0, 0, 0, 0, 0.0),
    (SGD, 0.1, 0.9, 0.0, 1, 0, 0, 0, 0.0),
    (SGD, 0.05, 0.9, 0.0, 0, 0, 0, 0, 0.01),
    (SGD, 0.05, 0.8, 0.0, 1, 0, 0, 0, 0.05),
    (SGD, 0.1, 0.0, 0.0, 0, 0, 0, 0, 0.1),
    (ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0),
    (ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.1),
    (ADAM, 0.005, 0, 0, 0, 0.8, 0.99, 1e-6, 0.0),
    (ADAMW, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.01),
    (ADAMW, 0.02, 0, 0, 0, 0.85, 0.995, 1e-7, 0.5),
]
OPT_STEPS = 10


def make_optimizer(cfg, params):
    kind, lr, mom, damp, nest, b1, b2, eps, wd = [fl(v) if isinstance(v, float) else v for v in cfg]
    if kind == SGD:
        return torch.optim.SGD(params, lr=lr, momentum=mom, dampening=damp, nesterov=bool(nest),
                               weight_decay=wd)
    cls = torch.optim.Adam if kind == ADAM else torch.optim.AdamW
    return cls(params, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)


def optim_fixtures():
    torch.manual_seed(105)
    w = Writer("torch_optim.bin")
    n = 23
    p0 = rnd(n, scale=2)
    grads = rnd(OPT_STEPS, n)
    grads[:, 0] = 0.0                  # a parameter that never gets a gradient (decay only)
    grads[:, 1] = f32(grads[:, 1] * 1e-9)  # gradients far below eps: eps's place shows
    grads[3:, 2] = 0.0                 # a gradient that stops
    w.add("p0", p0)
    w.add("grads", grads)
    w.add("count", [len(OPTIM)])
    for i, cfg in enumerate(OPTIM):
        p = p0.clone().requires_grad_(True)
        opt = make_optimizer(cfg, [p])
        trace = []
        for s in range(OPT_STEPS):
            p.grad = grads[s].clone()
            opt.step()
            trace.append(p.detach().clone())
        w.add("o%d.cfg" % i, cfg)
        w.add("o%d.trace" % i, torch.stack(trace))
    # StepLR(step_size 3, gamma 0.5) and CosineAnnealingLR(T_max 10, eta_min 1e-3)
    # from lr 0.1: the lr of epoch t, t = 0 .. 12 / 0 .. 10; each after a
    # linear warmup (LinearLR, then SequentialLR)
    for name, steps, make in (
            ("steplr", 13, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
            ("cosine", 11, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3)),
            # a linear warmup of 2 epochs (lr (t + 1) / 3), then the schedule from its epoch 0
            ("warmup_cosine", 13, lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
                torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0 / 3, total_iters=2),
                torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3)], milestones=[2])),
            ("warmup_steplr", 12, lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
                torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0 / 4, total_iters=3),
                torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)], milestones=[3]))):
        q = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([q], lr=0.1)
        sched = make(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        w.add(name, lrs)
    # clip_grad_norm_ over three tensors, as one flat gradient; a max_norm that
    # clips and one that does not
    for j, max_norm in enumerate((0.5, 100.0)):
        ts = [torch.zeros(5, dtype=D, requires_grad=True), torch.zeros(12, dtype=D, requires_grad=True),
              torch.zeros(7, dtype=D, requires_grad=True)]
        g = rnd(24)
        ts[0].grad, ts[1].grad, ts[2].grad = g[:5].clone(), g[5:17].clone(), g[17:].clone()
        norm = nn.utils.clip_grad_norm_(ts, max_norm)
        w.add("clip%d.max_norm" % j, [max_norm])
        w.add("clip%d.g" % j, g)
        w.add("clip%d.norm" % j, [norm])
        w.add("clip%d.clipped" % j, torch.cat([t.grad for t in ts]))
    w.close()


# ---- training parity -------------------------------------------------------------
#
# A model, its initial weights, 20 batches, teacher logits and a teacher model;
# each run trains a copy for 20 steps and records the parameters and batch
# norm's running statistics at the end, then the trained model's inference
# logits and cross-entropy on the first two batches. The runs go in float64,
# so the reference is PyTorch's exact trajectory; distill.h's float32 run must
# stay within 1e-4 of it. (PyTorch's own float32 run of the same steps lands
# 2e-7 to 8e-7 from it, see --float32-report; distill.h's 2e-7 to 1.4e-6.)
#
# A ReLU input or a max-pooling contest that float32 rounding can flip would
# make the comparison meaningless (the gradient jumps). The generator checks
# every ReLU input along every trajectory for |x| >= MARGIN and every pooling
# window for a gap >= MARGIN between its two largest values, and moves to the
# next seed if one is closer.

STEPS = 20
MARGIN = 1e-5
# name, kind, lr, momentum, dampening, nesterov, beta1, beta2, eps, weight_decay,
# clip_norm, kd (0 labels / 1 cached teacher logits / 2 a teacher model), T, alpha, labels given,
# epoch_samples (0: the 20 batches once, in order; n: an epoch is the first n
# samples in batches of fit_batch, the last one smaller if it must be, repeated
# until 20 steps are taken, as dst_model_fit without shuffling runs it),
# gamma (> 0: StepLR(step_size=1, gamma) at each epoch end), fit_batch
RUNS = [
    ("ce_sgd_momentum_wd", SGD, 0.1, 0.9, 0.0, 0, 0, 0, 0, 5e-4, 0.0, 0, 1.0, 0.0, 1, 0, 0.0, 0),
    ("kd_adam", ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0, 0.0, 1, 4.0, 0.9, 1, 0, 0.0, 0),
    ("kd_soft_adamw_clip", ADAMW, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.01, 1.0, 1, 4.0, 0.9, 0, 0, 0.0, 0),
    ("ce_nesterov_clip", SGD, 0.05, 0.9, 0.0, 1, 0, 0, 0, 1e-3, 0.5, 0, 1.0, 0.0, 1, 0, 0.0, 0),
    # 5 epochs of batches of 10, 10, 10 and 6
    ("kd_adam_5_epochs_steplr", ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0, 0.0, 1, 2.0, 0.5, 1, 36, 0.5, 10),
    # 5 epochs of batches of 12, 12, 12 and 8
    ("ce_sgd_5_epochs_steplr_last_batch_short", SGD, 0.05, 0.9, 0.1, 0, 0, 0, 0, 1e-3, 0.0, 0, 1.0, 0.0, 1,
     44, 0.7, 12),
    # the teacher is a model of the student's shape (its own weights and batch
    # norm statistics), run in inference mode on each batch
    ("kd_teacher_model_adam", ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0, 0.0, 2, 4.0, 0.9, 1, 0, 0.0, 0),
    # one sample per step (GEMMs with m = 1), KD with labels, AdamW
    ("kd_adamw_batch_1", ADAMW, 0.005, 0, 0, 0, 0.9, 0.999, 1e-8, 0.05, 0.0, 1, 3.0, 0.7, 1, 20, 0.0, 1),
]


# A wider MLP whose GEMMs are big enough for the blocked SIMD kernels: 2 stored
# batches of 40, cycled as 10 epochs through dst_model_fit (keeps the file small).
WIDE_RUNS = [
    ("ce_sgd_momentum_fit", SGD, 0.05, 0.9, 0.0, 0, 0, 0, 0, 1e-4, 0.0, 0, 1.0, 0.0, 1, 80, 0.0, 40),
    ("kd_adam_fit", ADAM, 0.003, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0, 0.0, 1, 4.0, 0.9, 1, 80, 0.0, 40),
]


class Margins:
    """the smallest ReLU input and pooling gap seen"""

    def __init__(self):
        self.relu = float("inf")
        self.pool = float("inf")

    def see_relu(self, x):
        self.relu = min(self.relu, x.detach().abs().min().item())

    def see_pool(self, x, k):
        v = x.detach()
        n, c, h, wd = v.shape
        win = v.reshape(n, c, h // k, k, wd // k, k).permute(0, 1, 2, 4, 3, 5).reshape(-1, k * k)
        top = win.topk(2, dim=1).values
        live = top[:, 0] > 0  # after a ReLU, all-zero windows pass no gradient
        if live.any():
            self.pool = min(self.pool, (top[live, 0] - top[live, 1]).min().item())


class MLP(nn.Module):
    """20-16-8-5 with ReLU: dst_dense(16), dst_relu(), dst_dense(8), dst_relu(), dst_dense(5)"""

    def __init__(self):
        super().__init__()
        self.l0, self.l2, self.l4 = nn.Linear(20, 16), nn.Linear(16, 8), nn.Linear(8, 5)

    def forward(self, x, mg):
        h = self.l0(x)
        mg.see_relu(h)
        h = self.l2(F.relu(h))
        mg.see_relu(h)
        return self.l4(F.relu(h))

    def layers(self):  # distill.h layer index -> module with parameters
        return {0: self.l0, 2: self.l2, 4: self.l4}


class MLPWide(nn.Module):
    """64-32-10 with ReLU: dst_dense(32), dst_relu(), dst_dense(10)"""

    def __init__(self):
        super().__init__()
        self.l0, self.l2 = nn.Linear(64, 32), nn.Linear(32, 10)

    def forward(self, x, mg):
        h = self.l0(x)
        mg.see_relu(h)
        return self.l2(F.relu(h))

    def layers(self):
        return {0: self.l0, 2: self.l2}


class CNN(nn.Module):
    """1x8x8 -> conv3x3(4, pad 1, no bias) -> batchnorm -> relu -> maxpool2 -> flatten -> dense(5)

    The convolution has no bias, as usual before batch norm: batch norm
    subtracts the mean, so that bias's gradient is zero up to rounding, and
    Adam, which divides by the gradient's size, turns float32 rounding noise
    of 1e-8 into full-size steps where float64's 1e-17 stays below eps. With
    a bias there, the runs would compare rounding noise, not arithmetic."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(64, 5)

    def forward(self, x, mg):
        h = self.bn(self.conv(x))
        mg.see_relu(h)
        h = F.relu(h)
        mg.see_pool(h, 2)
        h = F.max_pool2d(h, 2)
        return self.fc(h.flatten(1))

    def layers(self):
        return {0: self.conv, 1: self.bn, 5: self.fc}


class CNN2(nn.Module):
    """2x8x8 -> conv3x3(6, pad 1, 2 groups, no bias) -> batchnorm (momentum 0.3, eps 1e-3)
    -> relu -> avgpool2 -> depthwise conv3x3(stride 2, pad 1) -> gelu -> global avgpool
    -> flatten -> dense(5)"""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 3, padding=1, groups=2, bias=False)
        self.bn = nn.BatchNorm2d(6, eps=fl(1e-3), momentum=fl(0.3))
        self.dw = nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6)
        self.fc = nn.Linear(6, 5)

    def forward(self, x, mg):
        h = self.bn(self.conv(x))
        mg.see_relu(h)
        h = F.avg_pool2d(F.relu(h), 2)
        h = F.adaptive_avg_pool2d(F.gelu(self.dw(h)), 1)
        return self.fc(h.flatten(1))

    def layers(self):
        return {0: self.conv, 1: self.bn, 4: self.dw, 8: self.fc}


def run_training(model0, teacher, xs, ys, ts, run, mg, dtype=D):
    """one run from a copy of model0; returns the model after STEPS steps"""
    _, kind, lr, mom, damp, nest, b1, b2, eps, wd, clip, kd, T, alpha, with_labels, n, gamma, fb = run
    model = type(model0)().to(dtype)
    model.load_state_dict(model0.state_dict())
    xs, ts = xs.to(dtype), ts.to(dtype)
    model.train()
    opt = make_optimizer((kind, lr, mom, damp, nest, b1, b2, eps, wd), model.parameters())
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=fl(gamma)) if gamma > 0 else None
    if n:
        fx, fy, ft = xs.flatten(0, 1)[:n], ys.flatten(0, 1)[:n], ts.flatten(0, 1)[:n]
        batches = [(fx[i:i + fb], fy[i:i + fb], ft[i:i + fb]) for i in range(0, n, fb)]
        assert STEPS % len(batches) == 0
    else:
        batches = list(zip(xs, ys, ts))
        assert len(batches) == STEPS
    for s in range(STEPS):
        bx, by, bt = batches[s % len(batches)]
        out = model(bx, mg)
        if kd == 2:
            with torch.no_grad():
                bt = teacher.to(dtype)(bx, Margins())
        if kd:
            T_, a_ = fl(T), fl(alpha)
            soft = T_ * T_ * F.kl_div(F.log_softmax(out / T_, 1), F.softmax(bt / T_, 1),
                                      reduction="batchmean")
            loss = a_ * soft + (1 - a_) * F.cross_entropy(out, by) if with_labels else soft
        else:
            loss = F.cross_entropy(out, by)
        opt.zero_grad()
        loss.backward()
        if clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), fl(clip))
        opt.step()
        if sched and (s + 1) % len(batches) == 0:
            sched.step()
    return model


def train_fixtures(name, make_model, in_shape, batch, classes, seed, runs=RUNS, stored=STEPS):
    """the fixture file name: stored batches (the runs' data), the initial
    state, a teacher model, and each run's final state"""
    for attempt in range(100):
        torch.manual_seed(seed + attempt)
        model0, teacher = make_model().double(), make_model().double()
        with torch.no_grad():  # float32 starting values, as the C side gets them
            for m in (model0, teacher):
                for t in m.state_dict().values():
                    if t.dtype == D:
                        t.copy_(f32(t))
                for mod in m.modules():  # non-trivial batch norm affine parameters
                    if isinstance(mod, nn.BatchNorm2d):
                        mod.weight.copy_(1 + rnd(mod.num_features, scale=0.3))
                        mod.bias.copy_(rnd(mod.num_features, scale=0.3))
                        if m is teacher:  # running statistics of a trained teacher
                            mod.running_mean.copy_(rnd(mod.num_features, scale=0.5))
                            mod.running_var.copy_(1 + rnd(mod.num_features, scale=0.5))
            last = list(teacher.layers().values())[-1]
            last.weight.mul_(4)  # confident enough for soft targets that say something
            last.bias.mul_(4)
        teacher.eval()
        xs = rnd(stored, batch, *in_shape)
        ys = torch.randint(0, classes, (stored, batch))
        ts = rnd(stored, batch, classes, scale=4)  # teacher logits
        mg = Margins()
        finals = [run_training(model0, teacher, xs, ys, ts, run, mg) for run in runs]
        if mg.relu >= MARGIN and mg.pool >= MARGIN:
            break
        print("%s: seed %d has a ReLU input %.2g / pooling gap %.2g from a tie; next seed"
              % (name, seed + attempt, mg.relu, mg.pool))
    else:
        raise SystemExit("no seed with clear margins")
    w = Writer(name)
    w.add("shape", [in_shape[0], in_shape[1] if len(in_shape) > 1 else 1,
                    in_shape[2] if len(in_shape) > 2 else 1, batch, classes, STEPS, stored])
    w.add("x", xs)
    w.add("y", ys)
    w.add("teacher", ts)
    w.add("margins", [mg.relu, mg.pool])

    def add_state(prefix, model):
        for idx, mod in model.layers().items():
            w.add("%s.%d.w" % (prefix, idx), mod.weight)
            if mod.bias is not None:
                w.add("%s.%d.b" % (prefix, idx), mod.bias)
            if isinstance(mod, nn.BatchNorm2d):
                w.add("%s.%d.rm" % (prefix, idx), mod.running_mean)
                w.add("%s.%d.rv" % (prefix, idx), mod.running_var)

    add_state("init", model0)
    if any(run[11] == 2 for run in runs):
        add_state("tmodel", teacher)
    w.add("runs", [len(runs)])
    for r, (run, model) in enumerate(zip(runs, finals)):
        w.add("run%d.cfg" % r, run[1:])
        add_state("run%d" % r, model)
        model.eval()  # inference with the trained model: batch norm's running statistics
        logits = model(xs[:2].reshape(2 * batch, *in_shape), Margins())
        w.add("run%d.eval" % r, logits)
        w.add("run%d.eval_loss" % r, [F.cross_entropy(logits, ys[:2].flatten())])
    w.close()
    print("  margins: ReLU %.2g, pooling %.2g" % (mg.relu, mg.pool))
    if FLOAT32_REPORT:  # PyTorch's own float32 run of the same steps, against float64
        errs = []
        for run, ref in zip(runs, finals):
            got = run_training(model0, teacher, xs, ys, ts, run, Margins(), torch.float32)
            errs.append(max(((a.double() - b).abs().max() / b.abs().max().clamp(min=1e-3)).item()
                            for a, b in zip(got.state_dict().values(), ref.state_dict().values())
                            if b.dtype == D))
        teacher.double()
        print("  PyTorch float32 vs float64, per run:", " ".join("%.2g" % e for e in errs))


# ---- a transfer set: labelled and unlabelled samples in one stream -------------

def mixed_kd_loss(s, t, y, T, alpha):
    """dst_kd_loss with DST_NO_LABEL (-1) rows: per row, a labelled one
    alpha T^2 KL + (1 - alpha) CE, an unlabelled one T^2 KL alone; the mean
    over the rows"""
    kl = T * T * F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="none").sum(1)
    labelled = y >= 0
    ce = F.cross_entropy(s, y.clamp(min=0), reduction="none")
    return torch.where(labelled, alpha * kl + (1 - alpha) * ce, kl).mean()


# name, optimizer (as OPTIM), T, alpha
TRANSFER_RUNS = [
    ("adam_T4_a05", (ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0), 4.0, 0.5),
    ("sgd_momentum_T2_a09", (SGD, 0.05, 0.9, 0.0, 0, 0, 0, 0, 1e-3), 2.0, 0.9),
]
TRANSFER_LABELLED, TRANSFER_UNLABELLED, TRANSFER_BATCH, TRANSFER_EPOCHS = 50, 70, 16, 2


def transfer_fixtures():
    """torch_transfer.bin: dst_kd_loss on a batch with unlabelled rows (value
    and gradient), and training parity of dst_model_fit on 50 labelled and 70
    unlabelled samples (the MLP of torch_train_mlp.bin; cached teacher logits;
    no shuffling, so the stream is the labelled samples, then the unlabelled,
    in batches of 16: all labelled, one mixed, all unlabelled) for 2 epochs"""
    w = Writer("torch_transfer.bin")
    torch.manual_seed(106)
    s, t = rnd(6, 7, scale=3), rnd(6, 7, scale=5)
    y = torch.tensor([3, -1, 0, -1, -1, 6])
    w.add("loss.s", s)
    w.add("loss.t", t)
    w.add("loss.y", y)
    for k, (T, alpha) in enumerate([(1.0, 0.5), (4.0, 0.9), (4.0, 0.0)]):
        sg = s.clone().requires_grad_(True)
        loss = mixed_kd_loss(sg, t, y, fl(T), fl(alpha))
        loss.backward()
        w.add("loss%d.cfg" % k, [T, alpha])
        w.add("loss%d.loss" % k, [loss])
        w.add("loss%d.grad" % k, sg.grad)
    n = TRANSFER_LABELLED + TRANSFER_UNLABELLED
    for attempt in range(100):
        torch.manual_seed(5000 + attempt)
        model0 = MLP().double()
        with torch.no_grad():
            for v in model0.state_dict().values():
                v.copy_(f32(v))
        x = rnd(n, 20)
        ys = torch.randint(0, 5, (n,))
        ys[TRANSFER_LABELLED:] = -1
        tl = rnd(n, 5, scale=4)
        mg = Margins()
        finals = []
        for name, opt_cfg, T, alpha in TRANSFER_RUNS:
            model = MLP().double()
            model.load_state_dict(model0.state_dict())
            opt = make_optimizer(opt_cfg, model.parameters())
            for _ in range(TRANSFER_EPOCHS):
                for i in range(0, n, TRANSFER_BATCH):
                    out = model(x[i:i + TRANSFER_BATCH], mg)
                    loss = mixed_kd_loss(out, tl[i:i + TRANSFER_BATCH], ys[i:i + TRANSFER_BATCH], fl(T), fl(alpha))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            finals.append(model)
        if mg.relu >= MARGIN:
            break
    else:
        raise SystemExit("no seed with clear margins")
    w.add("shape", [TRANSFER_LABELLED, TRANSFER_UNLABELLED, TRANSFER_BATCH, TRANSFER_EPOCHS])
    w.add("x", x)
    w.add("y", ys)
    w.add("teacher", tl)
    for idx, mod in model0.layers().items():
        w.add("init.%d.w" % idx, mod.weight)
        w.add("init.%d.b" % idx, mod.bias)
    w.add("runs", [len(TRANSFER_RUNS)])
    for r, ((name, opt_cfg, T, alpha), model) in enumerate(zip(TRANSFER_RUNS, finals)):
        w.add("run%d.cfg" % r, list(opt_cfg) + [T, alpha])
        for idx, mod in model.layers().items():
            w.add("run%d.%d.w" % (r, idx), mod.weight)
            w.add("run%d.%d.b" % (r, idx), mod.bias)
    w.close()
    print("  margins: ReLU %.2g" % mg.relu)


# ---- attention transfer -----------------------------------------------------------

def at_map(x, k):
    """Zagoruyko & Komodakis: channels' sum of squares, k x k average pooled, L2-normalised per sample"""
    q = x.pow(2).sum(1, keepdim=True)
    if k > 1:
        q = F.avg_pool2d(q, k)
    return F.normalize(q.flatten(1))


def at_loss(s, t, weight):
    k_s = max(1, s.shape[2] // t.shape[2])
    k_t = max(1, t.shape[2] // s.shape[2])
    return weight * (at_map(s, k_s) - at_map(t, k_t)).pow(2).mean()


class ATStudent(nn.Module):
    """1x8x8 -> conv3x3(4, pad 1) -> relu -> maxpool2 -> flatten -> dense(5)"""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(64, 5)

    def forward(self, x, mg):
        h = self.conv(x)
        mg.see_relu(h)
        r = F.relu(h)
        mg.see_pool(r, 2)
        p = F.max_pool2d(r, 2)
        return self.fc(p.flatten(1)), {1: r, 2: p}

    def layers(self):
        return {0: self.conv, 4: self.fc}


class ATTeacher(nn.Module):
    """1x8x8 -> conv3x3(6, pad 1) -> relu -> conv3x3(6, pad 1) -> relu -> maxpool2 -> flatten -> dense(5)"""

    def __init__(self):
        super().__init__()
        self.c0, self.c2, self.fc = nn.Conv2d(1, 6, 3, padding=1), nn.Conv2d(6, 6, 3, padding=1), nn.Linear(96, 5)

    def forward(self, x, mg):
        h = self.c0(x)
        mg.see_relu(h)
        r1 = F.relu(h)
        h = self.c2(r1)
        mg.see_relu(h)
        r3 = F.relu(h)
        return self.fc(F.max_pool2d(r3, 2).flatten(1)), {1: r1, 3: r3}

    def layers(self):
        return {0: self.c0, 2: self.c2, 6: self.fc}


# (student layer, teacher layer, weight): maps of the same size, and the
# student's 4x4 pooled maps against the teacher's 8x8 ones pooled 2x2
AT_TERMS = [(1, 3, 2.0), (2, 1, 1.0)]
AT_N, AT_BATCH, AT_EPOCHS, AT_T, AT_ALPHA = 32, 8, 2, 4.0, 0.5


def attention_fixtures():
    """torch_attention.bin: dst_attention_loss (value and gradient; student
    maps pooled, teacher maps pooled), and dst_model_fit with two attention
    terms and KD from a teacher model: 32 samples, batches of 8, 2 epochs,
    no shuffling, Adam"""
    w = Writer("torch_attention.bin")
    torch.manual_seed(107)
    for k, (sh, th) in enumerate([(8, 4), (2, 4)]):
        s = rnd(3, 3, sh, sh).requires_grad_(True)
        t = rnd(3, 5, th, th)
        loss = at_loss(s, t, fl(0.7))
        loss.backward()
        w.add("k%d.s" % k, s.detach())
        w.add("k%d.t" % k, t)
        w.add("k%d.loss" % k, [loss])
        w.add("k%d.grad" % k, s.grad)
    for attempt in range(100):
        torch.manual_seed(6000 + attempt)
        student, teacher = ATStudent().double(), ATTeacher().double()
        with torch.no_grad():
            for m in (student, teacher):
                for v in m.state_dict().values():
                    v.copy_(f32(v))
        x = rnd(AT_N, 1, 8, 8)
        y = torch.randint(0, 5, (AT_N,))
        mg = Margins()
        model = ATStudent().double()
        model.load_state_dict(student.state_dict())
        opt = make_optimizer((ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0), model.parameters())
        for _ in range(AT_EPOCHS):
            for i in range(0, AT_N, AT_BATCH):
                bx = x[i:i + AT_BATCH]
                with torch.no_grad():
                    tl, tf = teacher(bx, mg)
                out, sf = model(bx, mg)
                loss = mixed_kd_loss(out, tl, y[i:i + AT_BATCH], fl(AT_T), fl(AT_ALPHA))
                for sl, tlay, wt in AT_TERMS:
                    loss = loss + at_loss(sf[sl], tf[tlay], fl(wt))
                opt.zero_grad()
                loss.backward()
                opt.step()
        if mg.relu >= MARGIN and mg.pool >= MARGIN:
            break
    else:
        raise SystemExit("no seed with clear margins")
    w.add("x", x)
    w.add("y", y)
    w.add("terms", AT_TERMS)
    w.add("cfg", [AT_N, AT_BATCH, AT_EPOCHS, AT_T, AT_ALPHA])
    for idx, mod in student.layers().items():
        w.add("init.%d.w" % idx, mod.weight)
        w.add("init.%d.b" % idx, mod.bias)
    for idx, mod in teacher.layers().items():
        w.add("tmodel.%d.w" % idx, mod.weight)
        w.add("tmodel.%d.b" % idx, mod.bias)
    for idx, mod in model.layers().items():
        w.add("run0.%d.w" % idx, mod.weight)
        w.add("run0.%d.b" % idx, mod.bias)
    w.close()
    print("  margins: ReLU %.2g, pooling %.2g" % (mg.relu, mg.pool))


# ---- FitNets hints -----------------------------------------------------------------

def hint_loss(s, t, adapter, weight):
    """weight * MSE(conv1x1(avg_pool(s, k_s)), avg_pool(t, k_t)); flat features as c x 1 x 1 maps;
    adapter = weight (t_c x s_c) then bias (t_c), flat"""
    if s.dim() == 2:
        s, t = s[:, :, None, None], t[:, :, None, None]
    sc, tc = s.shape[1], t.shape[1]
    k_s = max(1, s.shape[2] // t.shape[2])
    k_t = max(1, t.shape[2] // s.shape[2])
    if k_s > 1:
        s = F.avg_pool2d(s, k_s)
    if k_t > 1:
        t = F.avg_pool2d(t, k_t)
    out = F.conv2d(s, adapter[:tc * sc].view(tc, sc, 1, 1), adapter[tc * sc:])
    return weight * F.mse_loss(out, t)


# (student layer, teacher layer, weight) on ATStudent / ATTeacher: 4 -> 6
# channels at 8x8, the student's 4x4 against the teacher's 8x8 pooled, and
# the two models' logits (flat: a dense adapter)
HINT_TERMS = [(1, 3, 1.0), (2, 1, 0.5), (4, 6, 0.3)]
HINT_CHANNELS = {1: 4, 2: 4, 4: 5}, {1: 6, 3: 6, 6: 5}


def hint_fixtures():
    """torch_hint.bin: dst_hint_loss (value, gradients wrt the student and
    the adapter; maps of one size, either side pooled, flat features), and
    dst_model_fit with three hint terms (given adapters) and KD from a
    teacher model: 32 samples, batches of 8, 2 epochs, no shuffling, Adam"""
    w = Writer("torch_hint.bin")
    torch.manual_seed(211)
    for k, (sh, th) in enumerate([(4, 4), (8, 4), (2, 4), (0, 0)]):
        shape_s, shape_t = ((3, 3, sh, sh), (3, 5, th, th)) if sh else ((3, 3), (3, 5))
        s = rnd(*shape_s).requires_grad_(True)
        t = rnd(*shape_t)
        ad = rnd(5 * 4, scale=0.5).requires_grad_(True)
        loss = hint_loss(s, t, ad, fl(0.7))
        loss.backward()
        w.add("k%d.s" % k, s.detach())
        w.add("k%d.t" % k, t)
        w.add("k%d.adapter" % k, ad.detach())
        w.add("k%d.loss" % k, [loss])
        w.add("k%d.grad" % k, s.grad)
        w.add("k%d.grad_adapter" % k, ad.grad)
    for attempt in range(100):
        torch.manual_seed(7000 + attempt)
        student, teacher = ATStudent().double(), ATTeacher().double()
        with torch.no_grad():
            for m in (student, teacher):
                for v in m.state_dict().values():
                    v.copy_(f32(v))
        adapters0 = [rnd(HINT_CHANNELS[1][tl] * (HINT_CHANNELS[0][sl] + 1), scale=0.4) for sl, tl, _ in HINT_TERMS]
        x = rnd(AT_N, 1, 8, 8)
        y = torch.randint(0, 5, (AT_N,))
        mg = Margins()
        model = ATStudent().double()
        model.load_state_dict(student.state_dict())
        adapters = [a.clone().requires_grad_(True) for a in adapters0]
        opt = make_optimizer((ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.0), list(model.parameters()) + adapters)
        for _ in range(AT_EPOCHS):
            for i in range(0, AT_N, AT_BATCH):
                bx = x[i:i + AT_BATCH]
                with torch.no_grad():
                    tl, tf = teacher(bx, mg)
                    tf[6] = tl
                out, sf = model(bx, mg)
                sf[4] = out
                loss = mixed_kd_loss(out, tl, y[i:i + AT_BATCH], fl(AT_T), fl(AT_ALPHA))
                for (sl, tlay, wt), ad in zip(HINT_TERMS, adapters):
                    loss = loss + hint_loss(sf[sl], tf[tlay], ad, fl(wt))
                opt.zero_grad()
                loss.backward()
                opt.step()
        if mg.relu >= MARGIN and mg.pool >= MARGIN:
            break
    else:
        raise SystemExit("no seed with clear margins")
    w.add("x", x)
    w.add("y", y)
    w.add("terms", HINT_TERMS)
    w.add("cfg", [AT_N, AT_BATCH, AT_EPOCHS, AT_T, AT_ALPHA])
    for k, a in enumerate(adapters0):
        w.add("adapter%d" % k, a)
    for idx, mod in student.layers().items():
        w.add("init.%d.w" % idx, mod.weight)
        w.add("init.%d.b" % idx, mod.bias)
    for idx, mod in teacher.layers().items():
        w.add("tmodel.%d.w" % idx, mod.weight)
        w.add("tmodel.%d.b" % idx, mod.bias)
    for idx, mod in model.layers().items():
        w.add("run0.%d.w" % idx, mod.weight)
        w.add("run0.%d.b" % idx, mod.bias)
    w.close()
    print("  margins: ReLU %.2g, pooling %.2g" % (mg.relu, mg.pool))


FLOAT32_REPORT = "--float32-report" in sys.argv

if __name__ == "__main__":
    gemm_fixtures()
    loss_fixtures()
    act_fixtures()
    dense_fixtures()
    optim_fixtures()
    train_fixtures("torch_train_mlp.bin", MLP, (20,), 8, 5, 1000)
    train_fixtures("torch_train_mlp_wide.bin", MLPWide, (64,), 40, 10, 4000, WIDE_RUNS, 2)
    train_fixtures("torch_train_cnn.bin", CNN, (1, 8, 8), 6, 5, 2000)
    train_fixtures("torch_train_cnn2.bin", CNN2, (2, 8, 8), 4, 5, 3000)
    transfer_fixtures()
    attention_fixtures()
    hint_fixtures()
