"""In-place ops: when they are allowed, the version counter backward checks, and x[t] loops.

The rules, as torch's: under grad mode an in-place op on a leaf that requires
grad raises; on a tensor computed by an op (or with an operand that requires
grad) it is recorded in the graph (tests/test_inplace_graph.py); inside
no_grad() anything may be modified and keeps requires_grad. Every in-place op
bumps ``_version`` (shared with views); backward raises at an op whose saved
input or output was modified after it ran.
"""

import numpy as np
import pytest

import tensorgrad as tg


def test_in_place_on_a_leaf_that_requires_grad_raises_under_grad_mode():
    w = tg.ones(2, requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.__setitem__(0, 5.0), lambda: w.relu_(), lambda: w.zero_()):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
            op()
    assert w._version == 0 and w.tolist() == [1.0, 1.0]


def test_in_place_inside_no_grad_is_allowed_and_keeps_requires_grad():
    w = tg.ones(3, requires_grad=True)
    y = w * 2
    with tg.no_grad():
        w -= 0.5
        w[0] = 10.0
        y.zero_()
    assert w.requires_grad and w.is_leaf and w.tolist() == [10.0, 0.5, 0.5]
    assert y.tolist() == [0.0, 0.0, 0.0]


def test_in_place_keeps_the_object_and_its_memory():
    x = tg.zeros(3)
    before = x.array
    x += 1
    x.mul_(3).add_(tg.ones(3), alpha=2)
    assert x.array is before and x.tolist() == [5.0, 5.0, 5.0]


def test_every_in_place_op_bumps_the_version():
    x = tg.zeros(2, 2)
    for i, op in enumerate([lambda: x.add_(1), lambda: x.sub_(1), lambda: x.mul_(2), lambda: x.div_(2),
                            lambda: x.fill_(3), lambda: x.zero_(), lambda: x.clamp_(0, 1),
                            lambda: x.copy_(tg.ones(2)), lambda: x.__setitem__(0, 4.0)], start=1):
        op()
        assert x._version == i


def test_views_share_the_version_counter():
    x = tg.zeros(2, 3)
    row, flat, swapped, detached = x[0], x.reshape(-1), x.transpose(0, 1), x.detach()
    row += 1
    assert x._version == flat._version == swapped._version == detached._version == 1
    assert x.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]  # a view writes through, as in torch
    copy = x[[0, 1]]  # an integer-array index copies: its own counter
    copy += 1
    assert x._version == 1 and copy._version == 1


def test_modifying_an_output_through_a_view_makes_backward_raise():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    y = x.tanh()
    with tg.no_grad():
        view = y.reshape(2, 1)
        view[0] = 0.0
    with pytest.raises(RuntimeError, match=r"Tanh saved its output .*now at version 1"):
        y.sum().backward()


def test_modifying_a_saved_leaf_under_no_grad_makes_backward_raise():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with tg.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="Mul saved input 0"):
        loss.backward()


def test_the_error_names_the_op_that_saved_the_tensor_not_the_first_op():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x + 1  # Add saves nothing
    y = (h * 3).exp()  # Mul by a constant and Exp, which saves its output
    with tg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match="Exp saved its output"):
        y.sum().backward()


def test_an_optimizer_step_bumps_the_version_of_each_parameter_it_updates():
    w, unused = tg.tensor([1.0, 2.0], requires_grad=True), tg.tensor([3.0], requires_grad=True)
    (w * w).sum().backward()
    tg.optim.SGD([w, unused], lr=0.1).step()
    assert w._version == 1 and np.allclose(w.numpy(), [0.8, 1.6])
    assert unused._version == 0  # no gradient, no update


OPTIMIZERS = {"sgd": lambda p: tg.optim.SGD(p, lr=1.0, momentum=0.9),
              "adam": lambda p: tg.optim.Adam(p, lr=1.0),
              "adamw": lambda p: tg.optim.AdamW(p, lr=1.0),
              "rmsprop": lambda p: tg.optim.RMSprop(p, lr=1.0)}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_backward_through_a_graph_recorded_before_a_step_raises_as_in_torch(name):
    """step() before backward(): the saved weight changed under the graph, so the gradient would be wrong."""
    w, x = tg.tensor([2.0], requires_grad=True), tg.tensor([3.0], requires_grad=True)
    optimizer = OPTIMIZERS[name]([w])
    loss = (w * x).sum()
    w.grad = np.array([10.0], dtype=np.float32)
    optimizer.step()
    with pytest.raises(RuntimeError, match=r"Mul saved input 0 .*now at version 1"):
        loss.backward()


def test_the_usual_loop_order_is_unaffected_by_the_step_bumps():
    w = tg.tensor([2.0], requires_grad=True)
    optimizer = tg.optim.SGD([w], lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        optimizer.step()
    assert w._version == 3 and np.allclose(w.numpy(), [2.0 * 0.8 ** 3])


def test_in_place_on_an_expanded_tensor_raises_clearly():
    x = tg.zeros(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match=r"add_: output with shape \(2, 3\)"):
        x.add_(1)


def test_in_place_with_a_non_broadcastable_operand_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*\(2, 3\)"):
        tg.zeros(3).add_(tg.zeros(2, 3))


def test_tensor_copies_the_array_so_in_place_ops_leave_it_alone():
    array = np.zeros(2, dtype=np.float32)
    t = tg.tensor(array)
    t += 1
    assert array.tolist() == [0.0, 0.0]
    shared = tg.from_numpy(array)
    shared += 1
    assert array.tolist() == [1.0, 1.0]


# ------------------------------------------------------------ x[t] loops
def _loop_and_stacked(x, W):
    """An RNN-like loop over x[t]: h = tanh(x[t] @ W + h), summed at the end."""
    h = tg.zeros(x.shape[1], W.shape[1], dtype=x.dtype)
    for t in range(x.shape[0]):
        h = (x[t] @ W + h).tanh()
    return h.sum()


def test_x_t_loop_gradients_equal_the_unbind_loop_and_finite_differences():
    rng = np.random.default_rng(0)
    data, w = rng.standard_normal((6, 2, 3)), rng.standard_normal((3, 3)) * 0.5
    x, W = tg.tensor(data, requires_grad=True), tg.tensor(w, requires_grad=True)
    _loop_and_stacked(x, W).backward()
    x2, W2 = tg.tensor(data, requires_grad=True), tg.tensor(w, requires_grad=True)
    h = tg.zeros(2, 3, dtype=np.float64)
    for xt in x2.unbind(0):
        h = (xt @ W2 + h).tanh()
    h.sum().backward()
    np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-12)
    np.testing.assert_allclose(W.grad, W2.grad, rtol=1e-12)
    assert tg.gradcheck(_loop_and_stacked, [tg.tensor(data, requires_grad=True),
                                             tg.tensor(w, requires_grad=True)])


def test_slices_and_dense_uses_of_one_tensor_add_up():
    x = tg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    z = x * 1  # a non-leaf: its gradient is gathered in the walk's buffer
    loss = (z[0] * 2).sum() + z.sum() + z[[1, 1]].sum() + z[2:].sum() + (x[0] * x[0]).sum()
    loss.backward()
    expected = np.ones((3, 2)) + [[2, 2], [2, 2], [1, 1]] + [[0, 2], [0, 0], [0, 0]]
    np.testing.assert_allclose(x.grad, expected)


def test_a_shared_gradient_array_is_never_written_into():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    s = a + b  # Add hands the same gradient array to both inputs
    loss = (s * 2).sum() + a[0] + b[1]
    loss.backward()
    np.testing.assert_allclose(a.grad, [3.0, 2.0])
    np.testing.assert_allclose(b.grad, [2.0, 3.0])


def test_leaf_gradients_from_slices_accumulate_across_backward_calls():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[0] * 2 + x[2]
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [4.0, 0.0, 2.0])
