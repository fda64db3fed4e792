"""nn containers, functional and optim against PyTorch in float64: parameter names, values,
gradients, learning-rate sequences and 20-step parameter trajectories.

Skipped when torch is not installed (CI has no torch).
"""

from collections import OrderedDict

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn, optim

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=1e-10, atol=1e-12)


def _both(x):
    x = np.asarray(x, dtype=np.float64)
    return tg.tensor(x.copy(), requires_grad=True), torch.tensor(x.copy(), requires_grad=True)


def _check(ours, theirs, inputs):
    """Same value, and the same gradient of sum(out * r) for every (ours, theirs) input pair."""
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **TOL)
    r = np.random.default_rng(0).standard_normal(ours.shape)
    (ours * tg.tensor(r)).sum().backward()
    (theirs * torch.tensor(r)).sum().backward()
    for a, b in inputs:
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL)


# ----------------------------------------------------------------- names
def _torch_names(build):
    return [n for n, _ in build(torch.nn).named_parameters()]


def _our_names(build):
    return [n for n, _ in build(nn).named_parameters()]


def _mixed(lib):
    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.Embedding(10, 4)
            self.blocks = lib.ModuleList([lib.Sequential(lib.Linear(4, 4), lib.ReLU()) for _ in range(2)])
            self.heads = lib.ModuleDict({"a": lib.Linear(4, 2), "b": lib.Linear(4, 1)})
            self.scale = lib.Parameter(torch.ones(1) if lib is torch.nn else np.ones(1))
            self.named = lib.Sequential(OrderedDict([("fc", lib.Linear(4, 4)), ("act", lib.Tanh())]))

    return Net()


@pytest.mark.parametrize("build", [
    lambda lib: lib.Sequential(lib.Linear(3, 4), lib.ReLU(), lib.Linear(4, 2)),
    lambda lib: lib.ModuleList([lib.Linear(2, 2), lib.Linear(2, 1)]),
    _mixed,
], ids=["sequential", "modulelist", "mixed"])
def test_named_parameters_names_and_order_match_pytorch(build):
    assert _our_names(build) == _torch_names(build)


def test_named_modules_match_pytorch():
    assert [n for n, _ in _mixed(nn).named_modules()] == [n for n, _ in _mixed(torch.nn).named_modules()]


def test_a_torch_state_dict_loads_into_the_same_model():
    theirs = _mixed(torch.nn).double()
    ours = _mixed(nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 4))
    out = ours.heads["a"](ours.blocks[1](ours.blocks[0](tg.tensor(x))))
    ref = theirs.heads["a"](theirs.blocks[1](theirs.blocks[0](torch.tensor(x))))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)


# ------------------------------------------------------------- functional
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_pytorch_on_nd_input(reduction, smoothing, weighted):
    rng = np.random.default_rng(1)
    a, b = _both(rng.standard_normal((4, 5, 3)) * 3)
    t = rng.integers(0, 5, (4, 3))
    t[0, 1] = -100
    w = rng.uniform(0.5, 2.0, 5) if weighted else None
    ours = F.cross_entropy(a, t, w, reduction=reduction, label_smoothing=smoothing)
    theirs = TF.cross_entropy(b, torch.tensor(t), None if w is None else torch.tensor(w),
                              reduction=reduction, label_smoothing=smoothing)
    _check(ours, theirs, [(a, b)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_pytorch(reduction):
    rng = np.random.default_rng(2)
    a, b = _both(rng.standard_normal((6, 4)))
    t = rng.integers(0, 4, 6)
    t[2] = -100
    w = rng.uniform(0.5, 2.0, 4)
    _check(F.nll_loss(a, t, w, reduction=reduction),
           TF.nll_loss(b, torch.tensor(t), torch.tensor(w), reduction=reduction), [(a, b)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_pytorch_including_large_logits(reduction):
    rng = np.random.default_rng(3)
    x, tx = _both(rng.standard_normal((4, 3)) * 40)
    y, ty = _both(rng.uniform(0, 1, (4, 3)))
    # torch does not differentiate with respect to weight and pos_weight (ours does: see test_functional)
    w, p = rng.uniform(0.5, 2, (4, 1)), rng.uniform(0.5, 3, 3)
    _check(F.binary_cross_entropy_with_logits(x, y, w, reduction, p),
           TF.binary_cross_entropy_with_logits(tx, ty, torch.tensor(w), reduction=reduction,
                                               pos_weight=torch.tensor(p)),
           [(x, tx), (y, ty)])


@pytest.mark.parametrize("name, ours, theirs", [
    ("gelu", F.gelu, TF.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("softplus", lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("softmax_dim0", lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
    ("log_softmax_dim1", lambda x: F.log_softmax(x, dim=1), lambda x: TF.log_softmax(x, dim=1)),
    ("pad", lambda x: F.pad(x, (1, -1, 2, 0), value=0.5), lambda x: TF.pad(x, (1, -1, 2, 0), value=0.5)),
    ("mse_none", lambda x: F.mse_loss(x, x * x, reduction="none"),
     lambda x: TF.mse_loss(x, x * x, reduction="none")),
])
def test_elementwise_functions_match_pytorch(name, ours, theirs):
    a, b = _both(np.random.default_rng(4).standard_normal((3, 4)) * 3)
    _check(ours(a), theirs(b), [(a, b)])


def test_linear_matches_pytorch():
    rng = np.random.default_rng(5)
    pairs = [_both(rng.standard_normal(s)) for s in [(2, 5, 3), (4, 3), (4,)]]
    _check(F.linear(*[a for a, _ in pairs]), TF.linear(*[b for _, b in pairs]), pairs)


def test_one_hot_matches_pytorch():
    idx = np.array([[0, 3], [2, 1]])
    theirs = TF.one_hot(torch.tensor(idx)).numpy()
    ours = F.one_hot(tg.tensor(idx)).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


# ------------------------------------------------------------------ optim
OPTIMIZERS = {
    "sgd": lambda lib, ps: lib.SGD(ps, lr=0.1),
    "sgd_momentum_wd_dampening": lambda lib, ps: lib.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01,
                                                         dampening=0.1),
    "sgd_nesterov": lambda lib, ps: lib.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda lib, ps: lib.Adam(ps, lr=0.1, weight_decay=0.1),
    "adamw": lambda lib, ps: lib.AdamW(ps, lr=0.1),
    "rmsprop": lambda lib, ps: lib.RMSprop(ps),
    "rmsprop_centered_momentum": lambda lib, ps: lib.RMSprop(ps, lr=0.01, momentum=0.9, centered=True,
                                                             weight_decay=0.1),
}
SCHEDULERS = {
    "none": None,
    "steplr": lambda lib, o: lib.StepLR(o, 3, 0.5),
    "cosine": lambda lib, o: lib.CosineAnnealingLR(o, 7, 0.001),
    "lambda": lambda lib, o: lib.LambdaLR(o, lambda e: 0.9**e),
}


def _trajectories(make_opt, make_sched, steps=20):
    """Run ours and torch's on the same gradients (two parameter groups); return (params, lrs) of each."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    runs = []
    for lib, sched_lib, wrap, to_numpy in [
            (optim, optim.lr_scheduler, nn.Parameter, lambda p: p.array),
            (torch.optim, torch.optim.lr_scheduler, lambda a: torch.nn.Parameter(torch.tensor(a)),
             lambda p: p.detach().numpy())]:
        ps = [wrap(a.copy()) for a in init]
        opt = make_opt(lib, [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}])
        sched = make_sched(sched_lib, opt) if make_sched else None
        path, lrs = [], []
        for k in range(steps):
            for p in ps:
                g = np.sin(to_numpy(p) * (k + 1)) + 0.1 * to_numpy(p)
                p.grad = g if lib is optim else torch.tensor(g)
            opt.step()
            if sched:
                sched.step()
                lrs.append(sched.get_last_lr())
            path.append([to_numpy(p).copy() for p in ps])
        runs.append((path, lrs))
    return runs


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_optimizer_and_scheduler_trajectories_match_pytorch(optimizer, scheduler):
    (ours, our_lrs), (theirs, their_lrs) = _trajectories(OPTIMIZERS[optimizer], SCHEDULERS[scheduler])
    assert our_lrs == their_lrs  # the same float operations: equal to the last bit
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for p, q in zip(a, b, strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12, err_msg=f"step {step}")


def test_clip_grad_norm_matches_pytorch():
    rng = np.random.default_rng(6)
    grads = [rng.standard_normal((3, 2)) * 5, rng.standard_normal(4)]
    for norm_type in [2.0, 1.0, 3.0, float("inf")]:
        ps = [nn.Parameter(np.zeros_like(g)) for g in grads]
        qs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
        for p, q, g in zip(ps, qs, grads, strict=True):
            p.grad, q.grad = g.copy(), torch.tensor(g)
        ours = optim.clip_grad_norm_(ps, 1.5, norm_type=norm_type)
        theirs = torch.nn.utils.clip_grad_norm_(qs, 1.5, norm_type=norm_type)
        assert ours == pytest.approx(theirs.item(), rel=1e-12)
        for p, q in zip(ps, qs, strict=True):
            np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12)
