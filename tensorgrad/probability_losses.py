"""Binary cross-entropy on probabilities as one op, with torch's clamped logs and gradient.

    f(x, t) = -w [t log x + (1 - t) log(1 - x)],   each log clamped to >= -100 (as torch),
    df/dx   = w (x - t) / max(x (1 - x), 1e-12),
    df/dt   = w [log(1 - x) - log x]   (the same clamped logs).

Written as one op rather than composed from log and clamp: at x = 0 or 1 the composed
gradient is 0 * inf = nan, where torch's (and this) formula stays finite.
"""

import numpy

from .autograd import Function
from .backend import get_array_module

_LOG_FLOOR = -100.0
_EPS = 1e-12


class BinaryCrossEntropy(Function, trusted=True):
    """f = -(t log x + (1 - t) log(1 - x)) elementwise; dL/dx = g (x - t) / max(x (1 - x), eps)."""

    def forward(self, x, t):
        xp = get_array_module(x)
        self.x, self.t = x, t
        with numpy.errstate(divide="ignore"):  # log(0) = -inf, floored at -100 next
            self.log_x = xp.maximum(xp.log(x), _LOG_FLOOR)
            self.log_1mx = xp.maximum(xp.log1p(-x), _LOG_FLOOR)
        return -(t * self.log_x + (1 - t) * self.log_1mx)

    def backward(self, g):
        xp = get_array_module(g)
        x, t = self.x, self.t
        gx = g * (x - t) / xp.maximum(x * (1 - x), _EPS) if self.needs_grad[0] else None
        gt = g * (self.log_1mx - self.log_x) if self.needs_grad[1] else None
        return gx.astype(x.dtype, copy=False) if gx is not None else None, gt
