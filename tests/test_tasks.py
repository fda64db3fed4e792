"""rnn.tasks: the adding problem (both forms), copy memory and the embedded Reber grammar."""

import math

import numpy as np
import pytest

from rnn import tasks
from rnn.tasks import (
    REBER_SYMBOLS,
    adding_baseline_mse,
    adding_problem,
    adding_problem_hochreiter,
    copy_memory,
    copy_memory_baseline,
    is_reber_string,
    is_valid_next,
    reber_next_symbols,
    reber_string,
    reber_strings,
    reber_targets,
)


# ------------------------------------------------------- adding problem (Le et al.)
def test_adding_problem_shapes_and_dtypes():
    x, y = adding_problem(5, 30, rng=0)
    assert x.shape == (30, 5, 2) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.float32


def test_adding_problem_same_seed_same_data_other_seed_other_data():
    x1, y1 = adding_problem(8, 20, rng=3)
    x2, y2 = adding_problem(8, 20, rng=np.random.default_rng(3))
    x3, _ = adding_problem(8, 20, rng=4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_adding_problem_marks_exactly_one_step_in_each_half():
    x, _ = adding_problem(200, 31, rng=0)
    markers = x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers[:15].sum(axis=0), 1)
    np.testing.assert_array_equal(markers[15:].sum(axis=0), 1)


def test_adding_problem_values_are_uniform_0_1_and_target_is_their_marked_sum():
    x, y = adding_problem(200, 30, rng=1)
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0 and values.max() < 1
    np.testing.assert_allclose(y, (values * markers).sum(axis=0), rtol=1e-6)


def test_constant_guess_on_adding_problem_scores_the_baseline_mse():
    _, y = adding_problem(4000, 50, rng=0)
    mse = float(((y - 1.0) ** 2).mean())
    assert adding_baseline_mse() == pytest.approx(1 / 6)
    assert mse == pytest.approx(adding_baseline_mse(), abs=0.01)


# ------------------------------------------------ adding problem (Hochreiter 1997)
def test_hochreiter_adding_problem_lengths_are_between_T_and_T_plus_tenth():
    x, y, lengths = adding_problem_hochreiter(500, 50, rng=0)
    assert lengths.min() >= 50 and lengths.max() <= 55
    assert set(np.unique(lengths)) == set(range(50, 56))
    assert x.shape == (lengths.max(), 500, 2) and y.shape == (500,)


def test_hochreiter_adding_problem_fixed_length_option():
    x, _, lengths = adding_problem_hochreiter(20, 40, rng=0, variable_length=False)
    assert x.shape == (40, 20, 2)
    np.testing.assert_array_equal(lengths, 40)


def test_hochreiter_markers_first_in_first_ten_second_in_first_half():
    T = 60
    x, _, lengths = adding_problem_hochreiter(500, T, rng=2)
    markers = x[..., 1]
    for i in range(500):
        marked = np.flatnonzero(markers[:, i] == 1.0)
        assert len(marked) == 2
        assert marked[0] < 10 and marked[1] < T // 2
        minus_ones = (marked[0] != 0) + 1  # the first pair's -1 unless it is marked; the last pair's -1
        assert np.count_nonzero(markers[: lengths[i], i]) == 2 + minus_ones


def test_hochreiter_first_and_last_pairs_carry_minus_one_unless_marked():
    x, _, lengths = adding_problem_hochreiter(300, 20, rng=5)
    markers = x[..., 1]
    cols = np.arange(300)
    assert set(np.unique(markers[0])) <= {-1.0, 1.0}
    np.testing.assert_array_equal(markers[lengths - 1, cols], -1.0)  # the last pair is never marked 1
    assert (markers[0] == 1.0).any()  # with 300 sequences, the first pair gets marked sometimes


def test_hochreiter_target_is_half_plus_quarter_of_marked_sum_with_first_pair_zeroed():
    x, y, _ = adding_problem_hochreiter(300, 20, rng=5)
    values, markers = x[..., 0], x[..., 1]
    assert np.all(values[0][markers[0] == 1.0] == 0.0)
    assert np.abs(values).max() <= 1.0
    np.testing.assert_allclose(y, 0.5 + (values * (markers == 1.0)).sum(axis=0) / 4.0, rtol=1e-6)
    assert y.min() >= 0.0 and y.max() <= 1.0


def test_hochreiter_steps_past_a_sequence_end_are_zero():
    x, _, lengths = adding_problem_hochreiter(100, 50, rng=1)
    steps = np.arange(x.shape[0])[:, None]
    assert np.all(x[steps >= lengths] == 0.0)


def test_hochreiter_is_reproducible_from_a_seed():
    a = adding_problem_hochreiter(10, 30, rng=9)
    b = adding_problem_hochreiter(10, 30, rng=9)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


# ------------------------------------------------------------------ copy memory
def test_copy_memory_shapes_and_dtypes():
    x, y = copy_memory(6, T=25, rng=0)
    assert x.shape == y.shape == (45, 6)
    assert x.dtype == y.dtype == np.int64


def test_copy_memory_layout_symbols_blanks_delimiter_then_recall():
    T = 25
    x, y = copy_memory(50, T, rng=0)
    symbols = x[:10]
    assert symbols.min() >= 1 and symbols.max() <= 8
    np.testing.assert_array_equal(x[10: 10 + T - 1], 0)
    np.testing.assert_array_equal(x[T + 9], 9)  # the delimiter, 10 steps before the end
    np.testing.assert_array_equal(x[T + 10:], 0)
    np.testing.assert_array_equal(y[: T + 10], 0)
    np.testing.assert_array_equal(y[T + 10:], symbols)


def test_copy_memory_is_reproducible_from_a_seed():
    np.testing.assert_array_equal(copy_memory(4, 10, rng=1)[0], copy_memory(4, 10, rng=1)[0])
    assert not np.array_equal(copy_memory(4, 10, rng=1)[0], copy_memory(4, 10, rng=2)[0])


def test_best_memoryless_guess_on_copy_memory_scores_the_baseline():
    T, n = 30, 4000
    _, y = copy_memory(n, T, rng=0)
    # Without memory the best guess at each step is the empirical distribution of targets there.
    counts = np.stack([(y == c).sum(axis=1) for c in range(tasks.COPY_CLASSES)], axis=1)  # (T+20, 10)
    p = counts / n
    cross_entropy = -(counts * np.log(np.where(p > 0, p, 1))).sum() / (n * (T + 20))
    assert copy_memory_baseline(T) == pytest.approx(10 * math.log(8) / 50)
    assert cross_entropy == pytest.approx(copy_memory_baseline(T), rel=0.01)


# ----------------------------------------------------------- the Reber grammar
def test_generated_embedded_reber_strings_are_valid():
    strings = reber_strings(300, rng=0)
    assert all(is_reber_string(s) for s in strings)
    assert all(s[0] == "B" and s[-1] == "E" and s[1] == s[-2] and s[1] in "TP" for s in strings)
    assert {s[1] for s in strings} == {"T", "P"}


def test_generated_plain_reber_strings_are_valid():
    strings = reber_strings(300, rng=0, embedded=False)
    assert all(is_reber_string(s, embedded=False) for s in strings)
    assert "BTXSE" in strings and "BPVVE" in strings


def test_reber_strings_are_reproducible_from_a_seed():
    assert reber_strings(20, rng=7) == reber_strings(20, rng=np.random.default_rng(7))
    assert reber_strings(20, rng=7) != reber_strings(20, rng=8)
    assert reber_string(rng=3) == reber_string(rng=3)


def test_every_generated_symbol_is_a_valid_next_symbol_of_its_prefix():
    for s in reber_strings(100, rng=1):
        for t in range(len(s)):
            assert is_valid_next(s[:t], s[t])
        assert reber_next_symbols(s) == frozenset()


def test_next_symbols_after_the_inner_string_remember_the_first_branch():
    assert reber_next_symbols("") == {"B"}
    assert reber_next_symbols("BT") == {"B"}
    assert reber_next_symbols("BTB") == {"T", "P"}
    assert reber_next_symbols("BTBTXSE") == {"T"}
    assert reber_next_symbols("BPBTXSE") == {"P"}
    assert reber_next_symbols("BPBTXSEP") == {"E"}


def test_corrupted_strings_are_rejected():
    rng = np.random.default_rng(0)
    for s in reber_strings(100, rng=2):
        swapped_branch = s[:-2] + ("P" if s[-2] == "T" else "T") + "E"
        assert not is_reber_string(swapped_branch)
        assert not is_valid_next(s[:-2], swapped_branch[-2])
        t = int(rng.integers(len(s)))
        wrong = [c for c in REBER_SYMBOLS if c not in reber_next_symbols(s[:t])]
        corrupted = s[:t] + wrong[int(rng.integers(len(wrong)))] + s[t + 1:]
        assert not is_reber_string(corrupted)
    assert not is_reber_string("BTBTXSET")  # incomplete


def test_an_invalid_prefix_raises_naming_its_position():
    with pytest.raises(ValueError, match="'X' at position 2"):
        reber_next_symbols("BTXS")


def test_reber_targets_mark_the_valid_next_symbols_after_each_prefix():
    s = "BTBTXSETE"
    targets = reber_targets(s)
    assert targets.shape == (len(s), 7)
    for t in range(len(s)):
        marked = {REBER_SYMBOLS[i] for i in np.flatnonzero(targets[t])}
        assert marked == reber_next_symbols(s[: t + 1])
    assert not targets[-1].any()
