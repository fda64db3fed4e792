"""Connectionist temporal classification (Graves et al. 2006) as one op: per-sequence losses.

The target y_1..y_S is spread over the extended label l = (blank, y_1, blank, y_2, ..., y_S, blank)
of length 2S + 1. A path visits one position of l per frame, starting at l_0 or l_1, and each
frame may stay, step by one, or skip a blank between two *different* labels. Then

    alpha_t(s) = logp_t(l_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) if skip)
    loss       = -logsumexp(alpha_{T-1}(2S), alpha_{T-1}(2S-1))

(log space throughout, T the sequence's input length). beta runs the same recursion from the end,
without the frame's own logp, so that alpha_t(s) + beta_t(s) + loss is the log-probability that a
path sits at s on frame t, and

    dloss/dlogp_t(c) = -sum_{s: l_s = c} exp(alpha_t(s) + beta_t(s) + loss).

That is the true gradient wrt the log-probabilities, whatever they are. (torch's native backward
returns exp(logp) minus that posterior instead: it adds exp(logp), which log_softmax's backward
removes again, so both agree on gradients wrt the logits.)
"""

import numpy

from ..autograd import Function
from ..backend import get_array_module


def _logsumexp(*terms):
    """Elementwise log(sum e^x) of same-shape arrays, -inf where all are -inf (no nan)."""
    xp = get_array_module(terms[0])
    m = terms[0]
    for x in terms[1:]:
        m = xp.maximum(m, x)
    finite = xp.where(xp.isfinite(m), m, 0)
    total = sum(xp.exp(x - finite) for x in terms)
    return finite + xp.log(total)


class CTCLoss(Function, trusted=True):
    """loss_n = -log sum over the alignments of target n of prod_t p_t(path_t), one per sequence.

    logp: (T, N, C) log-probabilities; targets: ints (N, S) padded (entries past a target's length
    are ignored); input_lengths, target_lengths: ints (N,). Returns (N,) losses, inf where no
    alignment fits (0, with a zero gradient, when ``zero_infinity``).
    dL/dlogp_t(n, c) = -g_n sum_{s: l_s = c} posterior_t(n, s) for t < T_n, 0 after (see above).
    """

    saved_inputs = ()

    def forward(self, logp, targets, input_lengths, target_lengths, blank, zero_infinity):
        xp = get_array_module(logp)
        T, N, _ = logp.shape
        S = targets.shape[1]
        L = 2 * S + 1
        # the extended labels, blank on even positions; padding past a target's end reads as blank
        labels = xp.where(xp.arange(S)[None, :] < target_lengths[:, None], targets, blank)
        ext = xp.full((N, L), blank, dtype=targets.dtype)
        ext[:, 1::2] = labels
        # a skip from s-2 to s: s is a label differing from the label at s-2
        skip = xp.zeros((N, L), dtype=bool)
        skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
        rows = xp.arange(N)[:, None]
        emit = logp[:, rows, ext]  # (T, N, L): logp_t(l_s)
        neg_inf = -xp.inf
        # alpha with two -inf columns in front, so that s-1 and s-2 are views for every s
        padded = xp.full((T, N, L + 2), neg_inf, dtype=logp.dtype)
        alpha = padded[:, :, 2:]
        skip_add = xp.where(skip, 0.0, neg_inf).astype(logp.dtype)  # + -inf where no skip
        running = (xp.arange(T)[:, None] < input_lengths[None, :])[:, :, None]  # (T, N, 1)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            if T:
                alpha[0, :, :2] = emit[0, :, :2]
            for t in range(1, T):
                prev = padded[t - 1]
                stepped = _logsumexp(prev[:, 2:], prev[:, 1:-1], prev[:, :-2] + skip_add)
                alpha[t] = xp.where(running[t], stepped + emit[t], prev[:, 2:])
            last = xp.maximum(input_lengths - 1, 0)
            final = alpha[last, xp.arange(N)] if T else xp.full((N, L), neg_inf, dtype=logp.dtype)
            end = 2 * target_lengths
            log_z = _logsumexp(final[xp.arange(N), end],
                               xp.where(end > 0, final[xp.arange(N), xp.maximum(end - 1, 0)], neg_inf))
        # no frames: only the empty target has an alignment (probability 1)
        empty = input_lengths == 0
        log_z = xp.where(empty, xp.where(target_lengths == 0, 0.0, neg_inf), log_z).astype(logp.dtype)
        loss = -log_z
        self.infinite = xp.isinf(loss)
        if zero_infinity:
            loss = xp.where(self.infinite, 0.0, loss).astype(logp.dtype)
        self.alpha, self.emit, self.ext, self.skip, self.log_z = alpha, emit, ext, skip, log_z
        self.lengths, self.end, self.shape = (input_lengths, target_lengths), end, logp.shape
        self.zero_infinity = zero_infinity
        return loss

    def backward(self, g):
        xp = get_array_module(g)
        T, N, C = self.shape
        L = self.ext.shape[1]
        input_lengths, _ = self.lengths
        alpha, emit, skip, neg_inf = self.alpha, self.emit, self.skip, -xp.inf
        s_idx = xp.arange(L)[None, :]
        start = xp.where((s_idx == self.end[:, None]) | (s_idx == self.end[:, None] - 1), 0.0, neg_inf)
        start = start.astype(alpha.dtype)
        skip_up = xp.where(_shift_left(skip), 0.0, neg_inf).astype(alpha.dtype)  # s -> s+2 allowed
        posterior = xp.zeros((T, N, L), dtype=alpha.dtype)
        beta = xp.full_like(start, neg_inf)  # beta_{t+1}; nothing lies past the last frame
        ahead = xp.full((N, L + 2), neg_inf, dtype=alpha.dtype)  # two -inf columns behind: s+1, s+2
        first = (xp.arange(T)[:, None] == input_lengths[None, :] - 1)[:, :, None]  # (T, N, 1)
        inside = (xp.arange(T)[:, None] < input_lengths[None, :] - 1)[:, :, None]
        with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for t in range(T - 1, -1, -1):
                if t < T - 1:
                    ahead[:, :L] = beta + emit[t + 1]
                    stepped = _logsumexp(ahead[:, :L], ahead[:, 1:L + 1], ahead[:, 2:] + skip_up)
                else:
                    stepped = beta
                # a sequence's last frame starts its recursion; frames past its end get nothing
                beta = xp.where(first[t], start, xp.where(inside[t], stepped, neg_inf))
                posterior[t] = xp.exp(alpha[t] + beta - self.log_z[:, None])
        scale = -g
        if self.zero_infinity:
            scale = xp.where(self.infinite, 0.0, scale)
        posterior = posterior * scale.astype(alpha.dtype)[None, :, None]
        if self.zero_infinity:  # nan posteriors of infeasible items must not leak through 0 * nan
            posterior = xp.where(self.infinite[None, :, None], 0.0, posterior)
        onehot = (self.ext[:, :, None] == xp.arange(C)[None, None, :]).astype(alpha.dtype)  # (N, L, C)
        grad = xp.matmul(posterior.transpose(1, 0, 2), onehot).transpose(1, 0, 2)  # (T, N, C)
        return (xp.ascontiguousarray(grad),)


def _shift_left(a):
    """skip moved two places left: entry s says whether s+2 may be reached from s."""
    xp = get_array_module(a)
    out = xp.zeros_like(a)
    out[..., :-2] = a[..., 2:]
    return out
