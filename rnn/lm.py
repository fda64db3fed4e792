"""A character-level language model: embedding -> RNN/LSTM/GRU stack -> linear, and sampling.

    ids (T, B) --Embedding--> (T, B, E) --recurrent layers--> (T, B, H) --Linear--> logits (T, B, V)

The model predicts the next character at every step; training minimises the
cross-entropy of those predictions (nats per character; divide by ln 2 for bits).
"""

import math

import numpy as np

import tensorgrad as tg
from tensorgrad import get_array_module, nn
from tensorgrad.backend import to_numpy

from . import regularize
from .layers import GRU, LSTM, RNN

LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


class CharLM(nn.Module):
    """Next-character model. forward(ids (T, B), state) -> (logits (T, B, V), new state).

    The regularisers of AWD-LSTM (``rnn.regularize``), all off by default and
    active only in training mode:

    - embedding_dropout: drop whole rows of the embedding (a character vanishes from the batch);
    - input_dropout / output_dropout: locked dropout (one mask per sequence) on the
      embedded input and on the last layer's output;
    - weight_dropout: DropConnect on every weight_hh (``rnn.regularize.weight_drop``);
    - tie_weights: the decoder's weight *is* the embedding's Parameter (one (V, H)
      matrix, listed once by ``parameters()``, under both names in ``state_dict()``,
      as in torch); needs embedding_size == hidden_size. The shared matrix starts
      from the decoder's init, U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(self, vocab_size, hidden_size=256, num_layers=1, kind="lstm", embedding_size=64,
                 dropout=0.0, dtype=np.float32, device=None, *, embedding_dropout=0.0, input_dropout=0.0,
                 output_dropout=0.0, weight_dropout=0.0, tie_weights=False):
        if kind not in LAYERS:
            raise ValueError(f"CharLM: kind must be one of {sorted(LAYERS)}, got {kind!r}")
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(f"CharLM: tie_weights shares one (V, H) matrix between the embedding and the "
                             f"decoder, so it needs embedding_size == hidden_size, got {embedding_size} "
                             f"and {hidden_size}; pass embedding_size={hidden_size}")
        self.vocab_size, self.kind = vocab_size, kind
        self.embedding_dropout = regularize._check_p("CharLM embedding_dropout", embedding_dropout)
        self.input_dropout = regularize._check_p("CharLM input_dropout", input_dropout)
        self.output_dropout = regularize._check_p("CharLM output_dropout", output_dropout)
        self.tie_weights = bool(tie_weights)
        self.embed = nn.Embedding(vocab_size, embedding_size, dtype=dtype, device=device)
        self.rnn = LAYERS[kind](embedding_size, hidden_size, num_layers=num_layers,
                                dropout=dropout, dtype=dtype, device=device)
        regularize.weight_drop(self.rnn, weight_dropout)
        self.head = nn.Linear(hidden_size, vocab_size, dtype=dtype, device=device)
        if self.tie_weights:
            self.embed.weight = self.head.weight  # one Parameter, two names

    def features(self, ids, state=None):
        """ids (T, B) -> (raw (T, B, H), dropped (T, B, H), new state): the last layer's outputs
        before and after output dropout (what ``rnn.regularize.tar_penalty`` and ``ar_penalty`` read)."""
        if self.embedding_dropout and self.training:
            x = regularize.embedding_dropout(self.embed.weight, ids, self.embedding_dropout)
        else:
            x = self.embed(ids)
        x = regularize.locked_dropout(x, self.input_dropout, self.training)
        raw, state = self.rnn(x, state)
        return raw, regularize.locked_dropout(raw, self.output_dropout, self.training), state

    def forward(self, ids, state=None):
        _, hidden, state = self.features(ids, state)
        return self.head(hidden), state

    def loss(self, logits, targets):
        """Mean cross-entropy in nats per character: logits (T, B, V), targets (T, B) ints."""
        flat_targets = np.asarray(targets).reshape(-1)
        return tg.functional.cross_entropy(logits.reshape(-1, self.vocab_size), flat_targets)


def default_prime(vocab):
    """Where sampling starts when no prime is given: a newline if the text has one, else a space, else
    its first character. (A text without newlines, one long line, is common: minified code, many
    corpora as shipped.)"""
    for c in ("\n", " "):
        if c in vocab.chars:
            return c
    return vocab.chars[0]


def sample(model, vocab, length, temperature=1.0, top_k=None, prime=None, rng=None):
    """Generate ``length`` characters after ``prime``; returns prime + the new text.

    prime: the text to continue; None means ``default_prime(vocab)``, a
    character the vocabulary has.

    Each next character is drawn from softmax(logits / temperature), keeping
    only the top_k most likely characters when top_k is given. The same rng
    seed gives the same text.

    The model first reads a paragraph break ("\n\n", when the vocabulary has
    "\n"), then the prime. Trained by truncated BPTT, it almost always saw a
    state carried over from earlier text, so a zero state going straight into
    "ROMEO:" is unfamiliar to it (it then gives the newline that should follow
    about 2% instead of nearly 100%); after a paragraph break, where speeches
    begin, it is at home.
    """
    if not temperature > 0:
        raise ValueError(f"sample: temperature must be positive, got {temperature}")
    if top_k is not None and not 1 <= top_k:
        raise ValueError(f"sample: top_k must be a positive int, got {top_k}")
    prime = default_prime(vocab) if prime is None else prime
    if not prime:
        raise ValueError("sample: the priming text must hold at least one character")
    rng = rng if rng is not None else np.random.default_rng()
    unknown = sorted(set(prime) - set(vocab.chars))
    if unknown:
        raise ValueError(f"sample: the prime has {len(unknown)} character(s) the model never saw in "
                         f"training: {', '.join(repr(c) for c in unknown[:20])}; prime with text made of "
                         f"its {len(vocab)} characters ({vocab.chars[:60]!r}"
                         f"{'...' if len(vocab) > 60 else ''})")
    ids = vocab.encode(prime)
    if "\n" in vocab.chars:
        ids = np.concatenate([vocab.encode("\n\n"), ids])
    was_training = model.training
    model.eval()
    out = []
    device = model.head.weight.device
    with tg.no_grad():
        logits, state = model(tg.tensor(ids[:, None], device=device))  # the prime, as one sequence
        next_logits = _stepper(model, state)  # the weights laid out once, for this call only
        logits = to_numpy(logits.array[-1, 0])
        for _ in range(length):
            scores = logits.astype(np.float64) / temperature
            if top_k is not None and top_k < len(scores):
                cutoff = np.sort(scores)[-top_k]
                scores = np.where(scores >= cutoff, scores, -np.inf)
            p = np.exp(scores - scores.max())
            next_id = int(rng.choice(len(p), p=p / p.sum()))
            out.append(next_id)
            logits = to_numpy(next_logits(next_id))
    model.train(was_training)
    return prime + vocab.decode(np.array(out, dtype=np.int64))


def _stepper(model, state):
    """next_logits(char_id) -> logits (V,): ``model`` read one character at a time from ``state``.

    The same numbers as calling the model on one character after another, without
    its per-call cost: every weight is laid out once, here (the recurrent layers'
    ``recurrences()``; layer 0's input side for every character at once, as the
    table embedding @ W_ih^T, so reading a character is a row lookup; the head's
    W^T), and each step runs on arrays, without a graph. The layout is a snapshot
    of the weights, used only within one ``sample`` call.
    """
    layers = model.rnn.recurrences()
    table = layers[0].project(model.embed.weight.array)  # (V, G): layer 0's input side of each character
    xp = get_array_module(table)
    head_w = xp.ascontiguousarray(model.head.weight.array.T)  # (H, V)
    head_b = None if model.head.bias is None else model.head.bias.array
    # state: h_n (L, 1, H), or (h_n, c_n) for the LSTM -> per layer [h (1, H)(, c (1, H))]
    states = [list(s) for s in zip(*[t.array for t in (state if isinstance(state, tuple) else (state,))],
                                   strict=True)]

    def next_logits(char_id):
        h = None
        for k, layer in enumerate(layers):
            a = table[char_id:char_id + 1].copy() if k == 0 else layer.project(h)
            states[k] = layer.step(a, states[k])
            h = states[k][0]
        logits = h[0] @ head_w
        return logits if head_b is None else logits + head_b

    return next_logits


def bits(nats):
    """Nats per character -> bits per character."""
    return nats / math.log(2)
