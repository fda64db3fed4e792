"""F.unfold (im2col) and F.fold (col2im): gradcheck (float64) on every device, the adjoint identity,
conv2d as unfold + matmul, a naive loop reference, torch parity (skipped without torch), errors."""

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad.gradcheck import gradcheck

CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=2, stride=3),  # windows that skip cells
]
SHAPE = (2, 3, 7, 6)


def _columns(kw):
    n_windows = F.unfold(tg.tensor(np.zeros(SHAPE)), **kw).shape
    return np.random.default_rng(1).standard_normal(n_windows)


def naive_unfold(x, kernel_size, stride=1, padding=0, dilation=1):
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(pair, (kernel_size, stride, padding, dilation))
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, hp, wp = xp.shape
    oh, ow = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((n, c, kh, kw, oh * ow))
    for p in range(oh):
        for q in range(ow):
            for i in range(kh):
                for j in range(kw):
                    cols[:, :, i, j, p * ow + q] = xp[:, :, p * sh + i * dh, q * sw + j * dw]
    return cols.reshape(n, c * kh * kw, oh * ow)


@pytest.mark.parametrize("kw", CASES, ids=str)
def test_unfold_matches_naive_loops(kw):
    x = np.random.default_rng(0).standard_normal(SHAPE)
    np.testing.assert_array_equal(F.unfold(tg.tensor(x), **kw).numpy(), naive_unfold(x, **kw))


@pytest.mark.parametrize("kw", CASES, ids=str)
def test_fold_is_the_adjoint_of_unfold(kw):
    """<unfold(x), c> = <x, fold(c)> for every x and c."""
    x, c = np.random.default_rng(0).standard_normal(SHAPE), _columns(kw)
    left = (F.unfold(tg.tensor(x), **kw).numpy() * c).sum()
    right = (x * F.fold(tg.tensor(c), SHAPE[2:], **kw).numpy()).sum()
    np.testing.assert_allclose(left, right, rtol=1e-12)


def test_fold_of_unfold_counts_the_windows_over_each_cell():
    ones = tg.tensor(np.ones((1, 1, 4, 4)))
    counts = F.fold(F.unfold(ones, 2), (4, 4), 2).numpy()[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_conv2d_is_unfold_then_one_matmul():
    rng = np.random.default_rng(2)
    x, w = tg.tensor(rng.standard_normal(SHAPE)), tg.tensor(rng.standard_normal((4, 3, 3, 2)))
    cols = F.unfold(x, (3, 2), padding=1)  # (N, C*3*2, L)
    y = (w.reshape(4, -1) @ cols).reshape(2, 4, 7, 7)
    np.testing.assert_allclose(y.numpy(), F.conv2d(x, w, padding=1).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", CASES, ids=str)
def test_unfold_and_fold_gradcheck(kw, device):
    x = np.random.default_rng(0).standard_normal(SHAPE)
    assert gradcheck(lambda t: F.unfold(t, **kw), [tg.tensor(x, requires_grad=True, device=device)])
    assert gradcheck(lambda t: F.fold(t, SHAPE[2:], **kw),
                     [tg.tensor(_columns(kw), requires_grad=True, device=device)])


def test_unbatched_input():
    x = np.random.default_rng(0).standard_normal(SHAPE)
    cols = F.unfold(tg.tensor(x[0]), 2)
    np.testing.assert_array_equal(cols.numpy(), F.unfold(tg.tensor(x), 2).numpy()[0])
    np.testing.assert_array_equal(F.fold(cols, SHAPE[2:], 2).numpy(),
                                  F.fold(tg.tensor(cols.numpy()[None]), SHAPE[2:], 2).numpy()[0])


@pytest.mark.parametrize("kw", CASES, ids=str)
def test_unfold_and_fold_match_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for ours_fn, theirs_fn, x in (
            (lambda t: F.unfold(t, **kw), lambda t: torch.nn.functional.unfold(t, **kw),
             rng.standard_normal(SHAPE)),
            (lambda t: F.fold(t, SHAPE[2:], **kw), lambda t: torch.nn.functional.fold(t, SHAPE[2:], **kw),
             _columns(kw))):
        ours, theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours_fn(ours), theirs_fn(theirs)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        r = rng.standard_normal(ty.shape)
        (y * tg.tensor(r)).sum().backward()
        (ty * torch.tensor(r)).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


ERRORS = [
    (lambda x, c: F.unfold(x, 8), RuntimeError, "no window fits"),
    (lambda x, c: F.unfold(x, 2, padding=-1), RuntimeError, "padding must be non-negative"),
    (lambda x, c: F.unfold(x, 2, stride=0), RuntimeError, "stride must be positive"),
    (lambda x, c: F.unfold(x[0, 0], 2), RuntimeError, "expected a 3-d"),
    (lambda x, c: F.fold(c[:, :-1], (7, 6), 2), RuntimeError, "must be C \\* kH \\* kW, a multiple of 4"),
    (lambda x, c: F.fold(c[:, :, :-1], (7, 6), 2), RuntimeError, "6 x 5 = 30 windows, but the input has 29"),
    (lambda x, c: F.fold(c[0, 0], (7, 6), 2), RuntimeError, "expected a 2-d"),
    (lambda x, c: F.fold(c.numpy(), (7, 6), 2), TypeError, "must be a Tensor"),
    (lambda x, c: F.fold(c, 7.5, 2), TypeError, "output_size must be an int or a pair"),
]


@pytest.mark.parametrize("call, error, words", ERRORS, ids=[e[2] for e in ERRORS])
def test_bad_arguments_raise_one_clear_error(call, error, words):
    x = tg.tensor(np.zeros(SHAPE))
    with pytest.raises(error, match=words):
        call(x, F.unfold(x, 2))


def test_unfold_and_fold_modules():
    from tensorgrad import nn

    x = tg.tensor(np.random.default_rng(0).standard_normal(SHAPE))
    kw = CASES[2]
    cols = nn.Unfold(**kw)(x)
    np.testing.assert_array_equal(cols.numpy(), F.unfold(x, **kw).numpy())
    fold = nn.Fold(SHAPE[2:], **kw)
    np.testing.assert_array_equal(fold(cols).numpy(), F.fold(cols, SHAPE[2:], **kw).numpy())
    assert "kernel_size=(3, 2)" in repr(nn.Unfold(**kw)) and "output_size=(7, 6)" in repr(fold)
