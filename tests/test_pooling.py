"""max_pool2d, avg_pool2d, adaptive_avg_pool2d and their modules: gradcheck (float64), a naive loop
reference, torch parity (skipped without torch), the device fixture, and the errors for bad input."""

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn
from tensorgrad.gradcheck import gradcheck

MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=2, ceil_mode=True),
]
AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
    dict(kernel_size=2, divisor_override=3),
]


def _x(shape=(2, 3, 7, 8), seed=0):
    # distinct values: finite differences stay away from ties between a window's elements
    rng = np.random.default_rng(seed)
    return rng.permutation(np.prod(shape)).reshape(shape) / 10.0 + rng.uniform(0, 0.01, shape)


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
@pytest.mark.parametrize("unbatched", [False, True])
def test_max_pool2d_gradcheck(kw, unbatched, device):
    x = _x()[0] if unbatched else _x()
    assert gradcheck(lambda t: F.max_pool2d(t, **kw), [tg.tensor(x, requires_grad=True, device=device)],
                     eps=1e-4)


@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
@pytest.mark.parametrize("unbatched", [False, True])
def test_avg_pool2d_gradcheck(kw, unbatched, device):
    x = _x()[0] if unbatched else _x()
    assert gradcheck(lambda t: F.avg_pool2d(t, **kw), [tg.tensor(x, requires_grad=True, device=device)])


@pytest.mark.parametrize("size", [1, 2, (3, 4), (5, 3), (None, 2), (7, 8)])
def test_adaptive_avg_pool2d_gradcheck(size, device):
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, size),
                     [tg.tensor(_x(), requires_grad=True, device=device)])


# ----------------------------------------------------------------- a naive loop reference
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def naive_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, mode="max",
               count_include_pad=True, divisor_override=None):
    """The definition, one window at a time, as torch's CPU kernels read it (NumPy, float64)."""
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel_size if stride is None else stride)
    n, c, h, w = x.shape

    def count(size, k, s, p, d):
        span = size + 2 * p - d * (k - 1) - 1
        out = -(-span // s) + 1 if ceil_mode else span // s + 1
        return out - 1 if ceil_mode and (out - 1) * s >= size + p else out

    oh, ow = count(h, kh, sh, ph, dh), count(w, kw, sw, pw, dw)
    y = np.zeros((n, c, oh, ow))
    for p in range(oh):
        for q in range(ow):
            rows = [p * sh - ph + i * dh for i in range(kh)]
            cols = [q * sw - pw + j * dw for j in range(kw)]
            inside = [(r, s) for r in rows for s in cols if 0 <= r < h and 0 <= s < w]
            values = np.stack([x[:, :, r, s] for r, s in inside], axis=-1)
            if mode == "max":
                y[:, :, p, q] = values.max(axis=-1)
                continue
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:  # the window clipped to the padded input
                divisor = ((min(rows[-1] + 1, h + ph) - rows[0]) * (min(cols[-1] + 1, w + pw) - cols[0]))
            else:
                divisor = len(inside)
            y[:, :, p, q] = values.sum(axis=-1) / divisor
    return y


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
def test_max_pool2d_matches_naive_loops(kw):
    x = _x()
    np.testing.assert_array_equal(F.max_pool2d(tg.tensor(x), **kw).numpy(), naive_pool(x, **kw))


@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
def test_avg_pool2d_matches_naive_loops(kw):
    x = _x()
    np.testing.assert_allclose(F.avg_pool2d(tg.tensor(x), **kw).numpy(), naive_pool(x, mode="avg", **kw),
                               rtol=1e-12, atol=1e-12)


def _adaptive_naive(x, oh, ow):
    h, w = x.shape[-2:]
    y = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = i * h // oh, -(-(i + 1) * h // oh)
            c0, c1 = j * w // ow, -(-(j + 1) * w // ow)
            y[..., i, j] = x[..., r0:r1, c0:c1].mean(axis=(-2, -1))
    return y


@pytest.mark.parametrize("size", [(1, 1), (2, 4), (3, 5), (7, 8), (4, 3)])
def test_adaptive_avg_pool2d_matches_naive_loops(size):
    x = _x()
    np.testing.assert_allclose(F.adaptive_avg_pool2d(tg.tensor(x), size).numpy(), _adaptive_naive(x, *size),
                               rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------- max pool: ties, NaN, indices
def test_max_pool2d_tie_sends_the_gradient_to_the_first_maximum_only():
    x = tg.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # the four windows all pick their top-left element: (0,0), (0,1), (1,0), (1,1)
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_max_pool2d_propagates_nan_and_its_gradient():
    x = tg.tensor(np.array([[[[1.0, 5.0], [np.nan, 2.0]]]]), requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert np.isnan(y.item())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 0], [1, 0]])


def test_max_pool2d_overlapping_windows_add_their_gradients():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0  # the centre is every 2x2 window's maximum
    t = tg.tensor(x, requires_grad=True)
    F.max_pool2d(t, 2, stride=1).sum().backward()
    assert t.grad.numpy()[0, 0, 1, 1] == 4 and t.grad.numpy().sum() == 4


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
def test_max_pool2d_return_indices_point_at_the_maxima(kw):
    x = _x()
    y, idx = F.max_pool2d(tg.tensor(x), return_indices=True, **kw)
    assert idx.dtype == np.int64 and idx.shape == y.shape and not idx.requires_grad
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1), axis=2),
                                  y.numpy().reshape(2, 3, -1))


def test_unbatched_input_gives_unbatched_output():
    x = _x()
    for fn in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 2, 1),
               lambda t: F.adaptive_avg_pool2d(t, (2, 3))):
        np.testing.assert_array_equal(fn(tg.tensor(x[1])).numpy(), fn(tg.tensor(x)).numpy()[1])
    y, idx = F.max_pool2d(tg.tensor(x[0]), 3, return_indices=True)
    assert y.shape == idx.shape == (3, 2, 2)


def test_float32_stays_float32(device):
    x = tg.tensor(_x().astype(np.float32), device=device)
    assert F.max_pool2d(x, 2).dtype == np.float32
    assert F.avg_pool2d(x, 3, padding=1, count_include_pad=False).dtype == np.float32
    assert F.adaptive_avg_pool2d(x, 3).dtype == np.float32


# ----------------------------------------------------------------- modules
def test_pool_modules_call_the_functions():
    x = tg.tensor(_x())
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(x).numpy(), F.max_pool2d(x, 3, 2, 1).numpy())
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(idx.numpy(), F.max_pool2d(x, 2, return_indices=True)[1].numpy())
    np.testing.assert_array_equal(nn.AvgPool2d(3, 1, 1, count_include_pad=False)(x).numpy(),
                                  F.avg_pool2d(x, 3, 1, 1, count_include_pad=False).numpy())
    np.testing.assert_array_equal(nn.AdaptiveAvgPool2d((2, None))(x).numpy(),
                                  F.adaptive_avg_pool2d(x, (2, 8)).numpy())
    assert nn.Flatten()(x).shape == (2, 3 * 7 * 8)
    assert nn.Flatten(0, 1)(x).shape == (6, 7, 8)
    assert nn.MaxPool2d(2).stride == 2 and nn.AvgPool2d(3).stride == 3
    assert list(nn.Sequential(nn.MaxPool2d(2), nn.Flatten()).parameters()) == []


def test_a_small_cnn_trains_end_to_end():
    tg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    labels = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)
    opt = tg.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(net(tg.tensor(x)), tg.tensor(labels))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ----------------------------------------------------------------- torch parity
TORCH_TOL = dict(rtol=1e-12, atol=1e-12)


def _torch_check(ours_fn, theirs_fn, x):
    torch = pytest.importorskip("torch")
    ours, theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours_fn(ours), theirs_fn(theirs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TORCH_TOL)
    r = np.random.default_rng(1).standard_normal(ty.shape)
    (y * tg.tensor(r)).sum().backward()
    (ty * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **TORCH_TOL)


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
def test_max_pool2d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 8))
    x[0, 0, :3, :3] = 1.0  # ties: torch and tensorgrad must both pick the first
    _torch_check(lambda t: F.max_pool2d(t, **kw), lambda t: torch.nn.functional.max_pool2d(t, **kw), x)
    _, idx = F.max_pool2d(tg.tensor(x), return_indices=True, **kw)
    _, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
def test_avg_pool2d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 8))
    _torch_check(lambda t: F.avg_pool2d(t, **kw), lambda t: torch.nn.functional.avg_pool2d(t, **kw), x)


@pytest.mark.parametrize("size", [1, (2, 3), (3, 5), (5, 3), (None, 2), (7, 8), (6, 8)])
def test_adaptive_avg_pool2d_matches_torch(size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 8))
    _torch_check(lambda t: F.adaptive_avg_pool2d(t, size),
                 lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size), x)


def test_unbatched_pools_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((3, 7, 8))
    _torch_check(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: torch.nn.functional.max_pool2d(t, 3, 2, 1), x)
    _torch_check(lambda t: F.avg_pool2d(t, 3, 2, 1), lambda t: torch.nn.functional.avg_pool2d(t, 3, 2, 1), x)


# ----------------------------------------------------------------- errors
ERRORS = [
    (lambda x: F.max_pool2d(x, 3, padding=2), RuntimeError, "padding must be between 0 and half"),
    (lambda x: F.avg_pool2d(x, 3, padding=2), RuntimeError, "padding must be between 0 and half"),
    (lambda x: F.max_pool2d(x, 3, stride=0), RuntimeError, "stride must be positive"),
    (lambda x: F.avg_pool2d(x, 2, stride=(1, -1)), RuntimeError, "stride must be positive"),
    (lambda x: F.max_pool2d(x, 0), RuntimeError, "kernel_size must be positive"),
    (lambda x: F.max_pool2d(x, 2, dilation=0), RuntimeError, "dilation must be positive"),
    (lambda x: F.max_pool2d(x, 9), RuntimeError, "smaller than the kernel's span"),
    (lambda x: F.avg_pool2d(x, (2, 9)), RuntimeError, "smaller than the kernel's span"),
    (lambda x: F.max_pool2d(x[0, 0], 2), RuntimeError, "expected a 3-d"),
    (lambda x: F.avg_pool2d(x.reshape(1, 1, 2, 3, 7, 8), 2), RuntimeError, "expected a 3-d"),
    (lambda x: F.max_pool2d(x.long(), 2), RuntimeError, "floating point"),
    (lambda x: F.max_pool2d(x, 2.5), TypeError, "kernel_size must be an int or a pair"),
    (lambda x: F.max_pool2d(x, (2, 2, 2)), TypeError, "kernel_size must be an int or a pair"),
    (lambda x: F.max_pool2d(x.numpy(), 2), TypeError, "must be a Tensor"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), RuntimeError, "divisor_override"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), RuntimeError, "output_size must be positive"),
    (lambda x: F.adaptive_avg_pool2d(x, (1, 2, 3)), TypeError, "output_size must be an int or a pair"),
]


@pytest.mark.parametrize("call, error, words", ERRORS, ids=[e[2] for e in ERRORS])
def test_bad_arguments_raise_one_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call(tg.tensor(_x()))


def test_max_pool2d_with_several_nans_picks_torchs_element():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).standard_normal((1, 2, 4, 4))
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 1, 2, 3] = np.nan  # two NaNs in one window, one in another
    _, idx = F.max_pool2d(tg.tensor(x), 2, return_indices=True)
    _, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    ours, theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.max_pool2d(ours, 2).sum().backward()
    torch.nn.functional.max_pool2d(theirs, 2).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
