""".data and .grad as in torch: Tensors, not raw arrays.

``t.data`` is a new Tensor sharing t's memory, outside the graph (no history,
requires_grad False, a version counter of its own); ``t.grad`` is a Tensor of
t's shape, dtype and device, or None. The raw NumPy/CuPy array is ``t.array``.
Where torch is installed each habit is also run in torch and compared.
"""

import numpy as np
import pytest

import tensorgrad as tg

try:
    import torch
except ImportError:  # the torch side of each comparison is skipped
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

W = [[0.5, -1.0, 2.0], [3.0, 0.25, -2.5], [1.5, 1.0, 0.0], [-0.5, 4.0, 1.0]]


def both(data=W):
    """The same float32 data in tensorgrad and (where installed) torch."""
    ours = tg.tensor(np.array(data, dtype=np.float32))
    theirs = torch.tensor(np.array(data, dtype=np.float32)) if torch is not None else None
    return ours, theirs


# ------------------------------------------------------------------- .data
def test_data_is_a_tensor_sharing_memory_outside_the_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.data
    assert isinstance(d, tg.Tensor) and not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.array is y.array  # the same memory, no copy
    d[0] = 7.0
    assert y.tolist() == [7.0, 4.0]


def test_changes_through_data_are_not_seen_by_the_version_counter_as_in_torch():
    for lib in [tg] + ([torch] if torch is not None else []):
        x = lib.ones(3, requires_grad=True)
        y = x * x  # saves x
        x.data.add_(1)
        assert x._version == 0
        y.sum().backward()  # not refused: .data is outside autograd's view, as torch documents
        assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_the_classic_accuracy_line_takes_the_per_row_argmax():
    output, t_output = both()
    target = [2, 0, 0, 1]
    pred = output.data.max(1)[1]
    assert pred.tolist() == [2, 0, 0, 1]
    assert (pred == tg.tensor(target)).sum().item() == 4
    if torch is not None:
        assert pred.tolist() == t_output.data.max(1)[1].tolist()


@needs_torch
@pytest.mark.parametrize("habit", ["std", "var", "repeat", "sort_values", "sort_indices", "norm", "mean"])
def test_tensor_methods_through_data_equal_torchs(habit):
    ours, theirs = both()
    calls = {"std": lambda w: w.data.std(), "var": lambda w: w.data.var(),
             "repeat": lambda w: w.data.repeat(2, 1), "sort_values": lambda w: w.data.sort()[0],
             "sort_indices": lambda w: w.data.sort()[1], "norm": lambda w: w.data.norm(),
             "mean": lambda w: w.data.mean(0)}
    a, b = calls[habit](ours), calls[habit](theirs)
    assert a.shape == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_std_var_repeat_and_sort_through_data_give_torchs_values_without_torch():
    w, _ = both()
    assert w.data.std().item() == pytest.approx(np.std(np.array(W), ddof=1), rel=1e-6)  # not NumPy's ddof=0
    assert w.data.var().item() == pytest.approx(np.var(np.array(W), ddof=1), rel=1e-6)
    assert w.data.repeat(2, 1).shape == (8, 3)
    values, indices = w.data.sort()
    assert values.tolist()[0] == [-1.0, 0.5, 2.0] and indices.tolist()[0] == [1, 0, 2]
    assert w.tolist() == W  # sort() returns sorted copies; the weights are untouched


def test_a_hand_written_update_through_data_and_grad_equals_torchs():
    """word_language_model's loop: p.data.add_(p.grad, alpha=-lr)."""
    def run(lib):
        w = lib.tensor(np.array(W, dtype=np.float32), requires_grad=True)
        x = lib.tensor(np.array([[1.0, -2.0, 0.5]], dtype=np.float32))
        for _ in range(3):
            loss = ((x @ w.T) ** 2).sum()
            loss.backward()
            w.data.add_(w.grad, alpha=-0.01)
            w.grad.zero_()
        return w.detach().numpy(), w.grad.numpy()

    w, g = run(tg)
    assert not np.allclose(w, W) and (g == 0).all()
    if torch is not None:
        tw, tgrad = run(torch)
        np.testing.assert_allclose(w, tw, rtol=1e-6)
        np.testing.assert_array_equal(g, tgrad)


def test_uniform_and_normal_fill_through_data_in_place():
    w = tg.zeros(200, 3, requires_grad=True)
    assert w.data.uniform_(-0.5, 0.5) is not w
    assert -0.5 <= w.array.min() < -0.4 and 0.4 < w.array.max() < 0.5
    w.data.normal_(1.0, 0.01)
    assert abs(w.array.mean() - 1.0) < 0.01
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.uniform_()  # on the parameter itself under grad mode: refused, as in torch


def test_assigning_data_replaces_the_memory():
    p = tg.nn.Parameter(tg.zeros(2))
    other = tg.ones(5)
    p.data = other
    assert p.shape == (5,) and p.array is other.array and p.requires_grad
    p.data = np.full(3, 2.0, dtype=np.float32)  # an array is taken as it is
    assert p.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="must hold floats"):
        p.data = tg.zeros(2, dtype=np.int64)


@needs_torch
def test_assigning_integer_data_to_a_tensor_that_requires_grad_raises_in_torch_too():
    with pytest.raises(RuntimeError):
        torch.zeros(2, requires_grad=True).data = torch.zeros(2, dtype=torch.int64)


# ------------------------------------------------------------------- .grad
def test_grad_is_a_tensor_of_the_same_shape_dtype_and_device():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    assert isinstance(g, tg.Tensor) and g.shape == x.shape and g.dtype == x.dtype and g.device == x.device
    assert not g.requires_grad and g.grad_fn is None
    assert g.tolist() == [[2.0, 4.0]]


def test_grad_zero_and_grad_data_norm_work():
    x = tg.tensor([3.0, 4.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.data.norm().item() == pytest.approx(10.0)
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]


def test_backward_accumulates_into_the_same_grad_tensor_as_in_torch():
    for lib in [tg] + ([torch] if torch is not None else []):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        first = x.grad
        (x * 3).sum().backward()
        assert x.grad is first and first.tolist() == [5.0, 7.0]


def test_assigning_an_array_to_grad_wraps_it_without_a_copy():
    p = tg.zeros(2, requires_grad=True)
    g = np.array([1.0, 2.0], dtype=np.float32)
    p.grad = g
    assert isinstance(p.grad, tg.Tensor) and p.grad.array is g
    tg.optim.SGD([p], lr=1.0).step()
    assert p.tolist() == [-1.0, -2.0]


def test_assigning_a_tensor_to_grad_keeps_that_tensor():
    p = tg.zeros(2, requires_grad=True)
    g = tg.ones(2)
    p.grad = g
    assert p.grad is g
    p.grad = None
    assert p.grad is None


@pytest.mark.parametrize("bad, message", [(np.ones(3, dtype=np.float32), "shape"),
                                          (np.ones(2, dtype=np.float64), "dtype"),
                                          ([1.0, 2.0], "Tensor, an array or None")])
def test_assigning_a_mismatched_grad_raises_as_in_torch(bad, message):
    p = tg.zeros(2, requires_grad=True)
    with pytest.raises((RuntimeError, TypeError), match=message):
        p.grad = bad
    if torch is not None and not isinstance(bad, list):
        with pytest.raises(RuntimeError):
            torch.zeros(2, requires_grad=True).grad = torch.from_numpy(bad)


def test_optimizers_and_clipping_update_grad_in_place():
    p = tg.tensor([3.0, 4.0], requires_grad=True)
    (p * p).sum().backward()
    g = p.grad
    norm = tg.nn.utils.clip_grad_norm_([p], max_norm=1.0)
    assert norm == pytest.approx(10.0) and p.grad is g
    np.testing.assert_allclose(g.numpy(), [0.6, 0.8], rtol=1e-5)
    opt = tg.optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and g.tolist() == [0.0, 0.0]
