"""Greedy decoding and beam search over a step function."""

import itertools

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from rnn.decode import beam_search, greedy_decode

END, START, V = 0, 3, 3  # tokens 0 (end), 1, 2; the start token is fed but never generated


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def table_model(seed, depth=6, sharpness=2.0):
    """A step function whose next-token distribution depends on the whole prefix.

    The state of a hypothesis is an int coding its prefix; each prefix has its own random
    distribution over the V tokens, so the most probable sequence is found only by search.
    """
    rng = np.random.default_rng(seed)
    table = log_softmax(sharpness * rng.standard_normal(((V + 2) ** depth, V)))

    def step(tokens, state):
        code = state * (V + 2) + tokens + 1
        return table[code], code

    def log_prob(tokens, finished):
        code, total, last = np.zeros(1, dtype=np.int64), 0.0, START
        for t in list(tokens) + ([END] if finished else []):
            lp, code = step(np.array([last]), code)
            total += lp[0, t]
            last = t
        return total

    return step, np.zeros(1, dtype=np.int64), log_prob


def every_sequence(max_len):
    """All outputs of at most max_len tokens: (tokens, finished)."""
    for n in range(max_len):
        for seq in itertools.product([1, 2], repeat=n):
            yield list(seq), True
    for seq in itertools.product([1, 2], repeat=max_len):
        yield list(seq), False


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 1.0])
def test_a_beam_of_width_v_to_the_max_len_finds_the_exhaustive_argmax(seed, length_penalty):
    max_len = 4
    step, state0, log_prob = table_model(seed)
    scored = []
    for tokens, finished in every_sequence(max_len):
        lp = log_prob(tokens, finished)
        scored.append((lp / (len(tokens) + finished) ** length_penalty, tokens, finished))
    best_score, best_tokens, best_finished = max(scored, key=lambda s: s[0])
    hyps = beam_search(step, state0, START, END, beam_width=V ** max_len, max_len=max_len,
                       length_penalty=length_penalty)
    assert hyps[0].tokens == best_tokens and hyps[0].finished == best_finished
    assert hyps[0].score == pytest.approx(best_score, abs=1e-12)
    # nothing was pruned: every sequence was scored, with its true log-probability
    assert sorted(h.score for h in hyps) == pytest.approx(sorted(s for s, _, _ in scored), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_a_beam_of_width_one_is_greedy_decoding(seed):
    step, state0, _ = table_model(seed, sharpness=0.5)
    greedy = greedy_decode(step, state0, START, END, max_len=5)
    [beam] = beam_search(step, state0, START, END, beam_width=1, max_len=5, length_penalty=0.0)
    assert (beam.tokens, beam.finished) == (greedy.tokens, greedy.finished)
    assert beam.log_prob == pytest.approx(greedy.log_prob, abs=1e-12)


def test_greedy_takes_the_most_probable_token_at_every_step():
    step, state0, log_prob = table_model(5)
    got = greedy_decode(step, state0, START, END, max_len=5)
    code, last, tokens = state0, START, []
    for _ in range(5):
        lp, code = step(np.array([last]), code)
        last = int(lp[0].argmax())
        if last == END:
            break
        tokens.append(last)
    assert got.tokens == tokens and got.finished == (last == END)
    assert got.log_prob == pytest.approx(log_prob(got.tokens, got.finished)) and got.score == got.log_prob


@pytest.mark.parametrize("width", [2, 3, 5])
def test_hypotheses_are_sorted_best_first_with_their_true_log_probability(width):
    step, state0, log_prob = table_model(7, sharpness=1.0)
    hyps = beam_search(step, state0, START, END, beam_width=width, max_len=5, length_penalty=1.0)
    assert 1 <= len(hyps) <= width
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    for h in hyps:
        assert h.log_prob == pytest.approx(log_prob(h.tokens, h.finished), abs=1e-12)
        assert h.score == pytest.approx(h.log_prob / (len(h.tokens) + h.finished))


def test_beam_search_reorders_a_recurrent_models_tuple_state():
    # An LSTM language model: the state (h, c) of Tensors is indexed by hypothesis on axis 0.
    tg.manual_seed(0)
    vocab, hidden = 5, 8
    emb = tg.nn.Embedding(vocab + 1, 4, dtype=np.float64)
    cell = rnn.LSTMCell(4, hidden, dtype=np.float64)
    head = tg.nn.Linear(hidden, vocab, dtype=np.float64)

    def step(tokens, state):
        h, c = cell(emb(tg.tensor(tokens)), state)
        return tg.functional.log_softmax(head(h) * 3.0, dim=-1), (h, c)

    start = (tg.zeros(1, hidden, dtype=np.float64), tg.zeros(1, hidden, dtype=np.float64))
    with tg.no_grad():
        hyps = beam_search(step, start, vocab, 0, beam_width=4, max_len=6)
        for h in hyps:  # re-score each hypothesis on its own: same log-probability
            state, last, total = start, vocab, 0.0
            for t in h.tokens + ([0] if h.finished else []):
                lp, state = step(np.array([last]), state)
                total += float(lp.numpy()[0, t])
                last = t
            assert h.log_prob == pytest.approx(total, abs=1e-10)
        greedy = greedy_decode(step, start, vocab, 0, max_len=6)
        [one] = beam_search(step, start, vocab, 0, beam_width=1, max_len=6)
    assert one.tokens == greedy.tokens


def test_length_penalty_zero_prefers_the_short_and_one_the_mean():
    # First step: the end with p = 0.45, token 1 with 0.55; then the end with 0.7, token 2 with 0.3;
    # then the end. Raw sums: [] log 0.45 beats [1] log 0.385; per token, [1] (log 0.385 / 2) wins.
    def step(tokens, state):
        table = np.array([[0.45, 0.55, 0.0], [0.7, 0.0, 0.3], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
        p = table[state]
        with np.errstate(divide="ignore"):
            return np.log(p), state + 1

    state0 = np.zeros(1, dtype=np.int64)
    raw = beam_search(step, state0, START, END, beam_width=2, max_len=3, length_penalty=0.0)
    mean = beam_search(step, state0, START, END, beam_width=2, max_len=3, length_penalty=1.0)
    assert raw[0].tokens == [] and raw[0].score == pytest.approx(np.log(0.45))
    assert mean[0].tokens == [1] and mean[0].score == pytest.approx(np.log(0.55 * 0.7) / 2)


@pytest.mark.parametrize("kwargs, message", [
    ({"beam_width": 0}, "beam_width must be an int >= 1"),
    ({"beam_width": 2.0}, "beam_width must be an int >= 1"),
    ({"max_len": 0}, "max_len must be an int >= 1"),
    ({"length_penalty": -1.0}, "length_penalty must be a number >= 0"),
])
def test_bad_arguments_get_a_clear_error(kwargs, message):
    step, state0, _ = table_model(0)
    args = {"beam_width": 2, "max_len": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        beam_search(step, state0, START, END, **args)


def test_a_step_function_returning_logits_is_an_error_not_a_silent_search():
    def logits(tokens, state):
        return np.ones((len(tokens), V)), state

    with pytest.raises(ValueError, match="log_softmax"):
        beam_search(logits, np.zeros(1), START, END, beam_width=2, max_len=3)
    with pytest.raises(ValueError, match="log_softmax"):
        greedy_decode(logits, np.zeros(1), START, END, max_len=3)


def test_log_probs_of_the_wrong_shape_are_an_error():
    def flat(tokens, state):
        return np.log(np.full(V, 1 / V)), state

    with pytest.raises(ValueError, match=r"shape \(K, V\)"):
        beam_search(flat, np.zeros(1), START, END, beam_width=2, max_len=3)


def test_a_token_that_is_not_an_int_is_an_error():
    step, state0, _ = table_model(0)
    with pytest.raises(TypeError, match="end_token must be an int"):
        greedy_decode(step, state0, START, "</s>", max_len=3)


def test_beam_search_decodes_the_char_lm_with_its_state_moved_to_the_hypothesis_axis():
    # rnn.lm.CharLM keeps its state as (L, B, H); the step function moves the hypotheses to axis 0.
    from rnn.lm import CharLM

    tg.manual_seed(1)
    model = CharLM(6, hidden_size=8, kind="lstm", embedding_size=4, dtype=np.float64)

    def step(tokens, state):
        hx = None if state is None else tuple(s.transpose(0, 1) for s in state)
        logits, (h, c) = model(tg.tensor(tokens[None, :]), hx)  # (1, K, V)
        return tg.functional.log_softmax(logits[0] * 4.0, dim=-1), (h.transpose(0, 1), c.transpose(0, 1))

    with tg.no_grad():
        hyps = beam_search(step, None, 5, 0, beam_width=3, max_len=5)
        greedy = greedy_decode(step, None, 5, 0, max_len=5)
        [one] = beam_search(step, None, 5, 0, beam_width=1, max_len=5)
        for h in hyps:  # the whole sequence in one teacher-forced call gives the same log-probability
            ids = np.array([5] + h.tokens + ([0] if h.finished else []))
            logits, _ = model(tg.tensor(ids[:-1, None]))
            lp = tg.functional.log_softmax(logits[:, 0] * 4.0, dim=-1).numpy()
            assert h.log_prob == pytest.approx(lp[np.arange(len(ids) - 1), ids[1:]].sum(), abs=1e-10)
    assert (one.tokens, one.finished) == (greedy.tokens, greedy.finished)


def test_beam_search_runs_on_device_tensors_without_implicit_copies():
    # The strict simulated GPU refuses to mix device and host arrays: states stay on the device,
    # and only the (K, V) log-probabilities come to the host, through .numpy().
    from tensorgrad.testing import simulated_device

    with simulated_device():
        tg.manual_seed(0)
        emb = tg.nn.Embedding(6, 4, dtype=np.float64).to("cuda")
        cell = rnn.GRUCell(4, 8, dtype=np.float64).to("cuda")
        head = tg.nn.Linear(8, 5, dtype=np.float64).to("cuda")

        def step(tokens, h):
            h = cell(emb(tg.tensor(tokens, device="cuda")), h)
            return tg.functional.log_softmax(head(h) * 3.0, dim=-1), h

        with tg.no_grad():
            h0 = tg.zeros(1, 8, dtype=np.float64, device="cuda")
            greedy = greedy_decode(step, h0, 5, 0, max_len=5)
            [one] = beam_search(step, h0, 5, 0, beam_width=1, max_len=5)
            hyps = beam_search(step, h0, 5, 0, beam_width=3, max_len=5)
    assert one.tokens == greedy.tokens and 1 <= len(hyps) <= 3
