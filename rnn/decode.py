"""Decoding a sequence from a step function: greedy decoding and beam search.

Both work with any model that predicts the next token from the previous one
and a state: a seq2seq decoder, the char-LM. The model is wrapped as

    step_fn(tokens, state) -> (log_probs, new_state)
        tokens     (K,) int array: the last token of each of K hypotheses
        state      the model's state for those K hypotheses: an array or Tensor
                   with the hypotheses on axis 0, or a (nested) tuple/list of them
        log_probs  (K, V) array or Tensor: log p(next token | hypothesis), a
                   log_softmax over the V tokens of the vocabulary
        new_state  the state after reading ``tokens``, laid out like ``state``

``start_state`` is the state for one hypothesis (axis 0 of size 1). Beam
search reorders and repeats states by indexing axis 0 (``x[rows]``), so a
state must be indexable like a NumPy array or a tensorgrad Tensor; run the
step function under ``tg.no_grad()`` when decoding a trained model.

A hypothesis is scored by its log-probability, the sum of log p(token) over
its tokens (the end token included when it has one); beam search ranks the
finished hypotheses by that sum divided by length ** length_penalty (Wu et al.
2016 use a smoothed length; Hugging Face's ``length_penalty`` is this
exponent). length_penalty = 0 ranks by the raw sum, which favours short
outputs (every token costs log-probability); 1 ranks by the mean per token.
"""

from typing import NamedTuple

import numpy

import tensorgrad as tg

__all__ = ["Hypothesis", "greedy_decode", "beam_search"]


class Hypothesis(NamedTuple):
    """One decoded sequence.

    tokens     the generated tokens, without the start token and without the end token
    finished   True if the hypothesis ended with ``end_token`` (else it ran to max_len)
    log_prob   sum of log p(token) over its tokens, the end token included when finished
    score      log_prob / length ** length_penalty, length = len(tokens) + finished
    """

    tokens: list
    finished: bool
    log_prob: float
    score: float


def _length(tokens, finished):
    return len(tokens) + (1 if finished else 0)


def _normalised(log_prob, length, length_penalty):
    return float(log_prob) / (max(length, 1) ** length_penalty)


def _as_numpy(x):
    if isinstance(x, tg.Tensor):
        return x.numpy()
    return numpy.asarray(x)


def _select(state, rows):
    """The state of hypotheses ``rows`` (an int array): ``x[rows]`` on every array in ``state``."""
    if isinstance(state, (tuple, list)):
        return type(state)(_select(s, rows) for s in state)
    if state is None:
        return None
    if isinstance(state, tg.Tensor):
        return state[rows]
    return numpy.asarray(state)[rows]


def _step(step_fn, tokens, state, vocab, where):
    """Call step_fn and check its log_probs: (K, V) log-probabilities, each row summing to 1."""
    log_probs, new_state = step_fn(numpy.asarray(tokens, dtype=numpy.int64), state)
    lp = _as_numpy(log_probs).astype(numpy.float64, copy=False)
    K = len(tokens)
    if lp.ndim != 2 or lp.shape[0] != K or (vocab is not None and lp.shape[1] != vocab):
        raise ValueError(f"{where}: step_fn must return log_probs of shape (K, V) = ({K}, V) for K = {K} "
                         f"tokens, got shape {lp.shape}")
    if not numpy.all(numpy.isfinite(lp) | (lp == -numpy.inf)) or numpy.any(lp > 1e-6):
        raise ValueError(f"{where}: step_fn returned log_probs with NaN or positive values; return "
                         "log-probabilities (log_softmax of the logits), not logits or probabilities")
    total = numpy.exp(lp).sum(axis=1)
    if numpy.abs(total - 1.0).max() > 1e-4:
        raise ValueError(f"{where}: step_fn's log_probs do not sum to 1 in probability (row sums "
                         f"{total.min():.4g}..{total.max():.4g}); return log_softmax(logits), not logits")
    return lp, new_state


def _check_args(where, start_token, end_token, max_len, beam_width=1, length_penalty=0.0):
    for name, value in (("start_token", start_token), ("end_token", end_token)):
        if not isinstance(value, (int, numpy.integer)) or isinstance(value, bool):
            raise TypeError(f"{where}: {name} must be an int (a token id), got {value!r}")
    if not isinstance(max_len, (int, numpy.integer)) or isinstance(max_len, bool) or max_len < 1:
        raise ValueError(f"{where}: max_len must be an int >= 1 (the most tokens to generate), "
                         f"got {max_len!r}")
    if not isinstance(beam_width, (int, numpy.integer)) or isinstance(beam_width, bool) or beam_width < 1:
        raise ValueError(f"{where}: beam_width must be an int >= 1 (1 is greedy decoding), "
                         f"got {beam_width!r}")
    if not isinstance(length_penalty, (int, float)) or isinstance(length_penalty, bool) \
            or not numpy.isfinite(length_penalty) or length_penalty < 0:
        raise ValueError(f"{where}: length_penalty must be a number >= 0 (0: raw log-probability, 1: mean "
                         f"per token), got {length_penalty!r}")


def greedy_decode(step_fn, start_state, start_token, end_token, max_len):
    """Greedy decoding: at every step take the most probable token, until end_token or max_len tokens.

    step_fn(tokens (1,), state) -> (log_probs (1, V), state): see the module docstring.
    Returns a Hypothesis (its score is its log_prob). Ties go to the lowest token id.
    """
    _check_args("greedy_decode", start_token, end_token, max_len)
    tokens, log_prob, state, last = [], 0.0, start_state, start_token
    for _ in range(max_len):
        lp, state = _step(step_fn, [last], state, None, "greedy_decode")
        last = int(numpy.argmax(lp[0]))
        log_prob += float(lp[0, last])
        if last == end_token:
            return Hypothesis(tokens, True, log_prob, log_prob)
        tokens.append(last)
    return Hypothesis(tokens, False, log_prob, log_prob)


def beam_search(step_fn, start_state, start_token, end_token, beam_width, max_len, length_penalty=1.0):
    """Beam search: keep the beam_width most probable partial hypotheses at every step.

    step_fn(tokens (K,), state) -> (log_probs (K, V), state): see the module docstring.
    start_state: the state of one hypothesis (axis 0 of size 1).
    Returns the hypotheses found, best first by score = log_prob / length ** length_penalty:
    the finished ones and those cut off at max_len. At most beam_width of them.

    One step: every live hypothesis h extends by every token w, with
    log_prob(h + w) = log_prob(h) + log p(w | h); the best beam_width of those K * V
    candidates (by log_prob; all have the same length) are kept. A candidate ending in
    end_token is finished and leaves the beam, which then keeps one fewer live
    hypothesis (as in Stanford CS224n's NMT beam search), so the search stops once
    beam_width hypotheses have finished. With beam_width = 1 this is greedy decoding;
    with beam_width >= V ** max_len nothing is ever pruned, so it finds the best-scoring
    sequence of all (exhaustive search).
    """
    _check_args("beam_search", start_token, end_token, max_len, beam_width, length_penalty)
    done = []  # finished hypotheses
    live_tokens = [[]]  # the tokens of each live hypothesis
    live_lp = numpy.zeros(1)  # (K,) their log-probabilities
    last = numpy.array([start_token])
    state, vocab = start_state, None
    for _ in range(max_len):
        lp, state = _step(step_fn, last, state, vocab, "beam_search")
        vocab = lp.shape[1]
        K = len(live_tokens)
        total = live_lp[:, None] + lp  # (K, V): log_prob of every one-token extension
        keep = beam_width - len(done)
        # the `keep` best candidates; a stable sort so that ties go to the lower (beam, token)
        flat = numpy.argsort(-total.ravel(), kind="stable")[:keep]
        rows, words = numpy.divmod(flat, vocab)
        live_rows = []
        for row, word in zip(rows.tolist(), words.tolist(), strict=True):
            if word == end_token:
                done.append((live_tokens[row], True, float(total[row, word])))
            else:
                live_rows.append((row, word))
        if not live_rows:
            break
        rows_kept = numpy.array([r for r, _ in live_rows])
        live_tokens = [live_tokens[r] + [w] for r, w in live_rows]
        live_lp = numpy.array([total[r, w] for r, w in live_rows])
        last = numpy.array([w for _, w in live_rows])
        if len(live_tokens) < K or not numpy.array_equal(rows_kept, numpy.arange(K)):
            state = _select(state, rows_kept)
    else:
        done.extend((tokens, False, float(p)) for tokens, p in zip(live_tokens, live_lp, strict=True))
    hyps = [Hypothesis(list(tokens), finished, lp_,
                       _normalised(lp_, _length(tokens, finished), length_penalty))
            for tokens, finished, lp_ in done]
    # best first; among equal scores the earlier found (stable sort)
    return sorted(hyps, key=lambda h: -h.score)
