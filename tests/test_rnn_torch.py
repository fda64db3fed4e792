"""RNN, LSTM, GRU and the cells against torch.nn in float64: outputs, final states, every gradient.

Skipped when torch is not installed (CI has no torch). Each test builds a torch
module, loads its state_dict into ours as is, runs both on the same input and
checks values and gradients to ~1e-10.
"""

import numpy as np
import pytest

import rnn
import tensorgrad as tg

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

T, B, I, H = 5, 3, 4, 3
TOL = dict(rtol=1e-10, atol=1e-10)


def _pair(kind, **options):
    """(ours, theirs) with the same weights: torch's state_dict loaded into ours as is."""
    theirs = getattr(torch.nn, kind)(I, H, **options).double()
    ours = getattr(rnn, kind)(I, H, dtype=np.float64, **options)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _compare(kind, options=None, batched=True, lengths=None, give_state=False):
    options = options or {}
    ours, theirs = _pair(kind, **options)
    rng = np.random.default_rng(0)
    batch_first = options.get("batch_first", False)
    shape = ((B, T, I) if batch_first else (T, B, I)) if batched else (T, I)
    x = rng.standard_normal(shape)
    D = 2 if options.get("bidirectional") else 1
    n_states = 2 if kind == "LSTM" else 1
    state_shape = (options.get("num_layers", 1) * D,) + ((B, H) if batched else (H,))
    states = [rng.standard_normal(state_shape) for _ in range(n_states)] if give_state else None

    # ours
    x_ours = tg.tensor(x, requires_grad=True)
    s_ours = [tg.tensor(s, requires_grad=True) for s in states] if states else None
    hx = None if s_ours is None else (tuple(s_ours) if kind == "LSTM" else s_ours[0])
    out, finals = ours(x_ours, hx, lengths=lengths)
    finals = list(finals) if kind == "LSTM" else [finals]

    # theirs
    x_t = torch.tensor(x, requires_grad=True)
    s_t = [torch.tensor(s, requires_grad=True) for s in states] if states else None
    hx_t = None if s_t is None else (tuple(s_t) if kind == "LSTM" else s_t[0])
    if lengths is None:
        out_t, finals_t = theirs(x_t, hx_t)
    else:
        packed = pack_padded_sequence(x_t, torch.tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=False)
        out_t, finals_t = theirs(packed, hx_t)
        out_t, _ = pad_packed_sequence(out_t, batch_first=batch_first, total_length=T)
    finals_t = list(finals_t) if kind == "LSTM" else [finals_t]

    # the same weighted sum of every output on both sides
    weights = [rng.standard_normal(a.shape) for a in [out.array] + [f.array for f in finals]]
    terms = [(a * tg.tensor(w)).sum() for a, w in zip([out] + finals, weights, strict=True)]
    loss = sum(terms[1:], terms[0])
    loss.backward()
    loss_t = sum((a * torch.tensor(w)).sum() for a, w in zip([out_t] + finals_t, weights, strict=True))
    loss_t.backward()

    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL)
    for f, f_t in zip(finals, finals_t, strict=True):
        np.testing.assert_allclose(f.numpy(), f_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(x_ours.grad, x_t.grad.numpy(), **TOL)
    for s, s_t_ in zip(s_ours or [], s_t or [], strict=True):
        np.testing.assert_allclose(s.grad, s_t_.grad.numpy(), **TOL)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs_params[name].grad.numpy(), **TOL, err_msg=name)


KINDS = ["RNN", "LSTM", "GRU"]
UNSORTED = [3, 5, 1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True},
    {"batch_first": True},
    {"bias": False},
], ids=["one_layer", "two_layers", "bidirectional", "two_layers_bidirectional", "batch_first", "no_bias"])
def test_layer_matches_torch(kind, options):
    _compare(kind, options)


@pytest.mark.parametrize("kind", KINDS)
def test_layer_with_given_initial_state_matches_torch(kind):
    _compare(kind, {"num_layers": 2, "bidirectional": True}, give_state=True)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_matches_torch(kind):
    _compare(kind, {"num_layers": 2, "bidirectional": True}, batched=False, give_state=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [
    {},
    {"num_layers": 2, "bidirectional": True},
    {"bidirectional": True, "batch_first": True, "bias": False},
], ids=["one_layer", "two_layers_bidirectional", "bidirectional_batch_first_no_bias"])
def test_unsorted_lengths_match_packed_sequences(kind, options):
    _compare(kind, options, lengths=UNSORTED, give_state=True)


def test_relu_rnn_matches_torch():
    _compare("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}, lengths=UNSORTED)


@pytest.mark.parametrize("kind", KINDS)
def test_our_state_dict_loads_into_torch(kind):
    tg.manual_seed(3)
    ours = getattr(rnn, kind)(I, H, num_layers=2, bidirectional=True, dtype=np.float64)
    theirs = getattr(torch.nn, kind)(I, H, num_layers=2, bidirectional=True).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})  # strict
    x = np.random.default_rng(1).standard_normal((T, B, I))
    out, _ = ours(tg.tensor(x))
    out_t, _ = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL)


def test_torch_parameter_names_and_shapes_are_ours():
    for kind in KINDS:
        ours = getattr(rnn, kind)(I, H, num_layers=2, bidirectional=True)
        theirs = getattr(torch.nn, kind)(I, H, num_layers=2, bidirectional=True)
        assert [(n, tuple(p.shape)) for n, p in theirs.named_parameters()] == \
               [(n, p.shape) for n, p in ours.named_parameters()]


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_cell_matches_torch(kind, batched):
    theirs = getattr(torch.nn, kind)(I, H).double()
    ours = getattr(rnn, kind)(I, H, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(2)
    lead = (B,) if batched else ()
    x, h, c = (rng.standard_normal(lead + (n,)) for n in (I, H, H))
    xs, hs, cs = (tg.tensor(a, requires_grad=True) for a in (x, h, c))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    if kind == "LSTMCell":
        outs, outs_t = ours(xs, (hs, cs)), theirs(xt, (ht, ct))
    else:
        outs, outs_t = (ours(xs, hs),), (theirs(xt, ht),)
    w = [rng.standard_normal(o.shape) for o in outs]
    sum(((o * tg.tensor(wi)).sum() for o, wi in zip(outs, w, strict=True)), tg.tensor(0.0)).backward()
    sum((o * torch.tensor(wi)).sum() for o, wi in zip(outs_t, w, strict=True)).backward()
    for o, o_t in zip(outs, outs_t, strict=True):
        np.testing.assert_allclose(o.numpy(), o_t.detach().numpy(), **TOL)
    leaves = [(xs, xt), (hs, ht)] + ([(cs, ct)] if kind == "LSTMCell" else [])
    for a, a_t in leaves:
        np.testing.assert_allclose(a.grad, a_t.grad.numpy(), **TOL)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs_params[name].grad.numpy(), **TOL, err_msg=name)
