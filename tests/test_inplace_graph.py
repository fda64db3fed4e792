"""In-place ops on tensors in the graph, as torch records them.

``y += x`` on a tensor computed by an op (or any in-place op whose result needs a
gradient) is recorded: y becomes the output of the in-place op, whose input is
y's old place in the graph (torch's rebase_history). Ops recorded before still
see the old place, and those that saved the old values raise at backward,
naming the op, where torch raises. Each case is checked against numbers worked
out by hand, and against torch where it is installed.
"""

import numpy as np
import pytest

import tensorgrad as tg

try:
    import torch
except ImportError:  # the torch side of each comparison is skipped
    torch = None

X, W = [0.5, -1.5, 2.0], [3.0, -2.0, 0.25]


def _c_plus_equals_c_plus_one(lib, x, w):
    c = x * 2
    c += c + 1  # micrograd's own test
    return c


def _total_plus_equals_loss(lib, x, w):
    total = lib.zeros(())
    for k in range(3):
        total += (x * w).sum() * (k + 1)
    return total


def _setitem(lib, x, w):
    h = x * x
    h[0:2] = w[1:] * 3
    return h


def _masked_setitem(lib, x, w):
    h = x * w
    h[x > 0] = 0
    return h


CASES = {
    "c += c + 1": _c_plus_equals_c_plus_one,
    "total += loss": _total_plus_equals_loss,
    "relu_": lambda lib, x, w: (x * w).relu_() * w,
    "masked_fill_": lambda lib, x, w: (x * w).masked_fill_(x > 0, 0.5) * x,
    "mul_ (keeps the old values for w's gradient)": lambda lib, x, w: (x * 1).mul_(w) * x,
    "div_": lambda lib, x, w: (x * 1).div_(w),
    "add_ with alpha": lambda lib, x, w: (x * 1).add_(w, alpha=2),
    "two in a row": lambda lib, x, w: (x * 2).mul_(w).add_(x),
    "x[index] = v": _setitem,
    "x[mask] = 0": _masked_setitem,
    "copy_": lambda lib, x, w: (x * 2).copy_(w) * x,
    "fill_ with a 0-d tensor": lambda lib, x, w: (x * 2).fill_(w[0]) * w,
    "clamp_": lambda lib, x, w: (x * w).clamp_(-1, 1) * 2,
    "a plain tensor += one that requires grad": lambda lib, x, w: lib.ones(3).add_(w) * x,
}

# (output, dL/dx, dL/dw) with L = output.sum(), worked out by hand
BY_HAND = {
    # c = 2x + (2x + 1) = 4x + 1
    "c += c + 1": ([3.0, -5.0, 9.0], [4.0, 4.0, 4.0], None),
    # (1 + 2 + 3) * sum(x * w)
    "total += loss": (6 * (1.5 + 3.0 + 0.5), [6 * w for w in W], [6 * x for x in X]),
    # x * w = [1.5, 3, 0.5], all positive: relu keeps them; out = x * w * w
    "relu_": ([4.5, -6.0, 0.125], [w * w for w in W], [2 * x * w for x, w in zip(X, W, strict=True)]),
    # h = x * w = [1.5, 3, 0.5], then 0.5 where x > 0: out = h * x = [0.25, -4.5, 1.0]
    "masked_fill_": ([0.25, -4.5, 1.0], [0.5, 2 * -1.5 * -2.0, 0.5], [0.0, 2.25, 0.0]),
    # out = x * w * x: dx = 2 x w, dw = x^2
    "mul_ (keeps the old values for w's gradient)": (
        [0.75, -4.5, 1.0], [2 * x * w for x, w in zip(X, W, strict=True)], [x * x for x in X]),
    "div_": ([x / w for x, w in zip(X, W, strict=True)], [1 / w for w in W],
             [-x / w ** 2 for x, w in zip(X, W, strict=True)]),
    "add_ with alpha": ([x + 2 * w for x, w in zip(X, W, strict=True)], [1.0] * 3, [2.0] * 3),
    # out = 2 x w + x
    "two in a row": ([2 * x * w + x for x, w in zip(X, W, strict=True)], [2 * w + 1 for w in W],
                     [2 * x for x in X]),
    # h = [3 w1, 3 w2, x2^2]
    "x[index] = v": ([-6.0, 0.75, 4.0], [0.0, 0.0, 4.0], [0.0, 3.0, 3.0]),
    # h = x * w = [1.5, 3, 0.5], zeroed where x > 0
    "x[mask] = 0": ([0.0, 3.0, 0.0], [0.0, -2.0, 0.0], [0.0, -1.5, 0.0]),
    # h = w; out = w * x
    "copy_": ([1.5, 3.0, 0.5], W, X),
    # out = w0 * w: dw = [w0, w0, w0] + [sum(w), 0, 0]
    "fill_ with a 0-d tensor": ([9.0, -6.0, 0.75], [0.0, 0.0, 0.0], [3.0 + 1.25, 3.0, 3.0]),
    # x * w = [1.5, 3, 0.5] clamped to [1, 1, 0.5]
    "clamp_": ([2.0, 2.0, 1.0], [0.0, 0.0, 0.5], [0.0, 0.0, 4.0]),
    "a plain tensor += one that requires grad": ([2.0, 1.5, 2.5], [4.0, -1.0, 1.25], X),
}


def _run(lib, case):
    x = lib.tensor(X, requires_grad=True)
    w = lib.tensor(W, requires_grad=True)
    out = CASES[case](lib, x, w)
    out.sum().backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in (x, w)]
    return [out.detach().numpy()] + grads


def _assert_same(ours, expected):
    for a, b in zip(ours, expected, strict=True):
        if a is None or b is None:
            assert a is None or not np.any(a), "a gradient where none is expected"
            continue
        np.testing.assert_allclose(a, np.asarray(b, dtype=np.float32), rtol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_in_place_on_a_tensor_in_the_graph_gives_the_gradient_worked_out_by_hand(case):
    _assert_same(_run(tg, case), BY_HAND[case])


@pytest.mark.parametrize("case", CASES)
def test_in_place_on_a_tensor_in_the_graph_equals_torch(case):
    if torch is None:
        pytest.skip("torch is not installed")
    theirs = _run(torch, case)
    _assert_same(_run(tg, case), theirs)


RAISES = {
    "exp's output, then mul_": lambda lib, x, w: x.exp().mul_(w),
    "sigmoid's output, then add_": lambda lib, x, w: x.sigmoid().add_(w),
    "tanh's output, then x[0] = v": lambda lib, x, w: (lambda h: (h.__setitem__(0, w[0]), h)[1])(x.tanh()),
    "a product's input, then add_": lambda lib, x, w: (lambda h: (h * h, h.add_(1))[0])(x * 2),
}
NAMED = {"exp's output, then mul_": "Exp saved its output",
         "sigmoid's output, then add_": "Sigmoid saved its output",
         "tanh's output, then x[0] = v": "Tanh saved its output",
         "a product's input, then add_": "Mul saved input 0"}


@pytest.mark.parametrize("case", RAISES)
def test_changing_a_saved_tensor_raises_at_backward_naming_the_op(case):
    x, w = tg.tensor(X, requires_grad=True), tg.tensor(W, requires_grad=True)
    out = RAISES[case](tg, x, w)
    with pytest.raises(RuntimeError, match=NAMED[case]):
        out.sum().backward()
    if torch is not None:
        x, w = torch.tensor(X, requires_grad=True), torch.tensor(W, requires_grad=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            RAISES[case](torch, x, w).sum().backward()


def _changed_after(op):
    """h = 2x as a (1, 3) row, y = op(lib, h, w) with w a constant, then h += 1: whether backward
    may still run depends on whether op's backward reads h (h has no views: those refuse in-place)."""
    def program(lib, x, w):
        h = x.reshape(1, 3) * 2
        y = op(lib, h, w.detach())
        h.add_(1)
        return y
    return program


# An input saved only for another input's gradient is saved (and checked) only when that gradient
# is needed, as torch's codegen saves it: changing it in place afterwards is then no error.
KEPT_OUT = {
    "h * w": lambda lib, h, w: h * w,
    "w * h": lambda lib, h, w: w * h,
    "h / w": lambda lib, h, w: h / w,
    "h % w": lambda lib, h, w: h % (w.abs() + 1),
    "h @ w": lambda lib, h, w: h @ (w[:, None] * w),
    "w @ h": lambda lib, h, w: w[:1, None] @ h,
    "pad(h)": lambda lib, h, w: _pad(lib)(h, (1, 2)),
    "cross_entropy(h)": lambda lib, h, w: _cross_entropy(lib)(h, lib.tensor([1])),
}
STILL_READ = {
    "w / h": lambda lib, h, w: w / h,  # dL/dh reads h
    "nll_loss(h)": lambda lib, h, w: _nll_loss(lib)(h, lib.tensor([1])),  # torch saves its input
}


def _pad(lib):
    return tg.nn.functional.pad if lib is tg else torch.nn.functional.pad


def _cross_entropy(lib):
    return tg.nn.functional.cross_entropy if lib is tg else torch.nn.functional.cross_entropy


def _nll_loss(lib):
    return tg.nn.functional.nll_loss if lib is tg else torch.nn.functional.nll_loss


def _grads_after(lib, case, ops):
    x, w = lib.tensor(X, requires_grad=True), lib.tensor(W, requires_grad=True)
    _changed_after(ops[case])(lib, x, w).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("case", KEPT_OUT)
def test_changing_an_input_read_only_for_an_unneeded_gradient_is_no_error(case):
    ours = _grads_after(tg, case, KEPT_OUT)
    if torch is not None:
        np.testing.assert_allclose(ours, _grads_after(torch, case, KEPT_OUT), rtol=1e-6)


@pytest.mark.parametrize("case", STILL_READ)
def test_changing_an_input_its_own_gradient_reads_still_raises(case):
    with pytest.raises(RuntimeError, match="saved input 1|saved input 0"):
        _grads_after(tg, case, STILL_READ)
    if torch is not None:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            _grads_after(torch, case, STILL_READ)


def test_an_op_recorded_before_the_in_place_op_keeps_the_old_place_in_the_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    before = h + 1  # Add saves nothing: it may use h's old place
    h += x  # h = 4x now
    (before + h).sum().backward()
    assert x.grad.tolist() == [7.0, 7.0]  # 3 from before, 4 from h


def test_in_place_records_nothing_inside_no_grad_or_when_nothing_requires_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    with tg.no_grad():
        h += 1
    assert h.grad_fn.__class__.__name__ == "Mul"
    plain = tg.ones(2)
    plain += tg.ones(2)
    assert plain.grad_fn is None and not plain.requires_grad


def test_in_place_keeps_the_tensor_and_its_memory_and_bumps_the_version():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    memory = h.array
    h.relu_().add_(1)
    assert h.array is memory and h._version == 2 and type(h.grad_fn).__name__ == "Add"


def test_in_place_that_needs_a_gradient_on_memory_shared_with_a_view_raises():
    h = tg.tensor([1.0, 2.0], requires_grad=True) * 2
    row = h.reshape(1, 2)
    with pytest.raises(RuntimeError, match="shares memory with a view.*clone"):
        row += 1
    with pytest.raises(RuntimeError, match="shares memory with a view"):
        h.mul_(3)
    assert h.tolist() == [2.0, 4.0]


def test_in_place_that_needs_a_gradient_checks_the_shape_and_dtype_as_without_one():
    h = tg.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"output with shape \(2,\)"):
        h.add_(tg.ones(3, 2))
    ints = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints.add_(tg.ones(2, requires_grad=True))


def test_relu_and_masked_fill_in_place_without_a_graph():
    x = tg.tensor([-1.0, 2.0, -3.0])
    assert x.relu_() is x and x.tolist() == [0.0, 2.0, 0.0]
    x.masked_fill_(x > 1, -5.0)
    assert x.tolist() == [0.0, -5.0, 0.0] and x._version == 2
    with pytest.raises(TypeError, match="mask must be a boolean"):
        x.masked_fill_(tg.tensor([1, 0, 1]), 0.0)


def test_a_loop_accumulating_a_loss_backpropagates_like_the_sum():
    w = tg.tensor([0.5, -0.25], requires_grad=True)
    total = tg.zeros(())
    for t in range(50):
        total += ((w * t) ** 2).sum()
    total.backward()
    expected = [2 * v * sum(t * t for t in range(50)) for v in (0.5, -0.25)]
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-5)


def test_retain_grad_and_retain_graph_work_across_an_in_place_op():
    x, w = tg.tensor(X, requires_grad=True), tg.tensor(W, requires_grad=True)
    h = x * 2
    h.retain_grad()
    h += w  # h.grad is then the gradient of the new h, as in torch
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    new_h = [2 * a + b for a, b in zip(X, W, strict=True)]
    np.testing.assert_allclose(h.grad.numpy(), [2 * 2 * v for v in new_h], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [2 * 2 * 2 * v for v in new_h], rtol=1e-6)
