"""Linear recurrences h_t = a_t * h_{t-1} + b_t, by a sequential loop or a parallel scan.

A recurrence that is *linear in h* (minGRU, LRU, S4/Mamba-style layers) need
not be run one step after another: the step maps compose associatively,

    (a1, b1) then (a2, b2)  =  (a2 * a1,  a2 * b1 + b2)        (h -> a2 (a1 h + b1) + b2)

so all T prefixes can be combined in O(log T) rounds, the way a prefix sum is.

Which parallel scan, and why. We use Hillis & Steele (1986): in round d
(d = 1, 2, 4, ...) every position t >= d folds in position t - d. Each of its
ceil(log2 T) rounds is a few whole-array NumPy/CuPy calls on contiguous
slices, and the code is one loop with one invariant. The price is O(T log T)
work and memory traffic. Blelloch's (1990) work-efficient scan (say in its
Brent-Kung form) touches only O(T) elements, but needs twice the rounds (an
up-sweep and a down-sweep over strided index sets at stride 2^k): more calls,
which is what dominates at small sizes and on a GPU, where every call is a
kernel launch. Neither beats the sequential loop on one CPU core once B*H is
in the hundreds: the loop's T steps each work on one cache-resident (B, H)
row, while a scan streams the whole (T, B, H) array through memory in every
round. The scan wins where the loop's per-step call overhead dominates: small
B*H, long T, or a GPU. ``benchmarks/scan.py`` measures the ratio.

Both modes are one fused tensorgrad Function each, and so is the backward: the
gradient of a linear recurrence is a linear recurrence run in reverse. With
g_t = dL/dh_t arriving from outside (and h_{-1} = h0, t = 0..T-1):

    db_t  = g_t + a_{t+1} * db_{t+1}        (db_{T-1} = g_{T-1})   = dL/db_t (total dL/dh_t)
    da_t  = db_t * h_{t-1}
    dh0   = a_0 * db_0

computed by the same scan (sequential or parallel, matching the mode) on the
time-reversed arrays.

The log-space variant, for positive a_t, b_t, h0 (minGRU's log mode), keeps
log h_t = logaddexp(log a_t + log h_{t-1}, log b_t), which stays finite where
products of thousands of a_t < 1 would underflow. We deliberately do not use
the closed form log h_t = A_t + logcumsumexp(log b - A) with A = cumsum(log a):
A_t grows like -t, so log h_t comes out as the difference of two numbers of size
~|A_t| and loses |A_t| * eps absolute accuracy (1e-3 at T = 4096 in float32).
The Hillis-Steele scan in log space only ever adds a log-coefficient to a log
value (never cancels two large terms). Its backward is again a linear
recurrence, with weights w_t = exp(log a_t + log h_{t-1} - log h_t) in [0, 1]:

    dlh_t = g_t + w_{t+1} * dlh_{t+1}       (dL/dlog h_t in total)
    dlog a_t = dlh_t * w_t,  dlog b_t = dlh_t * (1 - w_t),  dlog h0 = w_0 * dlh_0

with 1 - w_t computed as exp(log b_t - log h_t).

The complex variant (for the LRU's diagonal complex recurrence) takes and returns
real and imaginary parts as separate real tensors, so the rest of tensorgrad
stays real. For a real loss L and z = x + iy write grad z = dL/dx + i dL/dy;
then the same reverse recurrence holds with conjugated coefficients:
dB_t = G_t + conj(a_{t+1}) dB_{t+1}, dA_t = dB_t conj(h_{t-1}), dh0 = conj(a_0) dB_0.

Shapes: a, b, h: (T, B, H) (any (T, *S) with S non-empty works alike); h0: (B, H) (S).
"""

import numpy

import tensorgrad as tg
from tensorgrad.autograd import Function

MODES = ("sequential", "parallel")


# ------------------------------------------------------------------- scans on raw arrays
def scan_sequential(xp, a, b, h0):
    """h (T, *S): h_t = a_t * h_{t-1} + b_t, h_{-1} = h0, one step at a time. a, b (T, *S); h0 (*S)."""
    h = xp.empty_like(b)
    previous = h0
    for t in range(b.shape[0]):
        xp.multiply(a[t], previous, out=h[t])
        h[t] += b[t]
        previous = h[t]
    return h


def scan_parallel(xp, a, b, h0):
    """The same h by a Hillis-Steele scan: ceil(log2 T) whole-array rounds, O(T log T) work.

    Invariant after the round with offset d: (A[t], B[t]) is the composition of
    steps max(0, t - 2d + 1) .. t, i.e. h_t = A[t] * h_{t-2d} + B[t] (h0 folded in at t = 0).
    Each round reads one buffer and writes the other (a round's reads and writes
    overlap, and fresh temporaries per round would cost allocations as large as the input).
    """
    T = b.shape[0]
    B, B_next = b.copy(), xp.empty_like(b)
    B[0] = a[0] * h0 + b[0]  # fold h0 into the first step, so A[0] is never needed again
    A, A_next = a.copy(), xp.empty_like(a)
    d = 1
    while d < T:
        B_next[:d] = B[:d]
        xp.multiply(A[d:], B[:-d], out=B_next[d:])  # B[t] <- A[t] * B[t-d] + B[t]
        B_next[d:] += B[d:]
        B, B_next = B_next, B
        if 2 * d < T:  # the last round's A is never read
            A_next[:d] = A[:d]
            xp.multiply(A[d:], A[:-d], out=A_next[d:])  # A[t] <- A[t] * A[t-d]
            A, A_next = A_next, A
        d *= 2
    return B


def log_scan_sequential(xp, log_a, log_b, log_h0):
    """log h (T, *S): log h_t = logaddexp(log a_t + log h_{t-1}, log b_t), one step at a time."""
    log_h = xp.empty_like(log_b)
    previous = log_h0
    for t in range(log_b.shape[0]):
        xp.logaddexp(log_a[t] + previous, log_b[t], out=log_h[t])
        previous = log_h[t]
    return log_h


def log_scan_parallel(xp, log_a, log_b, log_h0):
    """The same log h by a Hillis-Steele scan in log space (products become sums, sums logaddexp)."""
    T = log_b.shape[0]
    LB, LB_next = log_b.copy(), xp.empty_like(log_b)
    LB[0] = xp.logaddexp(log_a[0] + log_h0, log_b[0])
    LA, LA_next = log_a.copy(), xp.empty_like(log_a)
    d = 1
    while d < T:
        LB_next[:d] = LB[:d]
        xp.add(LA[d:], LB[:-d], out=LB_next[d:])  # log(A[t] * B[t-d])
        xp.logaddexp(LB_next[d:], LB[d:], out=LB_next[d:])
        LB, LB_next = LB_next, LB
        if 2 * d < T:
            LA_next[:d] = LA[:d]
            xp.add(LA[d:], LA[:-d], out=LA_next[d:])
            LA, LA_next = LA_next, LA
        d *= 2
    return LB


_SCANS = {"sequential": scan_sequential, "parallel": scan_parallel}
_LOG_SCANS = {"sequential": log_scan_sequential, "parallel": log_scan_parallel}


def _reverse_scan(xp, mode, a, g):
    """d (T, *S) with d_t = g_t + a_{t+1} * d_{t+1} (d_{T-1} = g_{T-1}): the backward's recurrence."""
    shifted = xp.zeros_like(a)  # shifted[t] = a[t+1]; the last entry multiplies a zero state
    shifted[:-1] = a[1:]
    zero = xp.zeros_like(g[0])
    return _SCANS[mode](xp, shifted[::-1], g[::-1], zero)[::-1]


def _previous_states(xp, h, h0):
    """(T, *S): h_{t-1} for every t, with h_{-1} = h0."""
    return xp.concatenate([h0[None], h[:-1]], axis=0)


# ------------------------------------------------------------------- the two Functions
class LinearRecurrence(Function, trusted=True):
    """h_t = a_t h_{t-1} + b_t over all t, one op.  Backward: the reverse recurrence in the module doc."""

    def forward(self, a, b, h0, mode):
        xp = tg.get_array_module(a, b, h0)
        h = _SCANS[mode](xp, a, b, h0)
        self.a, self.h, self.h0, self.mode = a, h, h0, mode
        return h

    def backward(self, g):
        xp = tg.get_array_module(g)
        db = _reverse_scan(xp, self.mode, self.a, g)
        da = db * _previous_states(xp, self.h, self.h0) if self.needs_grad[0] else None
        dh0 = self.a[0] * db[0] if self.needs_grad[2] else None
        return da, db, dh0


class LogLinearRecurrence(Function, trusted=True):
    """log h_t = logaddexp(log a_t + log h_{t-1}, log b_t), one op.  Backward: see the module doc."""

    def forward(self, log_a, log_b, log_h0, mode):
        xp = tg.get_array_module(log_a, log_b, log_h0)
        log_h = _LOG_SCANS[mode](xp, log_a, log_b, log_h0)
        self.log_a, self.log_b, self.log_h, self.log_h0, self.mode = log_a, log_b, log_h, log_h0, mode
        return log_h

    def backward(self, g):
        xp = tg.get_array_module(g)
        # w_t = d log h_t / d log h_{t-1} = a_t h_{t-1} / h_t, in [0, 1]; exp(-inf) = 0 when h0 = 0
        w = xp.exp(self.log_a + _previous_states(xp, self.log_h, self.log_h0) - self.log_h)
        dlh = _reverse_scan(xp, self.mode, w, g)
        dlog_a = dlh * w if self.needs_grad[0] else None
        dlog_b = dlh * xp.exp(self.log_b - self.log_h) if self.needs_grad[1] else None
        dlog_h0 = w[0] * dlh[0] if self.needs_grad[2] else None
        return dlog_a, dlog_b, dlog_h0


class ComplexLinearRecurrence(Function, trusted=True):
    """h_t = a_t h_{t-1} + b_t in complex numbers, over real and imaginary parts; two outputs.

    Backward: the reverse recurrence with conj(a) (module doc), split back into parts.
    """

    def forward(self, a_re, a_im, b_re, b_im, h0_re, h0_im, mode):
        xp = tg.get_array_module(a_re, b_re, h0_re)
        a, b, h0 = a_re + 1j * a_im, b_re + 1j * b_im, h0_re + 1j * h0_im  # complex64 from float32
        h = _SCANS[mode](xp, a, b, h0)
        self.a, self.h, self.h0, self.mode = a, h, h0, mode
        return xp.ascontiguousarray(h.real), xp.ascontiguousarray(h.imag)

    def backward(self, g_re, g_im):
        xp = tg.get_array_module(self.h)
        G = xp.zeros_like(self.h)
        if g_re is not None:
            G.real = g_re
        if g_im is not None:
            G.imag = g_im
        conj_a = xp.conj(self.a)
        dB = _reverse_scan(xp, self.mode, conj_a, G)
        dA = dB * xp.conj(_previous_states(xp, self.h, self.h0))
        dh0 = conj_a[0] * dB[0]
        return tuple(xp.ascontiguousarray(part) for z in (dA, dB, dh0) for part in (z.real, z.imag))


# ------------------------------------------------------------------- public functions
def _check(name, mode, names, tensors, state_name, state):
    """Raise a clear error for a bad mode, non-Tensors, mismatched shapes/dtypes/devices."""
    if mode not in MODES:
        raise ValueError(f"{name}: mode must be one of {MODES}, got {mode!r}")
    for arg, t in zip(names, tensors, strict=True):
        if not isinstance(t, tg.Tensor):
            raise TypeError(f"{name}: {arg} must be a Tensor, got {type(t).__name__}; wrap it with "
                            "tg.tensor(...)")
    first, second = tensors
    if first.ndim < 2 or first.shape[0] == 0:
        raise ValueError(f"{name}: {names[0]} must have shape (T, B, H) (or (T, *S), at least one dim "
                         f"after time) with T >= 1, got {first.shape}; make a single sequence of "
                         "scalars (T,) into (T, 1) with reshape")
    if first.shape != second.shape:
        raise ValueError(f"{name}: {names[0]} has shape {first.shape} but {names[1]} has shape "
                         f"{second.shape}; both must be (T, B, H) with the same shape (broadcast "
                         "a shared coefficient explicitly, e.g. a * ones)")
    if not numpy.issubdtype(first.dtype, numpy.floating) or first.dtype != second.dtype:
        raise TypeError(f"{name}: {names[0]} and {names[1]} must be floating tensors of one dtype, got "
                        f"{first.dtype} and {second.dtype}; convert with .astype(...)")
    if first.device != second.device:
        raise tg.DeviceError(f"{name}: {names[0]} is on {first.device!r} but {names[1]} is on "
                             f"{second.device!r}; move them to one device with .to(...)")
    if state is None:
        return
    if not isinstance(state, tg.Tensor):
        raise TypeError(f"{name}: {state_name} must be a Tensor or None, got {type(state).__name__}")
    if state.shape != first.shape[1:]:
        raise ValueError(f"{name}: {state_name} must have shape {first.shape[1:]} (the shape of one time "
                         f"step of {names[0]} {first.shape}), got {state.shape}")
    if state.dtype != first.dtype:
        raise TypeError(f"{name}: {state_name} is {state.dtype} but {names[0]} is {first.dtype}; they "
                        "must match")
    if state.device != first.device:
        raise tg.DeviceError(f"{name}: {state_name} is on {state.device!r} but {names[0]} is on "
                             f"{first.device!r}; move them to one device with .to(...)")


def linear_recurrence(a, b, h0=None, mode="sequential"):
    """All states of h_t = a_t * h_{t-1} + b_t (elementwise), differentiable in a, b and h0.

    a, b: (T, B, H) tensors (any (T, *S) with S non-empty works alike), one dtype and device.
    h0: (B, H), the state before the first step; zeros when None.
    mode: "sequential" (a loop over t) or "parallel" (a Hillis-Steele scan in
    ceil(log2 T) whole-array rounds); both give the same values and gradients.
    Returns h: (T, B, H), h[t] the state after step t.
    """
    _check("linear_recurrence", mode, ("a", "b"), (a, b), "h0", h0)
    if h0 is None:
        h0 = tg.zeros(*a.shape[1:], dtype=a.dtype, device=a.device)
    return LinearRecurrence.apply(a, b, h0, mode=mode)


def log_linear_recurrence(log_a, log_b, log_h0=None, mode="sequential"):
    """log h for h_t = a_t * h_{t-1} + b_t with positive a, b, h0 given as logs; differentiable.

    log_a, log_b: (T, B, H) tensors of log a_t, log b_t (any real values, -inf allowed in log_b).
    log_h0: (B, H), log of the (positive) initial state; None means h0 = 0 (log h0 = -inf).
    mode: "sequential" or "parallel", as for ``linear_recurrence``.
    Returns log h: (T, B, H). Finite for T in the thousands even where a_1 * ... * a_T or
    the h_t themselves would under- or overflow in linear space; exp() it for h.
    """
    _check("log_linear_recurrence", mode, ("log_a", "log_b"), (log_a, log_b), "log_h0", log_h0)
    if log_h0 is None:
        xp = tg.get_array_module(log_a.array)
        log_h0 = tg.Tensor(xp.full(log_a.shape[1:], -numpy.inf, dtype=log_a.dtype))
    return LogLinearRecurrence.apply(log_a, log_b, log_h0, mode=mode)


def complex_linear_recurrence(a_re, a_im, b_re, b_im, h0=None, mode="sequential"):
    """All states of the complex recurrence h_t = a_t * h_{t-1} + b_t, as (real part, imaginary part).

    a_re, a_im, b_re, b_im: (T, B, H) real tensors of one shape, dtype and device.
    h0: a pair (h0_re, h0_im) of (B, H) tensors, or None for zeros.
    mode: "sequential" or "parallel", as for ``linear_recurrence``.
    Returns (h_re, h_im), each (T, B, H); differentiable in every input.
    """
    name = "complex_linear_recurrence"
    _check(name, mode, ("a_re", "a_im"), (a_re, a_im), None, None)
    _check(name, mode, ("b_re", "b_im"), (b_re, b_im), None, None)
    _check(name, mode, ("a_re", "b_re"), (a_re, b_re), None, None)
    if h0 is None:
        h0 = [tg.zeros(*a_re.shape[1:], dtype=a_re.dtype, device=a_re.device) for _ in range(2)]
    elif not isinstance(h0, (tuple, list)) or len(h0) != 2:
        raise TypeError(f"{name}: h0 must be a pair (h0_re, h0_im) of tensors or None, got "
                        f"{type(h0).__name__}")
    else:
        for part, state in zip(("h0_re", "h0_im"), h0, strict=True):
            _check(name, mode, ("a_re", "b_re"), (a_re, b_re), part, state)
    return ComplexLinearRecurrence.apply(a_re, a_im, b_re, b_im, *h0, mode=mode)
