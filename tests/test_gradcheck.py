"""gradcheck itself: it passes correct backwards and catches wrong ones, naming the worst element."""

import numpy as np
import pytest
from tensors import f64

import tensorgrad as tg


class _WrongSquare(tg.Function):
    """f = x^2 with a deliberately wrong backward (2x + 1 at the last element)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        wrong = 2 * self.x
        wrong[..., -1] += 1
        return (g * wrong,)


def test_gradcheck_passes_a_correct_backward():
    assert tg.gradcheck(lambda x: (x * x).sum(axis=0), [f64(np.ones((3, 2)))])


def test_gradcheck_names_the_wrong_element():
    x = f64(np.arange(1.0, 7.0).reshape(2, 3))
    with pytest.raises(tg.GradcheckError, match=r"input 0, element \(\d, 2\)"):
        tg.gradcheck(_WrongSquare.apply, [x])


def test_gradcheck_needs_float64():
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        tg.gradcheck(lambda x: x * 2, [x])


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="nothing to check"):
        tg.gradcheck(lambda x: x * 2, [f64([1.0], requires_grad=False)])


def test_gradcheck_refuses_non_leaf_inputs():
    with pytest.raises(ValueError, match="made by an op"):
        tg.gradcheck(lambda x: x * 2, [f64([1.0]) * 2])


def test_gradcheck_leaves_inputs_unchanged():
    x = f64([0.3, -0.7])
    tg.gradcheck(lambda x: x.tanh(), [x])
    np.testing.assert_array_equal(x.array, [0.3, -0.7])


def test_gradcheck_gives_back_the_inputs_gradients():
    x = f64([0.3, -0.7])
    x.grad = np.array([5.0, 6.0])
    tg.gradcheck(lambda x: x.tanh(), [x])
    np.testing.assert_array_equal(x.grad, [5.0, 6.0])


def test_gradcheck_perturbs_non_contiguous_inputs():
    x = tg.tensor(np.arange(1.0, 7.0).reshape(2, 3).T, requires_grad=True)  # a transposed view
    assert tg.gradcheck(lambda x: (x * x).sum(axis=1), [x])


class _NanBackward(tg.Function):
    """f = 2x with a backward that returns NaN at the first element."""

    def forward(self, x):
        return 2 * x

    def backward(self, g):
        out = 2 * g
        out.reshape(-1)[0] = np.nan
        return (out,)


def test_gradcheck_fails_when_backward_returns_nan():
    with pytest.raises(tg.GradcheckError, match=r"element \(0,\): backward gives nan, not a finite"):
        tg.gradcheck(_NanBackward.apply, [f64([1.0, 2.0])])


class _InfiniteForward(tg.Function):
    """f = 2x where x > 0.5, else inf; its backward says 2 everywhere (finite)."""

    def forward(self, x):
        return np.where(x > 0.5, 2 * x, np.inf)

    def backward(self, g):
        return (2 * g,)


@pytest.mark.filterwarnings("ignore:invalid value")
def test_gradcheck_fails_when_finite_differences_are_not_finite():
    with pytest.raises(tg.GradcheckError, match=r"element \(0,\): finite differences give nan"):
        tg.gradcheck(_InfiniteForward.apply, [f64([0.0, 1.0])])
