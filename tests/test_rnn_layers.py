"""The layers RNN, LSTM, GRU: shapes, lengths (packed-sequence meaning), init, dropout, errors.

These need no torch; tests/test_rnn_torch.py compares the numbers with torch.nn.
"""

import numpy as np
import pytest

import rnn
import tensorgrad as tg

T, B, I, H = 3, 2, 3, 2
KINDS = {"RNN": rnn.RNN, "LSTM": rnn.LSTM, "GRU": rnn.GRU}
EXACT = dict(rtol=1e-12, atol=1e-12)


def _layer(kind, seed=0, **options):
    tg.manual_seed(seed)
    return KINDS[kind](I, H, dtype=np.float64, **options)


def _x(shape, seed=1, requires_grad=False):
    return tg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


def _h(finals):
    """h_n from a layer's second result (h_n, or (h_n, c_n) for the LSTM)."""
    return finals[0] if isinstance(finals, tuple) else finals


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (3, True)])
def test_output_and_final_state_shapes(kind, layers, bidirectional):
    D = 2 if bidirectional else 1
    out, finals = _layer(kind, num_layers=layers, bidirectional=bidirectional)(_x((T, B, I)))
    assert out.shape == (T, B, D * H)
    for f in (finals if kind == "LSTM" else (finals,)):
        assert f.shape == (layers * D, B, H)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_first_swaps_the_first_two_axes(kind):
    x = _x((T, B, I))
    out, finals = _layer(kind, bidirectional=True)(x)
    out_bf, finals_bf = _layer(kind, bidirectional=True, batch_first=True)(x.transpose(0, 1))
    assert out_bf.shape == (B, T, 2 * H)
    np.testing.assert_allclose(out_bf.numpy(), out.numpy().transpose(1, 0, 2), **EXACT)
    np.testing.assert_allclose(_h(finals_bf).numpy(), _h(finals).numpy(), **EXACT)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_is_a_batch_of_one(kind):
    layer = _layer(kind, num_layers=2, bidirectional=True)
    x = _x((T, I))
    out, finals = layer(x)
    out1, finals1 = layer(x.reshape(T, 1, I))
    assert out.shape == (T, 2 * H) and _h(finals).shape == (4, H)
    np.testing.assert_allclose(out.numpy(), out1.numpy()[:, 0], **EXACT)
    np.testing.assert_allclose(_h(finals).numpy(), _h(finals1).numpy()[:, 0], **EXACT)


# ----------------------------------------------------------------- lengths


@pytest.mark.parametrize("kind", KINDS)
def test_lengths_mean_each_sequence_runs_alone(kind):
    """Outputs past a length are zero; h_n and the reverse direction see only each sequence's own steps."""
    layer = _layer(kind, num_layers=2, bidirectional=True)
    T4, lengths = 4, [2, 4, 1]
    x = _x((T4, 3, I))
    out, finals = layer(x, lengths=lengths)
    for b, L in enumerate(lengths):
        alone, alone_finals = layer(x[:L, b])  # unbatched, exactly L steps
        np.testing.assert_allclose(out.numpy()[:L, b], alone.numpy(), **EXACT)
        assert not out.numpy()[L:, b].any()
        for f, g in zip(finals if kind == "LSTM" else (finals,),
                        alone_finals if kind == "LSTM" else (alone_finals,), strict=True):
            np.testing.assert_allclose(f.numpy()[:, b], g.numpy(), **EXACT)


@pytest.mark.parametrize("kind", KINDS)
def test_lengths_need_not_be_sorted(kind):
    layer = _layer(kind, bidirectional=True)
    x = _x((T, 3, I))
    order = [2, 0, 1]
    out, finals = layer(x, lengths=np.array([1, 3, 2]))
    out_p, finals_p = layer(x[:, order], lengths=[2, 1, 3])
    np.testing.assert_allclose(out_p.numpy(), out.numpy()[:, order], **EXACT)
    np.testing.assert_allclose(_h(finals_p).numpy(), _h(finals).numpy()[:, order], **EXACT)


@pytest.mark.parametrize("kind", KINDS)
def test_padding_gets_no_gradient(kind):
    layer = _layer(kind, num_layers=2, bidirectional=True)
    x = _x((4, 3, I), requires_grad=True)
    out, finals = layer(x, lengths=[2, 4, 1])
    (out.sum() + _h(finals).sum()).backward()
    for b, L in enumerate([2, 4, 1]):
        assert not x.grad[L:, b].any()
        assert np.abs(x.grad[:L, b]).min() > 0


def test_full_lengths_change_nothing():
    layer = _layer("LSTM", bidirectional=True)
    x = _x((T, B, I))
    np.testing.assert_array_equal(layer(x, lengths=[T] * B)[0].numpy(), layer(x)[0].numpy())


# --------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("kind, options", [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {}),
    ("GRU", {"reset_after": False}),
], ids=["rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before"])
def test_two_layer_bidirectional_layer_with_lengths_passes_gradcheck(kind, options):
    layer = _layer(kind, num_layers=2, bidirectional=True, **options)
    x = _x((T, B, I), requires_grad=True)
    n_states = 2 if kind == "LSTM" else 1
    states = [_x((4, B, H), seed=2 + k, requires_grad=True) for k in range(n_states)]

    def fn(x, *rest):
        hx = tuple(rest[:2]) if kind == "LSTM" else rest[0]
        out, finals = layer(x, hx, lengths=[3, 2])
        finals = finals if kind == "LSTM" else (finals,)
        return tg.concat([out.reshape(-1)] + [f.reshape(-1) for f in finals], axis=0)

    assert tg.gradcheck(fn, [x, *states, *layer.parameters()])


# ------------------------------------------------------------ parameters


@pytest.mark.parametrize("kind, gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_parameter_names_and_shapes_follow_pytorch(kind, gates):
    layer = KINDS[kind](5, 4, num_layers=2, bidirectional=True)
    G = gates * 4
    expected = []
    for k, in_size in [(0, 5), (1, 8)]:
        for suffix in ("", "_reverse"):
            expected += [(f"weight_ih_l{k}{suffix}", (G, in_size)), (f"weight_hh_l{k}{suffix}", (G, 4)),
                         (f"bias_ih_l{k}{suffix}", (G,)), (f"bias_hh_l{k}{suffix}", (G,))]
    assert [(n, p.shape) for n, p in layer.named_parameters()] == expected


def test_no_bias_means_no_bias_parameters():
    names = [n for n, _ in rnn.GRU(I, H, bias=False).named_parameters()]
    assert names == ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_init_is_reproducible(kind):
    a, b, c = _layer(kind, seed=5), _layer(kind, seed=5), _layer(kind, seed=6)
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[name])
        assert not np.array_equal(value, c.state_dict()[name])


def test_init_is_uniform_within_one_over_sqrt_hidden():
    layer = rnn.LSTM(I, 16, num_layers=2)
    values = np.concatenate([v.ravel() for v in layer.state_dict().values()])
    assert np.abs(values).max() <= 0.25
    assert np.abs(values).max() > 0.24  # spread over the whole range, not a narrower one


def test_default_dtype_is_float32():
    layer = rnn.LSTM(I, H)
    assert {p.dtype for p in layer.parameters()} == {np.dtype(np.float32)}


@pytest.mark.parametrize("kind", KINDS)
def test_float32_layer_keeps_float32_everywhere(kind):
    layer = KINDS[kind](I, H, num_layers=2, bidirectional=True)
    x = tg.randn(T, B, I, requires_grad=True)
    out, finals = layer(x, lengths=[3, 1])
    (out.sum() + _h(finals).sum()).backward()
    f32 = np.dtype(np.float32)
    assert out.dtype == f32 and _h(finals).dtype == f32 and x.grad.dtype == f32
    assert {p.grad.dtype for p in layer.parameters()} == {f32}


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_round_trips(kind):
    a, b = _layer(kind, seed=1, num_layers=2), _layer(kind, seed=2, num_layers=2)
    b.load_state_dict(a.state_dict())
    x = _x((T, B, I))
    np.testing.assert_array_equal(a(x)[0].numpy(), b(x)[0].numpy())


# ---------------------------------------------------------------- dropout


def test_dropout_between_layers_acts_in_training_mode():
    layer = _layer("GRU", num_layers=2, dropout=0.5)
    x = _x((T, B, I))
    tg.manual_seed(1)
    first = layer(x)[0].numpy()
    second = layer(x)[0].numpy()
    assert not np.allclose(first, second)


def test_dropout_is_off_in_eval_mode():
    with_dropout = _layer("GRU", num_layers=2, dropout=0.5).eval()
    without = _layer("GRU", num_layers=2)
    x = _x((T, B, I))
    np.testing.assert_array_equal(with_dropout(x)[0].numpy(), without(x)[0].numpy())


def test_dropout_does_not_touch_a_single_layer():
    x = _x((T, B, I))
    np.testing.assert_array_equal(_layer("LSTM", dropout=0.9)(x)[0].numpy(), _layer("LSTM")(x)[0].numpy())


# ----------------------------------------------------------------- errors


def test_input_of_wrong_ndim_is_rejected():
    with pytest.raises(ValueError, match=r"GRU: input must have 2 or 3 dimensions, got shape \(3,\)"):
        rnn.GRU(I, H)(tg.randn(3))


def test_input_feature_size_mismatch_is_rejected():
    with pytest.raises(ValueError, match=r"LSTM: input has 5 features .* input_size=3"):
        rnn.LSTM(I, H)(tg.randn(T, B, 5))


def test_input_dtype_mismatch_is_rejected():
    with pytest.raises(TypeError, match="RNN: input is float64 but the weights are float32"):
        rnn.RNN(I, H)(tg.randn(T, B, I, dtype=np.float64))


def test_h0_of_wrong_shape_is_rejected():
    with pytest.raises(ValueError, match=r"GRU: h0 must have shape \(2, 2, 2\) for this input, got \(1, 2"):
        rnn.GRU(I, H, num_layers=2)(tg.randn(T, B, I), tg.zeros(1, B, H))


def test_lstm_hx_must_be_a_tuple():
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h0, c0\)"):
        rnn.LSTM(I, H)(tg.randn(T, B, I), tg.zeros(1, B, H))


def test_lengths_longer_than_the_input_are_rejected():
    with pytest.raises(ValueError, match="length 4 of batch element 1 is longer than the input's 3 time"):
        rnn.GRU(I, H)(tg.randn(T, B, I), lengths=[3, 4])


def test_zero_length_is_rejected():
    with pytest.raises(ValueError, match="lengths must be at least 1, got 0 for batch element 0"):
        rnn.GRU(I, H)(tg.randn(T, B, I), lengths=[0, 2])


def test_negative_length_is_rejected():
    with pytest.raises(ValueError, match="lengths must be at least 1, got -1 for batch element 1"):
        rnn.GRU(I, H)(tg.randn(T, B, I), lengths=[2, -1])


def test_wrong_number_of_lengths_is_rejected():
    with pytest.raises(ValueError, match="got 3 lengths for a batch of 2 sequences"):
        rnn.LSTM(I, H)(tg.randn(T, B, I), lengths=[1, 2, 3])


def test_non_integer_lengths_are_rejected():
    with pytest.raises(TypeError, match="lengths must be integers .* got dtype float64"):
        rnn.RNN(I, H)(tg.randn(T, B, I), lengths=[2.5, 3.0])


def test_lengths_of_wrong_ndim_are_rejected():
    with pytest.raises(ValueError, match=r"lengths must be a list or 1-D array .* got shape \(2, 1\)"):
        rnn.RNN(I, H)(tg.randn(T, B, I), lengths=[[2], [3]])


def test_lengths_with_unbatched_input_are_rejected():
    with pytest.raises(ValueError, match="lengths= needs a batched input"):
        rnn.RNN(I, H)(tg.randn(T, I), lengths=[2])


def test_nonlinearity_other_than_tanh_or_relu_is_rejected():
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        rnn.RNN(I, H, nonlinearity="gelu")


@pytest.mark.parametrize("dropout", [-0.1, 1.5, "0.5"])
def test_dropout_outside_zero_one_is_rejected(dropout):
    with pytest.raises(ValueError, match="LSTM: dropout must be a probability in"):
        rnn.LSTM(I, H, dropout=dropout)


@pytest.mark.parametrize("arg, value", [("input_size", 0), ("hidden_size", -2), ("num_layers", 1.5),
                                        ("hidden_size", True)])
def test_sizes_must_be_positive_ints(arg, value):
    sizes = {"input_size": I, "hidden_size": H, "num_layers": 1, arg: value}
    with pytest.raises(ValueError, match=f"GRU: {arg} must be a positive int, got {value!r}"):
        rnn.GRU(**sizes)


# ----------------------------------------------------------------- devices


@pytest.mark.parametrize("kind", KINDS)
def test_layer_gives_the_same_numbers_on_every_device(kind, device):
    cpu = _layer(kind, num_layers=2, bidirectional=True)
    other = _layer(kind, num_layers=2, bidirectional=True).to(device)
    x = np.random.default_rng(3).standard_normal((T, B, I))
    x_cpu, x_dev = tg.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True, device=device)
    results = []
    for layer, xi in [(cpu, x_cpu), (other, x_dev)]:
        out, finals = layer(xi, lengths=[2, 3])
        (out.sum() + _h(finals).sum()).backward()
        results.append([out.numpy(), _h(finals).numpy(), tg.tensor(xi.grad).numpy()]
                       + [tg.tensor(p.grad).numpy() for p in layer.parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("make", [lambda: rnn.GRU(2, 3), lambda: rnn.LSTM(2, 3, num_layers=2),
                                  lambda: rnn.LSTMCell(2, 3), lambda: rnn.RNNCell(2, 3)])
def test_double_makes_the_module_take_float64_input(make):
    module = make().double()  # torch habit: .double() casts the weights, and the module follows them
    shape = (1, 2) if isinstance(module, rnn.cells._Cell) else (4, 1, 2)
    x = tg.randn(*shape, dtype=np.float64)
    out = module(x)
    out = out[0] if isinstance(out, tuple) else out
    assert module.dtype == np.float64 and out.dtype == np.float64
    with pytest.raises(TypeError, match=r"module.to\(float32\)|x.to\(float64\)"):
        module(x.float())
