"""Sequential, ModuleList, ModuleDict, ParameterList, the Module API PyTorch users expect,
and the error for modules hidden in plain Python lists."""

from collections import OrderedDict

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn, optim


class Stack(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(n)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).tanh()
        return x


def _names(module):
    return [n for n, _ in module.named_parameters()]


# ------------------------------------------------------------------ ModuleList
def test_modulelist_registers_its_items_with_numbered_names():
    assert _names(Stack(2)) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]


def test_optimizer_sees_the_parameters_of_a_modulelist():
    model = Stack(2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    assert len(opt.params) == 4
    before = model.layers[1].weight.numpy().copy()
    model(tg.ones(1, 2)).sum().backward()
    opt.step()
    assert not np.array_equal(model.layers[1].weight.numpy(), before)


def test_modulelist_supports_len_iteration_and_negative_indices():
    layers = Stack(3).layers
    assert len(layers) == 3
    assert list(layers) == [layers[0], layers[1], layers[2]]
    assert layers[-1] is layers[2]


def test_modulelist_slice_is_a_renumbered_modulelist():
    layers = Stack(3).layers
    tail = layers[1:]
    assert isinstance(tail, nn.ModuleList) and list(tail) == [layers[1], layers[2]]
    assert _names(tail)[0] == "0.weight"


def test_modulelist_append_extend_insert():
    a, b, c, d = (nn.Linear(1, 1) for _ in range(4))
    layers = nn.ModuleList([a])
    assert layers.append(b) is layers
    layers.extend([d])
    layers.insert(2, c)
    assert list(layers) == [a, b, c, d]
    assert _names(layers) == [f"{i}.{w}" for i in range(4) for w in ("weight", "bias")]


def test_modulelist_delete_renumbers_and_setitem_replaces():
    a, b, c = (nn.Linear(1, 1) for _ in range(3))
    layers = nn.ModuleList([a, b, c])
    del layers[0]
    assert list(layers) == [b, c] and _names(layers)[0] == "0.weight"
    layers[1] = a
    assert list(layers) == [b, a]


def test_modulelist_rejects_non_modules_and_bad_indices():
    layers = nn.ModuleList([nn.Linear(1, 1)])
    with pytest.raises(TypeError, match="ModuleList.append: int is not a Module"):
        layers.append(3)
    with pytest.raises(IndexError, match="index 5 is out of range for 1 items"):
        layers[5]


def test_modulelist_has_no_forward():
    with pytest.raises(NotImplementedError, match="iterate over it"):
        nn.ModuleList([nn.Linear(1, 1)])(tg.ones(1, 1))


# ------------------------------------------------------------------ Sequential
def test_sequential_applies_modules_in_order():
    tg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    expected = seq[2](seq[0](x).relu())
    np.testing.assert_array_equal(seq(x).numpy(), expected.numpy())


def test_sequential_names_parameters_by_position():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert _names(seq) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_from_ordereddict_keeps_the_names():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.Tanh())]))
    assert _names(seq) == ["fc.weight", "fc.bias"]
    assert seq[0] is seq.fc and len(seq) == 2


def test_sequential_slice_is_a_sequential_with_the_same_names():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]


def test_sequential_append_adds_the_next_number():
    seq = nn.Sequential(nn.Linear(2, 2))
    seq.append(nn.Linear(2, 1))
    assert _names(seq)[-2:] == ["1.weight", "1.bias"]


def test_sequential_inside_a_module_gets_dotted_names():
    class Net(nn.Module):
        def __init__(self):
            self.body = nn.Sequential(nn.Linear(2, 2), nn.GELU())
            self.head = nn.Linear(2, 1)

    assert _names(Net()) == ["body.0.weight", "body.0.bias", "head.weight", "head.bias"]


# ------------------------------------------------------------------ ModuleDict
def test_moduledict_registers_under_its_keys():
    d = nn.ModuleDict({"enc": nn.Linear(2, 2), "dec": nn.Linear(2, 1)})
    assert _names(d) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]


def test_moduledict_mapping_api():
    a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    d = nn.ModuleDict({"a": a})
    d["b"] = b
    assert "a" in d and "z" not in d and len(d) == 2
    assert list(d) == ["a", "b"] and d.keys() == ["a", "b"] and d.values() == [a, b]
    assert d.items() == [("a", a), ("b", b)]
    assert d.pop("a") is a and list(d) == ["b"]
    d.update([("c", a)])
    del d["b"]
    assert d.items() == [("c", a)]
    d.clear()
    assert len(d) == 0 and list(d.parameters()) == []


def test_moduledict_missing_key_is_a_keyerror():
    with pytest.raises(KeyError):
        nn.ModuleDict()["nope"]


def test_moduledict_refuses_keys_that_shadow_methods():
    with pytest.raises(KeyError, match="'train' already exists"):
        nn.ModuleDict({"train": nn.Linear(1, 1)})


def test_moduledict_refuses_dotted_keys():
    with pytest.raises(KeyError, match="contain no '.'"):
        nn.ModuleDict({"a.b": nn.Linear(1, 1)})


# --------------------------------------------------------------- ParameterList
def test_parameterlist_registers_parameters_by_position():
    class Net(nn.Module):
        def __init__(self):
            self.scales = nn.ParameterList([nn.Parameter(np.ones(2)), nn.Parameter(np.zeros(3))])

    assert _names(Net()) == ["scales.0", "scales.1"]


# ------------------------------------------------ containers and the Module API
def test_state_dict_round_trips_through_containers():
    tg.manual_seed(0)
    a = Stack(2)
    tg.manual_seed(1)
    b = Stack(2)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.layers[1].bias.numpy(), a.layers[1].bias.numpy())
    assert list(a.state_dict()) == _names(a)


def test_train_and_eval_reach_modules_inside_containers():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ModuleList([nn.Dropout(0.5)]))
    seq.eval()
    assert not seq[1][0].training
    seq.train()
    assert seq[1][0].training


def test_to_moves_parameters_inside_containers(device):
    model = Stack(2).to(device)
    assert all(p.device == device for p in model.parameters())


def test_repr_shows_containers_and_their_items():
    text = repr(Stack(2))
    assert "(layers): ModuleList(" in text and "(1): Linear(in_features=2, out_features=2, bias=True)" in text


def test_children_and_named_children_list_direct_submodules_once():
    class Net(nn.Module):
        def __init__(self):
            self.a = nn.Linear(1, 1)
            self.b = nn.Tanh()
            self.again = self.a

    net = Net()
    assert [n for n, _ in net.named_children()] == ["a", "b"]
    assert list(net.children()) == [net.a, net.b]


def test_named_modules_walks_the_tree_depth_first():
    model = Stack(2)
    assert [n for n, _ in model.named_modules()] == ["", "layers", "layers.0", "layers.1"]
    assert list(model.modules())[0] is model


def test_named_parameters_prefix_and_recurse():
    class Net(nn.Module):
        def __init__(self):
            self.scale = nn.Parameter(np.ones(1))
            self.fc = nn.Linear(1, 1)

    assert _names(Net()) == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in Net().named_parameters(prefix="net")][0] == "net.scale"
    assert [n for n, _ in Net().named_parameters(recurse=False)] == ["scale"]


def test_parameters_is_a_generator_as_in_pytorch():
    model = Stack(1)
    first = next(model.parameters())
    assert first is model.layers[0].weight


def test_shared_parameter_appears_once_in_parameters_but_under_each_name_in_state_dict():
    class Tied(nn.Module):
        def __init__(self):
            self.a = nn.Linear(2, 2)
            self.b = self.a

    m = Tied()
    assert _names(m) == ["a.weight", "a.bias"]
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]  # as torch
    m.load_state_dict(m.state_dict())


def test_apply_visits_every_module_children_first():
    seen = []
    model = Stack(2)
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "Linear", "ModuleList", "Stack"]


def test_apply_can_initialise_weights():
    def init(m):
        if isinstance(m, nn.Linear):
            m.weight.array[...] = 0.5

    model = Stack(2).apply(init)
    assert all((layer.weight.numpy() == 0.5).all() for layer in model.layers)


def test_add_module_and_register_module_register_under_the_name():
    m = nn.Module()
    m.add_module("fc", nn.Linear(1, 1))
    m.register_module("out", nn.Linear(1, 1))
    assert _names(m) == ["fc.weight", "fc.bias", "out.weight", "out.bias"]


def test_add_module_refuses_non_modules():
    with pytest.raises(TypeError, match="int is not a Module"):
        nn.Module().add_module("x", 3)


def test_register_parameter_registers_under_the_name():
    m = nn.Module()
    m.register_parameter("w", nn.Parameter(np.ones(2)))
    assert _names(m) == ["w"]


def test_requires_grad_false_freezes_every_parameter():
    model = Stack(1).requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_zero_grad_sets_zeros_when_asked_not_to_set_none():
    m = nn.Linear(2, 1)
    m(tg.ones(1, 2)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_module_with_super_init_works_like_without():
    assert _names(Stack(1)) == ["layers.0.weight", "layers.0.bias"]


def test_activation_modules_match_functional():
    x = tg.tensor(np.linspace(-3, 3, 7))
    pairs = [(nn.ReLU(), F.relu), (nn.Tanh(), F.tanh), (nn.Sigmoid(), F.sigmoid),
             (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)), (nn.GELU(), F.gelu),
             (nn.Softplus(2.0), lambda x: F.softplus(x, 2.0)), (nn.Identity(), lambda x: x)]
    for module, fn in pairs:
        np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy())


# ------------------------------------------------- modules in plain containers
def test_assigning_a_list_of_modules_raises_naming_modulelist():
    class Bad(nn.Module):
        def __init__(self):
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

    with pytest.raises(TypeError, match=r"Bad.layers is a plain Python list holding a Linear.*ModuleList"):
        Bad()


def test_assigning_a_dict_of_modules_raises_naming_moduledict():
    class Bad(nn.Module):
        def __init__(self):
            self.heads = {"a": nn.Linear(2, 2)}

    with pytest.raises(TypeError, match=r"Bad.heads is a plain Python dict .*nn.ModuleDict"):
        Bad()


def test_assigning_a_list_of_parameters_raises_naming_parameterlist():
    class Bad(nn.Module):
        def __init__(self):
            self.ws = (nn.Parameter(np.ones(1)),)

    with pytest.raises(TypeError, match=r"plain Python tuple holding a Parameter.*nn.ParameterList"):
        Bad()


def test_a_list_filled_after_assignment_raises_when_parameters_are_collected():
    class Bad(nn.Module):
        def __init__(self):
            self.layers = []
            for _ in range(2):
                self.layers.append(nn.Linear(2, 2))

    model = Bad()
    with pytest.raises(TypeError, match="Bad.layers is a plain Python list.*nn.ModuleList"):
        optim.Adam(model.parameters())


def test_lists_of_plain_values_are_fine():
    class Fine(nn.Module):
        def __init__(self):
            self.sizes = [2, 3]
            self.fc = nn.Linear(2, 3)

    assert _names(Fine()) == ["fc.weight", "fc.bias"]


def test_optimizer_with_no_parameters_names_modulelist():
    with pytest.raises(ValueError, match="got no parameters.*nn.ModuleList"):
        optim.SGD(nn.Module().parameters(), lr=0.1)


def test_loss_modules_match_functional():
    rng = np.random.default_rng(0)
    x, t = tg.tensor(rng.standard_normal((4, 3))), np.array([0, 2, -100, 1])
    w = np.array([1.0, 2.0, 0.5])
    assert nn.CrossEntropyLoss(w, label_smoothing=0.1)(x, t).item() == \
        F.cross_entropy(x, t, w, label_smoothing=0.1).item()
    assert nn.NLLLoss(reduction="sum")(x, t).item() == F.nll_loss(x, t, reduction="sum").item()
    y = tg.tensor(rng.uniform(0, 1, (4, 3)))
    assert nn.MSELoss()(x, y).item() == F.mse_loss(x, y).item()
    assert nn.BCEWithLogitsLoss(pos_weight=w)(x, y).item() == \
        F.binary_cross_entropy_with_logits(x, y, pos_weight=w).item()


def test_double_and_to_dtype_cast_every_parameter():
    model = Stack(2).double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    model.to(np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    with pytest.raises(TypeError, match="must stay floating point"):
        model.to(dtype=np.int64)


def test_clip_grad_norm_is_reachable_as_nn_utils():
    assert nn.utils.clip_grad_norm_ is optim.clip_grad_norm_
