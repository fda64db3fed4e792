"""rnn.regularize and CharLM's regularisers: locked dropout, embedding dropout, weight drop, AR/TAR, tying."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from rnn.lm import CharLM
from rnn.regularize import (
    LockedDropout,
    ar_penalty,
    embedding_dropout,
    locked_dropout,
    tar_penalty,
    weight_drop,
)

LAYERS = [rnn.RNN, rnn.LSTM, rnn.GRU]
BAD_P = [-0.1, 1, 1.5, "0.5", True, float("nan")]


def ones(*shape):
    return tg.tensor(np.ones(shape, dtype=np.float64), requires_grad=True)


# ------------------------------------------------------------ locked dropout
def test_locked_dropout_zeroes_the_same_units_at_every_time_step():
    tg.manual_seed(0)
    y = locked_dropout(ones(7, 16, 32), p=0.5).numpy()
    assert (y == y[0]).all()  # every step is a copy of the first: one mask per sequence


def test_locked_dropout_draws_a_different_mask_for_each_sequence():
    tg.manual_seed(0)
    y = locked_dropout(ones(5, 16, 32), p=0.5).numpy()
    masks = {tuple(y[0, b] != 0) for b in range(16)}
    assert len(masks) == 16


def test_locked_dropout_scales_kept_units_by_one_over_keep_probability():
    tg.manual_seed(1)
    p = 0.3
    y = locked_dropout(ones(3, 64, 64), p=p).numpy()
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / (1 - p)])
    assert abs((y[0] == 0).mean() - p) < 0.03  # about a fraction p dropped (4096 draws)


def test_locked_dropout_batch_first_shares_the_mask_along_axis_1():
    tg.manual_seed(2)
    y = locked_dropout(ones(4, 6, 8), p=0.5, batch_first=True).numpy()  # (B, T, F)
    assert (y == y[:, :1]).all()
    assert len({tuple(y[b, 0] != 0) for b in range(4)}) > 1


def test_locked_dropout_gradient_is_the_mask():
    tg.manual_seed(3)
    x = ones(5, 4, 6)
    y = locked_dropout(x, p=0.5)
    y.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), y.numpy())  # d(sum x*m)/dx = m, and y = m when x = 1


def test_locked_dropout_is_the_identity_in_eval_mode_and_at_p_zero():
    x = tg.randn(5, 3, 4)
    layer = LockedDropout(0.5).eval()
    assert layer(x) is x
    assert locked_dropout(x, 0.0) is x
    assert locked_dropout(x, 0.5, training=False) is x


def test_locked_dropout_module_is_active_in_train_mode():
    tg.manual_seed(4)
    y = LockedDropout(0.5)(ones(3, 8, 8)).numpy()
    assert (y == 0).any() and (y == y[0]).all()


@pytest.mark.parametrize("p", BAD_P)
def test_locked_dropout_refuses_a_bad_p(p):
    with pytest.raises(ValueError, match=r"p must be a dropout probability in \[0, 1\)"):
        locked_dropout(ones(2, 2, 2), p)
    with pytest.raises(ValueError, match="LockedDropout: p must be"):
        LockedDropout(p)


def test_locked_dropout_needs_time_batch_and_features():
    with pytest.raises(ValueError, match=r"must be \(T, B, F\).*got shape \(4, 5\)"):
        locked_dropout(ones(4, 5), 0.5)


# -------------------------------------------------------- embedding dropout
def test_embedding_dropout_drops_whole_rows_everywhere_they_occur():
    tg.manual_seed(0)
    V, E = 20, 6
    weight = tg.tensor(np.arange(1, V * E + 1, dtype=np.float64).reshape(V, E), requires_grad=True)
    ids = np.tile(np.arange(V), (5, 3))  # every id at many positions
    y = embedding_dropout(weight, ids, p=0.4).numpy()  # (5, 3V, E)
    w = weight.numpy()
    for v in range(V):
        rows = y[ids == v]
        dropped = (rows == 0).all()
        assert dropped or np.allclose(rows, w[v] / 0.6), f"row {v} is neither dropped nor kept whole"
        assert (rows == rows[0]).all()  # the same fate at every occurrence
    kept = [v for v in range(V) if y[ids == v].any()]
    assert 0 < len(kept) < V


def test_embedding_dropout_sends_gradient_only_to_kept_rows():
    tg.manual_seed(5)
    weight = tg.tensor(np.ones((10, 3)), requires_grad=True)
    ids = np.arange(10)[:, None]
    y = embedding_dropout(weight, ids, p=0.5)
    y.sum().backward()
    kept = y.numpy()[:, 0, 0] != 0
    np.testing.assert_allclose(np.asarray(weight.grad)[kept], 2.0)
    np.testing.assert_array_equal(np.asarray(weight.grad)[~kept], 0.0)


def test_embedding_dropout_is_a_plain_lookup_when_not_training():
    weight = tg.randn(7, 3)
    ids = np.array([[1, 2], [6, 1]])
    np.testing.assert_array_equal(embedding_dropout(weight, ids, 0.5, training=False).numpy(),
                                  weight.numpy()[ids])


@pytest.mark.parametrize("p", BAD_P)
def test_embedding_dropout_refuses_a_bad_p(p):
    with pytest.raises(ValueError, match="embedding_dropout: p must be"):
        embedding_dropout(tg.randn(4, 2), np.array([0]), p)


# -------------------------------------------------------------- weight drop
@pytest.mark.parametrize("layer_cls", LAYERS)
def test_weight_drop_runs_the_fused_layer_with_one_masked_w_hh_for_all_steps(layer_cls):
    tg.manual_seed(0)
    layer = weight_drop(layer_cls(3, 5, dtype=np.float64), p=0.5)
    plain = layer_cls(3, 5, dtype=np.float64)
    plain.load_state_dict(layer.state_dict())
    x = tg.randn(6, 2, 3, dtype=np.float64)
    tg.manual_seed(9)
    out, _ = layer(x)
    tg.manual_seed(9)  # the same first draw: the mask weight_drop used
    dropped = tg.functional.dropout(layer.weight_hh_l0, 0.5, True)
    plain.weight_hh_l0.array = dropped.numpy().copy()
    expected, _ = plain(x)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-12)
    values = np.unique(dropped.numpy() / layer.weight_hh_l0.numpy())
    np.testing.assert_allclose(values, [0.0, 2.0])  # entries dropped or scaled by 1/(1-p)


def test_weight_drop_draws_a_new_mask_each_call():
    tg.manual_seed(0)
    layer = weight_drop(rnn.LSTM(3, 8, dtype=np.float64), p=0.5)
    x = tg.randn(4, 2, 3, dtype=np.float64)
    a, _ = layer(x)
    b, _ = layer(x)
    assert not np.allclose(a.numpy(), b.numpy())


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_weight_drop_uses_the_full_weights_in_eval_mode(layer_cls):
    tg.manual_seed(0)
    layer = weight_drop(layer_cls(3, 4, num_layers=2, bidirectional=True), p=0.6)
    plain = layer_cls(3, 4, num_layers=2, bidirectional=True)
    plain.load_state_dict(layer.state_dict())
    x = tg.randn(5, 2, 3)
    np.testing.assert_array_equal(layer.eval()(x)[0].numpy(), plain(x)[0].numpy())


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_weight_drop_gradient_matches_finite_differences(layer_cls):
    tg.manual_seed(0)
    layer = weight_drop(layer_cls(2, 3, num_layers=2, dtype=np.float64), p=0.4)
    x = tg.randn(4, 2, 2, dtype=np.float64)

    def fn(*weights):
        tg.manual_seed(7)  # the same masks on every call, so the function is deterministic
        return layer(x)[0]

    assert tg.gradcheck(fn, list(layer.parameters()))
    tg.manual_seed(7)
    layer(x)[0].sum().backward()
    assert (np.asarray(layer.weight_hh_l0.grad) == 0).any()  # dropped connections get no gradient


def test_weight_drop_keeps_torch_state_dict_names():
    tg.manual_seed(0)
    names = list(rnn.LSTM(3, 4, num_layers=2, bidirectional=True).state_dict())
    dropped = weight_drop(rnn.LSTM(3, 4, num_layers=2, bidirectional=True), 0.5)
    assert list(dropped.state_dict()) == names
    torch = pytest.importorskip("torch")
    assert list(torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).state_dict()) == names


def test_weight_drop_shows_in_the_repr():
    assert "weight_dropout=0.25" in repr(weight_drop(rnn.GRU(2, 3), 0.25))


@pytest.mark.parametrize("p", BAD_P)
def test_weight_drop_refuses_a_bad_p(p):
    with pytest.raises(ValueError, match="weight_drop: p must be"):
        weight_drop(rnn.LSTM(2, 2), p)


def test_weight_drop_refuses_a_module_that_is_not_a_recurrent_layer():
    with pytest.raises(TypeError, match="expected an rnn.RNN, rnn.LSTM or rnn.GRU layer, got Linear"):
        weight_drop(tg.nn.Linear(2, 2), 0.5)


# ---------------------------------------------------------------- AR / TAR
def test_ar_penalty_is_alpha_times_the_mean_square():
    h = np.random.default_rng(0).standard_normal((5, 3, 4))
    assert float(ar_penalty(tg.tensor(h), alpha=2.0)) == pytest.approx(2.0 * (h ** 2).mean())


def test_tar_penalty_is_beta_times_the_mean_square_step_difference():
    h = np.random.default_rng(1).standard_normal((5, 3, 4))
    assert float(tar_penalty(tg.tensor(h), beta=0.5)) == pytest.approx(0.5 * ((h[1:] - h[:-1]) ** 2).mean())
    assert float(tar_penalty(tg.tensor(h[:1]))) == 0.0  # one step: nothing to compare


def test_ar_and_tar_penalties_have_the_right_gradients():
    h = tg.tensor(np.random.default_rng(2).standard_normal((4, 2, 3)), requires_grad=True)
    assert tg.gradcheck(lambda h: ar_penalty(h, 2.0), [h])
    assert tg.gradcheck(lambda h: tar_penalty(h, 1.0), [h])


def test_ar_and_tar_penalties_need_a_tensor_with_time_first():
    with pytest.raises(TypeError, match="ar_penalty: h must be a Tensor"):
        ar_penalty(np.ones((3, 2)))
    with pytest.raises(ValueError, match="tar_penalty: h must have a time axis first"):
        tar_penalty(tg.ones(3))


# ----------------------------------------------------------- weight tying
def tied_model(seed=0):
    tg.manual_seed(seed)
    return CharLM(11, hidden_size=8, embedding_size=8, tie_weights=True, dtype=np.float64)


def test_tied_model_has_one_parameter_for_embedding_and_decoder():
    model = tied_model()
    assert model.head.weight is model.embed.weight
    names = [n for n, _ in model.named_parameters()]
    assert "embed.weight" in names and "head.weight" not in names  # listed once, as torch does
    untied = CharLM(11, hidden_size=8, embedding_size=8, dtype=np.float64)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in untied.parameters()) - 11 * 8


def test_tied_weight_gets_the_gradient_of_both_uses():
    model = tied_model()
    ids = np.array([[1, 2], [3, 4], [5, 1]])
    logits, _ = model(tg.tensor(ids))
    model.loss(logits[:-1], ids[1:]).backward()
    tied_grad = np.asarray(model.embed.weight.grad).copy()
    untied = CharLM(11, hidden_size=8, embedding_size=8, dtype=np.float64)
    untied.load_state_dict(model.state_dict())
    logits, _ = untied(tg.tensor(ids))
    untied.loss(logits[:-1], ids[1:]).backward()
    both = np.asarray(untied.embed.weight.grad) + np.asarray(untied.head.weight.grad)
    np.testing.assert_allclose(tied_grad, both)


def test_tied_state_dict_names_both_uses_and_round_trips_through_save_and_load(tmp_path):
    model = tied_model(seed=0)
    state = model.state_dict()
    assert "embed.weight" in state and "head.weight" in state
    np.testing.assert_array_equal(state["embed.weight"], state["head.weight"])
    tg.save({"model": state}, tmp_path / "tied.npz")
    fresh = tied_model(seed=1)
    fresh.load_state_dict(tg.load(tmp_path / "tied.npz")["model"])
    assert fresh.head.weight is fresh.embed.weight  # still one parameter after loading
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    fresh.embed.weight.array[0, 0] = 42.0  # a change through one name shows through the other
    assert fresh.state_dict()["head.weight"][0, 0] == 42.0


def test_tied_state_dict_has_the_keys_of_the_same_model_in_torch():
    torch = pytest.importorskip("torch")

    class TorchCharLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(11, 8)
            self.rnn = torch.nn.LSTM(8, 8)
            self.head = torch.nn.Linear(8, 11)
            self.head.weight = self.embed.weight

    reference = TorchCharLM()
    model = tied_model()
    assert list(model.state_dict()) == list(reference.state_dict())
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    assert model.head.weight is model.embed.weight
    np.testing.assert_allclose(model.head.weight.numpy(), reference.head.weight.detach().numpy())


def test_tie_weights_needs_embedding_size_equal_to_hidden_size():
    with pytest.raises(ValueError, match="needs embedding_size == hidden_size, got 4 and 8"):
        CharLM(11, hidden_size=8, embedding_size=4, tie_weights=True)


# --------------------------------------------------------- CharLM options
def test_regularised_char_lm_equals_the_plain_one_in_eval_mode():
    tg.manual_seed(0)
    model = CharLM(9, 6, embedding_size=6, dtype=np.float64, embedding_dropout=0.2, input_dropout=0.3,
                   output_dropout=0.4, weight_dropout=0.5)
    plain = CharLM(9, 6, embedding_size=6, dtype=np.float64)
    plain.load_state_dict(model.state_dict())
    ids = tg.tensor(np.array([[1, 2, 3], [4, 5, 6]]))
    np.testing.assert_array_equal(model.eval()(ids)[0].numpy(), plain(ids)[0].numpy())
    assert not np.allclose(model.train()(ids)[0].numpy(), plain(ids)[0].numpy())


def test_char_lm_features_give_the_output_before_and_after_locked_dropout():
    tg.manual_seed(0)
    model = CharLM(9, 6, embedding_size=6, output_dropout=0.5)
    raw, dropped, _ = model.features(tg.tensor(np.array([[1, 2], [3, 4], [5, 6]])))
    kept = dropped.numpy() != 0
    np.testing.assert_allclose(dropped.numpy()[kept], 2 * raw.numpy()[kept], rtol=1e-6)
    assert (kept == kept[0]).all()  # one mask per sequence


@pytest.mark.parametrize("option", ["embedding_dropout", "input_dropout", "output_dropout", "weight_dropout"])
def test_char_lm_refuses_a_bad_dropout_probability(option):
    with pytest.raises(ValueError, match="p must be a dropout probability"):
        CharLM(9, 6, **{option: 1.0})


# ------------------------------------------------------------------- devices
def test_regularised_char_lm_trains_on_every_device(device):
    tg.manual_seed(0)
    model = CharLM(9, 6, embedding_size=6, tie_weights=True, embedding_dropout=0.2, input_dropout=0.3,
                   output_dropout=0.3, weight_dropout=0.4, device=device)
    ids = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 0]])
    raw, dropped, _ = model.features(tg.tensor(ids, device=device))
    assert raw.device == dropped.device == device
    loss = model.loss(model.head(dropped)[:-1], ids[1:]) + ar_penalty(dropped) + tar_penalty(raw)
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    y = locked_dropout(tg.ones(4, 3, 5, device=device), 0.5).numpy()
    assert (y == y[0]).all() and (y == 0).any()  # one mask per sequence on this device too
