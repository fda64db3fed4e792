"""Every op's backward against central finite differences in float64, on every element.

Shapes come from hypothesis (broadcasting included); values are kept off kinks
(relu at 0, ties in max) and inside domains (log of positives, division away from 0).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes
from tensors import away_from_zero, distinct, f64, host, normal, positive

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad.autograd import IndexedGrad

seeds = st.integers(0, 2**16)
small_shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)


@given(shapes=pairs, seed=seeds)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_binary_op_gradient_with_broadcasting(device, op, shapes, seed):
    a, b = normal(shapes.input_shapes[0], seed, device), normal(shapes.input_shapes[1], seed + 1, device)
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}[op]
    assert tg.gradcheck(fn, [a, b])


@given(shapes=pairs, seed=seeds)
def test_div_gradient_with_broadcasting(device, shapes, seed):
    a = normal(shapes.input_shapes[0], seed, device)
    b = away_from_zero(shapes.input_shapes[1], seed + 1, device)
    assert tg.gradcheck(lambda a, b: a / b, [a, b])


@given(shape=small_shapes, seed=seeds, c=st.floats(-3, 3).filter(lambda c: abs(c) > 0.1))
def test_python_scalars_on_either_side(device, shape, seed, c):
    x = away_from_zero(shape, seed, device)
    assert tg.gradcheck(lambda x: c + x - c * x + x / c + c / x - (c - x), [x])


@given(shape=small_shapes, seed=seeds, p=st.sampled_from([2, 3, 0.5, -1.0, 1.5, -2]))
def test_pow_gradient(device, shape, seed, p):
    assert tg.gradcheck(lambda x: x ** p, [positive(shape, seed, device)])


@given(shape=small_shapes, seed=seeds)
@pytest.mark.parametrize("name", ["neg", "exp", "tanh", "sigmoid"])
def test_smooth_unary_gradient(device, name, shape, seed):
    fn = {"neg": lambda x: -x, "exp": lambda x: x.exp(), "tanh": lambda x: x.tanh(),
          "sigmoid": lambda x: x.sigmoid()}[name]
    assert tg.gradcheck(fn, [normal(shape, seed, device)])


@given(shape=small_shapes, seed=seeds)
def test_log_gradient(device, shape, seed):
    assert tg.gradcheck(lambda x: x.log(), [positive(shape, seed, device)])


@given(shape=small_shapes, seed=seeds)
def test_relu_gradient_off_the_kink(device, shape, seed):
    assert tg.gradcheck(lambda x: x.relu(), [away_from_zero(shape, seed, device)])


matmul_shapes = st.sampled_from([
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
])


@given(shapes=matmul_shapes, seed=seeds)
def test_matmul_gradient_1d_2d_and_batched(device, shapes, seed):
    a, b = normal(shapes[0], seed, device), normal(shapes[1], seed + 1, device)
    assert tg.gradcheck(lambda a, b: a @ b, [a, b])


@st.composite
def shape_and_axis(draw, min_dims=0):
    shape = draw(array_shapes(min_dims=max(min_dims, 0), max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    choice = draw(st.sampled_from(["none", "int", "tuple"])) if ndim else "none"
    if choice == "none":
        axis = None
    elif choice == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        axis = tuple(draw(st.sets(st.integers(0, ndim - 1), min_size=1)))
    return shape, axis, draw(st.booleans())


@given(case=shape_and_axis(), seed=seeds)
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
def test_reduction_gradient(device, name, case, seed):
    shape, dim, keepdim = case
    x = distinct(shape, seed, device)
    assert tg.gradcheck(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim), [x])


@given(case=shape_and_axis(), seed=seeds)
def test_numpy_axis_and_keepdims_aliases_give_the_same_reduction(device, case, seed):
    shape, dim, keepdim = case
    x = distinct(shape, seed, device)
    np.testing.assert_array_equal(x.sum(axis=dim, keepdims=keepdim).numpy(),
                                  x.sum(dim=dim, keepdim=keepdim).numpy())


def test_max_splits_gradient_between_ties(device):
    x = f64([1.0, 3.0, 3.0], device)
    x.max().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, 0.5, 0.5])


@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds)
def test_reshape_and_transpose_gradient(device, shape, seed):
    x = normal(shape, seed, device)
    n = int(np.prod(shape))
    assert tg.gradcheck(lambda x: x.reshape(n, 1).T * x.reshape(-1).reshape(1, n), [x])
    axes = tuple(np.random.default_rng(seed).permutation(len(shape)))
    assert tg.gradcheck(lambda x: x.permute(*axes) * 2, [x])


@pytest.mark.parametrize("index", [
    1, -1, slice(1, 3), (slice(None), 0), (0, slice(None, None, -1)), (Ellipsis, 1), (None, 2),
    np.array([0, 2, 2, 0]), [3, 3, 3], np.array([-1, 3, 0, -4]), (np.array([0, 1, 1]), np.array([2, 0, 2])),
    np.array([True, False, True, True]), (slice(None), np.array([1, 1, 0])),
])
def test_indexing_gradient_accumulates_repeats(device, index):
    x = normal((4, 3), 0, device)
    assert tg.gradcheck(lambda x: x[index] * 1.5, [x])


@given(n=st.integers(1, 6), picks=st.lists(st.integers(-6, 5), max_size=12), seed=seeds)
def test_row_gradients_add_as_numpy_add_at(n, picks, seed):
    """The sorted fast path for an integer row index (embeddings) equals add.at, negatives and repeats too."""
    rows = np.array([p % n - n if p < 0 else p % n for p in picks], dtype=np.int64).reshape(-1, 1)
    values = np.random.default_rng(seed).standard_normal(rows.shape + (3,))
    expected = np.ones((n, 3))
    np.add.at(expected, rows, values)
    got = np.ones((n, 3))
    IndexedGrad(rows, values, advanced=True).add_into(got)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)


def test_repeated_integer_index_sends_gradient_twice(device):
    x = f64([1.0, 2.0, 3.0], device)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_allclose(host(x.grad), [2.0, 0.0, 1.0])


def test_boolean_tensor_mask_indexing(device):
    x = f64([-1.0, 2.0, -3.0, 4.0], device)
    y = x[x > 0]
    assert y.shape == (2,)
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, 1.0, 0.0, 1.0])


@given(seed=seeds, axis=st.integers(-2, 1))
def test_concat_gradient(device, seed, axis):
    a, b = normal((2, 3), seed, device), normal((2, 3), seed + 1, device)
    c = normal((2, 3), seed + 2, device)
    assert tg.gradcheck(lambda a, b, c: tg.concat([a, b, c], axis=axis) * 2, [a, b, c])


@given(seed=seeds, axis=st.integers(-3, 2))
def test_stack_gradient(device, seed, axis):
    a, b = normal((2, 3), seed, device), normal((2, 3), seed + 1, device)
    assert tg.gradcheck(lambda a, b: tg.stack([a, b], axis=axis) * 3, [a, b])


@given(shapes=pairs, seed=seeds)
def test_where_gradient_with_broadcasting(device, shapes, seed):
    a, b = normal(shapes.input_shapes[0], seed, device), normal(shapes.input_shapes[1], seed + 1, device)
    cond = np.random.default_rng(seed).random(np.broadcast_shapes(a.shape, b.shape)) > 0.5
    assert tg.gradcheck(lambda a, b: tg.where(cond, a, b), [a, b])


@given(seed=seeds)
def test_where_gradient_when_only_the_condition_broadcasts(device, seed):
    # a and b share a shape, the condition stretches both: their gradients sum over its extra rows
    a, b = normal((3,), seed, device), normal((3,), seed + 1, device)
    cond = np.random.default_rng(seed).random((2, 3)) > 0.5
    assert tg.gradcheck(lambda a, b: tg.where(cond, a, b), [a, b])


@given(case=shape_and_axis(min_dims=1), seed=seeds)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradients(device, name, case, seed):
    shape, _, _ = case
    axis = seed % len(shape)
    fn = getattr(F, name)
    x = f64(np.random.default_rng(seed).normal(0, 3, shape), device)
    assert tg.gradcheck(lambda x: fn(x, axis=axis), [x])


@given(n=st.integers(1, 5), c=st.integers(2, 5), seed=seeds, masked=st.booleans())
def test_cross_entropy_gradient(device, n, c, seed, masked):
    rng = np.random.default_rng(seed)
    logits = normal((n, c), seed, device)
    targets = rng.integers(0, c, n)
    mask = None
    if masked:
        mask = rng.random(n) > 0.3
        mask[0] = True
    assert tg.gradcheck(lambda x: F.cross_entropy(x, targets, mask=mask), [logits])
    assert tg.gradcheck(lambda x: F.cross_entropy(x, targets, reduction="sum"), [logits])


def test_cross_entropy_ignore_index_gradient(device):
    logits = normal((2, 4, 3), 0, device)  # (N, C, d1): classes on axis 1, as in PyTorch
    targets = np.array([[1, -100, 3], [0, 2, -100]])
    assert tg.gradcheck(lambda x: F.cross_entropy(x, targets, ignore_index=-100), [logits])


@given(shape=small_shapes, seed=seeds)
def test_mse_loss_gradient(device, shape, seed):
    a, b = normal(shape, seed, device), normal(shape, seed + 1, device)
    assert tg.gradcheck(F.mse_loss, [a, b])


def test_dropout_gradient_with_a_fixed_mask(device):
    x = normal((4, 5), 0, device)

    def fn(x):
        tg.manual_seed(3)  # the same mask on every evaluation
        return F.dropout(x, p=0.4, training=True)

    assert tg.gradcheck(fn, [x])


def test_embedding_gradient_accumulates_repeated_rows(device):
    weight = normal((5, 3), 0, device)
    idx = np.array([[0, 4], [4, 4]])
    assert tg.gradcheck(lambda w: F.embedding(idx, w), [weight])


def test_astype_gradient_round_trips_dtype(device):
    x = normal((3,), 0, device)
    assert tg.gradcheck(lambda x: x.astype(np.float32).astype(np.float64) * 2, [x], eps=1e-3, atol=1e-3)


# ------------------------------------------------ the torch vocabulary's ops
@given(shapes=pairs, seed=seeds)
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_and_minimum_gradient_with_broadcasting(device, op, shapes, seed):
    a = distinct(shapes.input_shapes[0], seed, device)
    b = f64(distinct(shapes.input_shapes[1], seed + 1, device).numpy() + 0.01, device)  # no ties
    assert tg.gradcheck(lambda a, b: getattr(a, op)(b), [a, b])


def test_maximum_splits_the_gradient_at_ties(device):
    a, b = f64([1.0, 2.0], device), f64([1.0, 3.0], device)
    a.maximum(b).sum().backward()
    np.testing.assert_allclose(host(a.grad), [0.5, 0.0])
    np.testing.assert_allclose(host(b.grad), [0.5, 1.0])


@given(shapes=pairs, seed=seeds)
def test_tensor_exponent_gradient_with_broadcasting(device, shapes, seed):
    a, b = positive(shapes.input_shapes[0], seed, device), normal(shapes.input_shapes[1], seed + 1, device)
    assert tg.gradcheck(lambda a, b: a ** b, [a, b])
    assert tg.gradcheck(lambda b: 2.5 ** b, [b])


@given(shape=small_shapes, seed=seeds)
@pytest.mark.parametrize("name", ["sqrt", "log1p"])
def test_positive_domain_unary_gradient(device, name, shape, seed):
    assert tg.gradcheck(lambda x: getattr(x, name)(), [positive(shape, seed, device)])


@given(shape=small_shapes, seed=seeds)
@pytest.mark.parametrize("name", ["abs", "expm1", "sign"])
def test_unary_gradient_off_zero(device, name, shape, seed):
    assert tg.gradcheck(lambda x: getattr(x, name)() * x, [away_from_zero(shape, seed, device)])


@given(shape=small_shapes, seed=seeds,
       bounds=st.sampled_from([(-0.5, 0.5), (None, 0.25), (-0.25, None), (0.1, 0.1)]))
def test_clamp_gradient_off_the_bounds(device, shape, seed, bounds):
    x = f64(distinct(shape, seed, device).numpy() + 0.0123, device)  # never exactly on a bound
    assert tg.gradcheck(lambda x: x.clamp(*bounds), [x])


@given(case=shape_and_axis(min_dims=1), seed=seeds)
def test_max_and_min_over_a_dim_gradient(device, case, seed):
    shape, _, keepdim = case
    dim = seed % len(shape)
    x = distinct(shape, seed, device)
    assert tg.gradcheck(lambda x: x.max(dim, keepdim).values, [x])
    assert tg.gradcheck(lambda x: x.min(dim=dim, keepdim=keepdim).values, [x])


@given(case=shape_and_axis(), seed=seeds, correction=st.sampled_from([0, 1]))
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_and_std_gradient(device, name, case, seed, correction):
    shape, dim, keepdim = case
    x = distinct(shape, seed, device)
    dims = (dim,) if isinstance(dim, int) else dim
    n = int(np.prod([shape[d] for d in dims])) if dims is not None else x.numel()
    if n <= correction or (name == "std" and n < 2):
        return  # undefined (nan) or at the kink of sqrt at 0
    assert tg.gradcheck(lambda x: getattr(x, name)(dim, keepdim=keepdim, correction=correction), [x])


@given(case=shape_and_axis(min_dims=1), seed=seeds)
def test_logsumexp_gradient(device, case, seed):
    shape, dim, keepdim = case
    dim = dim if dim is not None else tuple(range(len(shape)))
    x = f64(np.random.default_rng(seed).normal(0, 3, shape), device)
    assert tg.gradcheck(lambda x: x.logsumexp(dim, keepdim=keepdim), [x])


@given(case=shape_and_axis(), seed=seeds, zero=st.booleans())
def test_prod_gradient_with_and_without_zeros(device, case, seed, zero):
    shape, _, keepdim = case
    values = np.random.default_rng(seed).uniform(0.5, 1.5, shape)
    if zero and values.size:
        values.reshape(-1)[seed % values.size] = 0.0  # d prod / dx is still the product of the others
    x = f64(values, device)
    dim = None if not shape else seed % len(shape)
    assert tg.gradcheck(lambda x: x.prod(dim, keepdim=keepdim), [x])


@given(case=shape_and_axis(), seed=seeds, p=st.sampled_from([1, 2, 3, float("inf")]))
def test_norm_gradient(device, case, seed, p):
    shape, dim, keepdim = case
    x = f64(distinct(shape, seed, device).numpy() + 0.0123, device)
    assert tg.gradcheck(lambda x: x.norm(p=p, dim=dim, keepdim=keepdim), [x])


@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds)
def test_shape_ops_gradient(device, shape, seed):
    x = normal(shape, seed, device)
    d = seed % len(shape)
    assert tg.gradcheck(lambda x: x.transpose(0, -1) * 2, [x])
    assert tg.gradcheck(lambda x: x.flatten() * 2, [x])
    assert tg.gradcheck(lambda x: x.unsqueeze(d).squeeze(d) * 2, [x])
    assert tg.gradcheck(lambda x: x.unsqueeze(0).expand(3, *shape), [x])
    assert tg.gradcheck(lambda x: x.repeat(2, *([1] * (len(shape) - 1)), 3), [x])
    assert tg.gradcheck(lambda x: x.clone() * 2, [x])


@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), seed=seeds)
def test_split_chunk_and_unbind_gradients_including_unused_pieces(device, shape, seed):
    x = normal(shape, seed, device)
    d = seed % len(shape)
    assert tg.gradcheck(lambda x: tg.cat(x.split(2, d)[::2] or [x], dim=d) * 2, [x])
    assert tg.gradcheck(lambda x: x.chunk(2, d)[-1] * 3, [x])
    assert tg.gradcheck(lambda x: tg.stack(x.unbind(d)[1:] or [x], dim=0) * 2, [x])


def test_gather_gradient_accumulates_repeated_picks(device):
    x = normal((3, 4), 0, device)
    index = np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])
    assert tg.gradcheck(lambda x: x.gather(1, index) * 1.5, [x])
