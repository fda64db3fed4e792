"""F.ctc_loss and nn.CTCLoss: against a brute-force sum over every frame-level path on tiny cases,
gradcheck of the true gradient wrt log-probabilities, the reductions, zero_infinity, the target
layouts, torch (losses and gradients wrt logits), the devices, and the error messages."""

import itertools

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn
from tensorgrad.gradcheck import gradcheck


def _collapse(path, blank):
    labels, prev = [], None
    for p in path:
        if p != prev and p != blank:
            labels.append(p)
        prev = p
    return labels


def brute_force_nll(lp, target, blank):
    """-log of the summed probability of every path (C^T of them) that collapses to ``target``."""
    T, C = lp.shape
    total = -np.inf
    for path in itertools.product(range(C), repeat=T):
        if _collapse(path, blank) == list(target):
            total = np.logaddexp(total, sum(lp[t, c] for t, c in enumerate(path)))
    return -total


def _log_softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _random_lp(rng, *shape):
    return _log_softmax(rng.standard_normal(shape))


# (T, C, target, blank): repeats (which need a blank between them), blank not 0, empty targets,
# targets exactly as long as their alignment needs, and some no alignment fits
CASES = [
    (1, 2, [], 0), (1, 3, [1], 0), (2, 3, [1, 2], 0), (3, 3, [1, 1], 0), (2, 3, [1, 1], 0),
    (4, 3, [1, 1], 0), (4, 3, [2, 1], 0), (5, 3, [1, 2, 1], 0), (5, 3, [], 0), (4, 4, [3, 1], 2),
    (4, 3, [0, 0], 1), (5, 3, [1, 1], 2), (3, 4, [3, 3, 3], 0), (5, 4, [1, 1, 2], 3), (6, 3, [1, 2, 2], 0),
]


@pytest.mark.parametrize("T, C, target, blank", CASES)
def test_loss_is_the_brute_force_sum_over_all_alignments(T, C, target, blank):
    lp = _random_lp(np.random.default_rng(T * 31 + C * 7 + blank), T, C)
    expected = brute_force_nll(lp, target, blank)
    got = F.ctc_loss(tg.tensor(lp[:, None]), np.array([target], dtype=np.int64).reshape(1, -1), [T],
                     [len(target)], blank=blank, reduction="none")
    assert got.shape == (1,)
    if np.isinf(expected):
        assert np.isinf(got.item()) and got.item() > 0
    else:
        np.testing.assert_allclose(got.item(), expected, rtol=1e-12)


def test_a_batch_of_different_lengths_matches_brute_force_per_sequence():
    rng = np.random.default_rng(1)
    T, C, blank = 5, 4, 1
    targets = [[2, 2], [3], [], [0, 2, 3]]
    input_lengths = [5, 3, 2, 5]
    lp = _random_lp(rng, T, len(targets), C)
    padded = np.full((4, 3), 7, dtype=np.int64)  # padding values are never read, even out of range ones
    for n, t in enumerate(targets):
        padded[n, :len(t)] = t
    got = F.ctc_loss(tg.tensor(lp), padded, input_lengths, [len(t) for t in targets], blank=blank,
                     reduction="none").numpy()
    expected = [brute_force_nll(lp[:input_lengths[n], n], t, blank) for n, t in enumerate(targets)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def _batch(rng, dtype=np.float64):
    T, N, C = 6, 3, 5
    lp = _random_lp(rng, T, N, C).astype(dtype)
    targets = np.array([[1, 2, 2], [3, 4, 0], [4, 0, 0]])
    return lp, targets, [6, 5, 4], [3, 2, 1]


@pytest.mark.parametrize("blank", [0, 3])
def test_gradcheck_of_the_true_gradient_wrt_log_probs(blank):
    rng = np.random.default_rng(2)
    lp, targets, il, tl = _batch(rng)
    targets = np.where(targets == blank, 1, targets)
    # arbitrary values, not normalised: the gradient is the loss's own, with no softmax assumed
    x = tg.tensor(lp + rng.standard_normal(lp.shape) * 0.3, requires_grad=True)
    gradcheck(lambda x: F.ctc_loss(x, targets, il, tl, blank=blank, reduction="sum"), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_through_log_softmax_for_every_reduction(reduction):
    rng = np.random.default_rng(3)
    lp, targets, il, tl = _batch(rng)
    x = tg.tensor(rng.standard_normal(lp.shape), requires_grad=True)
    w = tg.tensor(rng.standard_normal(3))

    def f(x):
        loss = F.ctc_loss(F.log_softmax(x, dim=2), targets, il, tl, reduction=reduction)
        return (loss * w).sum() if reduction == "none" else loss

    gradcheck(f, [x])


def test_reductions_follow_torch_mean_divides_by_target_lengths_clamped_to_one():
    lp, targets, il, _ = _batch(np.random.default_rng(4))
    tl = [3, 2, 0]
    none = F.ctc_loss(tg.tensor(lp), targets, il, tl, reduction="none").numpy()
    assert none.shape == (3,)
    np.testing.assert_allclose(F.ctc_loss(tg.tensor(lp), targets, il, tl, reduction="sum").item(), none.sum())
    np.testing.assert_allclose(F.ctc_loss(tg.tensor(lp), targets, il, tl).item(),
                               np.mean(none / np.array([3, 2, 1])))


def test_padded_and_concatenated_targets_give_the_same_losses_and_gradients():
    lp, targets, il, tl = _batch(np.random.default_rng(5))
    concatenated = np.concatenate([targets[n, :tl[n]] for n in range(3)])
    results = []
    for t in (targets, concatenated, tg.tensor(targets), tg.tensor(concatenated)):
        x = tg.tensor(lp, requires_grad=True)
        loss = F.ctc_loss(x, t, tg.tensor(np.array(il)), tuple(tl), reduction="sum")
        loss.backward()
        results.append((loss.item(), x.grad.numpy()))
    for loss, grad in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])


def test_unbatched_input_is_one_sequence():
    lp, targets, il, tl = _batch(np.random.default_rng(6))
    batched = F.ctc_loss(tg.tensor(lp), targets, il, tl, reduction="none").numpy()
    one = F.ctc_loss(tg.tensor(lp[:il[1], 1]), targets[1, :tl[1]], il[1], tl[1], reduction="none")
    assert one.shape == ()
    np.testing.assert_allclose(one.item(), batched[1])
    mean = F.ctc_loss(tg.tensor(lp[:, 0]), targets[0], tg.tensor(il[0]), tg.tensor(tl[0]))
    np.testing.assert_allclose(mean.item(), batched[0] / tl[0])


def test_a_target_too_long_for_its_input_is_inf_or_zero_with_zero_infinity():
    rng = np.random.default_rng(7)
    lp = _random_lp(rng, 3, 2, 4)
    targets = np.array([[1, 1, 2], [1, 2, 3]])  # [1, 1, 2] needs 4 frames; [1, 2, 3] fits in 3
    x = tg.tensor(lp, requires_grad=True)
    loss = F.ctc_loss(x, targets, [3, 3], [3, 3], reduction="none")
    assert np.isinf(loss.numpy()[0]) and np.isfinite(loss.numpy()[1])
    x = tg.tensor(lp, requires_grad=True)
    loss = F.ctc_loss(x, targets, [3, 3], [3, 3], reduction="none", zero_infinity=True)
    assert loss.numpy()[0] == 0 and np.isfinite(loss.numpy()[1])
    loss.sum().backward()
    assert np.all(x.grad.numpy()[:, 0] == 0) and np.all(np.isfinite(x.grad.numpy()))
    assert np.any(x.grad.numpy()[:, 1] != 0)
    # a target longer than its input is no error (as in torch): its loss is inf
    assert np.isinf(F.ctc_loss(tg.tensor(lp), targets, [2, 2], [3, 3], reduction="sum").item())


def test_frames_past_an_input_length_get_no_gradient():
    lp, targets, il, tl = _batch(np.random.default_rng(8))
    x = tg.tensor(lp, requires_grad=True)
    F.ctc_loss(x, targets, il, tl).backward()
    g = x.grad.numpy()
    assert np.all(g[5:, 1] == 0) and np.all(g[4:, 2] == 0) and np.any(g[4, 1] != 0)


def test_no_frames_and_an_empty_target_has_loss_zero():
    lp = _random_lp(np.random.default_rng(9), 3, 2, 3)
    loss = F.ctc_loss(tg.tensor(lp), np.array([[1], [1]]), [0, 0], [0, 1], reduction="none").numpy()
    assert loss[0] == 0 and np.isinf(loss[1])


def test_module_matches_functional_and_float32_stays_float32():
    lp, targets, il, tl = _batch(np.random.default_rng(10), np.float32)
    module = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert "zero_infinity=True" in repr(module)
    x = tg.tensor(lp, requires_grad=True)
    loss = module(x, targets, il, tl)
    assert loss.dtype == np.float32
    assert loss.item() == F.ctc_loss(tg.tensor(lp), targets, il, tl, reduction="sum",
                                     zero_infinity=True).item()
    loss.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), F.ctc_loss(tg.tensor(lp.astype(np.float64)), targets, il, tl,
                                                       reduction="sum").item(), rtol=1e-5)


def test_on_every_device(device):
    lp, targets, il, tl = _batch(np.random.default_rng(11))
    expected_x = tg.tensor(lp, requires_grad=True)
    expected = F.ctc_loss(expected_x, targets, il, tl)
    expected.backward()
    x = tg.tensor(lp, device=device, requires_grad=True)
    loss = F.ctc_loss(x, tg.tensor(targets, device=device), tg.tensor(np.array(il), device=device), tl)
    loss.backward()
    assert loss.device == x.device and x.grad.device == x.device
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), expected_x.grad.numpy(), rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------ torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("blank", [0, 2])
def test_torch_parity_losses_and_gradients_wrt_logits(reduction, zero_infinity, blank):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    T, N, C = 7, 4, 5
    logits = rng.standard_normal((T, N, C))
    targets = np.array([[1, 3, 3], [4, 1, 0], [3, 0, 0], [1, 1, 1]])
    targets = np.where(targets == blank, 4 - blank // 2, targets)
    il, tl = [7, 5, 6, 4], [3, 2, 1, 3]  # the last needs 5 frames: inf
    w = rng.standard_normal(N)
    x = tg.tensor(logits, requires_grad=True)
    ours = F.ctc_loss(F.log_softmax(x, dim=2), targets, il, tl, blank=blank, reduction=reduction,
                      zero_infinity=zero_infinity)
    xt = torch.tensor(logits, requires_grad=True)
    theirs = torch.nn.functional.ctc_loss(xt.log_softmax(2), torch.tensor(targets), torch.tensor(il),
                                          torch.tensor(tl), blank=blank, reduction=reduction,
                                          zero_infinity=zero_infinity)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)
    if not zero_infinity:  # an inf loss has a nan gradient in both; compare the feasible items
        keep = [0, 1, 2]
        ours = F.ctc_loss(F.log_softmax(x, dim=2)[:, keep], targets[keep], il[:3], tl[:3], blank=blank,
                          reduction=reduction)
        theirs = torch.nn.functional.ctc_loss(xt.log_softmax(2)[:, keep], torch.tensor(targets[keep]),
                                              torch.tensor(il[:3]), torch.tensor(tl[:3]), blank=blank,
                                              reduction=reduction)
        w = w[:3]
    if reduction == "none":
        (ours * tg.tensor(w)).sum().backward()
        (theirs * torch.tensor(w)).sum().backward()
    else:
        ours.backward()
        theirs.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_torch_nn_ctcloss_with_concatenated_targets_and_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    logits = rng.standard_normal((9, 3, 6)).astype(np.float32)
    concatenated = np.array([1, 2, 2, 5, 3, 3, 3, 4])
    il, tl = (9, 8, 9), (3, 1, 4)
    x = tg.tensor(logits, requires_grad=True)
    ours = nn.CTCLoss()(F.log_softmax(x, dim=2), concatenated, il, tl)
    xt = torch.tensor(logits, requires_grad=True)
    theirs = torch.nn.CTCLoss()(xt.log_softmax(2), torch.tensor(concatenated), torch.tensor(il),
                                torch.tensor(tl))
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_torch_parity_unbatched_and_zero_length_inputs():
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    lp = _random_lp(np.random.default_rng(15), 5, 2, 4)
    ours = F.ctc_loss(tg.tensor(lp[:, 0]), np.array([1, 2]), 5, 2, reduction="none")
    theirs = TF.ctc_loss(torch.tensor(lp[:, 0]), torch.tensor([1, 2]), torch.tensor(5), torch.tensor(2),
                         reduction="none")
    assert ours.shape == tuple(theirs.shape) == ()
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    targets = np.array([[1, 1], [2, 0]])
    ours = F.ctc_loss(tg.tensor(lp), targets, [0, 0], [0, 1], reduction="none").numpy()
    theirs = TF.ctc_loss(torch.tensor(lp), torch.tensor(targets), [0, 0], [0, 1], reduction="none").numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_torch_parity_on_a_long_float32_batch_stays_finite_and_close():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(16)
    T, N, C, S = 400, 3, 29, 80
    logits = (rng.standard_normal((T, N, C)) * 4).astype(np.float32)  # sharp: losses in the thousands
    targets = rng.integers(1, C, (N, S))
    il, tl = [400, 350, 300], [80, 60, 40]
    x = tg.tensor(logits, requires_grad=True)
    ours = F.ctc_loss(F.log_softmax(x, dim=2), targets, il, tl, reduction="sum")
    ours.backward()
    xt = torch.tensor(logits, requires_grad=True)
    theirs = torch.nn.functional.ctc_loss(xt.log_softmax(2), torch.tensor(targets), torch.tensor(il),
                                          torch.tensor(tl), reduction="sum")
    theirs.backward()
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-5)
    assert np.all(np.isfinite(x.grad.numpy()))
    # float32 posteriors exp(alpha + beta - log Z) with log Z near -2000 carry ~1e-4 rounding
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=2e-3)


# ------------------------------------------------------------------ errors
def _call(**changes):
    lp, targets, il, tl = _batch(np.random.default_rng(14))
    args = dict(log_probs=tg.tensor(lp), targets=targets, input_lengths=il, target_lengths=tl)
    args.update(changes)
    return F.ctc_loss(**args)


@pytest.mark.parametrize("changes, error, words", [
    (dict(blank=5), ValueError, "blank must be a class index in [0, 4], got 5"),
    (dict(blank=-1), ValueError, "blank must be a class index"),
    (dict(blank=1), ValueError, "a target contains the blank label 1"),
    (dict(targets=np.array([[1, 2, 9], [3, 4, 0], [4, 0, 0]])), ValueError, "target label 9 is out of range"),
    (dict(input_lengths=[6, 7, 4]), ValueError, "input_lengths must be at most the number of frames T=6"),
    (dict(input_lengths=[6, -1, 4]), ValueError, "input_lengths must be >= 0"),
    (dict(target_lengths=[3, -2, 1]), ValueError, "target_lengths must be >= 0"),
    (dict(target_lengths=[4, 2, 1]), ValueError, "padded targets must have shape (N=3, S >= 4)"),
    (dict(targets=np.array([1, 2, 2, 3])), ValueError, "concatenated targets have 4 labels but "
                                                       "target_lengths add up to 6"),
    (dict(input_lengths=[6, 5]), ValueError, "input_lengths must have shape (3,)"),
    (dict(input_lengths=[6.0, 5.0, 4.0]), TypeError, "input_lengths must be integers"),
    (dict(targets=np.zeros((3, 3, 1), dtype=np.int64)), ValueError, "targets must be (N, S) padded or 1-D"),
    (dict(targets=np.ones((3, 3))), TypeError, "targets must be integer labels"),
    (dict(log_probs=tg.tensor(np.zeros((2, 3, 4, 5)))), ValueError, "log_probs must be (T, N, C)"),
    (dict(log_probs=tg.tensor(np.zeros((6, 3, 5), dtype=np.int64))), RuntimeError, "floating point"),
    (dict(log_probs=np.zeros((6, 3, 5))), TypeError, "must be a Tensor"),
    (dict(reduction="avg"), ValueError, "reduction must be 'mean', 'sum' or 'none'"),
])
def test_bad_input_gets_one_clear_error(changes, error, words):
    with pytest.raises(error) as info:
        _call(**changes)
    assert words in str(info.value)
