"""Additive (Bahdanau) attention from a decoder state to a sequence of encoder states.

Bahdanau, Cho and Bengio (2014), "Neural machine translation by jointly
learning to align and translate". At every decoder step the query q (the
decoder's state) scores each encoder state k_s with a one-hidden-layer net,

    e_s = v . tanh(W_q q + W_k k_s)          (the alignment model)
    a = softmax(e) over the real positions s  (padding gets weight 0)
    context = sum_s a_s k_s

and the decoder reads the context beside its input. Shapes: B batch, S source
positions, Q query size, K key size, A attention size.
"""

import numpy

import tensorgrad as tg
from tensorgrad.nn import Module, Parameter

__all__ = ["additive_attention", "AdditiveAttention"]


def _weights_and_context(hidden, v, keys, mask):
    """hidden (B, S, A) = W_q q + W_k k_s (+ b)  ->  context (B, K), weights (B, S)."""
    scores = hidden.tanh() @ v  # (B, S): e_s
    if mask is not None:
        real = numpy.asarray(mask.numpy() if isinstance(mask, tg.Tensor) else mask).astype(bool)
        if real.shape != tuple(scores.shape):
            raise ValueError(f"additive_attention: mask must have shape (B, S) = {tuple(scores.shape)}, "
                             f"got {real.shape}")
        if not real.any(axis=1).all():
            raise ValueError("additive_attention: a row of mask has no real position; every sequence "
                             "needs at least one")
        padding = tg.tensor(~real, device=scores.device)  # on the scores' device (a GPU refuses host arrays)
        scores = scores.masked_fill(padding, -numpy.inf)  # exp(-inf) = 0: no weight on the padding
    weights = scores.softmax(dim=-1)  # (B, S)
    context = (weights.unsqueeze(1) @ keys).squeeze(1)  # (B, 1, S) @ (B, S, K) -> (B, K)
    return context, weights


def _check_shapes(query, keys):
    if query.ndim != 2 or keys.ndim != 3 or keys.shape[0] != query.shape[0]:
        raise ValueError(f"additive_attention: expected query (B, Q) and keys (B, S, K) with the same B, got "
                         f"query {tuple(query.shape)} and keys {tuple(keys.shape)}")


def additive_attention(query, keys, W_q, W_k, v, mask=None, b=None):
    """One step of additive attention: e_s = v . tanh(W_q q + W_k k_s + b), softmax over real s.

    query (B, Q), keys (B, S, K), W_q (A, Q), W_k (A, K), v (A,), b (A,) or None,
    mask (B, S) bool/0-1 (True at real positions; None: all real)
    ->  context (B, K), weights (B, S).
    Each row of weights sums to 1 over the real positions and is 0 at the padding.
    """
    _check_shapes(query, keys)
    hidden = keys @ W_k.T + (query @ W_q.T).unsqueeze(1)  # (B, S, A): W_k k_s + W_q q
    if b is not None:
        hidden = hidden + b
    return _weights_and_context(hidden, v, keys, mask)


class AdditiveAttention(Module):
    """Additive attention with its parameters W_q (A, Q), W_k (A, K), b (A,) and v (A,).

    AdditiveAttention(query_size Q, key_size K, attention_size A, dtype=float32, device=None)
    forward(query (B, Q), keys (B, S, K), mask (B, S) = None, projected_keys (B, S, A) = None)
        -> context (B, K), weights (B, S)
    A decoder attends to the same keys at every step, so W_k k_s + b can be computed once
    per input (Bahdanau et al. 2014, appendix A.1.2): pass ``projected_keys=att.project_keys(keys)``.
    Init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch's Linear (fan_in Q, K, K and A).
    """

    def __init__(self, query_size, key_size, attention_size, dtype=numpy.float32, device=None):
        super().__init__()

        def uniform(shape, fan_in):
            bound = 1.0 / numpy.sqrt(fan_in)
            return Parameter(tg.rand(*shape, dtype=dtype, device=device) * (2 * bound) - bound)

        self.W_q = uniform((attention_size, query_size), query_size)
        self.W_k = uniform((attention_size, key_size), key_size)
        self.b = uniform((attention_size,), key_size)
        self.v = uniform((attention_size,), attention_size)

    def project_keys(self, keys):
        """keys (B, S, K) -> W_k k_s + b, (B, S, A): the part of the scores that no query changes."""
        return keys @ self.W_k.T + self.b

    def forward(self, query, keys, mask=None, projected_keys=None):
        _check_shapes(query, keys)
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        return _weights_and_context(projected_keys + (query @ self.W_q.T).unsqueeze(1), self.v, keys, mask)
