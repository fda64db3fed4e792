"""tensorgrad.functional with PyTorch's names, signatures and defaults: values against their
formulas, behaviours, and float64 gradchecks of every differentiable function."""

import math

import numpy as np
import pytest
from tensors import away_from_zero, f64, normal

import tensorgrad as tg
import tensorgrad.functional as F


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ---------------------------------------------------------------- cross_entropy
def test_cross_entropy_takes_classes_on_axis_1_for_3d_input_as_pytorch():
    x = np.random.default_rng(0).standard_normal((2, 4, 3))  # (N, C, d1)
    t = np.array([[0, 3, 1], [2, 2, 0]])                      # (N, d1)
    logp = _log_softmax(x, axis=1)
    expected = -np.mean([logp[n, t[n, d], d] for n in range(2) for d in range(3)])
    assert F.cross_entropy(f64(x), t).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_names_the_reshape_for_class_last_logits():
    x, t = tg.zeros(2, 3, 5), np.zeros((2, 3), dtype=np.int64)  # (B, T, V) with (B, T) targets
    with pytest.raises(ValueError, match=r"classes are on axis 1.*input.reshape\(-1, 5\)"):
        F.cross_entropy(x, t)


def test_cross_entropy_ignores_target_minus_100_by_default():
    x = np.random.default_rng(1).standard_normal((3, 4))
    logp = _log_softmax(x, axis=1)
    loss = F.cross_entropy(f64(x), np.array([1, -100, 2])).item()
    assert loss == pytest.approx(-(logp[0, 1] + logp[2, 2]) / 2, rel=1e-12)


def test_cross_entropy_mask_keyword_still_works():
    x = np.random.default_rng(2).standard_normal((3, 4))
    logp = _log_softmax(x, axis=1)
    loss = F.cross_entropy(f64(x), np.array([1, 0, 2]), mask=np.array([True, False, True])).item()
    assert loss == pytest.approx(-(logp[0, 1] + logp[2, 2]) / 2, rel=1e-12)


def test_cross_entropy_class_weight_makes_a_weighted_mean():
    x = np.random.default_rng(3).standard_normal((3, 4))
    w = np.array([1.0, 2.0, 3.0, 4.0])
    t = np.array([1, 3, 3])
    logp = _log_softmax(x, axis=1)
    picked = logp[np.arange(3), t]
    expected = -(w[t] * picked).sum() / w[t].sum()
    assert F.cross_entropy(f64(x), t, w).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_reduction_none_gives_one_loss_per_target_and_zero_where_ignored():
    x = np.random.default_rng(4).standard_normal((3, 4))
    logp = _log_softmax(x, axis=1)
    loss = F.cross_entropy(f64(x), np.array([1, -100, 2]), reduction="none").numpy()
    np.testing.assert_allclose(loss, [-logp[0, 1], 0.0, -logp[2, 2]], rtol=1e-12)


def test_cross_entropy_label_smoothing_mixes_in_the_uniform_distribution():
    x = np.random.default_rng(5).standard_normal((2, 3))
    t, eps = np.array([0, 2]), 0.3
    logp = _log_softmax(x, axis=1)
    target = (1 - eps) * np.eye(3)[t] + eps / 3
    expected = -(target * logp).sum(axis=1).mean()
    assert F.cross_entropy(f64(x), t, label_smoothing=eps).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_of_one_unbatched_example():
    x = np.array([0.5, -1.0, 2.0])
    assert F.cross_entropy(f64(x), 2).item() == pytest.approx(-_log_softmax(x, 0)[2], rel=1e-12)


def test_cross_entropy_refuses_a_positional_ignore_index_in_the_weight_slot():
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(tg.zeros(2, 3), np.array([0, 1]), -100)


def test_cross_entropy_points_a_positional_boolean_mask_to_mask_keyword():
    with pytest.raises(TypeError, match="pass mask="):
        F.cross_entropy(tg.zeros(3, 3), np.array([0, 1, 2]), np.array([True, False, True]))


def test_cross_entropy_accepts_integer_tensor_targets():
    x = normal((2, 3), 0)
    t = tg.tensor(np.array([2, 0]))
    assert F.cross_entropy(x, t).item() == F.cross_entropy(x, np.array([2, 0])).item()


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_with_weights_ignore_and_smoothing(device, reduction, smoothing):
    x = normal((3, 4, 2), 0, device)
    t = np.array([[0, 3], [-100, 1], [2, 2]])
    w = np.array([0.5, 1.0, 2.0, 1.5])

    def fn(x):
        loss = F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=smoothing)
        return loss if reduction != "none" else (loss * loss).sum()

    assert tg.gradcheck(fn, [x])


# --------------------------------------------------------------------- nll_loss
def test_nll_loss_picks_minus_the_target_log_probability():
    logp = _log_softmax(np.random.default_rng(6).standard_normal((3, 4)), axis=1)
    t = np.array([3, 0, -100])
    assert F.nll_loss(f64(logp), t).item() == pytest.approx(-(logp[0, 3] + logp[1, 0]) / 2, rel=1e-12)


def test_nll_loss_of_log_softmax_equals_cross_entropy():
    x = normal((4, 5, 2), 1)
    t = np.random.default_rng(1).integers(0, 5, (4, 2))
    a = F.nll_loss(F.log_softmax(x, dim=1), t).item()
    assert a == pytest.approx(F.cross_entropy(x, t).item(), rel=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_gradient(device, reduction):
    x = normal((3, 4), 2, device)
    t, w = np.array([1, -100, 3]), np.array([1.0, 0.5, 2.0, 3.0])

    def fn(x):
        loss = F.nll_loss(x, t, w, reduction=reduction)
        return loss if reduction != "none" else (loss * loss).sum()

    assert tg.gradcheck(fn, [x])


def test_nll_loss_with_everything_ignored_is_an_error():
    with pytest.raises(ValueError, match="no target counts"):
        F.nll_loss(tg.zeros(2, 3), np.array([-100, -100]))


# ---------------------------------------------------- binary_cross_entropy_with_logits
def test_bce_with_logits_matches_the_formula():
    x, y = np.array([-2.0, 0.5, 3.0]), np.array([0.0, 1.0, 0.3])
    s = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(s) + (1 - y) * np.log(1 - s)).mean()
    assert F.binary_cross_entropy_with_logits(f64(x), f64(y)).item() == pytest.approx(expected, rel=1e-12)


def test_bce_with_logits_is_finite_and_exact_for_huge_logits():
    x, y = f64([-800.0, 800.0, 800.0]), f64([0.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none").numpy()
    np.testing.assert_allclose(loss, [0.0, 0.0, 800.0])


def test_bce_with_logits_pos_weight_scales_the_positive_term():
    x, y, p = np.array([[0.3, -1.2]]), np.array([[1.0, 1.0]]), np.array([2.0, 3.0])
    expected = p * np.log1p(np.exp(-x))
    loss = F.binary_cross_entropy_with_logits(f64(x), f64(y), pos_weight=p, reduction="none")
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)


def test_bce_with_logits_requires_target_of_the_input_size():
    with pytest.raises(ValueError, match=r"target size \(3,\) must be the same as input size \(2, 3\)"):
        F.binary_cross_entropy_with_logits(tg.zeros(2, 3), tg.zeros(3))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_gradient_for_input_target_weight_and_pos_weight(device, reduction):
    rng = np.random.default_rng(0)
    x = normal((3, 4), 0, device)
    y = f64(rng.uniform(0.1, 0.9, (3, 4)), device)
    w = f64(rng.uniform(0.5, 2.0, (3, 1)), device)  # broadcasts over the classes
    p = f64(rng.uniform(0.5, 3.0, (4,)), device)     # one per class
    fn = lambda x, y, w, p: F.binary_cross_entropy_with_logits(x, y, w, reduction, p)  # noqa: E731
    assert tg.gradcheck(fn, [x, y, w, p])


# -------------------------------------------------------------------- activations
def test_leaky_relu_scales_negative_inputs():
    out = F.leaky_relu(f64([-2.0, 0.0, 3.0]), 0.1).numpy()
    np.testing.assert_allclose(out, [-0.2, 0.0, 3.0])
    assert F.leaky_relu(f64([-1.0])).item() == pytest.approx(-0.01)  # default slope


def test_leaky_relu_gradient(device):
    x = away_from_zero((3, 4), 0, device)
    assert tg.gradcheck(lambda x: F.leaky_relu(x, 0.2), [x])


def test_gelu_is_x_times_the_normal_cdf_to_float64_precision():
    x = np.array([-6.0, -1.5, -0.3, 0.0, 0.7, 2.0, 9.0])
    expected = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x]
    np.testing.assert_allclose(F.gelu(f64(x)).numpy(), expected, rtol=1e-15, atol=1e-300)


def test_gelu_tanh_approximation_matches_its_formula():
    x = np.linspace(-4, 4, 9)
    expected = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(F.gelu(f64(x), approximate="tanh").numpy(), expected, rtol=1e-14)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(tg.zeros(2), approximate="fast")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient(device, approximate):
    x = f64(np.random.default_rng(0).normal(0, 2, (3, 4)), device)
    assert tg.gradcheck(lambda x: F.gelu(x, approximate=approximate), [x])


def test_gelu_keeps_float32():
    assert F.gelu(tg.tensor([0.5, -1.0])).dtype == np.float32


def test_softplus_matches_its_formula_and_is_linear_past_the_threshold():
    x = np.array([-50.0, -1.0, 0.0, 2.0, 9.0, 11.0])
    out = F.softplus(f64(x), beta=2.0, threshold=20.0).numpy()
    expected = np.where(2 * x > 20, x, np.log1p(np.exp(2 * x)) / 2)
    np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_softplus_does_not_overflow():
    out = F.softplus(f64([1000.0, -1000.0]), threshold=math.inf).numpy()
    np.testing.assert_allclose(out, [1000.0, 0.0])


def test_softplus_gradient(device):
    x = f64(np.random.default_rng(0).normal(0, 4, (3, 4)), device)
    x.array[np.abs(2 * x.numpy() - 5) < 0.1] += 0.3  # off the threshold's kink
    assert tg.gradcheck(lambda x: F.softplus(x, beta=2.0, threshold=5.0), [x])


def test_softmax_and_log_softmax_take_dim_and_axis():
    x = normal((2, 3), 0)
    np.testing.assert_array_equal(F.softmax(x, dim=0).numpy(), F.softmax(x, axis=0).numpy())
    np.testing.assert_array_equal(F.log_softmax(x, 0).numpy(), F.log_softmax(x, axis=0).numpy())
    np.testing.assert_allclose(F.softmax(x, dim=0).numpy().sum(axis=0), 1.0)


def test_dim_and_axis_together_must_agree():
    with pytest.raises(TypeError, match="pass one of them"):
        F.softmax(tg.zeros(2, 3), dim=0, axis=1)


# ------------------------------------------------------------------------ others
def test_linear_is_x_times_weight_transposed_plus_bias():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    np.testing.assert_allclose(F.linear(f64(x), f64(w), f64(b)).numpy(), x @ w.T + b, rtol=1e-12)
    np.testing.assert_allclose(F.linear(f64(x), f64(w)).numpy(), x @ w.T, rtol=1e-12)


def test_linear_names_the_layout_on_mismatch():
    with pytest.raises(ValueError, match=r"weight is \(out_features, in_features\)"):
        F.linear(tg.zeros(4, 3), tg.zeros(3, 2))


def test_linear_gradient(device):
    x, w, b = normal((2, 5, 3), 0, device), normal((4, 3), 1, device), normal((4,), 2, device)
    assert tg.gradcheck(F.linear, [x, w, b])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_reductions(reduction):
    a, b = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 1.0])
    expected = {"mean": 10 / 3, "sum": 10.0, "none": np.array([1.0, 0.0, 9.0])}[reduction]
    np.testing.assert_allclose(F.mse_loss(f64(a), f64(b), reduction=reduction).numpy(), expected)


def test_mse_loss_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        F.mse_loss(tg.zeros(2), tg.zeros(2), reduction="max")


def test_one_hot_is_int64_with_a_one_at_each_index():
    out = F.one_hot(tg.tensor(np.array([[0, 2], [1, 0]])), num_classes=3)
    assert out.dtype == np.int64 and out.shape == (2, 2, 3) and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[[0, 2], [1, 0]]])


def test_one_hot_infers_the_number_of_classes():
    assert F.one_hot(tg.tensor(np.array([3, 1]))).shape == (2, 4)


def test_one_hot_rejects_out_of_range_and_float_indices():
    with pytest.raises(ValueError, match="index 3 is out of range for 3 classes"):
        F.one_hot(tg.tensor(np.array([0, 3])), 3)
    with pytest.raises(TypeError, match="integer class indices"):
        F.one_hot(tg.tensor([0.0, 1.0]), 3)


def test_pad_pads_the_last_axis_first():
    x = f64(np.arange(6.0).reshape(2, 3))
    out = F.pad(x, (1, 0, 0, 2), value=-1.0).numpy()  # last axis: 1 left; first axis: 2 after
    expected = np.full((4, 4), -1.0)
    expected[:2, 1:] = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(out, expected)


def test_pad_with_negative_amounts_crops():
    x = f64(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(F.pad(x, (-1, 1)).numpy(), [[1, 2, 0], [4, 5, 0]])


def test_pad_rejects_odd_lengths_and_other_modes():
    with pytest.raises(ValueError, match="even number of ints"):
        F.pad(tg.zeros(2, 3), (1, 2, 3))
    with pytest.raises(NotImplementedError, match="only mode='constant'"):
        F.pad(tg.zeros(2, 3), (1, 1), mode="reflect")


def test_pad_gradient_with_padding_and_cropping(device):
    x = normal((2, 3, 4), 0, device)
    assert tg.gradcheck(lambda x: F.pad(x, (2, -1, -1, 1), value=0.5) * 3, [x])
