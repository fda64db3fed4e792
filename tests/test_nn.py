"""Modules: registration, state dicts with strict checks, train/eval, the built-in layers."""

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn


class TwoLayer(nn.Module):
    def __init__(self):
        self.embed = nn.Embedding(10, 4)
        self.hidden = nn.Linear(4, 8)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(8, 3, bias=False)
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))

    def forward(self, idx):
        return self.out(self.drop(self.hidden(self.embed(idx)).tanh())) * self.scale


def test_parameters_are_named_with_dots_own_first_then_submodules_in_assignment_order():
    names = [n for n, _ in TwoLayer().named_parameters()]  # PyTorch's names and order
    assert names == ["scale", "embed.weight", "hidden.weight", "hidden.bias", "out.weight"]


def test_shared_parameter_is_listed_once():
    m = TwoLayer()
    m.tied = m.hidden
    assert len(list(m.parameters())) == 5


def test_state_dict_holds_numpy_copies_and_round_trips():
    tg.manual_seed(0)
    a = TwoLayer()
    state = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["scale"][0] = 99.0
    assert a.scale.array[0] == 1.0  # a copy, not the parameter itself
    tg.manual_seed(1)
    b = TwoLayer()
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.array, q.array)


def test_load_state_dict_names_missing_and_unexpected_entries():
    m = TwoLayer()
    state = m.state_dict()
    del state["hidden.bias"]
    state["hiddden.bias"] = np.zeros(8)
    with pytest.raises(KeyError, match="missing: hidden.bias; unexpected: hiddden.bias"):
        m.load_state_dict(state)
    missing, unexpected = m.load_state_dict(state, strict=False)
    assert missing == ["hidden.bias"] and unexpected == ["hiddden.bias"]


def test_load_state_dict_with_wrong_shape_changes_nothing():
    m = TwoLayer()
    before = m.state_dict()
    state = {k: v + 1 for k, v in before.items()}
    state["out.weight"] = np.zeros((8, 3))
    with pytest.raises(ValueError, match=r"out.weight has shape \(8, 3\).*\(3, 8\)"):
        m.load_state_dict(state)
    np.testing.assert_array_equal(m.embed.weight.array, before["embed.weight"])


def test_load_state_dict_casts_to_the_parameter_dtype():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    assert m.weight.dtype == np.float32


def test_train_and_eval_reach_every_submodule():
    m = TwoLayer().eval()
    assert not m.training and not m.drop.training
    assert m.train() is m and m.drop.training


def test_dropout_is_identity_in_eval_mode():
    m = TwoLayer().eval()
    idx = np.array([1, 2, 3])
    np.testing.assert_array_equal(m(idx).numpy(), m(idx).numpy())


def test_manual_seed_makes_init_and_dropout_reproducible():
    outs = []
    for _ in range(2):
        tg.manual_seed(42)
        m = TwoLayer()
        outs.append(m(np.array([1, 2])).numpy())
    np.testing.assert_array_equal(*outs)


def test_linear_matches_pytorch_layout_and_init_bounds():
    tg.manual_seed(0)
    layer = nn.Linear(16, 4, dtype=np.float64)
    assert layer.weight.shape == (4, 16) and layer.bias.shape == (4,)
    assert np.abs(layer.weight.numpy()).max() <= 0.25 and layer.weight.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((3, 16))
    np.testing.assert_allclose(layer(tg.tensor(x)).numpy(), x @ layer.weight.numpy().T + layer.bias.numpy())


def test_linear_rejects_wrong_input_size():
    with pytest.raises(ValueError, match=r"Linear\(4, 2\) got input of shape \(3, 5\)"):
        nn.Linear(4, 2)(tg.zeros(3, 5))


def test_embedding_rejects_out_of_range_index():
    with pytest.raises(IndexError, match="index 10 is out of range for 10 embeddings"):
        nn.Embedding(10, 2)(np.array([3, 10]))


def test_zero_grad_clears_gradients():
    m = nn.Linear(2, 1)
    m(tg.ones(1, 2)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_module_to_moves_parameters(device):
    m = nn.Linear(2, 1).to(device)
    assert m.weight.device == device
    assert m(tg.ones(1, 2, device=device)).device == device


def test_repr_lists_submodules():
    text = repr(TwoLayer())
    assert "(hidden): Linear(in_features=4, out_features=8, bias=True)" in text and "Dropout(p=0.5)" in text
