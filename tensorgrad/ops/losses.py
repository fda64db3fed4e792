"""softmax, log_softmax and the classification losses (NLL, cross entropy) as single ops.

Classes lie along one axis; ``_classes_last`` moves them last for the
computation and ``_classes_back`` undoes it for the gradient.
"""



from ..autograd import Function
from ..backend import get_array_module


class Softmax(Function, trusted=True):
    """y = e^x / sum e^x over ``axis``;  dL/dx = y * (g - sum(g * y))."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x, axis):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))  # the shift keeps exp from overflowing
        self.y, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        return self.y

    def backward(self, g):
        y = self.y
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)


def log_softmax_array(x, axis):
    """x - log(sum e^x) over ``axis``, shifted by the max so nothing overflows."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function, trusted=True):
    """y = x - log(sum e^x) over ``axis``;  dL/dx = g - e^y * sum(g)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x, axis):
        self.y, self.axis = log_softmax_array(x, axis), axis
        return self.y

    def backward(self, g):
        xp = get_array_module(g)
        return (g - xp.exp(self.y) * g.sum(axis=self.axis, keepdims=True),)


def _classes_last(x):
    """(N, C, d1, ...) -> (N*d1*..., C): one row of class scores per prediction (a view when 2-D)."""
    if x.ndim == 2:
        return x
    return get_array_module(x).moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _classes_back(rows, shape):
    """Undo ``_classes_last``: (M, C) rows -> ``shape`` (N, C, d1, ...)."""
    if len(shape) == 2:
        return rows
    moved = rows.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return get_array_module(rows).moveaxis(moved, -1, 1)


class NLLLoss(Function, trusted=True):
    """L_n = -w_n logp[n, t_n];  "mean": sum L_n / sum w_n, "sum": sum L_n, "none": L (N, d1, ...).

    dL/dlogp[n, t_n] = -g w_n (divided by sum w_n for "mean"); 0 for the other classes.
    logp: (N, C) or (N, C, d1, ...) with the class axis 1; targets: ints (N, d1, ...);
    weights: per-target weights, same shape as targets, or None (all ones).
    """

    def forward(self, logp, targets, weights, reduction):
        xp = get_array_module(logp)
        rows = _classes_last(logp)
        t = targets.reshape(-1)
        self.shape, self.rows, self.t = logp.shape, xp.arange(rows.shape[0]), t
        losses = -rows[self.rows, t]
        if weights is not None:
            self.w = weights.reshape(-1)
            losses = losses * self.w
        else:
            self.w = xp.ones((), dtype=logp.dtype)
        self.reduction = reduction
        if reduction == "none":
            return losses.reshape(targets.shape)
        if reduction == "sum":
            return losses.sum()
        self.total = rows.shape[0] if weights is None else self.w.sum()
        return losses.sum() / self.total

    def _coefficients(self, g):
        """dL/dL_n for every target n: the weight times the incoming gradient (and 1/sum w)."""
        if self.reduction == "none":
            return g.reshape(-1) * self.w
        c = g * self.w
        return c / self.total if self.reduction == "mean" else c

    def backward(self, g):
        xp = get_array_module(g)
        grad = xp.zeros((self.t.shape[0], self.shape[1]), dtype=g.dtype)
        grad[self.rows, self.t] = -self._coefficients(g)  # one entry per row: no repeats
        return (_classes_back(grad, self.shape),)


class CrossEntropy(NLLLoss, trusted=True):
    """L = NLLLoss(log_softmax(x) over the class axis 1);  dL/dx_n = c_n (softmax(x_n) - onehot(t_n)).

    c_n is dL/dL_n as in NLLLoss (weight, incoming gradient, 1/sum w for "mean").
    Fused so the backward forms softmax - onehot directly instead of going through log_softmax.
    """

    saved_inputs = ()  # backward reads its own log-softmax, not x (NLLLoss keeps its input saved, as torch)

    def forward(self, x, targets, weights, reduction):
        self.logp = log_softmax_array(x, axis=1)
        return super().forward(self.logp, targets, weights, reduction)

    def backward(self, g):
        xp = get_array_module(g)
        c = self._coefficients(g)
        grad = xp.exp(_classes_last(self.logp))
        grad *= c[:, None] if c.ndim else c
        grad[self.rows, self.t] -= c
        return (_classes_back(grad, self.shape),)
