"""F.conv2d and nn.Conv2d: values against a naive loop, float64 gradchecks over strides, paddings,
dilations and groups (batched and unbatched, on every device), PyTorch parity, and the errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensors import f64, host, normal

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn


def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    """The definition, one output element at a time: x (N, C, H, W), w (O, C/groups, kh, kw)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, width = x.shape
    o, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, width + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + width] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, ho, wo))
    per_group = o // groups
    for i in range(n):
        for k in range(o):
            g = k // per_group
            for p in range(ho):
                for q in range(wo):
                    total = 0.0 if b is None else b[k]
                    for ci in range(cg):
                        for a in range(kh):
                            for e in range(kw):
                                total += w[k, ci, a, e] * xp[i, g * cg + ci, p * sh + a * dh, q * sw + e * dw]
                    y[i, k, p, q] = total
    return y


CASES = [  # stride, padding, dilation, groups
    ((1, 1), (0, 0), (1, 1), 1),
    ((2, 1), (1, 2), (1, 1), 1),
    ((1, 2), (1, 0), (2, 1), 1),
    ((2, 2), (2, 1), (2, 2), 2),
    ((1, 1), (1, 1), (1, 1), 4),  # depthwise
]


@pytest.mark.parametrize("stride, padding, dilation, groups", CASES)
def test_conv2d_equals_the_naive_loop(stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((4, 4 // groups, 3, 2)),
               rng.standard_normal(4))
    y = F.conv2d(f64(x), f64(w), f64(b), stride, padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, b, stride, padding, dilation, groups),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride, padding, dilation, groups", CASES)
def test_conv2d_gradients_wrt_input_weight_and_bias(device, stride, padding, dilation, groups):
    x, w = normal((2, 4, 6, 5), 1, device), normal((8, 4 // groups, 3, 2), 2, device)
    b = normal((8,), 3, device)
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), [x, w, b])


@st.composite
def conv_problems(draw):
    """A small conv2d call that fits: shapes, stride, padding, dilation and groups drawn together."""
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 2)),) * 2
    padding = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    h = draw(st.integers(max(1, spans[0] - 2 * padding[0]), 7))
    w = draw(st.integers(max(1, spans[1] - 2 * padding[1]), 7))
    x_shape, w_shape = (draw(st.integers(1, 2)), groups * cg, h, w), (groups * og, cg) + kernel
    return x_shape, w_shape, stride, padding, dilation, groups


@given(conv_problems(), st.booleans())
def test_conv2d_equals_the_naive_loop_on_drawn_problems(problem, with_bias):
    x_shape, w_shape, stride, padding, dilation, groups = problem
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    b = b if with_bias else None
    y = F.conv2d(f64(x), f64(w), None if b is None else f64(b), stride, padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, b, stride, padding, dilation, groups),
                               rtol=1e-12, atol=1e-12)


def test_conv2d_gradient_wrt_the_weight_alone():
    x, w = normal((2, 3, 5, 5), 13), normal((4, 3, 3, 3), 14)
    x.requires_grad = False  # a network's first layer: the image needs no gradient
    assert tg.gradcheck(lambda w: F.conv2d(x, w, stride=2, padding=1), [w])
    assert x.grad is None


def test_conv2d_takes_an_empty_batch():
    assert F.conv2d(tg.zeros(0, 2, 5, 5), tg.zeros(3, 2, 3, 3)).shape == (0, 3, 3, 3)


def test_conv2d_gradients_for_unbatched_input_without_bias(device):
    x, w = normal((3, 5, 5), 4, device), normal((2, 3, 2, 3), 5, device)
    assert tg.gradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1), [x, w])
    assert F.conv2d(x, w, stride=2, padding=1).shape == (2, 3, 3)


@pytest.mark.parametrize("kernel, dilation", [((3, 3), (1, 1)), ((2, 4), (1, 1)), ((3, 2), (2, 3))])
def test_same_padding_keeps_the_size_and_has_the_right_gradient(kernel, dilation):
    x, w = normal((1, 2, 5, 6), 6), normal((3, 2) + kernel, 7)
    y = F.conv2d(x, w, padding="same", dilation=dilation)
    assert y.shape == (1, 3, 5, 6)
    assert tg.gradcheck(lambda x, w: F.conv2d(x, w, padding="same", dilation=dilation), [x, w])


def test_valid_padding_is_no_padding():
    x, w = normal((1, 2, 5, 6), 8), normal((3, 2, 3, 3), 9)
    np.testing.assert_array_equal(F.conv2d(x, w, padding="valid").numpy(), F.conv2d(x, w).numpy())


def test_conv2d_keeps_float32():
    x, w = tg.randn(1, 2, 5, 5), tg.randn(3, 2, 3, 3)
    assert F.conv2d(x, w).dtype == np.float32


def test_conv2d_on_a_device_equals_the_cpu_result(device):
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    ours = F.conv2d(f64(x, device), f64(w, device), f64(b, device), 2, 1, 1, 2)
    np.testing.assert_allclose(host(ours.array), naive_conv2d(x, w, b, (2, 2), (1, 1), (1, 1), 2),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- nn.Conv2d
def test_conv2d_module_has_torch_parameter_names_shapes_and_init_bounds():
    tg.manual_seed(0)
    conv = nn.Conv2d(6, 8, (3, 5), groups=2)
    assert [(name, p.shape) for name, p in conv.named_parameters()] == [("weight", (8, 3, 3, 5)),
                                                                        ("bias", (8,))]
    bound = 1 / math.sqrt(3 * 3 * 5)  # fan_in = in_channels / groups * kh * kw
    for p in conv.parameters():
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.8 * bound  # spread over the whole interval
    assert nn.Conv2d(2, 3, 3, bias=False).bias is None


def test_conv2d_module_calls_conv2d():
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=1, groups=2)
    x = tg.randn(3, 2, 7, 7)
    np.testing.assert_array_equal(conv(x).numpy(),
                                  F.conv2d(x, conv.weight, conv.bias, 2, 1, 1, 2).numpy())


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("shape", [(5, 5), (1, 1, 2, 5, 5)])
def test_conv2d_names_a_wrong_number_of_dimensions(shape):
    with pytest.raises(RuntimeError, match=r"3-d .* or 4-d"):
        F.conv2d(tg.zeros(*shape), tg.zeros(2, 1, 3, 3))


def test_conv2d_names_both_channel_counts():
    with pytest.raises(RuntimeError, match=r"3 channels.*expects 4|expects 4.*3 channels"):
        F.conv2d(tg.zeros(1, 3, 5, 5), tg.zeros(2, 4, 3, 3))


def test_conv2d_refuses_a_kernel_larger_than_the_padded_input():
    with pytest.raises(RuntimeError, match="kernel"):
        F.conv2d(tg.zeros(1, 1, 2, 2), tg.zeros(1, 1, 3, 3))
    assert F.conv2d(tg.zeros(1, 1, 2, 2), tg.zeros(1, 1, 3, 3), padding=1).shape == (1, 1, 2, 2)


@pytest.mark.parametrize("stride", [0, -1, (1, 0)])
def test_conv2d_refuses_a_non_positive_stride(stride):
    with pytest.raises(RuntimeError, match="stride"):
        F.conv2d(tg.zeros(1, 1, 5, 5), tg.zeros(1, 1, 3, 3), stride=stride)


def test_conv2d_refuses_mixed_dtypes():
    with pytest.raises(RuntimeError, match="float64.*float32|float32.*float64"):
        F.conv2d(tg.zeros(1, 1, 5, 5, dtype=np.float64), tg.zeros(1, 1, 3, 3))


def test_same_padding_refuses_a_stride():
    with pytest.raises(RuntimeError, match="same"):
        F.conv2d(tg.zeros(1, 1, 5, 5), tg.zeros(1, 1, 3, 3), stride=2, padding="same")


def test_conv2d_names_groups_that_do_not_divide_the_channels():
    with pytest.raises(RuntimeError, match="groups"):
        F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(3, 2, 3, 3), groups=2)


@pytest.mark.parametrize("kwargs", [dict(stride=2, padding="same"), dict(padding="full")])
def test_conv2d_module_refuses_bad_padding_at_construction(kwargs):
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2d(1, 1, 3, **kwargs)


def test_conv2d_module_names_the_padding_modes_it_lacks():
    with pytest.raises(NotImplementedError, match="reflect.*zeros|zeros.*reflect"):
        nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")


# ---------------------------------------------------------------- PyTorch
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on its own padded copy
@pytest.mark.parametrize("stride, padding, dilation, groups", CASES + [((1, 1), "same", (2, 1), 2)])
def test_conv2d_matches_pytorch_values_and_gradients(stride, padding, dilation, groups):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    arrays = (rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((8, 4 // groups, 3, 2)),
              rng.standard_normal(8))
    ours = [f64(a) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.conv2d(*ours, stride, padding, dilation, groups)
    t = torch.nn.functional.conv2d(*theirs, stride, padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    r = rng.standard_normal(t.shape)
    (y * tg.tensor(r)).sum().backward()
    (t * torch.tensor(r)).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_a_torch_conv2d_state_dict_loads_and_gives_the_same_output():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2).double()
    ours = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(12).standard_normal((2, 4, 7, 7))
    np.testing.assert_allclose(ours(f64(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10)
