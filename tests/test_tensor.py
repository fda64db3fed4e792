"""Tensor creation, dtype rules, conversions, repr, and the shape errors ops raise."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tensorgrad as tg
import tensorgrad.functional as F


def test_python_data_gets_torch_dtypes():
    assert tg.tensor(3).dtype == np.int64
    assert tg.tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert tg.tensor([True, False]).dtype == np.bool_
    assert tg.tensor([1.5, 2.5]).dtype == np.float32
    assert tg.tensor([1, 2.5]).dtype == np.float32


def test_arrays_keep_their_dtype():
    for dtype in (np.float64, np.float32, np.int64, np.bool_):
        assert tg.tensor(np.zeros(2, dtype=dtype)).dtype == dtype


def test_dtype_argument_overrides():
    assert tg.tensor([1, 2], dtype=np.int64).dtype == np.int64
    assert tg.tensor(np.zeros(2), dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_python_scalars_never_change_dtype(device, dtype):
    x = tg.tensor(np.ones(3, dtype=dtype), requires_grad=True, device=device)
    results = [x + 1, 1 + x, x - 2.5, 2.5 - x, x * 3, 3 * x, x / 7, 7 / x, x ** 2, -x,
               x.exp(), x.log(), x.tanh(), x.sigmoid(), x.relu(), x.sum(), x.mean(), x.max(),
               F.softmax(x), F.log_softmax(x), F.dropout(x, 0.5), tg.where(x > 0, x, 0.0)]
    assert all(r.dtype == dtype for r in results)
    sum(r.sum() for r in results).backward()
    assert x.grad.dtype == dtype


def test_float32_stays_float32_through_matmul_and_loss(device):
    x = tg.randn(4, 3, device=device)
    W = tg.randn(3, 5, requires_grad=True, device=device)
    loss = F.cross_entropy(x @ W, np.array([0, 1, 2, 3]))
    loss.backward()
    assert loss.dtype == np.float32 and W.grad.dtype == np.float32


def test_ragged_list_gets_a_clear_error():
    with pytest.raises(ValueError, match="rectangular"):
        tg.tensor([[1, 2], [3]])


def test_non_numeric_data_is_rejected():
    with pytest.raises(TypeError, match="real numbers"):
        tg.tensor(["a", "b"])


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        tg.tensor(np.arange(3), requires_grad=True)


def test_repr_shows_shape_dtype_device_and_grad_state():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    text = repr(x * 2)
    assert "shape=(2,)" in text and "float32" in text and "device=cpu" in text and "grad_fn=Mul" in text
    assert "requires_grad=True" in repr(x)
    assert "0x" not in text  # never an id()


def test_item_numpy_tolist_len():
    x = tg.tensor([[1.0, 2.0]])
    assert x.sum().item() == 3.0
    assert isinstance(x.numpy(), np.ndarray)
    assert x.tolist() == [[1.0, 2.0]]
    assert len(x) == 1 and x.ndim == 2 and x.numel() == 2 and x.size() == (1, 2) and x.size(-1) == 2
    with pytest.raises(ValueError, match="one element"):
        x.item()


def test_zeros_ones_randn_shapes_and_dtypes(device):
    assert tg.zeros(2, 3, device=device).shape == (2, 3)
    assert tg.ones((4,), dtype=np.float64, device=device).dtype == np.float64
    assert tg.randn(5, device=device).dtype == np.float32
    assert tg.zeros(2, device=device).device == device


def test_manual_seed_makes_randn_reproducible(device):
    tg.manual_seed(7)
    a = tg.randn(3, device=device).numpy()
    tg.manual_seed(7)
    b = tg.randn(3, device=device).numpy()
    np.testing.assert_array_equal(a, b)


def test_comparisons_give_boolean_tensors_without_history():
    x = tg.tensor([-1.0, 2.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad
    assert (x <= 0).tolist() == [True, False]


@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_side=2, max_side=4, min_dims=1, max_dims=2))
def test_sum_to_undoes_broadcasting(shapes):
    small, _ = shapes.input_shapes
    big = shapes.result_shape
    summed = tg.sum_to(np.ones(big), small)
    assert summed.shape == tuple(small)
    np.testing.assert_array_equal(summed, np.full(small, np.prod(big) / np.prod(small)))


def test_matmul_shape_mismatch_names_both_shapes(device):
    a, b = tg.zeros(2, 3, device=device), tg.zeros(4, 5, device=device)
    with pytest.raises(tg.ShapeError, match=r"\(2, 3\) @ \(4, 5\).*\(3\).*\(4\)"):
        a @ b


def test_matmul_with_a_scalar_operand_says_use_multiply(device):
    with pytest.raises(tg.ShapeError, match="use \\*"):
        tg.zeros(2, device=device) @ tg.tensor(3.0, device=device)


def test_broadcast_mismatch_names_both_shapes(device):
    a, b = tg.zeros(2, 3, device=device), tg.zeros(4, device=device)
    with pytest.raises(tg.ShapeError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        a + b
    with pytest.raises(tg.ShapeError, match=r"mul: shapes \(2, 3\) and \(4,\)"):
        a * b


def test_reshape_to_wrong_size_names_sizes(device):
    with pytest.raises(tg.ShapeError, match=r"shape \(2, 3\) \(6 elements\).*\(4,\)"):
        tg.zeros(2, 3, device=device).reshape(4)


def test_permute_with_bad_dims_is_rejected():
    with pytest.raises(ValueError, match="not a permutation"):
        tg.zeros(2, 3).permute(0, 0)


def test_reduction_axis_out_of_range_is_rejected():
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        tg.zeros(2, 3).sum(axis=2)


def test_index_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        tg.zeros(2, 3)[5]


def test_tensor_exponent_and_number_base_are_elementwise_powers():
    x = tg.tensor([1.0, 2.0])
    assert (x ** x).tolist() == [1.0, 4.0]
    assert (2 ** x).tolist() == [2.0, 4.0]


def test_cross_entropy_rejects_bad_targets():
    logits = tg.zeros(2, 3)
    with pytest.raises(ValueError, match="target 3 is out of range for 3 classes"):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"targets of shape \(2,\)"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="no target counts"):
        F.cross_entropy(logits, np.array([0, 1]), mask=np.array([False, False]))


def test_cross_entropy_matches_the_definition():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    t = np.array([0, 4, 2, 2])
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    expected = -logp[np.arange(4), t].mean()
    assert abs(F.cross_entropy(tg.tensor(x), t).item() - expected) < 1e-12
    masked = -(logp[np.arange(4), t] * [1, 0, 1, 1]).sum() / 3
    assert abs(F.cross_entropy(tg.tensor(x), t, mask=np.array([1, 0, 1, 1])).item() - masked) < 1e-12


def test_log_softmax_is_stable_for_huge_logits():
    x = tg.tensor(np.array([1000.0, 0.0, -1000.0]))
    out = F.log_softmax(x).numpy()
    assert np.all(np.isfinite(out)) and abs(out[0]) < 1e-12


def test_sigmoid_of_huge_inputs_warns_nothing(recwarn):
    y = tg.tensor(np.array([-1e4, 0.0, 1e4])).sigmoid().numpy()
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])
    assert not recwarn.list


def test_mse_loss_refuses_shape_mismatch():
    with pytest.raises(ValueError, match="must match"):
        F.mse_loss(tg.zeros(3, 1), tg.zeros(3))


def test_dropout_scales_kept_elements_and_is_identity_in_eval():
    tg.manual_seed(0)
    x = tg.ones(1000)
    y = F.dropout(x, p=0.25).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.18 < (y == 0).mean() < 0.32
    assert F.dropout(x, p=0.25, training=False) is x
    with pytest.raises(ValueError, match="probability"):
        F.dropout(x, p=1.5)


def test_concat_and_stack_shape_errors_list_the_shapes():
    with pytest.raises(tg.ShapeError, match=r"\(2, 3\), \(2, 4\)"):
        tg.stack([tg.zeros(2, 3), tg.zeros(2, 4)])
    with pytest.raises(tg.ShapeError, match=r"\(2, 3\), \(3, 4\)"):
        tg.concat([tg.zeros(2, 3), tg.zeros(3, 4)], axis=1)
