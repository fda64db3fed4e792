"""Reverse-mode autodiff: the Function protocol, grad mode, and the backward walk.

A Function is one primitive op. ``forward`` works on raw arrays (NumPy or CuPy)
and may keep what its backward needs on ``self``; ``backward(grad)`` returns one
gradient array (or None) per input, in input order. ``Function.apply`` runs the
forward and, when gradients are wanted, records the op as the creator of its
output, which is how the graph is built.

``backward`` runs the ops as torch's engine does: the op recorded last first.
Each recorded op gets the next number of a global count (``_sequence_nr``);
an op is recorded after the ops that made its inputs, so taking the largest
number from a heap of the ops reached so far runs every op after all the ops
that used its outputs. No recursion, so a graph of any depth works, in
O(n log n) time for n ops (the heap holds only the ops waiting, one or two in
a chain).

Every tensor carries a version box, shared with its views: how many in-place
ops modified its memory, and the value of a global count of in-place ops
(``inplace_ops``) at the last one. An op records that count when it is
recorded (its ``epoch``); backward checks the tensors it saved
(``saved_inputs``, and its output when ``saves_output``) and raises, naming the
op, if one was modified in place since, which would make the gradient silently
wrong. Recording costs one number per op, and when the count is unchanged at
backward time no in-place op ran since, so nothing needs checking.

An in-place op on a tensor in the graph is itself recorded (Tensor._rebase, as
torch's rebase_history): the tensor becomes that op's output, and ops recorded
before it find the tensor's earlier place in the graph through ``as_recorded``.
"""

import functools
import itertools
import threading
from heapq import heappop, heappush

import numpy

from . import backend
from .tensor import from_op, is_tensor

_tensor = from_op


class _GradMode(threading.local):
    # A class default, so a thread that never entered no_grad() reads True as a
    # plain attribute (getattr with a default would raise and catch inside).
    enabled = True


_state = _GradMode()
inplace_ops = [0]  # how many in-place ops have run (in any thread): bumped by Tensor's in-place methods
_new = object.__new__  # a Function instance without calling a subclass's __init__
_sequence = itertools.count(1)  # numbers the recorded ops in the order they ran (see backward)
_UNSCHEDULED = object()  # an op backward has not reached yet (None in ``pending``: reached, no gradient yet)


def is_grad_enabled():
    """False inside a ``no_grad()`` block (per thread)."""
    return _state.enabled


class _GradModeSwitch:
    """Sets grad mode inside a ``with`` block, or around every call of a function it decorates."""

    def __init__(self, mode):
        self.mode = bool(mode)

    def __enter__(self):
        self.previous = is_grad_enabled()
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self.previous
        return False

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}() decorates a function, got {type(fn).__name__}; "
                            f"as a context manager write `with {type(self).__name__}():`")
        mode = self.mode

        @functools.wraps(fn)
        def with_grad_mode(*args, **kwargs):
            with _GradModeSwitch(mode):  # a fresh switch per call, so recursion restores correctly
                return fn(*args, **kwargs)
        return with_grad_mode


class no_grad(_GradModeSwitch):
    """Ops inside record no graph (for evaluation and updates): ``with no_grad():`` or ``@no_grad()``."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradModeSwitch):
    """Grad mode back on inside a ``no_grad()`` block: ``with enable_grad():`` or ``@enable_grad()``."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradModeSwitch):
    """As torch: ``set_grad_enabled(False)`` switches grad mode off at once (for this thread);
    ``with set_grad_enabled(mode):`` switches it for the block and restores it after."""

    def __init__(self, mode):
        super().__init__(mode)
        self.previous = is_grad_enabled()
        _state.enabled = self.mode

    def __enter__(self):
        pass  # already switched by __init__; __exit__ restores the mode from before


class ShapeError(ValueError):
    """An op was given shapes it cannot combine."""


class GraphFreedError(RuntimeError):
    """backward() reached an op whose saved arrays were already released."""


class IndexedGrad:
    """A gradient that is zero except at ``index``, where it is ``values``: what x[index] sends back.

    The backward walk scatters it into one buffer per input (repeats of an
    integer index accumulate), so T slices of one tensor cost O(T) slices, not
    T full-size arrays.
    """

    __slots__ = ("index", "values", "advanced")

    def __init__(self, index, values, advanced):
        self.index, self.values, self.advanced = index, values, advanced

    def add_into(self, buffer):
        """buffer[index] += values, in place."""
        if not self.advanced:
            buffer[self.index] += self.values
        elif isinstance(buffer, numpy.ndarray) and _is_row_index(self.index, self.values, buffer):
            _add_rows(buffer, self.index, self.values)
        else:
            backend.get_array_module(buffer).add.at(buffer, self.index, self.values)

    def dense(self, shape, dtype):
        full = backend.get_array_module(self.values).zeros(shape, dtype=dtype)
        self.add_into(full)
        return full


def _is_row_index(index, values, buffer):
    """True when ``index`` is one non-empty integer array picking rows (axis 0) of ``buffer``, and
    ``values`` has the shape of buffer[index]: an embedding's gradient."""
    return (isinstance(index, numpy.ndarray) and index.dtype.kind in "iu" and index.size > 0
            and buffer.ndim >= 1 and values.shape == index.shape + buffer.shape[1:])


def _add_rows(buffer, rows, values):
    """buffer[rows] += values with repeated rows accumulating, as numpy.add.at, 5-7x faster.

    ``add.at`` adds one row at a time (1.1 ms for the char-LM's 2,048 rows of 64);
    sorting the rows and summing each run of equal ones with ``add.reduceat`` adds
    every distinct row once (0.16 ms). The sort is stable, so each row's sum is
    taken in the order of ``rows``: the result is deterministic.
    """
    rows = rows.ravel()
    rows = numpy.where(rows < 0, rows + buffer.shape[0], rows)  # -1 and n-1 are the same row
    values = values.reshape((rows.size,) + buffer.shape[1:])
    order = numpy.argsort(rows, kind="stable")
    rows = rows[order]
    starts = numpy.flatnonzero(numpy.concatenate([[True], rows[1:] != rows[:-1]]))
    buffer[rows[starts]] += numpy.add.reduceat(values[order], starts, axis=0)


class _Owned:
    """A gradient buffer the backward walk allocated itself, so it may add into it in place."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


class Function:
    """Base class of every primitive op: subclass it, write forward and backward.

    ``forward(*arrays, **params)`` returns an array, or a tuple of arrays for an
    op with several outputs. ``backward(*grads)`` gets one gradient per output
    (None for an output nothing depended on) and returns a tuple with one
    gradient per input (None where that input needs none, or an IndexedGrad
    when it is zero but for a slice); it must not modify the gradients it is
    given. ``self.needs_grad[i]`` says whether input i wants a gradient, so a
    backward can skip work.

    ``saved_inputs``: the input positions whose arrays backward reads (None:
    all of them; it may be a property of ``needs_grad``, for an input read only
    for another's gradient); ``saves_output``: backward reads the output.
    Modifying one of those in place before backward makes backward raise.

    What a user's backward returns is checked (one gradient per input, each of
    its input's shape) and a mistake is named. A class marked
    ``class Op(Function, trusted=True)`` is trusted (``_trusted``): the shipped
    ops carry the mark, since the test suite checks their
    gradients, so the backward walk skips those checks for them.
    """

    parents = ()  # the input Tensors, set once the op is recorded in a graph
    n_outputs = 1
    freed = False
    epoch = 0  # inplace_ops when the op was recorded: a tensor modified in place later has a larger stamp
    _sequence_nr = 0  # its place in the order ops were recorded (torch's name): backward runs the last first
    saved_inputs = None
    saves_output = False
    _trusted = False

    def __init_subclass__(cls, trusted=False, **kwargs):
        super().__init_subclass__(**kwargs)
        # Decided per class, so a user's subclass of a shipped op is checked again.
        cls._trusted = trusted

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors ``inputs``; returns a Tensor (or a tuple of them)."""
        fn = _new(cls)
        # One and two inputs without keyword parameters (nearly every op) are
        # spelled out: in Python 3.11 a comprehension, or a call through *args
        # and **kwargs, costs more than the rest of this bookkeeping together.
        try:
            if len(inputs) == 2 and not params:
                a, b = inputs
                needs_grad = (a._requires_grad, b._requires_grad)
                if backend._cupy is not None:  # only once a GPU module was loaded
                    _check_one_device(cls.__name__, inputs)
                out = fn.forward(a.array, b.array)
            elif len(inputs) == 1:
                a = inputs[0]
                needs_grad = (a._requires_grad,)
                out = fn.forward(a.array, **params) if params else fn.forward(a.array)
            else:
                needs_grad = tuple([t._requires_grad for t in inputs])
                if backend._cupy is not None and len(inputs) > 1:
                    _check_one_device(cls.__name__, inputs)
                out = fn.forward(*[t.array for t in inputs], **params)
        except ShapeError:
            raise
        except (ValueError, IndexError) as err:
            raise fn.explain_error(err, [t.array for t in inputs], params) from err
        if True in needs_grad and _state.enabled:
            fn.parents, fn.needs_grad, fn.epoch = inputs, needs_grad, inplace_ops[0]
            fn._sequence_nr = next(_sequence)
            if isinstance(out, tuple):
                fn.n_outputs = len(out)
                return tuple([_tensor(o, fn, i) for i, o in enumerate(out)])
            result = _tensor(out, fn, 0)
            if cls.saves_output:
                fn.output_version = result._vbox  # the box itself: a later in-place op bumps it
            return result
        if isinstance(out, tuple):
            return tuple([_tensor(o, None, i) for i, o in enumerate(out)])
        return _tensor(out, None, 0)

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__}.forward is not written yet")

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__}.backward is not written yet")

    def explain_error(self, err, arrays, params):
        """The error to raise when forward fails with ``err`` (ops override this to name shapes)."""
        shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
        return ValueError(f"{type(self).__name__} on inputs of shapes {shapes}: {err}")

    def check_versions(self):
        """Raise if an array this op saved for backward was modified in place after the op ran."""
        saved = range(len(self.parents)) if self.saved_inputs is None else self.saved_inputs
        for i in saved:
            box = self.parents[i]._vbox
            if box[1] > self.epoch:
                self._modified_error(f"input {i}", box[0])
        if self.saves_output and self.output_version[1] > self.epoch:
            self._modified_error("its output", self.output_version[0])

    def _modified_error(self, what, count):
        name = type(self).__name__
        raise RuntimeError(
            f"{name} saved {what} for backward, and that tensor was later modified in place "
            f"(it is now at version {count}), so its gradient would be wrong. Use an out-of-place "
            f"op instead (y = y + x rather than y += x), or .clone() the tensor before {name}")

    def release(self):
        """Drop the saved arrays and inputs so their memory can be reclaimed."""
        self.__dict__.clear()
        self.freed = True

    def __repr__(self):
        return f"<{type(self).__name__}>"


def _check_one_device(name, inputs):
    devices = [backend.device_of(t.array) for t in inputs]
    if any(d != devices[0] for d in devices):
        listed = ", ".join(f"input {i} on {d!r}" for i, d in enumerate(devices))
        raise backend.DeviceError(
            f"{name}: tensors on different devices ({listed}); "
            "move them to one device first with .to('cpu') or .to('cuda')")


def as_recorded(fn):
    """``fn``'s inputs as they were when fn was recorded.

    An in-place op recorded on a tensor since (Tensor._rebase) made that tensor
    the output of the in-place op, leaving a stand-in (``_before``: the stamp of
    the op and the stand-in) for its earlier place in the graph; fn, recorded
    before the stamp, takes its input from the stand-in. Only an op recorded
    before the last in-place op (fn.epoch behind ``inplace_ops``) can be affected.
    """
    if fn.epoch != inplace_ops[0]:
        fn.parents = tuple([_as_of(t, fn.epoch) for t in fn.parents])
    return fn.parents


def _as_of(t, epoch):
    before = getattr(t, "_before", None)
    while before is not None and epoch < before[0]:
        t = before[1]
        before = getattr(t, "_before", None)
    return t


def _freed_error():
    return GraphFreedError(
        "backward() reached a part of the graph whose saved values were already freed by an "
        "earlier backward(). Pass retain_graph=True to the first backward() to backpropagate "
        "through the same graph again, or call .detach() on a tensor to start a new graph from it.")


def backward(root, grad=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: none of the tensors it was "
            "computed from had requires_grad=True (or it was computed inside no_grad())")
    if grad is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a single-element tensor, but this one has "
                f"shape {root.shape}; reduce it to a scalar loss first (e.g. .sum() or .mean()), "
                "or pass grad= an array of the same shape")
        xp = backend.get_array_module(root.array)
        grad = xp.ones(root.array.shape, dtype=root.array.dtype)
    else:
        grad = grad.array if is_tensor(grad) else grad
        if tuple(grad.shape) != root.array.shape:
            raise ValueError(f"backward(gradient=...): the gradient has shape {tuple(grad.shape)} "
                             f"but the tensor has shape {root.shape}; they must match")
        if type(grad) is not type(root.array) and backend.device_of(grad) != root.device:
            raise backend.DeviceError(f"backward(gradient=...): the gradient is on "
                                      f"{backend.device_of(grad)!r} but the tensor is on {root.device!r}")
        grad = grad.astype(root.dtype, copy=False)

    root_fn = root._creator
    if root_fn is None:  # backward on a leaf: its gradient is the seed itself
        _accumulate_leaf(root, grad)
        return
    if root_fn.freed:
        raise _freed_error()
    if root._retains_grad:
        _accumulate_leaf(root, grad)

    # The op recorded last runs first (see the module docstring): ``heap`` holds
    # (-_sequence_nr, op) for the ops reached and not yet run. ``pending`` holds
    # the gradient reaching each of those ops' output so far: an array for a
    # one-output op, {output index: array} for an op with several outputs, None
    # while none arrived (an op no gradient reaches is still visited, to be released).
    # Leaves collect theirs in ``leaves`` and get it in .grad at the end, so a
    # leaf used by several ops (a weight at every step) adds in place into one
    # buffer.
    pending = {root_fn: grad if root_fn.n_outputs == 1 else {root._index: grad}}
    heap = [(-root_fn._sequence_nr, root_fn)]
    leaves = {}
    count = inplace_ops[0]
    while heap:
        fn = heappop(heap)[1]
        out_grad = pending.pop(fn)
        parents = fn.parents if fn.epoch == count else as_recorded(fn)
        if out_grad is None:  # no output of this op reached the root: nothing flows through it
            in_grads = (None,) * len(parents)
        else:
            if fn.epoch != count:  # an in-place op ran since fn was recorded
                fn.check_versions()
            if fn.n_outputs == 1:
                in_grads = fn.backward(out_grad.array if type(out_grad) is _Owned else out_grad)
            else:
                in_grads = fn.backward(*(_unwrap(out_grad.get(i)) for i in range(fn.n_outputs)))
            if not fn._trusted:
                _check_backward_result(fn, in_grads)
        # One gradient per input: trusted ops return them so and _check_backward_result checked the
        # rest (zip's strict=True would add 120 ns an op, parsing its keyword).
        for t, g in zip(parents, in_grads):  # noqa: B905
            creator = t._creator
            if creator is not None:
                previous = pending.get(creator, _UNSCHEDULED)
                if previous is _UNSCHEDULED:  # the first of creator's consumers to reach it
                    if creator.freed:
                        raise _freed_error()
                    heappush(heap, (-creator._sequence_nr, creator))
                    pending[creator] = previous = None
            if g is None or not t._requires_grad:
                continue
            data = t.array
            if type(g) is not type(data) or g.dtype is not data.dtype:
                g = _conform(g, data)
            if creator is None:  # a leaf
                previous = leaves.get(t)
                fresh = previous is None and type(g) is not IndexedGrad
                leaves[t] = g if fresh else _add(previous, g, data)
                continue
            if t._retains_grad:
                _accumulate_leaf(t, g.dense(data.shape, data.dtype) if type(g) is IndexedGrad else g)
            if creator.n_outputs == 1:
                fresh = previous is None and type(g) is not IndexedGrad
                pending[creator] = g if fresh else _add(previous, g, data)
            else:
                slots = pending[creator] = {} if previous is None else previous
                slots[t._index] = _add(slots.get(t._index), g, data)
        if not retain_graph:  # fn.release(), inlined
            fn.__dict__.clear()
            fn.freed = True
    for t, g in leaves.items():
        # .grad must own its array: optimizers and clipping modify it in place.
        _accumulate_leaf(t, g.array if type(g) is _Owned else g, owned=type(g) is _Owned)


def _check_backward_result(fn, in_grads):
    """Raise, naming ``fn``, unless its backward returned one gradient of the right shape per input."""
    parents = fn.parents
    if type(in_grads) is not tuple or len(in_grads) != len(parents):
        raise TypeError(f"{type(fn).__name__}.backward must return a tuple with one gradient "
                        f"per input ({len(parents)}), got {type(in_grads).__name__}"
                        + (f" of length {len(in_grads)}" if isinstance(in_grads, tuple) else ""))
    for i, (t, g) in enumerate(zip(parents, in_grads, strict=True)):
        if g is None or not t.requires_grad or type(g) is IndexedGrad:
            continue
        if tuple(g.shape) != t.shape:
            raise ValueError(f"{type(fn).__name__}.backward returned a gradient of shape "
                             f"{tuple(g.shape)} for input {i} of shape {t.shape}; "
                             "it must match the input's shape")


def _conform(g, like):
    """``g`` as an array of ``like``'s dtype (an IndexedGrad keeps its form, with values of that dtype).

    A float32 input gets a float32 gradient even when the op computed in float64,
    and NumPy's 0-d results (scalars) become 0-d arrays again.
    """
    if type(g) is IndexedGrad:
        if g.values.dtype != like.dtype:
            g.values = g.values.astype(like.dtype)
        return g
    if isinstance(g, numpy.generic):
        g = numpy.asarray(g)
    return g if g.dtype == like.dtype else g.astype(like.dtype)


def _add(previous, g, like):
    """previous + g, adding in place only into a buffer this walk allocated (an _Owned)."""
    if type(g) is IndexedGrad:
        if previous is None:
            buffer = backend.get_array_module(like).zeros(like.shape, dtype=like.dtype)
        elif type(previous) is _Owned:
            buffer = previous.array
        else:  # an array some op handed on: it may be shared, so never write into it
            buffer = previous.copy()
        g.add_into(buffer)
        return previous if type(previous) is _Owned else _Owned(buffer)
    if previous is None:
        return g
    if type(previous) is _Owned:
        previous.array += g
        return previous
    return _Owned(previous + g)


def _unwrap(g):
    return g.array if type(g) is _Owned else g


def _accumulate_leaf(t, g, owned=False):
    """t.grad += g, as torch's AccumulateGrad: in place into an existing .grad, else a new Tensor
    wrapping ``g`` (copied unless ``owned``: gradients passed between ops may be shared views,
    and optimizers and clipping modify .grad in place)."""
    if t._grad is None:
        t._grad = _tensor(g if owned else g.copy(), None, 0)
    else:
        t._grad.array += g
