"""The backward walk: iterative, in torch's order, frees the graph, accumulates gradients correctly."""

import threading

import numpy as np
import pytest
from tensors import f64, host

import tensorgrad as tg


def test_100k_step_unrolled_chain_backprops_without_recursion_error():
    # h_t = tanh(h_{t-1} @ W + x_t), T = 100,000: far deeper than Python's recursion limit.
    T, H = 100_000, 3
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((H, H)) * 0.4
    xs = rng.standard_normal((T, H)) * 0.5
    W = tg.tensor(W0, requires_grad=True)
    h = tg.zeros(H, dtype=np.float64)
    for t in range(T):
        h = (h @ W + xs[t]).tanh()
    h.sum().backward()

    # The same gradient by hand-written BPTT in NumPy.
    hs = np.zeros((T + 1, H))
    for t in range(T):
        hs[t + 1] = np.tanh(hs[t] @ W0 + xs[t])
    dW, dh = np.zeros_like(W0), np.ones(H)
    for t in reversed(range(T)):
        da = dh * (1 - hs[t + 1] ** 2)
        dW += np.outer(hs[t], da)
        dh = da @ W0.T
    np.testing.assert_allclose(host(W.grad), dW, rtol=1e-10, atol=1e-12)


def test_second_backward_through_freed_graph_names_retain_graph(device):
    x = f64([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(tg.GraphFreedError, match="retain_graph") as info:
        y.backward()
    assert "detach()" in str(info.value)


def test_freed_intermediate_is_detected_from_a_new_root(device):
    x = f64([1.0, 2.0], device)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(tg.GraphFreedError, match="retain_graph"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward_that_accumulates(device):
    x = f64([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(host(x.grad), [4.0, 8.0])


def test_backward_on_non_scalar_without_grad_explains_how_to_fix(device):
    x = f64([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*\.sum\(\)"):
        (x * 2).backward()


def test_backward_with_explicit_grad_on_non_scalar(device):
    x = f64([1.0, 2.0], device)
    (x * 3).backward(grad=np.array([1.0, 10.0]) if device == "cpu" else tg.tensor([1.0, 10.0],
                     dtype=np.float64, device=device))
    np.testing.assert_allclose(host(x.grad), [3.0, 30.0])


def test_backward_grad_of_wrong_shape_is_rejected(device):
    x = f64([1.0, 2.0], device)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        (x * 3).backward(grad=tg.tensor([1.0, 1.0, 1.0], dtype=np.float64, device=device))


def test_backward_on_tensor_without_grad_history_is_an_error(device):
    x = tg.tensor([1.0, 2.0], device=device)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


def test_gradients_accumulate_across_backward_calls(device):
    x = f64([1.0, 2.0], device)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(host(x.grad), [5.0, 5.0])


def test_diamond_graph_sums_both_paths(device):
    x = f64([0.5, -1.0], device)
    a = x.tanh()
    y = (a * a + a.exp()).sum()  # a is used twice
    y.backward()
    t = np.tanh([0.5, -1.0])
    np.testing.assert_allclose(host(x.grad), (2 * t + np.exp(t)) * (1 - t**2), rtol=1e-12)


def test_leaf_gradients_are_never_the_same_array(device):
    a, b = f64([1.0], device), f64([2.0], device)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 10  # clipping or an optimizer may scale in place
    np.testing.assert_allclose(host(b.grad), [1.0])


def test_retain_grad_keeps_an_intermediate_gradient(device):
    x = f64([1.0, 2.0], device)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(host(h.grad), [6.0, 12.0])
    assert h.grad_fn is not None


def test_no_grad_records_nothing_and_restores(device):
    x = f64([1.0], device)
    with tg.no_grad():
        y = x * 2
        with tg.no_grad():
            pass
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_is_per_thread():
    seen = []
    with tg.no_grad():
        thread = threading.Thread(target=lambda: seen.append(tg.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_no_grad_and_enable_grad_decorate_functions_as_in_torch():
    x = tg.tensor([1.0], requires_grad=True)

    @tg.no_grad()
    def evaluate(t, depth=0):
        if depth < 2:
            evaluate(t, depth + 1)  # each call restores what it found
        assert not tg.is_grad_enabled()
        return t * 2, enabled_inside(t)

    @tg.enable_grad()
    def enabled_inside(t):
        return t * 3

    y, z = evaluate(x)
    assert tg.is_grad_enabled() and not y.requires_grad and z.requires_grad
    assert evaluate.__name__ == "evaluate"
    with pytest.raises(TypeError, match=r"decorates a function.*with no_grad\(\):"):
        tg.no_grad()(x)


def test_set_grad_enabled_switches_at_once_or_for_a_block():
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
        with tg.set_grad_enabled(True):
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    try:
        tg.set_grad_enabled(False)  # a plain call, as torch.set_grad_enabled(False)
        assert not tg.is_grad_enabled() and not (tg.ones(1, requires_grad=True) * 2).requires_grad
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()


def test_backward_takes_torchs_gradient_keyword():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(gradient=tg.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [3.0, 30.0])
    with pytest.raises(TypeError, match="both gradient= and grad="):
        (x * 3).backward(gradient=tg.ones(2), grad=tg.ones(2))


def test_detach_cuts_history_and_shares_data(device):
    x = f64([1.0, 2.0], device)
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    y = (d * x).sum()
    y.backward()
    np.testing.assert_allclose(host(x.grad), [2.0, 4.0])  # no gradient through d


def test_backward_on_a_leaf_sets_its_own_grad(device):
    x = f64([3.0], device)
    x.backward()
    np.testing.assert_allclose(host(x.grad), [1.0])


class _Twice(tg.Function):
    def forward(self, x):
        return 2 * x

    def backward(self, g):
        return (2 * g,)


class _WrongCount(_Twice):
    def backward(self, g):
        return 2 * g, g


class _WrongShape(_Twice):
    def backward(self, g):
        return (g.sum(),)


class _SplitHalves(tg.Function):
    """Two outputs: the first half and twice the second half."""

    def forward(self, x):
        self.n = x.shape[0]
        return x[: self.n // 2].copy(), 2 * x[self.n // 2:]

    def backward(self, g_first, g_second):
        xp = tg.get_array_module(g_first if g_first is not None else g_second)
        g = xp.zeros(self.n)
        if g_first is not None:
            g[: self.n // 2] = g_first
        if g_second is not None:
            g[self.n // 2:] = 2 * g_second
        return (g,)


def test_custom_function_backward(device):
    x = f64([1.0, -2.0], device)
    _Twice.apply(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), [2.0, 2.0])


def test_custom_backward_returning_wrong_count_is_named(device):
    x = f64([1.0], device)
    with pytest.raises(TypeError, match="_WrongCount.backward must return a tuple with one gradient"):
        _WrongCount.apply(x).sum().backward()


def test_custom_backward_returning_wrong_shape_is_named(device):
    x = f64([1.0, 2.0], device)
    with pytest.raises(ValueError, match=r"_WrongShape.backward returned a gradient of shape \(\)"):
        _WrongShape.apply(x).sum().backward()


class _RowGradient(_Twice):
    """A wrong gradient that NumPy would broadcast without complaint: shape (1, n) for an (n,) input."""

    def backward(self, g):
        return ((2 * g)[None, :],)


def test_custom_backward_wrong_shape_for_an_intermediate_is_named_not_broadcast(device):
    x = f64([1.0, 2.0], device)
    with pytest.raises(ValueError, match=r"_RowGradient.backward returned a gradient of shape \(1, 2\) "
                                         r"for input 0 of shape \(2,\)"):
        _RowGradient.apply(x * 3).sum().backward()


class _ListBackward(_Twice):
    def backward(self, g):
        return [2 * g]


def test_custom_backward_returning_a_list_is_named(device):
    x = f64([1.0], device)
    with pytest.raises(TypeError, match="_ListBackward.backward must return a tuple .* got list"):
        _ListBackward.apply(x).sum().backward()


class _WrongTanh(tg.ops.Tanh):
    """A user's subclass of a shipped op: its backward is the user's, so it is checked."""

    def backward(self, g):
        return (g.sum(),)


def test_user_subclass_of_a_shipped_op_is_checked(device):
    x = f64([0.5, 1.0], device)
    with pytest.raises(ValueError, match=r"_WrongTanh.backward returned a gradient of shape \(\)"):
        _WrongTanh.apply(x).sum().backward()


def test_only_the_shipped_ops_are_trusted_to_skip_the_checks():
    from rnn.kernels import RNNSequence

    assert tg.ops.Add._trusted and tg.ops.MatMul._trusted and RNNSequence._trusted
    assert not _Twice._trusted and not _WrongTanh._trusted


def test_a_function_named_into_a_shipped_package_is_still_checked():
    # Trust goes by the explicit mark (trusted=True), not by a module name anyone can write.
    posing = type("_Posing", (_WrongShape,), {"__module__": "rnn.posing"})
    assert not posing._trusted
    with pytest.raises(ValueError, match=r"_Posing.backward returned a gradient of shape \(\)"):
        posing.apply(f64([1.0, 2.0])).sum().backward()


class _Float64Backward(_Twice):
    def backward(self, g):
        return ((2 * g).astype(np.float64),)


def test_custom_backward_gradient_takes_the_inputs_dtype(device):
    x = tg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True, device=device)
    _Float64Backward.apply(x * 1).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(host(x.grad), [2.0, 2.0])


def test_leaf_used_by_several_ops_gets_the_sum_in_its_own_array(device):
    x = f64([1.0, 2.0], device)
    ((x * 2).sum() + x.sum() + (x + 0).sum()).backward()
    np.testing.assert_allclose(host(x.grad), [4.0, 4.0])
    x.grad *= 10  # writable, and no op's gradient is aliased
    np.testing.assert_allclose(host(x.grad), [40.0, 40.0])


def test_leaf_given_one_shared_gradient_gets_a_copy_it_may_modify(device):
    x = f64([1.0, 2.0], device)
    (x + 0).sum().backward()  # Add hands on Sum's broadcast (read-only) gradient unchanged
    x.grad += 1
    np.testing.assert_allclose(host(x.grad), [2.0, 2.0])


def test_multi_output_function_gets_none_for_unused_output(device):
    x = f64([1.0, 2.0, 3.0, 4.0], device)
    first, second = _SplitHalves.apply(x)
    second.sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, 0.0, 2.0, 2.0])


def test_multi_output_function_sums_both_outputs(device):
    x = f64([1.0, 2.0, 3.0, 4.0], device)
    first, second = _SplitHalves.apply(x)
    (first.sum() * 3 + second.sum()).backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 3.0, 2.0, 2.0])


def test_retain_grad_on_a_constant_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.zeros(3).retain_grad()


class _Logged(tg.Function):
    """f = 2x, writing its name into LOG when its backward runs."""

    LOG = []

    def forward(self, x, name):
        self.name = name
        return 2 * x

    def backward(self, g):
        _Logged.LOG.append(self.name)
        return (2 * g,)


def test_ops_run_last_recorded_first_as_in_torch(device):
    # Two branches from x; the old depth-first order ran d, b before e, c, a. torch (and now
    # tensorgrad) runs the op recorded last first: e, d, c, b, a (tests/test_torch_habits.py checks
    # torch gives this order).
    _Logged.LOG.clear()
    x = f64([1.0, 2.0], device)
    a, b = _Logged.apply(x, name="a"), _Logged.apply(x, name="b")
    c, d = _Logged.apply(a, name="c"), _Logged.apply(b, name="d")
    (_Logged.apply(c, name="e") * d).sum().backward()
    assert _Logged.LOG == ["e", "d", "c", "b", "a"]
    np.testing.assert_allclose(host(x.grad), [64.0, 128.0])


class _Blocks(tg.Function):
    """f = 2x whose backward passes no gradient on."""

    def forward(self, x):
        return 2 * x

    def backward(self, g):
        return (None,)


def test_an_op_no_gradient_reaches_is_still_released(device):
    # As in torch: exp gets no gradient through _Blocks, yet backward frees it like every op it passed.
    x = f64([1.0, 2.0], device)
    h = x.exp()
    _Blocks.apply(h).sum().backward()
    assert x.grad is None
    with pytest.raises(tg.GraphFreedError, match="retain_graph"):
        (h * 2).sum().backward()


def test_a_freed_op_found_midway_leaves_the_leaves_gradients_untouched(device):
    x, w = f64([1.0, 2.0], device), f64([3.0, 4.0], device)
    h = x.exp()
    h.sum().backward()  # frees exp
    x.grad = None
    with pytest.raises(tg.GraphFreedError):
        (w * 2 + h).sum().backward()  # leaves get their .grad only once the whole walk is done
    assert w.grad is None and x.grad is None
