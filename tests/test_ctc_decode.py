"""rnn.ctc: best-path decoding against the brute-force best path, prefix beam search against an
exhaustive search over label sequences (scored by ctc_loss), edit distance and error rate."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorgrad as tg
import tensorgrad.functional as F
from rnn import ctc_greedy_decode, ctc_prefix_beam_search, edit_distance, error_rate
from rnn.ctc import collapse


def _random_lp(rng, *shape, sharpness=1.0):
    x = rng.standard_normal(shape) * sharpness
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _best_path(lp, blank):
    """The single most probable frame-level path over all C^T of them, collapsed."""
    T, C = lp.shape
    best = max(itertools.product(range(C), repeat=T), key=lambda p: sum(lp[t, c] for t, c in enumerate(p)))
    return collapse(best, blank)


def _label_log_prob(lp, labels, blank):
    """log p(labels | input) from ctc_loss (itself checked against brute force in test_ctc.py)."""
    loss = F.ctc_loss(tg.tensor(lp[:, None]), np.array([labels], dtype=np.int64).reshape(1, -1),
                      [lp.shape[0]], [len(labels)], blank=blank, reduction="none")
    return -loss.item()


def _exhaustive_best(lp, blank):
    """The most probable label sequence, over every sequence of up to T labels."""
    T, C = lp.shape
    labels = [c for c in range(C) if c != blank]
    best, best_lp = None, -np.inf
    for k in range(T + 1):
        for seq in itertools.product(labels, repeat=k):
            score = _label_log_prob(lp, list(seq), blank)
            if score > best_lp:
                best, best_lp = list(seq), score
    return best, best_lp


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse([1, 1, 0, 1, 2, 0, 0], blank=0) == [1, 1, 2]
    assert collapse([2, 2, 2], blank=2) == []
    assert collapse([], blank=0) == []


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("blank", [0, 2])
def test_greedy_is_the_brute_force_best_path(seed, blank):
    rng = np.random.default_rng(seed)
    lp = _random_lp(rng, 4, 2, 3, sharpness=2.0)
    got = ctc_greedy_decode(tg.tensor(lp), [4, 3], blank=blank)
    assert got == [_best_path(lp[:4, 0], blank), _best_path(lp[:3, 1], blank)]
    assert ctc_greedy_decode(lp[:, 0], blank=blank) == got[0]  # (T, C) and a plain array


def test_greedy_decodes_on_the_simulated_gpu(simulated_gpu):
    lp = _random_lp(np.random.default_rng(0), 5, 2, 4)
    assert ctc_greedy_decode(tg.tensor(lp, device="cuda"), tg.tensor(np.array([5, 2]), device="cuda")) == \
        ctc_greedy_decode(lp, [5, 2])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("T, C, blank", [(3, 3, 0), (4, 3, 1), (4, 4, 3), (5, 3, 0)])
def test_wide_prefix_beam_search_is_the_exhaustive_best_label_sequence(seed, T, C, blank):
    lp = _random_lp(np.random.default_rng(seed * 13 + T), T, C)
    expected, expected_lp = _exhaustive_best(lp, blank)
    labels, log_prob = ctc_prefix_beam_search(lp, beam_width=10_000, blank=blank)
    assert labels == expected
    np.testing.assert_allclose(log_prob, expected_lp, rtol=1e-10)


@pytest.mark.parametrize("beam_width", [1, 2, 4, 10_000])
def test_beam_search_log_prob_bounds_the_negated_ctc_loss_and_batches_by_length(beam_width):
    rng = np.random.default_rng(7)
    lp = _random_lp(rng, 6, 3, 4)
    lengths = [6, 4, 5]
    out = ctc_prefix_beam_search(tg.tensor(lp), tg.tensor(np.array(lengths)), beam_width=beam_width)
    assert len(out) == 3
    for n, (labels, log_prob) in enumerate(out):
        exact = _label_log_prob(lp[:lengths[n], n], labels, 0)
        if beam_width == 10_000:  # nothing pruned: every path of the labels was summed
            np.testing.assert_allclose(log_prob, exact, rtol=1e-10)
        else:  # paths through pruned prefixes are missing from the sum
            assert log_prob <= exact + 1e-12
        assert (labels, log_prob) == ctc_prefix_beam_search(lp[:lengths[n], n], beam_width=beam_width)


def test_beam_search_finds_a_sequence_best_path_misses():
    # frames favour blank, but the two paths giving [1] together outweigh the best path (empty)
    p = np.array([[0.5, 0.4, 0.1], [0.5, 0.4, 0.1]])
    lp = np.log(p)
    assert ctc_greedy_decode(lp) == []
    labels, log_prob = ctc_prefix_beam_search(lp, beam_width=3)
    assert labels == [1]
    np.testing.assert_allclose(np.exp(log_prob), 0.4 * 0.4 + 0.4 * 0.5 * 2)


def test_no_frames_give_the_empty_sequence_with_probability_one():
    lp = _random_lp(np.random.default_rng(8), 5, 4)
    assert ctc_prefix_beam_search(lp[:, None], [0])[0] == ([], 0.0)


@pytest.mark.parametrize("call, words", [
    (lambda lp: ctc_greedy_decode(lp, blank=4), "blank must be a class index in [0, 3], got 4"),
    (lambda lp: ctc_greedy_decode(lp, [5, 9]), "input_lengths must be in [0, T=5]"),
    (lambda lp: ctc_greedy_decode(lp, [5]), "input_lengths must be 2 integer(s)"),
    (lambda lp: ctc_greedy_decode(lp[0, 0]), "log_probs must be (T, N, C)"),
    (lambda lp: ctc_prefix_beam_search(lp, beam_width=0), "beam_width must be an integer >= 1"),
    (lambda lp: error_rate(["a"], []), "got 1 references and 0 hypotheses"),
    (lambda lp: error_rate(["", ""], ["a", ""]), "references are all empty"),
])
def test_bad_input_gets_one_clear_error(call, words):
    with pytest.raises(ValueError) as info:
        call(_random_lp(np.random.default_rng(0), 5, 2, 4))
    assert words in str(info.value)


# ------------------------------------------------------------------ edit distance
def test_edit_distance_known_values():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("the cat sat".split(), "the cat sat down".split()) == 1
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0


def _slow_distance(a, b):
    """The textbook recursion, memoised: the definition itself."""
    from functools import cache

    @cache
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
    return d(len(a), len(b))


words = st.lists(st.integers(0, 3), max_size=7)


@given(words, words, words)
def test_edit_distance_is_a_metric_and_matches_the_definition(a, b, c):
    assert edit_distance(a, b) == _slow_distance(a, b)
    assert edit_distance(a, b) == edit_distance(b, a)
    assert (edit_distance(a, b) == 0) == (a == b)
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))


def test_error_rate_is_total_edits_over_total_reference_length():
    refs = ["the cat sat".split(), "on the mat".split()]
    hyps = ["the cat sat down".split(), "on a mat".split()]
    assert error_rate(refs, hyps) == pytest.approx(2 / 6)
    assert error_rate(["abc", "de"], ["abd", "de"]) == pytest.approx(1 / 5)  # a CER on strings
    assert error_rate(["ab"], ["xyzw"]) == 2.0  # insertions can push it past 1
