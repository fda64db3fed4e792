"""Synthetic long-range tasks: the adding problem, copy memory and the embedded Reber grammar.

Each generator takes ``rng``: an int seed, a ``np.random.Generator``, or None
(fresh entropy); the same seed gives the same data. Arrays are NumPy and
time-major like the recurrent layers: (T, N, ...) for N sequences of T steps.

    x, y = adding_problem(1000, T=100, rng=0)        # x (100, 1000, 2), y (1000,)
    x, y = copy_memory(1000, T=50, rng=0)            # x, y (70, 1000) int64 class ids
    s = reber_string(rng=0)                          # e.g. "BTBPVVETE"
    reber_next_symbols(s[:3])                        # the symbols that may follow "BTB"
"""

import math

import numpy as np

# ------------------------------------------------------------ the adding problem


def adding_problem(n, T, rng=None):
    """The adding problem in the form of Le, Jaitly & Hinton (2015): x (T, n, 2) float32, y (n,) float32.

    Channel 0 holds values drawn from U[0, 1); channel 1 is a marker that is 0
    everywhere except for exactly two 1s, one at a uniform position in the
    first half (t < T // 2) and one in the second half. The target is the sum
    of the two marked values, in [0, 2). Predicting the constant 1 scores an
    MSE of Var(u1 + u2) = 2/12 (``adding_baseline_mse()``); a model has learnt
    something only once it beats that.
    """
    _check_positive_int(n, "adding_problem", "n")
    _check_positive_int(T, "adding_problem", "T", minimum=2)
    rng = np.random.default_rng(rng)
    values = rng.random((T, n))
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    markers = np.zeros((T, n))
    columns = np.arange(n)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    y = values[first, columns] + values[second, columns]
    return np.stack([values, markers], axis=-1).astype(np.float32), y.astype(np.float32)


def adding_baseline_mse():
    """MSE of always predicting 1 (the mean target) on ``adding_problem``: 2 * (1/12) = 1/6 ~ 0.167."""
    return 2.0 / 12.0


def adding_problem_hochreiter(n, T, rng=None, variable_length=True):
    """The adding problem as Hochreiter & Schmidhuber (1997, Experiment 4) define it.

    Returns x (L, n, 2) float32 with L the longest sequence, y (n,) float32 and
    lengths (n,) int64. Each step is a pair (value, marker):

    - values from U[-1, 1];
    - lengths uniform in {T, ..., T + T // 10} (all T if ``variable_length`` is False);
    - X1: one of the first ten pairs, chosen uniformly, is marked 1;
    - X2: one of the first T // 2 - 1 still unmarked pairs, chosen uniformly, is marked 1;
    - every other marker is 0, except the first and the last pair of the
      sequence, which are marked -1 (unless marked 1 above);
    - if the first pair is marked 1, its value is set to 0 (the paper's rule for X1);
    - target y = 0.5 + (X1 + X2) / 4.0, the sum scaled into [0, 1]; the paper
      counts a sequence as solved when |error| < 0.04 at its last step.

    Steps past a sequence's length are all zeros (use ``lengths`` to read the
    output at each sequence's own last step).
    """
    _check_positive_int(n, "adding_problem_hochreiter", "n")
    _check_positive_int(T, "adding_problem_hochreiter", "T", minimum=10)
    rng = np.random.default_rng(rng)
    if variable_length:
        lengths = rng.integers(T, T + T // 10 + 1, size=n)
    else:
        lengths = np.full(n, T)
    L = int(lengths.max())
    columns = np.arange(n)
    values = rng.uniform(-1.0, 1.0, size=(L, n))
    first = rng.integers(0, 10, size=n)
    # The j-th unmarked pair is j when j < first, else j + 1 (pair `first` is skipped).
    j = rng.integers(0, T // 2 - 1, size=n)
    second = np.where(j < first, j, j + 1)
    markers = np.zeros((L, n))
    markers[0, columns] = -1.0
    markers[lengths - 1, columns] = -1.0
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    values[0, markers[0] == 1.0] = 0.0
    steps = np.arange(L)[:, None]
    values[steps >= lengths] = 0.0
    y = 0.5 + (values[first, columns] + values[second, columns]) / 4.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    return x, y.astype(np.float32), lengths.astype(np.int64)


# ---------------------------------------------------------------- copy memory
COPY_BLANK = 0  # category 0: "nothing here"
COPY_DELIMITER = 9  # category 9: "now repeat the symbols"
COPY_CLASSES = 10  # categories 0..9; the symbols to remember are 1..8
COPY_SYMBOLS = 10  # how many symbols a sequence asks to remember


def copy_memory(n, T, rng=None):
    """The copy-memory task of Arjovsky, Shah & Bengio (2016): x, y (T + 20, n) int64 categories.

    Input:  10 symbols drawn uniformly from {1, ..., 8}, then T - 1 blanks (0),
            the delimiter (9), and 10 more blanks.
    Target: T + 10 blanks, then the 10 input symbols in the same order.

    So the model must hold the symbols for T steps. A memoryless model that
    predicts blanks, then a uniform guess among 8 symbols, scores a
    cross-entropy of 10 ln 8 / (T + 20) per step (``copy_memory_baseline(T)``).
    """
    _check_positive_int(n, "copy_memory", "n")
    _check_positive_int(T, "copy_memory", "T")
    rng = np.random.default_rng(rng)
    symbols = rng.integers(1, 9, size=(COPY_SYMBOLS, n))
    length = T + 2 * COPY_SYMBOLS
    x = np.full((length, n), COPY_BLANK, dtype=np.int64)
    y = np.full((length, n), COPY_BLANK, dtype=np.int64)
    x[:COPY_SYMBOLS] = symbols
    x[COPY_SYMBOLS + T - 1] = COPY_DELIMITER
    y[-COPY_SYMBOLS:] = symbols
    return x, y


def copy_memory_baseline(T):
    """Mean cross-entropy per step of the best memoryless guess on ``copy_memory``: 10 ln 8 / (T + 20)."""
    _check_positive_int(T, "copy_memory_baseline", "T")
    return COPY_SYMBOLS * math.log(8) / (T + 2 * COPY_SYMBOLS)


# ------------------------------------------------------ the embedded Reber grammar
REBER_SYMBOLS = "BEPSTVX"  # the alphabet; a symbol's id is its index here

# Reber's grammar as a finite automaton {state: {symbol: next state}}; state 7 accepts.
# Where a state has two edges each is taken with probability 1/2. Valid strings
# include "BTXSE", "BPVVE", "BPTVPSE" and "BTSSXXTVVE".
_REBER = {
    0: {"B": 1},
    1: {"T": 2, "P": 3},
    2: {"S": 2, "X": 4},
    3: {"T": 3, "V": 5},
    4: {"X": 3, "S": 6},
    5: {"P": 4, "V": 6},
    6: {"E": 7},
    7: {},
}


def _embedded_reber():
    """The embedded grammar B (T reber T | P reber P) E as one automaton.

    States: "start", "open", (branch, inner state) for the inner Reber string,
    "close", "end". After the inner string, only the branch symbol chosen at
    the start may follow: that is the long-range dependency.
    """
    table = {"start": {"B": "open"}, "open": {"T": ("T", 0), "P": ("P", 0)}}
    for branch in "TP":
        for state, edges in _REBER.items():
            table[(branch, state)] = {symbol: (branch, nxt) for symbol, nxt in edges.items()}
        table[(branch, 7)] = {branch: "close"}
    table["close"] = {"E": "end"}
    table["end"] = {}
    return table


_EMBEDDED_REBER = _embedded_reber()
_START = {False: 0, True: "start"}


def _automaton(embedded):
    return _EMBEDDED_REBER if embedded else _REBER


def reber_string(rng=None, embedded=True):
    """One random string of the (embedded) Reber grammar, each branch taken with probability 1/2."""
    rng = np.random.default_rng(rng)
    table = _automaton(embedded)
    state, out = _START[embedded], []
    while table[state]:
        edges = sorted(table[state].items())
        symbol, state = edges[rng.integers(len(edges))]
        out.append(symbol)
    return "".join(out)


def reber_strings(n, rng=None, embedded=True):
    """``n`` random (embedded) Reber strings, as a list of str."""
    _check_positive_int(n, "reber_strings", "n")
    rng = np.random.default_rng(rng)
    return [reber_string(rng, embedded) for _ in range(n)]


def _walk(prefix, embedded, name):
    table = _automaton(embedded)
    state = _START[embedded]
    for i, symbol in enumerate(prefix):
        if symbol not in table[state]:
            grammar = "embedded Reber" if embedded else "Reber"
            allowed = ", ".join(sorted(table[state])) or "nothing (the string is complete)"
            raise ValueError(f"{name}: {prefix!r} is not a prefix of the {grammar} grammar: "
                             f"{symbol!r} at position {i} cannot follow {prefix[:i]!r} "
                             f"(allowed there: {allowed})")
        state = table[state][symbol]
    return table, state


def reber_next_symbols(prefix, embedded=True):
    """The set of symbols that may follow ``prefix`` (empty once the string is complete).

    Raises ValueError, naming the position, if ``prefix`` itself breaks the grammar.
    """
    table, state = _walk(prefix, embedded, "reber_next_symbols")
    return frozenset(table[state])


def is_valid_next(prefix, symbol, embedded=True):
    """Whether predicting ``symbol`` after the valid prefix ``prefix`` is allowed by the grammar."""
    return symbol in reber_next_symbols(prefix, embedded)


def is_reber_string(string, embedded=True):
    """Whether ``string`` is a complete string of the (embedded) Reber grammar."""
    try:
        table, state = _walk(string, embedded, "is_reber_string")
    except ValueError:
        return False
    return not table[state]


def reber_targets(string, embedded=True):
    """(len(string), 7) float32 multi-hot: row t marks every symbol that may follow string[: t + 1].

    The classic training target (Hochreiter & Schmidhuber 1997): the network
    predicts the set of valid next symbols; the last row is all zeros.
    """
    out = np.zeros((len(string), len(REBER_SYMBOLS)), dtype=np.float32)
    table, state = _walk("", embedded, "reber_targets")
    for t, symbol in enumerate(string):
        if symbol not in table[state]:
            _walk(string, embedded, "reber_targets")  # raises, naming the position
        state = table[state][symbol]
        for nxt in table[state]:
            out[t, REBER_SYMBOLS.index(nxt)] = 1.0
    return out


def _check_positive_int(value, name, arg, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: {arg} must be an int >= {minimum}, got {value!r}")
