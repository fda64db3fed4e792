"""BLEU (Papineni, Roukos, Ward and Zhu 2002), written from its published definition.

A candidate translation is compared with one or more references, each a list
of tokens (words, characters, ids: anything hashable).

Modified n-gram precision (section 2.1). Count each n-gram of the candidate,
but credit it at most as many times as it occurs in any single reference:

    Count_clip(g) = min(Count_cand(g), max_r Count_r(g))
    p_n = sum over candidates of sum_g Count_clip(g)  /  sum over candidates of sum_g Count_cand(g)

("the the the the" against "the cat" has unigram precision 1/4, not 4/4.)
At corpus level the clipped counts and the totals are summed over all
sentences before dividing (section 2.1.1), not averaged per sentence.

Brevity penalty (section 2.2.2). c = total candidate length, r = the effective
reference length: for each candidate the length of the reference closest to
it (the shorter on a tie, as NLTK and sacrebleu do), summed over the corpus:

    BP = 1 if c > r else exp(1 - r / c)        (0 when c = 0)

    BLEU = BP * exp(sum_{n=1}^{N} w_n log p_n),   N = 4, w_n = 1/N

If some p_n is 0 the geometric mean is 0, and so is BLEU. That is common for
a single short sentence (no matching 4-gram), so sentence-level BLEU is often
smoothed (Chen and Cherry 2014 compare seven ways); ``smoothing`` offers two:

    "none"     the definition: a zero p_n gives BLEU 0
    "epsilon"  a zero count of matches becomes epsilon = 0.1 (Chen and Cherry's method 1)
    "add-one"  p_n = (matches + 1) / (total + 1) for n >= 2 (Lin and Och 2004;
               Chen and Cherry's method 2); p_1 is unchanged

Scores are in [0, 1] (multiply by 100 for the usual reporting scale).
"""

import math
from collections import Counter

__all__ = ["ngram_counts", "modified_precision", "brevity_penalty", "corpus_bleu", "sentence_bleu"]

SMOOTHING = ("none", "epsilon", "add-one")
EPSILON = 0.1


def _tokens(x, what):
    if isinstance(x, str):
        raise TypeError(f"{what} is a str ({x[:30]!r}); pass a list of tokens: text.split() for words, "
                        "list(text) for characters")
    try:
        return list(x)
    except TypeError:
        raise TypeError(f"{what} must be a list of tokens, got {type(x).__name__}") from None


def _references(refs, what):
    """A list of token lists; a single token list given by mistake is an error, not a silent pass."""
    if isinstance(refs, str) or not hasattr(refs, "__iter__"):
        raise TypeError(f"{what} must be a list of references, each a list of tokens; got {refs!r:.60}")
    refs = list(refs)
    if not refs:
        raise ValueError(f"{what} is empty; give at least one reference")
    if any(isinstance(r, str) or not hasattr(r, "__iter__") for r in refs):
        raise TypeError(f"{what} must be a list of references, each a list of tokens, but it holds "
                        f"{type(refs[0]).__name__} items: for one reference write [reference]")
    return [_tokens(r, f"{what}[{i}]") for i, r in enumerate(refs)]


def ngram_counts(tokens, n):
    """Counter of the n-grams (tuples of n consecutive tokens) of ``tokens``: len(tokens) - n + 1 of them."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"ngram_counts: n must be an int >= 1, got {n!r}")
    tokens = _tokens(tokens, "ngram_counts: tokens")
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(candidate, references, n):
    """(clipped matches, total) of the candidate's n-grams: p_n's numerator and denominator for one sentence.

    candidate: a list of tokens; references: a list of token lists.
    clipped matches = sum_g min(Count_cand(g), max_r Count_r(g)); total = sum_g Count_cand(g).
    """
    candidate = _tokens(candidate, "modified_precision: candidate")
    references = _references(references, "modified_precision: references")
    counts = ngram_counts(candidate, n)
    most = Counter()
    for ref in references:
        most |= ngram_counts(ref, n)  # | keeps the larger count of each n-gram: max over references
    clipped = sum(min(c, most[g]) for g, c in counts.items())
    return clipped, sum(counts.values())


def _closest_reference_length(c, references):
    return min((abs(len(r) - c), len(r)) for r in references)[1]


def brevity_penalty(c, r):
    """BP = 1 if c > r else exp(1 - r / c); 0 for an empty candidate (c = 0)."""
    if c < 0 or r < 0:
        raise ValueError(f"brevity_penalty: lengths must be >= 0, got c = {c}, r = {r}")
    if c > r:
        return 1.0
    if c == 0:
        return 0.0
    return math.exp(1 - r / c)


def _check_options(max_n, weights, smoothing, where):
    if not isinstance(max_n, int) or isinstance(max_n, bool) or max_n < 1:
        raise ValueError(f"{where}: max_n must be an int >= 1 (4 in the paper), got {max_n!r}")
    if weights is None:
        weights = [1.0 / max_n] * max_n
    weights = [float(w) for w in weights]
    if len(weights) != max_n:
        raise ValueError(f"{where}: got {len(weights)} weights for max_n = {max_n}; "
                         "give one per n-gram order")
    if any(w < 0 for w in weights):
        raise ValueError(f"{where}: weights must be >= 0, got {weights}")
    if smoothing not in SMOOTHING:
        choices = ", ".join(map(repr, SMOOTHING))
        raise ValueError(f"{where}: smoothing must be one of {choices}, got {smoothing!r}")
    return weights


def corpus_bleu(candidates, references, max_n=4, weights=None, smoothing="none"):
    """Corpus BLEU in [0, 1]: clipped n-gram counts and lengths summed over the corpus, then combined.

    candidates: list of S token lists. references: list of S lists of references (token lists),
    references[s] for candidates[s]. weights: max_n weights w_n (default uniform 1/max_n).
    smoothing: "none" (the definition), "epsilon" or "add-one" (see the module docstring).
    """
    where = "corpus_bleu"
    weights = _check_options(max_n, weights, smoothing, where)
    if isinstance(candidates, str) or isinstance(references, str):
        raise TypeError(f"{where}: candidates and references must be lists (of sentences), not a str")
    candidates, references = list(candidates), list(references)
    if len(candidates) != len(references):
        raise ValueError(f"{where}: {len(candidates)} candidates but {len(references)} reference lists; "
                         "give one list of references per candidate")
    if not candidates:
        raise ValueError(f"{where}: no candidates; BLEU of an empty corpus is undefined")
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for s, (cand, refs) in enumerate(zip(candidates, references, strict=True)):
        cand = _tokens(cand, f"{where}: candidates[{s}]")
        refs = _references(refs, f"{where}: references[{s}]")
        for n in range(1, max_n + 1):
            m, t = modified_precision(cand, refs, n)
            matches[n - 1] += m
            totals[n - 1] += t
        c += len(cand)
        r += _closest_reference_length(len(cand), refs)
    log_sum = 0.0
    for n, (m, t, w) in enumerate(zip(matches, totals, weights, strict=True), start=1):
        if smoothing == "add-one" and n >= 2:
            m, t = m + 1, t + 1
        elif smoothing == "epsilon" and m == 0 and t > 0:
            m = EPSILON
        if w == 0:
            continue
        if m == 0 or t == 0:
            return 0.0  # a zero precision (or no n-grams at all): the geometric mean is 0
        log_sum += w * math.log(m / t)
    return brevity_penalty(c, r) * math.exp(log_sum)


def sentence_bleu(candidate, references, max_n=4, weights=None, smoothing="none"):
    """BLEU of one candidate against its references: corpus_bleu of a corpus of one sentence."""
    return corpus_bleu([candidate], [references], max_n=max_n, weights=weights, smoothing=smoothing)
