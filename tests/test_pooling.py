"""max_pool2d, avg_pool2d, adaptive_avg_pool2d and their modules: gradcheck (float64), a naive loop
reference, torch parity (skipped without torch), the device fixture, and the errors for bad input."""

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
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
