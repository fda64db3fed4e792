"""rnn.lm.sample: the weights are laid out once per call, and the text is what the model itself draws."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from rnn.data import Vocabulary
from rnn.lm import CharLM, sample

VOCAB = Vocabulary.from_text("to be, or not to be: that is the question.\n")


def sample_by_calling_the_model(model, vocab, length, temperature, prime, rng):
    """The specification: call the model on one character after another, draw from its softmax."""
    ids = np.concatenate([vocab.encode("\n\n"), vocab.encode(prime)])
    model.eval()
    out = []
    with tg.no_grad():
        logits, state = model(tg.tensor(ids[:, None]))
        for _ in range(length):
            scores = logits.numpy()[-1, 0].astype(np.float64) / temperature
            p = np.exp(scores - scores.max())
            out.append(int(rng.choice(len(p), p=p / p.sum())))
            logits, state = model(tg.tensor(np.array([[out[-1]]])), state)
    return prime + vocab.decode(np.array(out, dtype=np.int64))


def _model(kind, layers, dtype=np.float64):
    tg.manual_seed(1)
    return CharLM(len(VOCAB), 16, layers, kind, 6, dtype=dtype)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_sample_draws_what_the_model_called_per_character_draws(kind, layers):
    model = _model(kind, layers)
    fast = sample(model, VOCAB, 200, temperature=1.5, prime="to", rng=np.random.default_rng(5))
    slow = sample_by_calling_the_model(model, VOCAB, 200, 1.5, "to", np.random.default_rng(5))
    assert fast == slow


def test_sample_uses_the_weights_as_updated_in_place_since_the_last_call():
    model = _model("lstm", 1)
    before = sample(model, VOCAB, 100, temperature=1.0, rng=np.random.default_rng(0))
    optimizer = tg.optim.SGD(model.parameters(), lr=0.5)
    for p in model.parameters():  # an optimizer step writes p.array in place
        p.grad = np.random.default_rng(1).standard_normal(p.shape)
    optimizer.step()
    after = sample(model, VOCAB, 100, temperature=1.0, rng=np.random.default_rng(0))
    assert after == sample_by_calling_the_model(model, VOCAB, 100, 1.0, "\n", np.random.default_rng(0))
    assert after != before


LAYERS = {
    "lstm": lambda: rnn.LSTM(3, 5, num_layers=2, dtype=np.float64),
    "gru": lambda: rnn.GRU(3, 5, num_layers=2, dtype=np.float64),
    "gru_reset_before": lambda: rnn.GRU(3, 5, num_layers=2, reset_after=False, dtype=np.float64),
    "rnn_relu": lambda: rnn.RNN(3, 5, num_layers=2, nonlinearity="relu", dtype=np.float64),
    "lstm_no_bias": lambda: rnn.LSTM(3, 5, num_layers=2, bias=False, dtype=np.float64),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_recurrence_steps_equal_the_layer_run_over_the_sequence(name):
    tg.manual_seed(0)
    layer = LAYERS[name]()
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    with tg.no_grad():
        expected, _ = layer(tg.tensor(x))
    recurrences = layer.recurrences()
    n_states = 2 if name.startswith("lstm") else 1
    states = [[np.zeros((2, 5))] * n_states for _ in recurrences]
    for t in range(4):
        h = x[t]
        for k, rec in enumerate(recurrences):
            states[k] = rec.step(rec.project(h), states[k])
            h = states[k][0]
        np.testing.assert_allclose(h, expected.numpy()[t], rtol=1e-12, atol=1e-12)


def test_a_bidirectional_layer_cannot_step():
    with pytest.raises(ValueError, match="bidirectional"):
        rnn.GRU(3, 4, bidirectional=True).recurrences()
