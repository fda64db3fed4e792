"""rnn.scan: linear recurrences h_t = a_t h_{t-1} + b_t, sequential and parallel, linear and log space."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from rnn.scan import complex_linear_recurrence, linear_recurrence, log_linear_recurrence

LENGTHS = [1, 2, 3, 7, 8, 33, 100]
MODES = ["sequential", "parallel"]
EXACT = dict(rtol=1e-12, atol=1e-12)


def _arrays(T, B=2, H=3, seed=0):
    """a in (0.2, 1.1) (some steps grow), b and h0 standard normal: float64 NumPy arrays."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 1.1, (T, B, H)), rng.standard_normal((T, B, H)), rng.standard_normal((B, H))


def _loop(a, b, h0):
    """The recurrence written out in NumPy: the reference."""
    h, previous = np.empty_like(b), h0
    for t in range(len(b)):
        previous = a[t] * previous + b[t]
        h[t] = previous
    return h


def _run(fn, arrays, mode, device="cpu"):
    """fn's output and the gradients of sum(w * output) for fixed weights w, as NumPy arrays."""
    inputs = [tg.tensor(v, requires_grad=True, device=device) for v in arrays]
    out = fn(*inputs, mode=mode)
    w = np.random.default_rng(7).standard_normal(out.shape)
    (out * tg.tensor(w, device=device)).sum().backward()
    return [out.numpy()] + [tg.backend.to_numpy(t.grad) for t in inputs]


# ------------------------------------------------------------------ linear space


@pytest.mark.parametrize("mode", MODES)
def test_linear_recurrence_equals_the_loop(mode):
    a, b, h0 = _arrays(33)
    h = linear_recurrence(tg.tensor(a), tg.tensor(b), tg.tensor(h0), mode=mode)
    np.testing.assert_allclose(h.numpy(), _loop(a, b, h0), **EXACT)


@pytest.mark.parametrize("mode", MODES)
def test_missing_h0_means_zeros(mode):
    a, b, _ = _arrays(7)
    h = linear_recurrence(tg.tensor(a), tg.tensor(b), mode=mode)
    np.testing.assert_allclose(h.numpy(), _loop(a, b, np.zeros(b.shape[1:])), **EXACT)




@pytest.mark.parametrize("mode", MODES)
def test_gradients_only_for_inputs_that_want_them(mode):
    a, b, h0 = _arrays(5)
    a, h0 = tg.tensor(a), tg.tensor(h0)
    b = tg.tensor(b, requires_grad=True)
    linear_recurrence(a, b, h0, mode=mode).sum().backward()
    assert a.grad is None and h0.grad is None and b.grad.shape == b.shape


def test_backward_of_the_recurrence_is_the_reverse_recurrence():
    # dL/db_t = g_t + a_{t+1} dL/db_{t+1}: with L = h_{T-1}, dL/db_t = a_{t+1} ... a_{T-1}
    a, b, h0 = _arrays(6, B=1, H=1)
    b_t = tg.tensor(b, requires_grad=True)
    linear_recurrence(tg.tensor(a), b_t, tg.tensor(h0))[-1].sum().backward()
    expected = [np.prod(a[t + 1:]) for t in range(6)]
    np.testing.assert_allclose(b_t.grad.numpy().ravel(), expected, **EXACT)


@pytest.mark.parametrize("mode", MODES)
def test_a_time_by_features_array_works_alike(mode):
    a, b, h0 = (v[:, 0] if v.ndim == 3 else v[0] for v in _arrays(9))  # (T, H), (T, H), (H,)
    inputs = [tg.tensor(v, requires_grad=True) for v in (a, b, h0)]
    np.testing.assert_allclose(linear_recurrence(*inputs, mode=mode).numpy(), _loop(a, b, h0), **EXACT)
    assert tg.gradcheck(lambda a, b, h0: linear_recurrence(a, b, h0, mode=mode), inputs)


def test_float32_parallel_is_close_to_sequential():
    a, b, h0 = (v.astype(np.float32) for v in _arrays(1000, B=4, H=8))
    a = a * np.float32(0.9)  # a contracting recurrence, as trained RNNs have
    s, p = (linear_recurrence(tg.tensor(a), tg.tensor(b), tg.tensor(h0), mode=m).numpy() for m in MODES)
    assert s.dtype == p.dtype == np.float32
    np.testing.assert_allclose(p, s, rtol=1e-4, atol=1e-4)


def test_exported_from_rnn():
    assert rnn.linear_recurrence is linear_recurrence
    assert rnn.log_linear_recurrence is log_linear_recurrence


# ------------------------------------------------------------------ log space


def _log_arrays(T, B=2, H=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-3, 0.1, (T, B, H)), rng.standard_normal((T, B, H)), rng.standard_normal((B, H))


# The linear recurrence and its log-space form, with the names of what _run returns for each.
RECURRENCES = {
    "linear": (linear_recurrence, lambda T: _arrays(T, seed=T), ["h", "da", "db", "dh0"]),
    "log": (log_linear_recurrence, lambda T: _log_arrays(T, seed=T),
            ["log h", "dlog_a", "dlog_b", "dlog_h0"]),
}


@pytest.mark.parametrize("kind", RECURRENCES)
@pytest.mark.parametrize("T", LENGTHS)
def test_parallel_equals_sequential_in_values_and_gradients(kind, T, device):
    fn, make, names = RECURRENCES[kind]
    arrays = make(T)
    sequential = _run(fn, arrays, "sequential", device)
    parallel = _run(fn, arrays, "parallel", device)
    for name, s, p in zip(names, sequential, parallel, strict=True):
        np.testing.assert_allclose(p, s, **EXACT, err_msg=name)


@pytest.mark.parametrize("kind", RECURRENCES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T", [1, 2, 5, 8, 13])
def test_recurrence_gradcheck(kind, mode, T):
    fn, make, _ = RECURRENCES[kind]
    inputs = [tg.tensor(v, requires_grad=True) for v in make(T)]
    assert tg.gradcheck(lambda a, b, h0: fn(a, b, h0, mode=mode), inputs)


@pytest.mark.parametrize("mode", MODES)
def test_log_recurrence_is_the_log_of_the_linear_one(mode):
    log_a, log_b, log_h0 = _log_arrays(33)
    log_h = log_linear_recurrence(tg.tensor(log_a), tg.tensor(log_b), tg.tensor(log_h0), mode=mode)
    np.testing.assert_allclose(log_h.numpy(), np.log(_loop(np.exp(log_a), np.exp(log_b), np.exp(log_h0))),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_log_recurrence_without_h0_starts_from_zero(mode):
    log_a, log_b, _ = _log_arrays(7)
    log_h = log_linear_recurrence(tg.tensor(log_a), tg.tensor(log_b), mode=mode)
    np.testing.assert_allclose(log_h.numpy(), np.log(_loop(np.exp(log_a), np.exp(log_b), 0.0)), **EXACT)




@pytest.mark.parametrize("mode", MODES)
def test_log_linear_recurrence_gradcheck_from_zero_state(mode):
    log_a, log_b, _ = _log_arrays(6)
    inputs = [tg.tensor(v, requires_grad=True) for v in (log_a, log_b)]
    assert tg.gradcheck(lambda la, lb: log_linear_recurrence(la, lb, mode=mode), inputs)


@pytest.mark.parametrize("mode", MODES)
def test_log_space_stays_finite_and_exact_at_T_4096(mode):
    # a_t as small as e^-60 and b_t from e^-700 to e^700: the running products of a
    # underflow and many b_t overflow in float64 linear space, but log h must not.
    T, B, H = 4096, 2, 3
    rng = np.random.default_rng(0)
    log_a = rng.uniform(-60, -1e-3, (T, B, H))
    log_b = rng.uniform(-700, 700, (T, B, H))
    la, lb = tg.tensor(log_a, requires_grad=True), tg.tensor(log_b, requires_grad=True)
    log_h = log_linear_recurrence(la, lb, mode=mode)
    log_h.sum().backward()
    assert np.isfinite(log_h.numpy()).all()
    assert np.isfinite(la.grad).all() and np.isfinite(lb.grad).all()
    # the definition, at a few t: log h_t = logsumexp_k (sum_{j=k+1..t} log a_j + log b_k)
    S = np.cumsum(log_a, axis=0)
    for t in (0, 1, 2047, T - 1):
        terms = S[t] - S[:t + 1] + log_b[:t + 1]
        top = terms.max(axis=0)
        expected = top + np.log(np.exp(terms - top).sum(axis=0))
        np.testing.assert_allclose(log_h.numpy()[t], expected, rtol=1e-10, atol=1e-9)


def test_log_space_modes_agree_at_T_4096_in_float32():
    T, B, H = 4096, 2, 3
    rng = np.random.default_rng(1)
    log_a = rng.uniform(-20, -1e-3, (T, B, H)).astype(np.float32)
    log_b = rng.uniform(-80, 80, (T, B, H)).astype(np.float32)
    s, p = (log_linear_recurrence(tg.tensor(log_a), tg.tensor(log_b), mode=m).numpy() for m in MODES)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p, s, rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------------ complex


def _complex_arrays(T, B=2, H=3, seed=0):
    """Real and imaginary parts: a inside the unit disc, b and h0 standard normal."""
    rng = np.random.default_rng(seed)
    a_re, a_im = rng.uniform(-0.7, 0.7, (2, T, B, H))
    b_re, b_im = rng.standard_normal((2, T, B, H))
    h0_re, h0_im = rng.standard_normal((2, B, H))
    return [a_re, a_im, b_re, b_im, h0_re, h0_im]


def _complex_call(mode):
    return lambda a_re, a_im, b_re, b_im, h0_re, h0_im: complex_linear_recurrence(
        a_re, a_im, b_re, b_im, (h0_re, h0_im), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_complex_recurrence_equals_the_complex_loop(mode):
    parts = _complex_arrays(9)
    h_re, h_im = _complex_call(mode)(*(tg.tensor(v) for v in parts))
    a, b, h0 = (parts[i] + 1j * parts[i + 1] for i in (0, 2, 4))
    np.testing.assert_allclose(h_re.numpy() + 1j * h_im.numpy(), _loop(a, b, h0), **EXACT)


@pytest.mark.parametrize("T", [1, 3, 8, 33])
def test_complex_parallel_equals_sequential(T):
    parts = _complex_arrays(T, seed=T)
    results = {}
    for mode in MODES:
        inputs = [tg.tensor(v, requires_grad=True) for v in parts]
        h_re, h_im = _complex_call(mode)(*inputs)
        (h_re * h_re - 2 * h_im).sum().backward()
        results[mode] = [h_re.numpy(), h_im.numpy()] + [t.grad for t in inputs]
    for s, p in zip(results["sequential"], results["parallel"], strict=True):
        np.testing.assert_allclose(p, s, **EXACT)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("part", [0, 1])
def test_complex_recurrence_gradcheck(mode, part):
    inputs = [tg.tensor(v, requires_grad=True) for v in _complex_arrays(5, seed=part)]
    assert tg.gradcheck(lambda *v: _complex_call(mode)(*v)[part], inputs)


def test_complex_h0_must_be_a_pair():
    parts = [tg.tensor(v) for v in _complex_arrays(3)]
    with pytest.raises(TypeError, match=r"h0 must be a pair \(h0_re, h0_im\)"):
        complex_linear_recurrence(*parts[:4], h0=parts[4])


# ------------------------------------------------------------------ errors


def test_unknown_mode_is_refused():
    a, b, _ = _arrays(3)
    with pytest.raises(ValueError, match="mode must be one of"):
        linear_recurrence(tg.tensor(a), tg.tensor(b), mode="blelloch")


def test_mismatched_shapes_are_refused():
    a, b, _ = _arrays(3)
    with pytest.raises(ValueError, match=r"a has shape \(3, 2, 3\) but b has shape \(2, 2, 3\)"):
        linear_recurrence(tg.tensor(a), tg.tensor(b[:2]))


def test_wrong_h0_shape_is_refused():
    a, b, _ = _arrays(3)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 3\)"):
        linear_recurrence(tg.tensor(a), tg.tensor(b), tg.tensor(np.zeros((1, 2, 3))))


def test_log_h0_shape_is_checked_too():
    log_a, log_b, _ = _log_arrays(3)
    with pytest.raises(ValueError, match=r"log_h0 must have shape \(2, 3\)"):
        log_linear_recurrence(tg.tensor(log_a), tg.tensor(log_b), tg.tensor(np.zeros(3)))


def test_mixed_dtypes_are_refused():
    a, b, _ = _arrays(3)
    with pytest.raises(TypeError, match="float64 and float32"):
        linear_recurrence(tg.tensor(a), tg.tensor(b.astype(np.float32)))


def test_non_tensor_inputs_are_refused():
    a, b, _ = _arrays(3)
    with pytest.raises(TypeError, match="b must be a Tensor, got ndarray"):
        linear_recurrence(tg.tensor(a), b)


def test_sequence_of_scalars_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"into \(T, 1\) with reshape"):
        linear_recurrence(tg.ones(5), tg.ones(5))


def test_empty_sequence_is_refused():
    with pytest.raises(ValueError, match="T >= 1"):
        linear_recurrence(tg.zeros(0, 2, 3), tg.zeros(0, 2, 3))


@pytest.mark.skipif(not tg.cuda_available(), reason="needs CuPy and a GPU")
def test_inputs_on_different_devices_are_refused():
    a, b, _ = _arrays(3)
    with pytest.raises(tg.DeviceError, match="'cpu' but b is on 'cuda'"):
        linear_recurrence(tg.tensor(a), tg.tensor(b, device="cuda"))
