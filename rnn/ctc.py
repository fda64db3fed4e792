"""Reading labels out of CTC outputs, and scoring them: best-path and prefix beam search decoding,
edit distance and error rate (WER on words, CER on characters).

The outputs are laid out as ``tensorgrad.functional.ctc_loss`` takes them: log-probabilities
(T, N, C) with input_lengths (N,), or (T, C) for one sequence. A frame-level path maps to a label
sequence by collapsing repeats and then dropping blanks: (a, a, -, a, b, -) -> (a, a, b).
"""

import math
import numbers

import numpy

from tensorgrad import backend
from tensorgrad.tensor import Tensor


def _frames(log_probs, input_lengths, name):
    """log_probs as a host array (T, N, C), the lengths as ints (N,), and whether it was batched."""
    a = log_probs.array if isinstance(log_probs, Tensor) else log_probs
    a = backend.to_numpy(a)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name}: log_probs must be (T, N, C), or (T, C) for one sequence, "
                         f"got shape {a.shape}")
    batched = a.ndim == 3
    if not batched:
        a = a[:, None, :]
    T, N, _ = a.shape
    if input_lengths is None:
        lengths = numpy.full(N, T, dtype=numpy.int64)
    else:
        lengths = input_lengths.array if isinstance(input_lengths, Tensor) else input_lengths
        lengths = numpy.asarray(backend.to_numpy(lengths)).reshape(-1)
        if lengths.dtype.kind not in "iu" or lengths.shape != (N,):
            raise ValueError(f"{name}: input_lengths must be {N} integer(s), one per sequence, "
                             f"got {lengths.tolist()}")
        if (lengths < 0).any() or (lengths > T).any():
            raise ValueError(f"{name}: input_lengths must be in [0, T={T}], got {lengths.tolist()}")
    return a, lengths.astype(numpy.int64), batched


def _check_blank(blank, C, name):
    if not (isinstance(blank, numbers.Integral) and 0 <= blank < C):
        raise ValueError(f"{name}: blank must be a class index in [0, {C - 1}], got {blank!r}")


def collapse(path, blank=0):
    """The labels a frame-level path stands for: repeats merged, then blanks dropped."""
    labels, prev = [], None
    for p in path:
        if p != prev and p != blank:
            labels.append(int(p))
        prev = p
    return labels


def ctc_greedy_decode(log_probs, input_lengths=None, blank=0):
    """Best-path decoding: the most likely class on each frame, collapsed (repeats merged, blanks dropped).

    log_probs (T, N, C) with input_lengths (N,) (default: all T frames) -> a list of N label lists;
    (T, C) -> one label list. Not always the most likely *label sequence* (see ctc_prefix_beam_search).
    """
    a, lengths, batched = _frames(log_probs, input_lengths, "ctc_greedy_decode")
    _check_blank(blank, a.shape[2], "ctc_greedy_decode")
    best = a.argmax(axis=2)  # (T, N)
    out = [collapse(best[:lengths[n], n].tolist(), blank) for n in range(a.shape[1])]
    return out if batched else out[0]


def _logaddexp(a, b):
    """log(e^a + e^b) of two Python floats (math on scalars: many times faster than NumPy's)."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def _prefix_beam(lp, blank, beam_width):
    """Prefix beam search on one sequence's (T, C) log-probabilities: (labels, log-probability)."""
    # each prefix keeps two log-probabilities: of the paths ending in a blank, and in its last label
    beams = {(): (0.0, -math.inf)}
    for frame in lp.tolist():
        nxt = {}

        def add(prefix, p_blank, p_label, nxt=nxt):
            b, nb = nxt.get(prefix, (-math.inf, -math.inf))
            nxt[prefix] = (_logaddexp(b, p_blank), _logaddexp(nb, p_label))

        for prefix, (p_b, p_nb) in beams.items():
            total = _logaddexp(p_b, p_nb)
            add(prefix, total + frame[blank], -math.inf)  # a blank keeps the prefix
            last = prefix[-1] if prefix else None
            for c, p_c in enumerate(frame):
                if c == blank:
                    continue
                if c == last:
                    add(prefix, -math.inf, p_nb + p_c)  # a repeat merges into the last label
                    add(prefix + (c,), -math.inf, p_b + p_c)  # after a blank it is a new label
                else:
                    add(prefix + (c,), -math.inf, total + p_c)
        ranked = sorted(nxt.items(), key=lambda kv: -_logaddexp(*kv[1]))
        beams = dict(ranked[:beam_width])
    labels, (p_b, p_nb) = max(beams.items(), key=lambda kv: _logaddexp(*kv[1]))
    return [int(c) for c in labels], _logaddexp(p_b, p_nb)


def ctc_prefix_beam_search(log_probs, input_lengths=None, beam_width=10, blank=0):
    """Prefix beam search (Hannun et al. 2014, no language model): the most likely label sequence.

    Unlike best-path decoding it sums the probabilities of all paths that give the same labels,
    keeping the ``beam_width`` most likely label prefixes after each frame; wide enough, it is exact.
    log_probs (T, N, C) with input_lengths (N,) (default: all T) -> a list of N (labels, log_prob);
    (T, C) -> one (labels, log_prob). log_prob sums the paths the beam kept: log p(labels | input),
    the negated CTC loss, when no prefix on the way was pruned, and less than that otherwise.
    """
    a, lengths, batched = _frames(log_probs, input_lengths, "ctc_prefix_beam_search")
    _check_blank(blank, a.shape[2], "ctc_prefix_beam_search")
    if not (isinstance(beam_width, numbers.Integral) and beam_width >= 1):
        raise ValueError(f"ctc_prefix_beam_search: beam_width must be an integer >= 1, got {beam_width!r}")
    a = a.astype(numpy.float64)
    out = [_prefix_beam(a[:lengths[n], n], blank, beam_width) for n in range(a.shape[1])]
    return out if batched else out[0]


def edit_distance(a, b):
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning a into b.

    a, b: sequences (lists of labels or words, strings). Dynamic programming, O(len(a) len(b)).
    """
    a, b = list(a), list(b)
    row = list(range(len(b) + 1))  # distances from a[:0] to each prefix of b
    for i, x in enumerate(a, 1):
        prev_diag, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev_diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev_diag + (x != y))
    return row[-1]


def error_rate(refs, hyps):
    """Total edit distance over total reference length: the word (or character) error rate.

    refs, hyps: equally long lists of sequences (lists of words for WER, strings for CER).
    Can exceed 1 when the hypotheses insert many labels.
    """
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"error_rate: got {len(refs)} references and {len(hyps)} hypotheses; "
                         "pass one hypothesis per reference")
    total = sum(len(r) for r in refs)
    if total == 0:
        raise ValueError("error_rate: the references are all empty, so the rate is undefined")
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps, strict=True)) / total
