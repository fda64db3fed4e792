"""Integer // and % by zero raise RuntimeError("ZeroDivisionError..."), as torch does; floats give inf/nan."""

import numpy as np
import pytest

import tensorgrad as tg


@pytest.mark.parametrize("op", [lambda a, b: a // b, lambda a, b: a % b], ids=["floordiv", "remainder"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_integer_division_by_zero_raises_like_torch(op, dtype):
    a, b = tg.tensor(np.array([7, 8], dtype=dtype)), tg.tensor(np.array([2, 0], dtype=dtype))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(a, b)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(7, tg.tensor(np.array([0], dtype=dtype)))
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(torch.tensor(a.numpy()), torch.tensor(b.numpy()))


def test_integer_division_by_non_zero_values_is_unchanged():
    assert (tg.tensor([7, -7]) // 2).tolist() == [3, -4] and (tg.tensor([7, -7]) % 2).tolist() == [1, 1]


def test_float_division_by_zero_still_gives_infinity():
    with np.errstate(divide="ignore"):
        assert (tg.tensor([1.0]) // 0).tolist() == [float("inf")]
