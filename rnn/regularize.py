"""Regularising recurrent language models, as in AWD-LSTM (Merity, Keskar & Socher 2017).

Five ways to keep a recurrent model from memorising its training text:

- ``locked_dropout`` / ``LockedDropout``: variational dropout (Gal & Ghahramani
  2016). One mask per sequence, drawn once and applied at every time step, so
  a dropped unit stays dropped for the whole sequence instead of flickering.
- ``embedding_dropout``: drop whole rows of the embedding matrix, so a dropped
  word (or character) vanishes everywhere it occurs in the batch.
- ``weight_drop``: DropConnect (Wan et al. 2013) on the hidden-to-hidden
  weights W_hh: one mask on the matrix per forward call, shared by every time
  step, so the recurrence itself is regularised while the fused kernels still
  run it (they just receive the masked matrix).
- ``ar_penalty`` / ``tar_penalty``: activation regularisation (large outputs
  cost) and temporal activation regularisation (outputs that jump from one
  step to the next cost).
- Weight tying (Press & Wolf 2017; Inan et al. 2017) lives in ``rnn.lm.CharLM``
  (``tie_weights=True``): the decoder's weight is the embedding's Parameter.

Every dropout here scales what it keeps by 1/(1-p), so the expected value of
each element is unchanged and evaluation (``training=False``) is the identity.

Shapes: T time steps, B batch, F features, V vocabulary, E embedding size.
"""

import numbers

import tensorgrad as tg
from tensorgrad.nn import Module
from tensorgrad.random import generator

from .layers import _Recurrent


def _check_p(owner, p):
    """p as a float in [0, 1), or a ValueError saying what a dropout probability must be."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"{owner}: p must be a dropout probability in [0, 1) (the fraction of units "
                         f"dropped; 1 would drop everything), got {p!r}")
    return float(p)


def _keep_mask(shape, p, like):
    """A (shape) tensor of 0 and 1/(1-p), each entry kept with probability 1-p: E[mask] = 1."""
    keep = generator(like.device).random(shape, dtype="float32") >= p
    return tg.tensor((keep / (1 - p)).astype(like.dtype), device=like.device)


def locked_dropout(x, p=0.5, training=True, batch_first=False):
    """Variational dropout: x (T, B, F) -> (T, B, F), one mask (1, B, F) shared by every time step.

    Sequence b loses the same units at every step; another sequence of the
    batch loses others. Kept units are scaled by 1/(1-p). With batch_first,
    x is (B, T, F) and the mask (B, 1, F). The identity when not training or p = 0.
    """
    p = _check_p("locked_dropout", p)
    if not isinstance(x, tg.Tensor):
        raise TypeError(f"locked_dropout: x must be a Tensor, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"locked_dropout: x must be (T, B, F) ((B, T, F) with batch_first), got shape "
                         f"{x.shape}; a mask per sequence needs a time axis and a batch axis")
    if not training or p == 0:
        return x
    T, B, F = (x.shape[1], x.shape[0], x.shape[2]) if batch_first else x.shape
    return x * _keep_mask((B, 1, F) if batch_first else (1, B, F), p, x)


class LockedDropout(Module):
    """``locked_dropout`` as a layer: active in train() mode, the identity in eval() mode.

    x (T, B, F) -> (T, B, F) ((B, T, F) with batch_first=True).
    """

    def __init__(self, p=0.5, batch_first=False):
        self.p = _check_p("LockedDropout", p)
        self.batch_first = bool(batch_first)

    def forward(self, x):
        return locked_dropout(x, self.p, self.training, self.batch_first)

    def extra_repr(self):
        return f"p={self.p}" + (", batch_first=True" if self.batch_first else "")


def embedding_dropout(weight, ids, p=0.1, training=True):
    """Embedding lookup with whole rows of weight (V, E) dropped: ids (...) ints -> (..., E).

    Row v is zeroed with probability p (every occurrence of token v in this
    call reads zeros) and the kept rows are scaled by 1/(1-p). The identity
    lookup ``weight[ids]`` when not training or p = 0. The gradient reaches
    only the kept rows.
    """
    p = _check_p("embedding_dropout", p)
    if not isinstance(weight, tg.Tensor) or weight.ndim != 2:
        got = f"shape {weight.shape}" if isinstance(weight, tg.Tensor) else type(weight).__name__
        raise ValueError("embedding_dropout: weight must be the (V, E) embedding matrix as a Tensor "
                         f"(e.g. model.embed.weight), got {got}")
    if training and p > 0:
        weight = weight * _keep_mask((weight.shape[0], 1), p, weight)
    return tg.functional.embedding(ids, weight)


def weight_drop(layer, p=0.5):
    """DropConnect on ``layer``'s hidden-to-hidden weights; returns the layer (changed in place).

    layer: an ``rnn.RNN``, ``rnn.LSTM`` or ``rnn.GRU``. In training mode every
    forward call draws one mask per weight_hh_l{k}[_reverse] (each entry kept
    with probability 1-p, kept ones scaled by 1/(1-p)) and runs the fused
    recurrence with the masked matrix: the same dropped connections at every
    time step of the call. The Parameters keep their names (``weight_hh_l0``),
    so state_dicts stay those of torch.nn.LSTM; eval mode uses the full weights.
    p = 0 turns it off.
    """
    if not isinstance(layer, _Recurrent):
        raise TypeError(f"weight_drop: expected an rnn.RNN, rnn.LSTM or rnn.GRU layer, got "
                        f"{type(layer).__name__}")
    layer.weight_dropout = _check_p("weight_drop", p)
    return layer


def _check_hidden(owner, h):
    if not isinstance(h, tg.Tensor):
        raise TypeError(f"{owner}: h must be a Tensor of hidden outputs (T, B, H), got {type(h).__name__}")
    if h.ndim < 2:
        raise ValueError(f"{owner}: h must have a time axis first, (T, B, H) or (T, H), got shape {h.shape}")


def ar_penalty(h, alpha=2.0):
    """Activation regularisation: alpha * mean(h^2) over every element of h (T, B, H) -> 0-d tensor.

    AWD-LSTM applies it to the last layer's outputs after dropout (alpha = 2).
    """
    _check_hidden("ar_penalty", h)
    return alpha * (h * h).mean()


def tar_penalty(h, beta=1.0):
    """Temporal activation regularisation: beta * mean((h_t - h_{t-1})^2) over t = 1..T-1.

    h (T, B, H) time-major -> 0-d tensor; zero for a single step. AWD-LSTM
    applies it to the last layer's outputs before dropout (beta = 1).
    """
    _check_hidden("tar_penalty", h)
    if h.shape[0] < 2:
        return (h * 0.0).sum()
    d = h[1:] - h[:-1]
    return beta * (d * d).mean()
