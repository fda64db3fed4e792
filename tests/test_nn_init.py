"""tensorgrad.nn.init: torch.nn.init's functions, in place, seeded, with torch's formulas and gains."""

import math

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from tensorgrad.nn import init

try:
    import torch
except ImportError:
    torch = None


def _weight(*shape, dtype=np.float32, device="cpu"):
    return tg.nn.Parameter(tg.zeros(*shape, dtype=dtype, device=device))


def _host(t):
    return tg.tensor(t.array, device="cpu").numpy()


@pytest.mark.parametrize("fill, low, high, std", [
    (lambda w: init.uniform_(w, -2.0, 3.0), -2.0, 3.0, 5 / math.sqrt(12)),
    (lambda w: init.normal_(w, 1.0, 0.5), None, None, 0.5),
    (lambda w: init.xavier_uniform_(w, gain=2.0), -2 * math.sqrt(6 / 500), 2 * math.sqrt(6 / 500),
     2 * math.sqrt(2 / 500)),
    (lambda w: init.xavier_normal_(w), None, None, math.sqrt(2 / 500)),
    (lambda w: init.kaiming_uniform_(w, nonlinearity="relu"), -math.sqrt(6 / 300), math.sqrt(6 / 300),
     math.sqrt(2 / 300)),
    (lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="tanh"), None, None,
     (5 / 3) / math.sqrt(200)),
], ids=["uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"])
def test_random_inits_follow_torchs_formulas_in_place(fill, low, high, std):
    w = _weight(200, 300)  # fan_out 200, fan_in 300
    assert fill(w) is w and w._version == 1 and w.dtype == np.float32 and w.requires_grad
    values = w.numpy()
    assert values.std() == pytest.approx(std, rel=0.03)
    if low is not None:
        margin = 0.01 * (high - low)  # 60,000 draws reach within 1% of both bounds
        assert low <= values.min() < low + margin and high - margin < values.max() < high


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (16, 4, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns_times_the_gain(shape):
    w = init.orthogonal_(_weight(*shape, dtype=np.float64), gain=1.5)
    flat = w.numpy().reshape(shape[0], -1) / 1.5
    small = min(flat.shape)
    product = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(product, np.eye(small), atol=1e-12)


def test_constant_zeros_ones_and_eye():
    w = _weight(3, 4)
    assert init.constant_(w, 0.25).numpy().tolist() == [[0.25] * 4] * 3
    assert init.ones_(w).numpy().sum() == 12 and init.zeros_(w).numpy().sum() == 0
    np.testing.assert_array_equal(init.eye_(w).numpy(), np.eye(3, 4))
    assert w._version == 4


def test_the_same_seed_gives_the_same_init():
    draws = []
    for _ in range(2):
        tg.manual_seed(7)
        draws.append(init.orthogonal_(_weight(5, 5)).numpy().copy())
    np.testing.assert_array_equal(*draws)


GAINS = {("linear", None): 1.0, ("sigmoid", None): 1.0, ("tanh", None): 5 / 3, ("relu", None): math.sqrt(2),
         ("leaky_relu", None): math.sqrt(2 / (1 + 0.01 ** 2)), ("leaky_relu", 0.2): math.sqrt(2 / 1.04),
         ("selu", None): 0.75}


@pytest.mark.parametrize("nonlinearity, param", GAINS)
def test_calculate_gain_is_torchs(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(GAINS[nonlinearity, param], rel=1e-12)
    if torch is not None:
        assert init.calculate_gain(nonlinearity, param) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda: init.xavier_uniform_(_weight(5)), ValueError, "at least 2 dims"),
    (lambda: init.orthogonal_(_weight(5)), ValueError, "at least 2 dims"),
    (lambda: init.normal_(tg.tensor([1, 2])), TypeError, "float tensors"),
    (lambda: init.kaiming_normal_(_weight(2, 2), mode="fan"), ValueError, "'fan_in' or 'fan_out'"),
    (lambda: init.calculate_gain("swish"), ValueError, "unsupported nonlinearity 'swish'"),
    (lambda: init.zeros_(np.zeros(3)), TypeError, "expects a Tensor"),
])
def test_bad_calls_say_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_an_init_after_a_forward_makes_that_graphs_backward_raise_where_torch_does():
    # The weight is saved only for the input's gradient (as torch saves it): with an input that
    # requires grad, changing the weight afterwards makes backward raise; with a constant input the
    # weight's own gradient needs only the input, and backward runs (torch gives the same).
    layer = tg.nn.Linear(3, 2)
    out = layer(tg.ones(1, 3, requires_grad=True)).sum()
    init.zeros_(layer.weight)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()
    layer = tg.nn.Linear(3, 2)
    out = layer(tg.ones(1, 3)).sum()
    init.zeros_(layer.weight)
    out.backward()
    assert layer.weight.grad.tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]


def test_the_torch_idiom_for_an_lstm_runs_and_trains():
    lstm = rnn.LSTM(4, 8, num_layers=2)
    for name, p in lstm.named_parameters():
        if name.startswith("weight_hh"):
            init.orthogonal_(p)
        elif name.startswith("weight_ih"):
            init.xavier_uniform_(p)
        else:
            init.zeros_(p)
    out, _ = lstm(tg.ones(5, 3, 4))
    out.sum().backward()
    assert all(p.grad is not None for p in lstm.parameters())
    w = lstm.weight_hh_l0.numpy()
    np.testing.assert_allclose(w.T @ w, np.eye(8), atol=1e-5)


def test_inits_fill_on_the_device(device):
    for fill in (init.orthogonal_, init.kaiming_uniform_, init.eye_):
        w = fill(_weight(4, 3, device=device))
        assert w.device == device and np.isfinite(_host(w)).all()
