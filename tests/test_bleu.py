"""BLEU against values computed by hand from Papineni et al. (2002)'s definition."""

import math

import pytest

from rnn.bleu import brevity_penalty, corpus_bleu, modified_precision, ngram_counts, sentence_bleu


def words(text):
    return text.split()


def test_ngram_counts_counts_each_window_of_n_tokens():
    assert ngram_counts(words("a b a b"), 2) == {("a", "b"): 2, ("b", "a"): 1}
    assert ngram_counts(words("a b"), 3) == {}


def test_modified_precision_clips_to_the_most_any_one_reference_has():
    # The paper's own example (section 2.1): 7 "the" against references with at most 2.
    refs = [words("the cat is on the mat"), words("there is a cat on the mat")]
    assert modified_precision(words("the the the the the the the"), refs, 1) == (2, 7)


def test_clipping_uses_the_max_over_references_not_their_sum():
    assert modified_precision(words("the the the"), [words("the a"), words("the b")], 1) == (1, 3)


def test_sentence_bleu_is_the_geometric_mean_of_the_four_precisions():
    # p1 = 5/6 ("the" clipped to 1), p2 = 3/5, p3 = 2/4, p4 = 1/3; equal lengths so BP = 1
    got = sentence_bleu(words("the cat sat on the mat"), [words("the cat sat on a mat")])
    assert got == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25, rel=1e-12)


def test_a_perfect_match_scores_one():
    assert sentence_bleu(words("a b c d e"), [words("a b c d e")]) == pytest.approx(1.0)


def test_brevity_penalty_for_a_short_candidate():
    # "the cat" against a 6-token reference: p1 = p2 = 1, BP = exp(1 - 6/2)
    got = sentence_bleu(words("the cat"), [words("the cat sat on the mat")], max_n=2)
    assert got == pytest.approx(math.exp(-2), rel=1e-12)
    assert brevity_penalty(2, 6) == pytest.approx(math.exp(-2))
    assert brevity_penalty(7, 6) == 1.0 and brevity_penalty(6, 6) == 1.0 and brevity_penalty(0, 3) == 0.0


def test_effective_reference_length_is_the_closest_the_shorter_on_a_tie():
    # lengths 4 and 6 are both 1 away from 5: r = 4 < c, so no penalty (r = 6 would give exp(1 - 6/5))
    got = sentence_bleu(words("a b c d e"), [words("a b c d"), words("a b c d e f")])
    assert got == pytest.approx(1.0)


def test_zero_matches_give_zero_and_epsilon_smoothing_replaces_the_zero_counts():
    cand, refs = words("a b c d"), [words("e f g h")]
    assert sentence_bleu(cand, refs) == 0.0
    # matches 0.1 over totals 4, 3, 2, 1
    want = (0.1 / 4 * 0.1 / 3 * 0.1 / 2 * 0.1 / 1) ** 0.25
    assert sentence_bleu(cand, refs, smoothing="epsilon") == pytest.approx(want, rel=1e-12)


def test_no_matching_four_gram_gives_zero_without_smoothing_and_add_one_smooths_n_above_one():
    cand, refs = words("a b c d"), [words("a b e d")]
    assert sentence_bleu(cand, refs) == 0.0
    # p1 = 3/4 unchanged; p2 = (1+1)/(3+1), p3 = (0+1)/(2+1), p4 = (0+1)/(1+1)
    want = (3 / 4 * 2 / 4 * 1 / 3 * 1 / 2) ** 0.25
    assert sentence_bleu(cand, refs, smoothing="add-one") == pytest.approx(want, rel=1e-12)


def test_corpus_bleu_sums_counts_over_sentences_before_dividing():
    cands = [words("a b c d"), words("x y")]
    refs = [[words("a b c d")], [words("x z")]]
    # p1 = (4 + 1)/(4 + 2), p2 = (3 + 0)/(3 + 1), p3 = 2/2, p4 = 1/1; c = r = 6
    assert corpus_bleu(cands, refs) == pytest.approx((5 / 6 * 3 / 4) ** 0.25, rel=1e-12)
    # not the mean of the sentence scores (1 and 0)
    assert corpus_bleu(cands, refs) != pytest.approx(0.5)


def test_weights_choose_the_orders():
    cand, refs = words("a b c d"), [words("a b e d")]
    assert sentence_bleu(cand, refs, max_n=1) == pytest.approx(3 / 4)
    assert sentence_bleu(cand, refs, max_n=2, weights=[1, 0]) == pytest.approx(3 / 4)


def test_tokens_can_be_any_hashable_such_as_ids():
    assert sentence_bleu([1, 2, 3, 4], [[1, 2, 3, 4]]) == pytest.approx(1.0)


@pytest.mark.parametrize("call, error, words_in_message", [
    (lambda: sentence_bleu("the cat", [words("the cat")]), TypeError, "list(text)"),
    (lambda: sentence_bleu(words("the cat"), words("the cat")), TypeError, "[reference]"),
    (lambda: sentence_bleu(words("the cat"), []), ValueError, "at least one reference"),
    (lambda: corpus_bleu([words("a")], [[words("a")], [words("b")]]), ValueError, "one list of references"),
    (lambda: corpus_bleu([], []), ValueError, "empty corpus"),
    (lambda: sentence_bleu(words("a"), [words("a")], smoothing="laplace"), ValueError, "'add-one'"),
    (lambda: sentence_bleu(words("a"), [words("a")], weights=[1, 0]), ValueError, "one per n-gram"),
    (lambda: sentence_bleu(words("a"), [words("a")], max_n=0), ValueError, "max_n"),
    (lambda: ngram_counts(words("a"), 0), ValueError, "n must be"),
])
def test_bad_arguments_get_a_clear_error(call, error, words_in_message):
    with pytest.raises(error, match=None) as info:
        call()
    assert words_in_message in str(info.value)
