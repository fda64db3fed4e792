"""PyTorch habits give PyTorch's results in tensorgrad.

Each test runs one habit in tensorgrad and checks known values; where torch is
installed it runs the same lines in torch and requires equal values, dtypes,
gradients, and the same calls to raise. Without torch only the torch side is
skipped.
"""

import inspect
import subprocess
import sys

import numpy as np
import pytest

import tensorgrad as tg


def torch_or_none():
    """The torch module, or None where it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


torch = torch_or_none()
with_torch = pytest.mark.skipif(torch is None, reason="the torch side needs torch")


def same_dtype(tg_tensor, torch_tensor):
    return np.dtype(tg_tensor.dtype) == np.asarray(torch_tensor.detach().numpy()).dtype


def assert_same(tg_tensor, torch_tensor, **tol):
    """Equal values and dtypes in tensorgrad and torch."""
    assert same_dtype(tg_tensor, torch_tensor), (tg_tensor.dtype, torch_tensor.dtype)
    np.testing.assert_allclose(tg_tensor.numpy(), torch_tensor.detach().numpy(), **tol)


def raises_in(lib, fn, error=Exception):
    """True when ``fn(lib)`` raises ``error``."""
    try:
        fn(lib)
    except error:
        return True
    return False


# ------------------------------------------------------------ comparisons
PAD = 0
IDS = [[5, 2, 0], [3, 0, 0]]


def test_not_equal_to_pad_is_an_elementwise_mask():
    mask = tg.tensor(IDS) != PAD
    assert mask.dtype == np.bool_
    assert mask.tolist() == [[True, True, False], [True, False, False]]


@with_torch
def test_not_equal_to_pad_matches_torch():
    assert_same(tg.tensor(IDS) != PAD, torch.tensor(IDS) != PAD)
    assert_same(tg.tensor(IDS) == PAD, torch.tensor(IDS) == PAD)


def test_accuracy_from_pred_equals_target():
    logits = tg.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    target = tg.tensor([1, 1, 1])
    correct = logits.argmax(1) == target
    assert correct.tolist() == [True, False, True]
    assert abs(correct.float().mean().item() - 2 / 3) < 1e-7


@with_torch
def test_accuracy_from_pred_equals_target_matches_torch():
    rows, target = [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], [1, 1, 1]
    assert_same((tg.tensor(rows).argmax(1) == tg.tensor(target)).float().mean(),
                (torch.tensor(rows).argmax(1) == torch.tensor(target)).float().mean())


def test_hash_stays_identity_so_tensors_work_in_sets_and_dicts():
    a, b = tg.tensor([1.0]), tg.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1
    assert a in [a, b] and (a == None) is False  # noqa: E711  (torch gives False too)


@pytest.mark.parametrize("values", [[1.0, 2.0], []])
def test_bool_of_several_or_no_elements_raises(values):
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tg.tensor(values))
    if torch is not None:
        with pytest.raises(RuntimeError, match="ambiguous"):
            bool(torch.tensor(values))


def test_bool_of_one_element_is_its_truth():
    assert bool(tg.tensor([2.0])) and not bool(tg.tensor(0))


def test_loss_compares_with_a_python_number_and_converts():
    loss, best = tg.tensor(0.25), 0.5
    assert loss < best and float(loss) == 0.25 and int(tg.tensor(3)) == 3
    assert [10, 20, 30][tg.tensor(2)] == 30  # __index__ on an integer tensor
    with pytest.raises(TypeError, match="integer tensors"):
        [10, 20][tg.tensor(1.0)]
    with pytest.raises(ValueError, match="one element"):
        float(tg.tensor([1.0, 2.0]))


@with_torch
def test_conversions_raise_where_torch_raises():
    for data in ([1.0, 2.0], [1, 2]):
        for convert in (float, int):
            assert raises_in(tg, lambda lib, c=convert, d=data: c(lib.tensor(d)), ValueError)
            assert raises_in(torch, lambda lib, c=convert, d=data: c(lib.tensor(d)), ValueError)
    for lib in (tg, torch):
        assert raises_in(lib, lambda lib: [1, 2][lib.tensor(1.0)], TypeError)
        assert [1, 2][lib.tensor(1)] == 2


def test_numpy_asarray_gives_a_numeric_array_never_objects():
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    array = np.asarray(t)
    assert array.dtype == np.float32 and array.shape == (2, 2)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.asarray(t, copy=True) is not t.array
    assert np.array([tg.tensor(1.0), tg.tensor(2.0)]).dtype == np.float32


def test_len_iteration_and_tolist_follow_dim_0():
    t = tg.tensor([[1, 2], [3, 4], [5, 6]])
    rows = list(t)
    assert len(t) == 3 and len(rows) == 3 and rows[1].tolist() == [3, 4]
    with pytest.raises(TypeError, match="0-d"):
        iter(tg.tensor(1.0))


def test_numpy_array_on_the_left_still_gives_tensors():
    t = tg.tensor([1.0, 2.0])
    assert isinstance(np.ones(2, dtype=np.float32) + t, tg.Tensor)
    assert (np.array([1.0, 0.0], dtype=np.float32) == t).tolist() == [True, False]


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("data", [[1, 2], 3, [True, False], [1.5, 2.0], [1, 2.5], [[1, 2], [3, 4]]])
def test_python_data_gets_torch_dtypes(data):
    expected = {int: np.int64, bool: np.bool_, float: np.float32}
    flat = np.asarray(data).ravel().tolist()
    kind = float if any(isinstance(v, float) for v in flat) else type(flat[0])
    assert tg.tensor(data).dtype == expected[kind]
    if torch is not None:
        assert same_dtype(tg.tensor(data), torch.tensor(data))


def test_int_list_indexes_and_feeds_embedding():
    idx = tg.tensor([2, 0])
    table = tg.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert table[idx].tolist() == [[3.0, 3.0], [1.0, 1.0]]
    assert tg.nn.Embedding(5, 3)(idx).shape == (2, 3)


@pytest.mark.parametrize("expr", ["x / 2", "x * 1.5", "x + 0.5", "x.float()", "x.long()", "x.int()",
                                  "x.double()", "x.bool()", "x.sum()", "x * y", "x / x", "y + x",
                                  "x ** 0.5", "x ** 2", "2 ** x", "2.0 ** x"])
def test_result_dtypes_match_torch(expr):
    xs = {"tg": (tg.tensor([1, 2]), tg.tensor([0.5, 1.5])),
          "torch": (None, None) if torch is None else (torch.tensor([1, 2]), torch.tensor([0.5, 1.5]))}
    x, y = xs["tg"]
    result = eval(expr)
    assert result.dtype == {"x.long()": np.int64, "x.int()": np.int32, "x.double()": np.float64,
                            "x.bool()": np.bool_, "x.sum()": np.int64, "x ** 2": np.int64,
                            "2 ** x": np.int64}.get(expr, np.float32)
    if torch is not None:
        x, y = xs["torch"]
        assert same_dtype(result, eval(expr))


# torch's type promotion where NumPy's differs: a higher kind wins whole (int64 with float32 is
# float32, not float64), float ops on integers give float32, and a 0-d tensor decides the dtype
# only when it is of a higher kind than the tensors with dimensions.
PROMOTIONS = {
    "i64.exp()": "float32", "i64.sqrt()": "float32", "i64.tanh()": "float32", "i64.sigmoid()": "float32",
    "i64.log()": "float32", "i64.log1p()": "float32", "i64.expm1()": "float32", "b.exp()": "float32",
    "F.tanh(i64)": "float32", "F.sigmoid(i64)": "float32", "i64.logsumexp(0)": "float32",
    "lib.cat([i64, f32])": "float32", "lib.stack([i64, f32])": "float32", "lib.cat([f32, f64])": "float64",
    "lib.cat([i32, i64])": "int64", "lib.cat([b, i64])": "int64",
    "lib.where(b, i64, f32)": "float32", "lib.where(b, i64, 0.5)": "float32",
    "lib.maximum(i64, f32)": "float32",
    "i64.clamp(min=0.5)": "float32", "i64.clamp(min=1)": "int64",
    "f32 + f64_0d": "float32", "f32 * f64_0d": "float32", "i32 + i64_0d": "int32", "i32 * f64_0d": "float64",
    "f64_0d + f32": "float32", "f16 * i64": "float16", "i64 * f16": "float16", "i32 / i32": "float32",
    "b + b": "bool", "b * 2": "int64", "b * 2.0": "float32", "i32 * 2.5": "float32", "f16 * 2.5": "float16",
    "f32 ** f64_0d": "float32", "i64 - f32": "float32", "f32 / i64": "float32",
}


@pytest.mark.parametrize("expr", PROMOTIONS)
def test_mixed_dtypes_promote_as_in_torch(expr):
    def run(lib):
        f = tg.functional if lib is tg else torch.nn.functional  # noqa: F841 (used by eval)
        v = np.array([[1.0, 2.0, 3.0], [5.0, 4.0, 6.0]])  # no zeros or negatives: log and / stay finite
        i64, f32 = lib.tensor(v.astype(np.int64)), lib.tensor(v.astype(np.float32))  # noqa: F841
        i32, f16 = lib.tensor(v.astype(np.int32)), lib.tensor(v.astype(np.float16))  # noqa: F841
        b, f64_0d = lib.tensor(v > 2), lib.tensor(np.float64(2.0))  # noqa: F841
        i64_0d, f64 = lib.tensor(np.int64(5)), lib.tensor(v)  # noqa: F841
        return eval(expr.replace("F.", "f."))

    ours = run(tg)
    assert str(ours.dtype) == PROMOTIONS[expr]
    if torch is not None:
        theirs = run(torch)
        assert same_dtype(ours, theirs)
        np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64),
                                   rtol=2e-3)


@pytest.mark.parametrize("call", ["F.softmax(i64, dim=0)", "F.log_softmax(i64, dim=0)", "i64.norm()",
                                  "F.relu(b)", "i64.mean()"])
def test_float_only_ops_refuse_integers_and_bools_as_in_torch(call):
    def run(lib):
        f = tg.functional if lib is tg else torch.nn.functional  # noqa: F841 (used by eval)
        i64, b = lib.tensor([[1, -2], [3, 4]]), lib.tensor([True, False])  # noqa: F841
        return eval(call.replace("F.", "f."))

    with pytest.raises(RuntimeError, match=r"(floating point|boolean).*\.float\(\)"):
        run(tg)
    if torch is not None:
        assert raises_in(torch, run)


def test_mean_of_an_integer_tensor_raises_as_in_torch():
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1, 2]).mean()
    if torch is not None:
        with pytest.raises(RuntimeError, match="floating point"):
            torch.tensor([1, 2]).mean()


def test_to_takes_a_device_a_dtype_or_both():
    x = tg.tensor([1.5, 2.5])
    assert x.to(np.float64).dtype == np.float64 and x.to("cpu") is x
    assert x.to("cpu", tg.long).tolist() == [1, 2] and x.type_as(tg.tensor([1])).dtype == np.int64


# ------------------------------------------------------- shapes and indices
def test_transpose_swaps_two_dims_of_a_matrix():
    x = tg.tensor([[1, 2, 3], [4, 5, 6]])
    assert x.transpose(0, 1).tolist() == [[1, 4], [2, 5], [3, 6]]
    assert x.transpose(1, 0).shape == (3, 2) and x.T.shape == (3, 2)
    assert tg.zeros(2, 3, 4).transpose(0, 2).shape == (4, 3, 2)


@with_torch
def test_transpose_and_permute_match_torch():
    data = np.arange(24).reshape(2, 3, 4)
    a, b = tg.tensor(data), torch.tensor(data)
    assert_same(a.transpose(0, 1), b.transpose(0, 1))
    assert_same(a.transpose(-1, 0), b.transpose(-1, 0))
    assert_same(a.permute(2, 0, 1), b.permute(2, 0, 1))
    assert_same(a[0].T, b[0].T)


def test_transpose_without_dims_raises_naming_permute():
    with pytest.raises(TypeError, match="permute"):
        tg.zeros(2, 3).transpose()
    with pytest.raises(TypeError, match="permute"):
        tg.zeros(2, 3, 4).transpose(1, 0, 2)
    if torch is not None:
        assert raises_in(torch, lambda lib: lib.zeros(2, 3).transpose(), TypeError)


def test_max_over_a_dim_returns_values_and_indices():
    x = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    values, idx = x.max(1)
    assert values.tolist() == [5.0, 7.0] and idx.tolist() == [1, 0] and idx.dtype == np.int64
    out = x.max(dim=1, keepdim=True)
    assert out.values.shape == (2, 1) and out.indices.shape == (2, 1)
    values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    assert x.max().shape == () and x.max().item() == 7.0
    assert x.min(0).indices.tolist() == [0, 1, 0]


@with_torch
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_match_torch_values_indices_and_gradients(name):
    data = np.random.default_rng(0).standard_normal((4, 5))
    a, b = tg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    for dim, keepdim in [(0, False), (1, True), (-1, False)]:
        ra, rb = getattr(a, name)(dim, keepdim), getattr(b, name)(dim, keepdim)
        assert_same(ra.values, rb.values)
        assert_same(ra.indices, rb.indices)
    (getattr(a, name)(1).values * 2).sum().backward()
    (getattr(b, name)(1).values * 2).sum().backward()
    np.testing.assert_allclose(a.grad, b.grad.numpy())


def test_size_is_a_plain_tuple_and_dim_and_numel_are_methods():
    x = tg.zeros(2, 3)
    assert x.size() == (2, 3) and type(x.size()) is tuple and x.size(1) == 3 and x.size(-2) == 2
    assert x.dim() == 2 and x.numel() == 6


@with_torch
def test_shape_vocabulary_matches_torch():
    data = np.arange(24.0).reshape(2, 3, 4)
    a, b = tg.tensor(data), torch.tensor(data)
    pairs = [
        (a.view(6, 4), b.view(6, 4)), (a.reshape(-1), b.reshape(-1)), (a.flatten(), b.flatten()),
        (a.flatten(1), b.flatten(1)), (a.unsqueeze(1), b.unsqueeze(1)), (a.unsqueeze(-1), b.unsqueeze(-1)),
        (a[:, :1].squeeze(), b[:, :1].squeeze()), (a[:1].squeeze(0), b[:1].squeeze(0)),
        (a[:1].squeeze(1), b[:1].squeeze(1)), (a[:, :1].expand(2, 3, 4), b[:, :1].expand(2, 3, 4)),
        (a[0, 0].expand(2, -1), b[0, 0].expand(2, -1)), (a.repeat(1, 2, 1), b.repeat(1, 2, 1)),
        (a[0].repeat(2, 1, 1), b[0].repeat(2, 1, 1)),
    ]
    for x, y in pairs:
        assert_same(x, y)
    for x, y in [(a.chunk(2, 2), b.chunk(2, 2)), (a.chunk(2, 1), b.chunk(2, 1)),
                 (a.split(3, 2), b.split(3, 2)), (a.split([1, 2], 1), b.split([1, 2], 1)),
                 (a.unbind(1), b.unbind(1))]:
        assert len(x) == len(y)
        for p, q in zip(x, y, strict=True):
            assert_same(p, q)


# -------------------------------------------------------------- reductions
def test_var_and_std_default_to_the_unbiased_estimate():
    x = tg.tensor([1.0, 2.0, 3.0, 4.0])
    assert abs(x.var().item() - 5 / 3) < 1e-6 and abs(x.var(unbiased=False).item() - 1.25) < 1e-6
    assert abs(x.var(correction=0).item() - 1.25) < 1e-6 and abs(x.std().item() - (5 / 3) ** 0.5) < 1e-6


@with_torch
def test_reductions_match_torch_values_and_gradients():
    data = np.random.default_rng(1).uniform(0.5, 2.0, (3, 4))
    calls = [lambda x: x.sum(1), lambda x: x.mean(0, keepdim=True), lambda x: x.var(1),
             lambda x: x.std(0, keepdim=True), lambda x: x.var(1, unbiased=False),
             lambda x: x.logsumexp(1), lambda x: x.prod(1), lambda x: x.prod(),
             lambda x: x.norm(), lambda x: x.norm(dim=1), lambda x: x.norm(p=1, dim=0),
             lambda x: x.amax(1), lambda x: x.amin(0), lambda x: x.sum(dim=(0, 1))]
    for call in calls:
        a, b = tg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        ra, rb = call(a), call(b)
        assert_same(ra, rb, rtol=1e-10)
        weights = np.random.default_rng(2).standard_normal(ra.shape)
        (ra * tg.tensor(weights)).sum().backward()
        (rb * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10)
    assert_same(tg.tensor(data).argmax(), torch.tensor(data).argmax())
    assert_same(tg.tensor(data).argmin(1, keepdim=True), torch.tensor(data).argmin(1, keepdim=True))


@pytest.mark.parametrize("p", [2, 3])
def test_norm_of_zeros_has_a_zero_gradient(p):
    x = tg.zeros(3, dtype=np.float64, requires_grad=True)
    x.norm(p=p).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    if torch is not None:
        y = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        y.norm(p=p).backward()
        assert y.grad.tolist() == [0.0, 0.0, 0.0]


@with_torch
def test_elementwise_vocabulary_matches_torch_values_and_gradients():
    rng = np.random.default_rng(3)
    data, other = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,))
    calls = [lambda x, y: x.clamp(-0.5, 0.5), lambda x, y: x.clamp(min=0.0), lambda x, y: x.clip(max=1.0),
             lambda x, y: x.abs(), lambda x, y: x.abs().sqrt(), lambda x, y: x.maximum(y),
             lambda x, y: x.minimum(y), lambda x, y: x.sign() * x, lambda x, y: x.abs() ** y,
             lambda x, y: 2.0 ** x, lambda x, y: x.abs().log1p(), lambda x, y: x.expm1(),
             lambda x, y: x.max(y), lambda x, y: x.exp().log().tanh().sigmoid().relu()]
    for call in calls:
        a, b = tg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        ya, yb = tg.tensor(other, requires_grad=True), torch.tensor(other, requires_grad=True)
        ra, rb = call(a, ya), call(b, yb)
        assert_same(ra, rb, rtol=1e-10)
        ra.sum().backward()
        rb.sum().backward()
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10)
        if ya.grad is not None or yb.grad is not None:
            np.testing.assert_allclose(ya.grad, yb.grad.numpy(), rtol=1e-10)


@with_torch
def test_creation_functions_match_torch():
    pairs = [(tg.arange(5), torch.arange(5)), (tg.arange(1, 7, 2), torch.arange(1, 7, 2)),
             (tg.arange(0, 1, 0.25), torch.arange(0, 1, 0.25)), (tg.full((2, 2), 7), torch.full((2, 2), 7)),
             (tg.full((2,), 1.5), torch.full((2,), 1.5)), (tg.full((2,), True), torch.full((2,), True)),
             (tg.eye(3), torch.eye(3)), (tg.eye(2, 3), torch.eye(2, 3)),
             (tg.linspace(0, 1, 5), torch.linspace(0, 1, 5)),
             (tg.zeros_like(tg.tensor([1, 2])), torch.zeros_like(torch.tensor([1, 2]))),
             (tg.ones_like(tg.tensor([1.5])), torch.ones_like(torch.tensor([1.5]))),
             (tg.full_like(tg.tensor([1, 2]), 3), torch.full_like(torch.tensor([1, 2]), 3)),
             (tg.cat([tg.ones(2, 1), tg.zeros(2, 2)], dim=1),
              torch.cat([torch.ones(2, 1), torch.zeros(2, 2)], dim=1)),
             (tg.stack([tg.ones(2), tg.zeros(2)], dim=1),
              torch.stack([torch.ones(2), torch.zeros(2)], dim=1)),
             (tg.sum(tg.ones(2, 3), 1), torch.sum(torch.ones(2, 3), 1))]
    for a, b in pairs:
        assert_same(a, b)


# ------------------------------------------------------------ in-place ops
def sgd_steps(lib, W0, x, y, steps=3, lr=0.1):
    """A hand-written SGD loop, as people write it in PyTorch; returns the trained weights."""
    W = lib.tensor(W0, requires_grad=True)
    for _ in range(steps):
        loss = ((x @ W - y) * (x @ W - y)).mean()
        loss.backward()
        with lib.no_grad():
            W -= lr * W.grad
        W.grad = None
    return W


def test_hand_written_sgd_in_no_grad_updates_the_weights_and_keeps_requires_grad():
    x, y = tg.tensor([[1.0, 2.0]]), tg.tensor([[1.0]])
    W = sgd_steps(tg, np.zeros((2, 1), dtype=np.float32), x, y, steps=1)
    # one step from 0: dL/dW = 2 x^T (xW - y) = [[-2], [-4]], so W = [[0.2], [0.4]]
    np.testing.assert_allclose(W.numpy(), [[0.2], [0.4]], rtol=1e-6)
    assert W.requires_grad and W._version == 1
    (x @ W).sum().backward()  # and the next backward works
    np.testing.assert_allclose(W.grad, [[1.0], [2.0]])


@with_torch
def test_hand_written_sgd_matches_torch():
    rng = np.random.default_rng(4)
    W0, x, y = rng.standard_normal((3, 2)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    ours = sgd_steps(tg, W0, tg.tensor(x), tg.tensor(y), steps=5)
    theirs = sgd_steps(torch, W0, torch.tensor(x), torch.tensor(y), steps=5)
    assert_same(ours, theirs, rtol=1e-12)


def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        w -= 0.1
    if torch is not None:
        assert raises_in(torch, lambda lib: lib.ones(2, requires_grad=True).sub_(0.1), RuntimeError)


def test_in_place_float_into_an_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="can't be cast"):
        tg.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        tg.tensor([1, 2]).div_(2)
    if torch is not None:
        assert raises_in(torch, lambda lib: lib.tensor([1, 2]).add_(1.5), RuntimeError)
        assert raises_in(torch, lambda lib: lib.tensor([1, 2]).div_(2), RuntimeError)


@with_torch
def test_in_place_ops_match_torch():
    def run(lib):
        x = lib.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
        x.add_(1.0, alpha=2.0)
        x.sub_(lib.tensor([1.0, 0.0, 1.0]))
        x.mul_(2.0)
        x.div_(4.0)
        x += 1
        x *= lib.tensor([[1.0], [2.0]])
        x.clamp_(-1.0, 4.0)
        x[0, 1] = 9.0
        x[1] = lib.tensor([7.0, 8.0, 9.0])
        y = lib.zeros(2, 3)
        y.copy_(x[0])
        z = lib.ones(3).fill_(2.0)
        return x, y, z, lib.ones(2).zero_()
    for a, b in zip(run(tg), run(torch), strict=True):
        assert_same(a, b)


def test_modifying_a_saved_input_makes_backward_raise_naming_the_op():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 4.0])
    y = w * x
    x += 1  # x is a plain tensor: allowed, but Mul saved it for dL/dw
    with pytest.raises(RuntimeError, match=r"Mul saved input 1 .* \(it is now at version 1\)"):
        y.sum().backward()
    if torch is not None:
        w, x = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0, 4.0])
        y = w * x
        x += 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_backward_after_an_optimizer_step_on_a_saved_weight_raises_in_both(name):
    """opt.step() typed before loss.backward(): torch refuses (its updates bump the version); so do we."""
    def run(lib):
        w, x = lib.tensor([2.0], requires_grad=True), lib.tensor([3.0], requires_grad=True)
        optimizer = getattr(lib.optim, name)([w], lr=1.0)
        loss = (w * x).sum()
        w.grad = lib.tensor([10.0]) if lib is torch else np.array([10.0], dtype=np.float32)
        optimizer.step()
        loss.backward()

    assert raises_in(tg, run, RuntimeError)
    if torch is not None:
        assert raises_in(torch, run, RuntimeError)


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "sqrt"])
def test_modifying_a_saved_output_under_no_grad_makes_backward_raise(op):
    def run(lib):
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        y = getattr(x, op)()
        with lib.no_grad():
            y.mul_(2)
        y.sum().backward()
    name = {"exp": "Exp", "tanh": "Tanh", "sigmoid": "Sigmoid", "sqrt": "Sqrt"}[op]
    with pytest.raises(RuntimeError, match=f"{name} saved its output"):
        run(tg)
    if torch is not None:
        assert raises_in(torch, run, RuntimeError)


def test_in_place_on_an_unsaved_input_is_fine_as_in_torch():
    def run(lib):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([3.0, 4.0])
        y = w + x  # Add saves nothing
        x += 1
        y.sum().backward()
        return w.grad
    assert run(tg).tolist() == [1.0, 1.0]
    if torch is not None:
        assert run(torch).tolist() == [1.0, 1.0]


def test_format_spec_formats_a_0d_tensor_and_refuses_others():
    assert f"{tg.tensor(3.14159):.3f}" == "3.142"
    assert f"{tg.tensor(7):>3d}" == "  7"
    with pytest.raises(TypeError):
        f"{tg.tensor([1.0]):.2f}"  # as in torch: a format spec needs a 0-d tensor


@with_torch
def test_format_spec_on_tensors_matches_torch():
    assert f"{tg.tensor(3.14159):.3f}" == f"{torch.tensor(3.14159):.3f}"
    assert raises_in(tg, lambda lib: f"{lib.tensor([1.0]):.2f}", TypeError)
    assert raises_in(torch, lambda lib: f"{lib.tensor([1.0]):.2f}", TypeError)


def test_torch_import_lines_for_nn_functional_and_nn_utils_work():
    """`import torch.nn.functional as F` and `from torch.nn.utils import ...`, typed for tensorgrad, in a
    fresh interpreter (nn is a module, not a package, so these names must be registered)."""
    code = ("import tensorgrad.nn.functional as F\n"
            "from tensorgrad.nn.utils import clip_grad_norm_\n"
            "from tensorgrad.nn import functional\n"
            "import tensorgrad as tg\n"
            "assert F is tg.nn.functional is functional is tg.functional\n"
            "assert clip_grad_norm_ is tg.nn.utils.clip_grad_norm_\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# torch 2.13's defaults for the hyperparameters both libraries have (torch.optim's signatures)
TORCH_OPTIMIZER_DEFAULTS = {
    "SGD": {"lr": 1e-3, "momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False},
    "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0},
    "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
    "RMSprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0, "momentum": 0, "centered": False},
}


@pytest.mark.parametrize("name", TORCH_OPTIMIZER_DEFAULTS)
def test_optimizer_defaults_are_torchs(name):
    """`SGD(model.parameters())` with no lr must take torch's step size, not a silently different one."""
    ours = {k: p.default for k, p in inspect.signature(getattr(tg.optim, name)).parameters.items()
            if k != "params"}
    assert ours == TORCH_OPTIMIZER_DEFAULTS[name]
    if torch is not None:
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        assert {k: theirs[k].default for k in ours} == ours


@pytest.mark.parametrize("index", [[[0], [-1]], [[0], [3]]])
def test_gather_refuses_an_index_out_of_range_negative_ones_too(index):
    """NumPy's take_along_axis reads -1 as the last element; torch refuses it, and so do we."""
    def run(lib):
        return lib.tensor(np.arange(6.0).reshape(2, 3)).gather(1, lib.tensor(index))

    with pytest.raises(IndexError, match=r"gather: index (-1|3) is out of range for dim 1 of size 3"):
        run(tg)
    if torch is not None:
        assert raises_in(torch, run)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN", "LSTMCell"])
def test_nn_lstm_typed_from_torch_says_the_layers_are_in_rnn(name):
    # `from rnn import LSTM`, not `import rnn`: torch tutorials name their own model `rnn`
    with pytest.raises(AttributeError, match=rf"tensorgrad.nn has no {name}: .*`from rnn import {name}`"):
        getattr(tg.nn, name)
    with pytest.raises(AttributeError, match="has no attribute 'Conv1d'"):
        tg.nn.Conv1d  # noqa: B018 (any other name: the usual message)


def test_flatten_parameters_is_there_and_changes_nothing():
    import rnn

    layer = rnn.LSTM(2, 3, num_layers=2)
    before = {k: v.copy() for k, v in layer.state_dict().items()}
    assert layer.flatten_parameters() is None
    assert all(np.array_equal(v, before[k]) for k, v in layer.state_dict().items())


def test_assigning_requires_grad_checks_as_torch_does():
    """`y.requires_grad = False` on a computed tensor would silently cut its gradient; torch refuses."""
    def switch_off_computed(lib):
        y = lib.ones(2, requires_grad=True) * 2
        y.requires_grad = False

    def switch_on_integers(lib):
        lib.tensor([1, 2]).requires_grad = True

    for run in (switch_off_computed, switch_on_integers):
        assert raises_in(tg, run, (RuntimeError, TypeError))
        if torch is not None:
            assert raises_in(torch, run, RuntimeError)
    with pytest.raises(RuntimeError, match=r"only be switched off on a leaf.*detach\(\)"):
        switch_off_computed(tg)
    leaf = tg.zeros(2)
    leaf.requires_grad = True
    assert leaf.requires_grad and (leaf * 2).requires_grad
    leaf.requires_grad = False
    assert not (leaf * 2).requires_grad


# --------------------------------------------- softmax / masks / sampling, typed from torch
def test_softmax_methods_and_functions_match_torch():
    x = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=np.float32)
    for form in ("x.softmax(-1)", "x.log_softmax(1)", "lib.softmax(x, 0)", "lib.log_softmax(x, dim=-1)"):
        ours = eval(form, {"x": tg.tensor(x), "lib": tg})
        expected = np.exp(x) / np.exp(x).sum(axis=-1 if "0" not in form else 0, keepdims=True)
        probabilities = np.exp(ours.numpy()) if "log" in form else ours.numpy()
        np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
        if torch is not None:
            assert_same(ours, eval(form, {"x": torch.tensor(x), "lib": torch}), rtol=1e-6)


def test_masked_fill_keeps_the_gradient_of_the_elements_kept():
    def run(lib):
        scores = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        causal = lib.tensor([[True, False, False], [True, True, False]])
        masked = scores.masked_fill(~causal, float("-inf"))
        (masked.softmax(-1) * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        return masked, scores.grad

    masked, grad = run(tg)
    assert masked.tolist()[0][1:] == [float("-inf")] * 2 and grad[0].tolist() == [0.0, 0.0, 0.0]
    assert grad[1, 2] == 0.0 and grad[1, 0] != 0.0
    if torch is not None:
        t_masked, t_grad = run(torch)
        assert_same(masked, t_masked)
        np.testing.assert_allclose(grad, t_grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("call, error", [("x.masked_fill(x > 0, 1.0)", None),
                                         ("x.masked_fill(x, 1.0)", TypeError),
                                         ("x.masked_fill(lib.ones(3, 2) > 0, 1.0)", ValueError),
                                         ("xi.masked_fill(xi > 1, 0.7)", None)])
def test_masked_fill_refuses_what_torch_refuses(call, error):
    def run(lib):
        x, xi = lib.tensor([[1.0, -2.0], [3.0, 0.5]]), lib.tensor([[1, 2], [3, 4]])  # noqa: F841
        return eval(call)

    if error is None:
        ours = run(tg)
        if torch is not None:
            assert_same(ours, run(torch))
        return
    with pytest.raises(error, match="masked_fill"):
        run(tg)
    if torch is not None:
        assert raises_in(torch, run)


@pytest.mark.parametrize("call", ["lib.tril(x)", "lib.triu(x, 1)", "x.tril(-1)", "x.triu()", "y.tril()"])
def test_tril_and_triu_match_torch_with_gradients(call):
    def run(lib):
        x = lib.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        y = lib.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)  # noqa: F841 (used by eval)
        out = eval(call)
        (out * out).sum().backward()
        return out, (x.grad if x.grad is not None else y.grad)

    ours, grad = run(tg)
    if torch is not None:
        theirs, t_grad = run(torch)
        assert_same(ours, theirs)
        np.testing.assert_array_equal(grad, t_grad.numpy())
    else:
        assert np.count_nonzero(ours.numpy()) <= ours.numel()


def test_multinomial_draws_in_proportion_to_the_weights():
    tg.manual_seed(0)
    weights = tg.tensor([[1.0, 0.0, 3.0], [2.0, 2.0, 0.0]])  # need not sum to 1
    draws = tg.multinomial(weights, 20000, replacement=True)
    assert draws.shape == (2, 20000) and draws.dtype == np.int64
    counts = [np.bincount(row, minlength=3) / 20000 for row in draws.numpy()]
    np.testing.assert_allclose(counts[0], [0.25, 0.0, 0.75], atol=0.01)
    np.testing.assert_allclose(counts[1], [0.5, 0.5, 0.0], atol=0.01)
    one = tg.multinomial(tg.tensor([0.2, 0.3, 0.5]), 3)  # without replacement: each index once
    assert sorted(one.tolist()) == [0, 1, 2]
    firsts = np.bincount([tg.multinomial(tg.tensor([0.2, 0.3, 0.5]), 2)[0].item() for _ in range(4000)],
                         minlength=3) / 4000
    np.testing.assert_allclose(firsts, [0.2, 0.3, 0.5], atol=0.03)  # the first draw follows the weights


@pytest.mark.parametrize("args, match", [(([0.5, -0.1], 1), "non-negative"),
                                         (([0.0, 0.0], 1), "positive sum"),
                                         (([1.0, 0.0, 1.0], 4), "without replacement"),
                                         (([1.0, 1.0], 0), "num_samples")])
def test_multinomial_refuses_what_torch_refuses(args, match):
    weights, n = args
    with pytest.raises(ValueError, match=match):
        tg.multinomial(tg.tensor(weights), n)
    if torch is not None:
        assert raises_in(torch, lambda lib: lib.multinomial(lib.tensor(weights), n))


def test_cuda_is_available_answers_as_torch_cuda():
    assert tg.cuda.is_available() == tg.cuda_available()
    device = "cuda" if tg.cuda.is_available() else "cpu"
    assert tg.zeros(2, device=device).device == device


def test_sampling_and_masks_stay_on_the_device(device):
    tg.manual_seed(0)
    weights = tg.tensor([[1.0, 0.0, 3.0]], device=device)
    for replacement in (True, False):
        draws = tg.multinomial(weights, 2, replacement=replacement)
        assert draws.device == device and draws.shape == (1, 2) and 1 not in draws.tolist()[0][:1]
    x = tg.ones(3, 3, device=device, requires_grad=True)
    out = x.tril().masked_fill(tg.eye(3, device=device) > 0, 5.0)
    out.sum().backward()
    assert out.device == device and out.tolist() == [[5, 0, 0], [1, 5, 0], [1, 1, 5]]
    assert tg.tensor(x.grad, device="cpu").tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0]]
    values, indices = tg.tensor([[0.5, 2.0, -1.0]], device=device).topk(2)
    assert values.device == indices.device == device and indices.tolist() == [[1, 0]]
    assert tg.tensor([3.0, float("nan")], device=device).isnan().tolist() == [False, True]


# Gradients where the formula meets 0/0 or a tie, with the values torch 2.13 gives
# (the weights 1, 2, 3, ... on the outputs tell the elements apart).
EDGE_GRADIENTS = [
    ("x ** 0", [0.0, 3.0], [0.0, 0.0]),
    ("x ** L.tensor(0.0, dtype=L.float64)", [0.0, 3.0], [0.0, 0.0]),
    ("x.std()", [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]),
    ("x.std(0)", [[1.0, 2.0], [1.0, 5.0]], [[0.0, -1.414214], [0.0, 1.414214]]),
    ("x.max()", [[1.0, 3.0], [3.0, 2.0]], [[0.0, 0.5], [0.5, 0.0]]),
    ("x.amax(dim=1)", [[3.0, 3.0], [1.0, 2.0]], [[0.5, 0.5], [0.0, 2.0]]),
    ("x.max(1)[0]", [[3.0, 3.0], [1.0, 2.0]], [[1.0, 0.0], [0.0, 2.0]]),
    ("x.norm()", [0.0, 0.0], [0.0, 0.0]),
    ("x.abs()", [0.0, -1.0, 2.0], [0.0, -2.0, 3.0]),
    ("x.relu()", [0.0, -1.0, 2.0], [0.0, 0.0, 3.0]),
    ("x.clamp(0.0, 1.0)", [0.0, 1.0, 0.5, 2.0], [1.0, 2.0, 3.0, 0.0]),
    ("x.prod()", [0.0, 2.0, 3.0], [6.0, 0.0, 0.0]),
    ("L.maximum(x, L.tensor(np.array([1.0, 1.0])))", [1.0, 2.0], [0.5, 2.0]),
    ("x.sign()", [0.0, -2.0], [0.0, 0.0]),
]


@pytest.mark.parametrize("expr, values, expected", EDGE_GRADIENTS, ids=[c[0] for c in EDGE_GRADIENTS])
def test_gradients_at_zeros_and_ties_are_torchs(expr, values, expected):
    def grad(lib):
        x = lib.tensor(np.array(values), requires_grad=True)
        out = eval(expr, {"x": x, "L": lib, "np": np})
        weights = np.arange(1.0, out.numel() + 1).reshape(out.shape)
        (out * lib.tensor(weights)).sum().backward()
        return np.asarray(x.grad.numpy() if lib is torch else x.grad)

    np.testing.assert_allclose(grad(tg), expected, atol=1e-6)
    if torch is not None:
        np.testing.assert_allclose(grad(tg), grad(torch), atol=1e-12)


@pytest.mark.parametrize("call", ["x.topk(2)", "x.topk(2, dim=0)", "x.topk(1, largest=False)", "x.sort()",
                                  "x.sort(dim=0, descending=True)", "lib.sort(x, 1)", "lib.topk(x, 3)"])
def test_topk_and_sort_match_torch_with_gradients(call):
    values = np.array([[0.3, -1.2, 2.5, 0.9], [1.7, 0.1, -0.4, 2.2], [0.6, 3.1, -2.0, 1.1]])  # no ties

    def run(lib):
        x = lib.tensor(values, requires_grad=True)
        out, idx = eval(call, {"x": x, "lib": lib})
        (out * lib.tensor(np.arange(1.0, out.numel() + 1).reshape(out.shape))).sum().backward()
        return out, idx, x.grad

    out, idx, grad = run(tg)
    assert idx.dtype == np.int64
    expected = np.take_along_axis(values, idx.numpy(), axis=1 if "dim=0" not in call else 0)
    np.testing.assert_array_equal(out.numpy(), expected)
    if torch is not None:
        t_out, t_idx, t_grad = run(torch)
        assert_same(out, t_out)
        np.testing.assert_array_equal(idx.numpy(), t_idx.numpy())
        np.testing.assert_array_equal(grad, t_grad.numpy())


def test_argsort_t_isnan_isfinite_match_torch():
    def run(lib):
        x = lib.tensor([[3.0, float("nan"), 1.0], [float("inf"), 0.5, -2.0]])
        return (lib.argsort(x[1]), x[1].argsort(descending=True), x.t(), x[0].t(), lib.isnan(x), x.isfinite())

    ours = run(tg)
    assert [o.shape for o in ours[2:4]] == [(3, 2), (3,)]
    assert ours[4].tolist() == [[False, True, False], [False, False, False]]
    if torch is not None:
        for a, b in zip(ours, run(torch), strict=True):
            assert_same(a, b)
    with pytest.raises(ValueError, match=r"t\(\) expects a tensor with at most 2 dims"):
        tg.zeros(2, 3, 4).t()
    with pytest.raises(ValueError, match="topk: k must be"):
        tg.zeros(3).topk(4)


@pytest.mark.parametrize("expr", ["i // 2", "i % 3", "7 // i", "7 % i", "x // 2", "x % 2", "x % -1.5",
                                  "i // 2.0", "x // i"])
def test_floor_division_and_remainder_follow_python_signs_as_in_torch(expr):
    def run(lib):
        i, x = lib.tensor([7, -7, 5]), lib.tensor([3.5, -2.5, 4.0])  # noqa: F841 (used by eval)
        return eval(expr)

    ours = run(tg)
    expected = eval(expr, {"i": np.array([7, -7, 5]), "x": np.array([3.5, -2.5, 4.0], np.float32)})
    np.testing.assert_allclose(ours.numpy(), expected)
    if torch is not None:
        assert_same(ours, run(torch))


def test_remainder_has_gradients_and_floor_division_refuses_one_as_in_torch():
    a = tg.tensor([3.5, -2.5, 4.2], dtype=np.float64, requires_grad=True)
    b = tg.tensor([2.0, 1.5, -1.1], dtype=np.float64, requires_grad=True)
    assert tg.gradcheck(lambda p, q: p % q, (a, b))
    with pytest.raises(RuntimeError, match=r"// \(floor division\) has no derivative"):
        (a // b).sum().backward()
    if torch is not None:
        assert raises_in(torch, lambda lib: (lib.tensor([3.5], requires_grad=True) // 2).sum().backward())


@pytest.mark.parametrize("call", ["x.cumsum(1)", "lib.cumsum(x, dim=0)", "i.cumsum(0)", "(x > 0).cumsum(1)",
                                  "x.round()", "x.floor()", "lib.ceil(x)", "x.mm(w)", "lib.mm(x, w)",
                                  "lib.bmm(b, c)", "b.bmm(c)"])
def test_cumsum_rounding_mm_and_bmm_match_torch_with_gradients(call):
    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((2, 3)) * 3, "w": rng.standard_normal((3, 4)),
              "b": rng.standard_normal((2, 2, 3)), "c": rng.standard_normal((2, 3, 2))}

    def run(lib):
        env = {k: lib.tensor(v, requires_grad=True) for k, v in arrays.items()}
        env.update(lib=lib, i=lib.tensor(np.array([1, 2, 3], np.int32)))
        out = eval(call, env)
        if out.dtype.is_floating_point if lib is torch else out.dtype.kind == "f":
            (out * out).sum().backward()
        grads = [env[k].grad for k in arrays]
        return out, [None if g is None else np.asarray(g.numpy() if lib is torch else g) for g in grads]

    ours, grads = run(tg)
    if torch is not None:
        theirs, t_grads = run(torch)
        assert_same(ours, theirs, rtol=1e-12)
        for g, t in zip(grads, t_grads, strict=True):
            assert (g is None) == (t is None)
            if g is not None:
                np.testing.assert_allclose(g, t, rtol=1e-12)


def test_mm_and_bmm_refuse_other_shapes_and_randint_draws_ints():
    with pytest.raises(ValueError, match=r"mm: expects two 2-D tensors"):
        tg.ones(2, 3, 4).mm(tg.ones(4, 2))
    with pytest.raises(ValueError, match=r"bmm: expects two 3-D tensors with the same batch size"):
        tg.ones(2, 3, 4).bmm(tg.ones(3, 4, 2))
    tg.manual_seed(0)
    draws = tg.randint(3, 7, (1000,))
    assert draws.dtype == np.int64 and set(draws.tolist()) == {3, 4, 5, 6}
    assert tg.randint(5, (2, 3)).shape == (2, 3)
    assert tg.randn_like(tg.zeros(2, 3, dtype=np.float64)).dtype == np.float64
    with pytest.raises(ValueError, match="low < high"):
        tg.randint(5, 5, (2,))


@with_torch
def test_backward_runs_the_ops_in_torchs_order():
    # Two branches from x; torch runs the op recorded last first (its sequence_nr), as tensorgrad does
    # (tests/test_backward.py): the order decides how a shared gradient's terms are summed.
    logs = {"tensorgrad": [], "torch": []}

    class TgLogged(tg.Function):
        def forward(self, x, name):
            self.name = name
            return 2 * x

        def backward(self, g):
            logs["tensorgrad"].append(self.name)
            return (2 * g,)

    class TorchLogged(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, name):
            ctx.name = name
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            logs["torch"].append(ctx.name)
            return 2 * g, None

    def run(lib, logged):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = logged(x, "a"), logged(x, "b")
        c, d = logged(a, "c"), logged(b, "d")
        (logged(c, "e") * d + logged(a, "f")).sum().backward()
        return x.grad

    assert_same(run(tg, lambda x, name: TgLogged.apply(x, name=name)), run(torch, TorchLogged.apply))
    assert logs["tensorgrad"] == logs["torch"] == ["f", "e", "d", "c", "b", "a"]
