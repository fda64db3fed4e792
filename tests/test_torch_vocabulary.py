"""The torch names issue 18 found missing, each with torch's meaning: tg.device, new_zeros & co.,
narrow, .type(), empty, einsum, diag, equal, pow, LongTensor, set/get_default_device,
nn.LogSoftmax/Softmax/LayerNorm/BCELoss, register_buffer, Embedding(padding_idx=),
F.binary_cross_entropy, F.layer_norm, nn.utils.rnn, Linear on N-D input. Each has a test of its
own values and, where torch is installed, one that runs the same lines in torch."""

import io
import pickle

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn

F = tg.nn.functional  # as `import tensorgrad.nn.functional as F`

try:
    import torch
except ImportError:
    torch = None

with_torch = pytest.mark.skipif(torch is None, reason="the torch side needs torch")
RNG = np.random.default_rng(0)


def same(ours, theirs, **tol):
    """Equal values and dtypes in tensorgrad and torch."""
    theirs = theirs.detach().numpy()
    assert np.dtype(ours.dtype) == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs, **tol)


def grads_match(fn_tg, fn_torch, *arrays, **tol):
    """fn(*inputs) and the gradients of sum(fn * w) with respect to every input, in both libraries."""
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = fn_tg(*ours), fn_torch(*theirs)
    same(y, yt, **tol)
    w = RNG.standard_normal(tuple(yt.shape))
    (y * tg.tensor(w, dtype=y.dtype)).sum().backward()
    (yt * torch.tensor(w, dtype=yt.dtype)).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), **tol)


# ------------------------------------------------------------------ devices
def test_device_is_the_device_name_with_torchs_type_attribute():
    d = tg.device("cpu")
    assert d == "cpu" and d.type == "cpu" and d.index is None
    assert tg.zeros(2).device.type == "cpu"
    assert tg.device(d) is d and pickle.loads(pickle.dumps(d)) == "cpu"


def test_to_and_device_arguments_accept_a_device_object():
    x = tg.ones(2)
    assert x.to(tg.device("cpu")).device == "cpu"
    assert tg.zeros(2, device=tg.device("cpu")).device == "cpu"
    assert nn.Linear(2, 2).to(tg.device("cpu")).weight.device == "cpu"


def test_unknown_devices_are_refused_naming_the_two_that_exist():
    with pytest.raises(ValueError, match="unknown device 'mps'; use 'cpu' or 'cuda'"):
        tg.device("mps")
    with pytest.raises(ValueError, match="unknown device 'cuda:1'"):
        tg.ones(1).to("cuda:1")


def test_default_device_round_trips():
    assert tg.get_default_device() == "cpu"
    tg.set_default_device("cpu")
    assert tg.get_default_device().type == "cpu"


@with_torch
def test_to_a_torch_device_object_works():
    assert tg.ones(2).to(torch.device("cpu")).device == "cpu"
    assert tg.ones(2, device=torch.device("cpu")).device == "cpu"
    assert nn.Linear(2, 2).to(torch.device("cpu")).weight.device == "cpu"
    assert torch.get_default_device().type == tg.get_default_device().type


# ------------------------------------------------------------------ creation
def test_new_zeros_and_friends_take_dtype_and_device_from_the_tensor():
    x = tg.ones(2, dtype=np.float64)
    assert x.new_zeros(2, 3).dtype == np.float64 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(3).tolist() == [1.0, 1.0, 1.0]
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_full((2,), 7).dtype == np.float64
    assert x.new_tensor([1, 2]).dtype == np.float64
    assert x.new_empty(4).shape == (4,)
    assert x.new_zeros(2, dtype=np.int64).dtype == np.int64


def test_empty_has_the_shape_and_dtype_asked_for():
    assert tg.empty(2, 3).shape == (2, 3) and tg.empty(2, 3).dtype == np.float32
    assert tg.empty((4,), dtype=np.int64).dtype == np.int64
    assert tg.empty_like(tg.ones(2, dtype=np.float64)).dtype == np.float64


@with_torch
def test_creation_dtypes_match_torch():
    x, xt = tg.ones(2), torch.ones(2)
    for ours, theirs in [(x.new_zeros(2, 3), xt.new_zeros(2, 3)), (x.new_ones(3), xt.new_ones(3)),
                         (x.new_full((2,), 7), xt.new_full((2,), 7)),
                         (x.new_tensor([1, 2]), xt.new_tensor([1, 2])),
                         (tg.LongTensor([1, 2]), torch.LongTensor([1, 2])),
                         (tg.FloatTensor([1, 2]), torch.FloatTensor([1, 2])),
                         (tg.LongTensor(2, 3), torch.LongTensor(2, 3).zero_())]:
        same(ours, theirs)
    assert tg.empty(2, 3).shape == tuple(torch.empty(2, 3).shape)


def test_typed_constructors_make_their_dtype_and_check_it():
    assert tg.LongTensor([1, 2]).dtype == np.int64 and tg.LongTensor(2, 3).shape == (2, 3)
    assert isinstance(tg.tensor([1]), tg.LongTensor) and not isinstance(tg.tensor([1.0]), tg.LongTensor)
    assert tg.FloatTensor([1, 2]).dtype == np.float32 and tg.DoubleTensor([1]).dtype == np.float64


# ------------------------------------------------------------------ narrow, type, equal, pow
def test_narrow_is_a_slice_along_one_dim_that_backpropagates():
    x = tg.arange(12.0).reshape(3, 4).requires_grad_()
    y = x.narrow(1, 1, 2)
    assert y.tolist() == [[1, 2], [5, 6], [9, 10]]
    assert tg.narrow(x, 0, -1, 1).tolist() == [[8, 9, 10, 11]]
    y.sum().backward()
    assert np.asarray(x.grad)[0].tolist() == [0, 1, 1, 0]


def test_narrow_past_the_end_raises_with_the_sizes():
    with pytest.raises(RuntimeError, match=r"start \(3\) \+ length \(2\) exceeds dimension size \(4\)"):
        tg.ones(4).narrow(0, 3, 2)
    with pytest.raises(IndexError, match="start out of range"):
        tg.ones(4).narrow(0, -5, 1)


@with_torch
def test_narrow_and_its_errors_match_torch():
    a = np.arange(12.0).reshape(3, 4)
    for dim, start, length in [(0, 0, 2), (1, 1, 3), (1, -2, 2), (-1, 4, 0)]:
        same(tg.tensor(a).narrow(dim, start, length), torch.tensor(a).narrow(dim, start, length))
    with pytest.raises(RuntimeError):
        torch.ones(4).narrow(0, 3, 2)
    with pytest.raises(IndexError):
        torch.ones(4).narrow(0, -5, 1)


def test_type_names_or_casts():
    x = tg.ones(2)
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.type(np.float64).dtype == np.float64
    assert x.type(tg.LongTensor).dtype == np.int64 and x.type("torch.LongTensor").dtype == np.int64
    with pytest.raises(TypeError, match="is not a dtype"):
        x.type(object())


@with_torch
def test_type_matches_torch():
    x, xt = tg.ones(2), torch.ones(2)
    assert x.type() == xt.type() and x.int().type() == xt.int().type()
    same(x.type(tg.float64), xt.type(torch.float64))
    same(x.type("torch.LongTensor"), xt.type("torch.LongTensor"))


def test_equal_needs_the_same_shape_and_values():
    a = tg.tensor([1.0, 2.0])
    assert tg.equal(a, tg.tensor([1.0, 2.0])) and a.equal(tg.tensor([1, 2]))
    assert not tg.equal(a, tg.tensor([[1.0, 2.0]])) and not tg.equal(a, tg.tensor([1.0, 3.0]))
    assert not tg.equal(tg.tensor([float("nan")]), tg.tensor([float("nan")]))


@with_torch
def test_equal_matches_torch():
    pairs = [([1.0, 2.0], [1.0, 2.0]), ([1, 2], [1.0, 2.0]), ([1.0, 2.0], [[1.0, 2.0]]), ([1.0], [2.0]),
             ([float("nan")], [float("nan")])]
    for a, b in pairs:
        assert tg.equal(tg.tensor(a), tg.tensor(b)) == torch.equal(torch.tensor(a), torch.tensor(b))


def test_pow_takes_a_tensor_or_a_number_on_either_side():
    assert tg.pow(tg.tensor([1.0, 2.0]), 2).tolist() == [1.0, 4.0]
    assert tg.pow(2, tg.tensor([1.0, 3.0])).tolist() == [2.0, 8.0]
    with pytest.raises(TypeError, match="pow: input or exponent must be a Tensor"):
        tg.pow(2, 3)


@with_torch
def test_pow_matches_torch_in_values_dtypes_and_gradients():
    a = RNG.uniform(0.5, 2.0, 4)
    grads_match(lambda x: tg.pow(x, 3), lambda x: torch.pow(x, 3), a)
    grads_match(lambda x: tg.pow(2.0, x), lambda x: torch.pow(2.0, x), a)
    grads_match(lambda x, y: tg.pow(x, y), lambda x, y: torch.pow(x, y), a, a[::-1].copy())
    same(tg.pow(tg.tensor([1, 2]), 2), torch.pow(torch.tensor([1, 2]), 2))


# ------------------------------------------------------------------ einsum and diag
EINSUMS = [("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ii", [(4, 4)]),
           ("ii->i", [(4, 4)]), ("ij->", [(3, 4)]), ("ij->j", [(3, 4)]), ("i,j->ij", [(3,), (4,)]),
           ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]), ("ij,jk", [(3, 4), (4, 5)]),
           ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("iij->j", [(3, 3, 2)]),
           ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), ("i,i->", [(5,), (5,)])]


@pytest.mark.parametrize("equation, shapes", EINSUMS)
def test_einsum_gradients_pass_gradcheck(equation, shapes):
    inputs = [tg.tensor(RNG.standard_normal(s), requires_grad=True) for s in shapes]
    assert tg.gradcheck(lambda *xs: tg.einsum(equation, *xs), inputs)


def test_einsum_is_matmul_and_trace():
    a, b = tg.tensor(RNG.standard_normal((3, 4))), tg.tensor(RNG.standard_normal((4, 2)))
    np.testing.assert_allclose(tg.einsum("ij,jk->ik", a, b).numpy(), (a @ b).numpy(), rtol=1e-6)
    np.testing.assert_allclose(tg.einsum("ii", tg.eye(3) * 2).item(), 6.0)
    np.testing.assert_allclose(tg.einsum("ij,jk->ik", [a, b]).numpy(), (a @ b).numpy(), rtol=1e-6)


def test_einsum_errors_name_the_subscripts():
    with pytest.raises(ValueError, match="has 2 operand.*1 tensor"):
        tg.einsum("ij,jk->ik", tg.ones(2, 2))
    with pytest.raises(ValueError, match="subscript 'j' has size 3 in one operand and 4"):
        tg.einsum("ij,jk->ik", tg.ones(2, 3), tg.ones(4, 2))
    with pytest.raises(ValueError, match=r"operand 'ij' has 2 subscript\(s\) but the tensor has 3"):
        tg.einsum("ij->i", tg.ones(2, 3, 4))


@with_torch
@pytest.mark.parametrize("equation, shapes", EINSUMS)
def test_einsum_matches_torch(equation, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    grads_match(lambda *xs: tg.einsum(equation, *xs), lambda *xs: torch.einsum(equation, *xs), *arrays,
                rtol=1e-10, atol=1e-12)


DIAGS = [((4,), 0), ((4,), 1), ((4,), -2), ((3, 5), 0), ((3, 5), 2), ((5, 3), -1)]


@pytest.mark.parametrize("shape, k", DIAGS)
def test_diag_gradients_pass_gradcheck(shape, k):
    x = tg.tensor(RNG.standard_normal(shape), requires_grad=True)
    assert tg.gradcheck(lambda t: tg.diag(t, k), [x])


def test_diag_makes_a_matrix_from_a_vector_and_reads_a_matrix_diagonal():
    assert tg.diag(tg.tensor([1, 2])).tolist() == [[1, 0], [0, 2]]
    assert tg.tensor([[1, 2], [3, 4]]).diag().tolist() == [1, 4]
    with pytest.raises(ValueError, match="diag: input must be 1-D or 2-D"):
        tg.diag(tg.ones(2, 2, 2))


@with_torch
@pytest.mark.parametrize("shape, k", DIAGS)
def test_diag_matches_torch(shape, k):
    grads_match(lambda t: tg.diag(t, k), lambda t: torch.diag(t, k), RNG.standard_normal(shape))


# ------------------------------------------------------------------ nn
def test_log_softmax_and_softmax_modules_are_the_functions():
    x = tg.tensor(RNG.standard_normal((2, 3)))
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(x).numpy(), F.log_softmax(x, dim=1).numpy())
    np.testing.assert_allclose(nn.Softmax(dim=0)(x).numpy(), F.softmax(x, dim=0).numpy())


@with_torch
def test_log_softmax_nll_pipeline_matches_torch():
    x, y = RNG.standard_normal((4, 5)), np.array([0, 3, 1, 4])
    ours = nn.NLLLoss()(nn.LogSoftmax(dim=1)(tg.tensor(x)), tg.tensor(y))
    theirs = torch.nn.NLLLoss()(torch.nn.LogSoftmax(dim=1)(torch.tensor(x)), torch.tensor(y))
    same(ours, theirs)


def test_layer_norm_gives_zero_mean_unit_variance_per_row():
    y = nn.LayerNorm(6)(tg.tensor(RNG.standard_normal((3, 6)) * 5 + 2))
    np.testing.assert_allclose(y.numpy().mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y.numpy().var(axis=1), 1, atol=1e-3)
    assert [n for n, _ in nn.LayerNorm(6).named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match="normalized_shape .* must be the last dims"):
        nn.LayerNorm(5)(tg.ones(3, 6))


@with_torch
@pytest.mark.parametrize("shape, normalized", [((3, 6), (6,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_matches_torch_in_values_and_gradients(shape, normalized):
    x, w, b = RNG.standard_normal(shape), RNG.standard_normal(normalized), RNG.standard_normal(normalized)
    grads_match(lambda x, w, b: F.layer_norm(x, normalized, w, b),
                lambda x, w, b: torch.nn.functional.layer_norm(x, normalized, w, b),
                x, w, b, rtol=1e-9, atol=1e-12)
    ours, theirs = nn.LayerNorm(normalized), torch.nn.LayerNorm(normalized)
    for name, p in ours.named_parameters():
        np.testing.assert_array_equal(p.numpy(), getattr(theirs, name).detach().numpy())


def test_binary_cross_entropy_is_minus_the_log_likelihood():
    p, y = tg.tensor([0.9, 0.2]), tg.tensor([1.0, 0.0])
    total = -(np.log(0.9) + np.log(0.8))
    np.testing.assert_allclose(F.binary_cross_entropy(p, y).item(), total / 2, rtol=1e-6)
    np.testing.assert_allclose(nn.BCELoss(reduction="sum")(p, y).item(), total, rtol=1e-6)


def test_binary_cross_entropy_stays_finite_at_zero_and_one():
    p = tg.tensor([0.0, 1.0, 0.0], requires_grad=True)
    loss = F.binary_cross_entropy(p, tg.tensor([0.0, 1.0, 1.0]), reduction="sum")
    assert loss.item() == pytest.approx(100.0)
    loss.backward()
    assert np.isfinite(np.asarray(p.grad)).all()


def test_binary_cross_entropy_refuses_values_outside_0_1_and_other_shapes():
    with pytest.raises(RuntimeError, match="should be between 0 and 1.*with_logits"):
        F.binary_cross_entropy(tg.tensor([1.5]), tg.tensor([1.0]))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(tg.tensor([0.5, 0.5]), tg.tensor([1.0]))


@with_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_matches_torch(reduction):
    p, y, w = RNG.uniform(0.01, 0.99, (3, 4)), RNG.uniform(0, 1, (3, 4)), RNG.uniform(0.5, 2, (4,))
    bce = torch.nn.functional.binary_cross_entropy
    grads_match(lambda p, y: F.binary_cross_entropy(p, y, tg.tensor(w), reduction=reduction),
                lambda p, y: bce(p, y, torch.tensor(w), reduction=reduction), p, y, rtol=1e-9)
    edge = np.array([0.0, 1.0, 0.0, 1.0])
    grads_match(lambda p: F.binary_cross_entropy(p, tg.tensor([0.0, 1.0, 1.0, 0.0], dtype=np.float64),
                                                 reduction=reduction),
                lambda p: torch.nn.functional.binary_cross_entropy(
                    p, torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64), reduction=reduction), edge)


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=0)
    assert np.all(emb.weight.numpy()[0] == 0) and np.any(emb.weight.numpy()[1] != 0)
    emb(tg.tensor([[0, 2, 0], [2, 1, 0]])).sum().backward()
    grad = np.asarray(emb.weight.grad)
    assert grad[0].tolist() == [0, 0, 0] and grad[2].tolist() == [2, 2, 2]
    assert nn.Embedding(5, 3, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match="padding_idx must be an int within num_embeddings"):
        nn.Embedding(5, 3, padding_idx=5)


@with_torch
def test_embedding_padding_idx_matches_torch():
    tg.manual_seed(0)
    ours, theirs = nn.Embedding(6, 4, padding_idx=2), torch.nn.Embedding(6, 4, padding_idx=2)
    theirs.load_state_dict({"weight": torch.tensor(ours.weight.numpy())})
    ids = [[2, 1, 2], [0, 2, 5]]
    out, out_t = ours(tg.tensor(ids)), theirs(torch.tensor(ids))
    same(out, out_t)
    (out * out).sum().backward()
    (out_t * out_t).sum().backward()
    np.testing.assert_allclose(np.asarray(ours.weight.grad), theirs.weight.grad.numpy(), rtol=1e-6)
    assert np.all(torch.nn.Embedding(6, 4, padding_idx=2).weight.detach().numpy()[2] == 0)


class WithBuffer(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(2, 2)
        self.register_buffer("running", tg.zeros(2))
        self.register_buffer("scratch", tg.ones(1), persistent=False)
        self.register_buffer("steps", tg.tensor(0))


def test_buffers_are_in_state_dict_but_not_parameters():
    m = WithBuffer()
    assert [n for n, _ in m.named_parameters()] == ["fc.weight", "fc.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch", "steps"]
    assert list(m.state_dict()) == ["running", "steps", "fc.weight", "fc.bias"]


def test_buffers_load_move_and_cast_floats_only():
    m = WithBuffer()
    state = m.state_dict()
    state["running"] = np.array([3.0, 4.0])
    m.load_state_dict(state)
    assert m.running.tolist() == [3.0, 4.0] and m.running.dtype == np.float32
    m.double().to(tg.device("cpu"))
    assert m.running.dtype == np.float64 and m.steps.dtype == np.int64
    with pytest.raises(KeyError, match="missing: running"):
        m.load_state_dict({k: v for k, v in state.items() if k != "running"})


def test_buffer_assignment_and_name_errors():
    m = WithBuffer()
    m.running = tg.ones(2)  # still a buffer
    assert "running" in m.state_dict()
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'running'"):
        m.running = 3
    with pytest.raises(KeyError, match="attribute 'fc' already exists"):
        m.register_buffer("fc", tg.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer"):
        m.register_buffer("x", 3)


@with_torch
def test_buffer_state_dict_order_matches_torch():
    class TorchWithBuffer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
            self.register_buffer("running", torch.zeros(2))
            self.register_buffer("scratch", torch.ones(1), persistent=False)
            self.register_buffer("steps", torch.tensor(0))

    theirs = TorchWithBuffer()
    assert list(WithBuffer().state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in WithBuffer().named_buffers()] == [n for n, _ in theirs.named_buffers()]
    ours = WithBuffer()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def test_layers_kept_as_attributes_and_in_a_plain_list_are_accepted():
    class Model(nn.Module):
        def __init__(self):
            self.fc1, self.fc2 = nn.Linear(2, 2), nn.Linear(2, 2)
            self.layers = [self.fc1, self.fc2]

    assert [n for n, _ in Model().named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


def test_a_plain_list_of_unregistered_layers_still_raises():
    class Model(nn.Module):
        def __init__(self):
            self.fc1 = nn.Linear(2, 2)
            self.layers = [self.fc1, nn.Linear(2, 2)]

    with pytest.raises(TypeError, match=r"Model.layers is a plain Python list holding a Linear \(at \[1\]\)"):
        Model()


# ------------------------------------------------------------------ nn.utils.rnn
def test_pack_padded_sequence_points_to_lengths():
    from tensorgrad.nn.utils.rnn import pack_padded_sequence  # the import works; the call raises

    with pytest.raises(NotImplementedError, match=r"from rnn import LSTM.*lengths=lengths"):
        pack_padded_sequence(tg.ones(3, 2, 1), [3, 2])
    with pytest.raises(NotImplementedError, match="lengths="):
        tg.nn.utils.rnn.pad_packed_sequence(None)


def test_pad_sequence_pads_to_the_longest():
    pad_sequence = tg.nn.utils.rnn.pad_sequence
    out = pad_sequence([tg.tensor([1.0, 2.0]), tg.tensor([3.0])], batch_first=True, padding_value=-1)
    assert out.tolist() == [[1.0, 2.0], [3.0, -1.0]]
    assert pad_sequence([tg.ones(3, 4), tg.ones(1, 4)]).shape == (3, 2, 4)


@with_torch
@pytest.mark.parametrize("batch_first, side", [(False, "right"), (True, "right"), (True, "left")])
def test_pad_sequence_matches_torch(batch_first, side):
    torch_pad, pad_sequence = torch.nn.utils.rnn.pad_sequence, tg.nn.utils.rnn.pad_sequence
    seqs = [RNG.standard_normal((n, 3)) for n in (4, 1, 3)]
    grads_match(lambda *s: pad_sequence(list(s), batch_first, 0.5, side),
                lambda *s: torch_pad(list(s), batch_first, 0.5, side), *seqs)


# ------------------------------------------------------------------ tg.save to a file object
def test_save_and_load_through_a_file_object():
    buffer = io.BytesIO()
    tg.save({"w": np.arange(3.0), "step": 4}, buffer)
    buffer.seek(0)
    state = tg.load(buffer)
    assert state["w"].tolist() == [0.0, 1.0, 2.0] and state["step"] == 4


# ------------------------------------------------------------------ Linear on N-D input
@pytest.mark.parametrize("shape", [(5, 3, 4), (2, 5, 3, 4), (0, 3, 4)])
def test_linear_on_nd_input_equals_the_same_rows_as_2d(shape):
    layer = nn.Linear(4, 6, dtype=np.float64)
    x = tg.tensor(RNG.standard_normal(shape), requires_grad=True)
    y = layer(x)
    assert y.shape == shape[:-1] + (6,)
    rows = layer(tg.tensor(x.numpy().reshape(-1, 4)))
    np.testing.assert_allclose(y.numpy().reshape(-1, 6), rows.numpy(), rtol=1e-12)
    if x.numel():
        assert tg.gradcheck(lambda x, w, b: F.linear(x, w, b), [x, layer.weight, layer.bias])


def test_linear_on_nd_input_runs_one_matrix_product():
    x = tg.tensor(RNG.standard_normal((5, 3, 4)), requires_grad=True)
    y = nn.Linear(4, 6, dtype=np.float64)(x)
    ops, fn = [], y.grad_fn
    while fn is not None:  # walk the first parents: Add <- Reshape <- MatMul <- Reshape
        ops.append(type(fn).__name__)
        fn = fn.parents[0].grad_fn if fn.parents else None
    assert ops.count("MatMul") == 1 and "Reshape" in ops


@with_torch
def test_linear_on_3d_input_matches_torch():
    w, b, x = RNG.standard_normal((6, 4)), RNG.standard_normal(6), RNG.standard_normal((5, 3, 4))
    grads_match(F.linear, torch.nn.functional.linear, x, w, b, rtol=1e-10)


def test_saving_a_whole_module_says_to_save_its_state_dict():
    with pytest.raises(TypeError, match=r"save model.state_dict\(\) and restore with model.load_state_dict"):
        tg.save(nn.Linear(2, 2), io.BytesIO())


# ------------------------------------------------------------------ on every device
def test_new_ops_stay_on_the_tensors_device(device):
    x = tg.tensor(RNG.standard_normal((3, 4)), device=device, requires_grad=True)
    y = tg.einsum("ij,kj->ik", x, x) + tg.diag(x[:, :3]).sum()
    y.sum().backward()
    assert y.device == device and x.grad is not None
    p = tg.tensor([0.2, 0.9], device=device, requires_grad=True)
    F.binary_cross_entropy(p, tg.tensor([0.0, 1.0], device=device)).backward()
    assert p.grad is not None
    emb = nn.Embedding(4, 2, padding_idx=0).to(device)
    emb(tg.tensor([0, 1, 0], device=device)).sum().backward()
    assert emb.weight.device == device
    assert tg.randperm(5, device=device).device == device
    assert nn.Linear(4, 2).to(device)(x.reshape(3, 1, 4)).shape == (3, 1, 2)
    assert x.new_zeros(2).device == device and x.narrow(1, 0, 2).device == device
