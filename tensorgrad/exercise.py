"""What the lessons' check cells use: one clear sentence on failure, and no shortcuts.

    from tensorgrad.exercise import ExerciseFailed, call, forbid

    def check_lstm_step():
        h_ref, c_ref = reference(...)                          # computed first, with the library
        with forbid(rnn.LSTMCell, rnn.LSTM, namespace=globals(), task="lstm_step"):
            h, c = call(lstm_step, x, h0, c0, *weights, where="(B, I, H) = (3, 2, 4)")
        if not np.allclose(h, h_ref):
            raise ExerciseFailed(f"(B, I, H) = (3, 2, 4): h is off by {err:.2g}; check the gate order")

- ``ExerciseFailed`` is an AssertionError (so graders and nbgrader count it as a
  failed check) that Jupyter shows as its one line, without the check's
  traceback.
- ``forbid(*routines)`` makes the library routines an exercise asks the student
  to write raise ``ShortcutUsed`` for the duration of the block: on every
  module that exports them and under every name the notebook bound them to
  (``from rnn import LSTMCell``, ``cell = rnn.LSTMCell``). Compute the reference
  before the block, run the student's code inside it.
- ``call(fn, *args)`` runs the student's function and turns an exception from
  inside it into one sentence naming the error and the student's line, so a
  check never ends in a traceback from its own code. ``NotImplementedError``
  (the unsolved stub) passes through unchanged.
"""

import contextlib
import functools
import sys
import traceback

__all__ = ["ExerciseFailed", "ShortcutUsed", "call", "forbid"]


class ExerciseFailed(AssertionError):
    """A check rejected the answer; the message is the whole story."""

    def _render_traceback_(self):
        # IPython calls this instead of printing a traceback: the student sees one line.
        return [f"{type(self).__name__}: {self}"]


class ShortcutUsed(ExerciseFailed):
    """The answer called the library routine the exercise asks the student to write."""


def _name_of(routine):
    module = getattr(routine, "__module__", None) or ""
    name = getattr(routine, "__qualname__", None) or getattr(routine, "__name__", repr(routine))
    top = module.split(".")[0]
    return f"{top}.{name}" if top and top != "__main__" else name


def _blocker(routine, task):
    label = _name_of(routine)
    what = f"{task} yourself" if task else "this yourself"

    def refuse(*args, **kwargs):
        raise ShortcutUsed(f"This exercise asks you to write {what}; your code called {label}, "
                           "which the check does not allow.")

    if isinstance(routine, type):
        # A class: keep isinstance() checks working elsewhere, refuse construction.
        body = {"__new__": lambda cls, *a, **k: refuse(), "__init__": lambda self, *a, **k: refuse()}
        if hasattr(routine, "apply"):  # an op (tg.Function) runs through its classmethod, never constructed
            body["apply"] = classmethod(lambda cls, *a, **k: refuse())
        return type(routine.__name__, (routine,), body)
    return functools.wraps(routine)(refuse)


@contextlib.contextmanager
def forbid(*routines, namespace=None, task=None):
    """Within the block, calling any of ``routines`` raises ShortcutUsed.

    routines   functions or classes (the objects themselves, e.g. ``rnn.LSTMCell``)
    namespace  the notebook's ``globals()``: names bound there to a routine are blocked too
    task       what the student is writing, for the message ("lstm_step")
    """
    saved = []  # (holder, name, original), restored in reverse order
    try:
        for routine in routines:
            blocked = _blocker(routine, task)
            for module in list(sys.modules.values()):
                holder = getattr(module, "__dict__", None)
                if not isinstance(holder, dict):
                    continue
                for name, value in list(holder.items()):
                    if value is routine:
                        saved.append((holder, name, value))
                        holder[name] = blocked
            if namespace is not None:
                for name, value in list(namespace.items()):
                    if value is routine:
                        saved.append((namespace, name, value))
                        namespace[name] = blocked
        yield
    finally:
        for holder, name, value in reversed(saved):
            holder[name] = value


def _student_line(tb):
    """The deepest frame of the traceback that is the student's notebook code, as 'line N: source'."""
    frames = [f for f in traceback.extract_tb(tb) if "ipykernel" in f.filename or f.filename.startswith("<")]
    if not frames:
        return ""
    f = frames[-1]
    return f" (line {f.lineno} of your cell: `{(f.line or '').strip()}`)"


def call(fn, *args, where="", **kwargs):
    """fn(*args, **kwargs), with an exception from the student's code turned into one ExerciseFailed line."""
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, ExerciseFailed):
        raise
    except Exception as e:  # noqa: BLE001 - any error in the student's code is reported, not re-thrown
        prefix = f"{where}: " if where else ""
        name = getattr(fn, "__name__", "your function")
        line = _student_line(e.__traceback__)
        raise ExerciseFailed(f"{prefix}{name} raised {type(e).__name__}: {e}{line}") from None
