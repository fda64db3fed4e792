"""tensorgrad.exercise: the check cells' tools refuse shortcuts and report in one sentence."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from tensorgrad.exercise import ExerciseFailed, ShortcutUsed, call, forbid


def test_forbid_blocks_a_class_under_every_name_and_restores_it():
    LSTMCell = rnn.LSTMCell
    namespace = {"Alias": rnn.LSTMCell}
    with forbid(rnn.LSTMCell, namespace=namespace, task="lstm_step"):
        for make in (lambda: rnn.LSTMCell(2, 3), lambda: namespace["Alias"](2, 3),
                     lambda: rnn.cells.LSTMCell(2, 3)):
            with pytest.raises(ShortcutUsed, match="write lstm_step yourself; your code called rnn.LSTMCell"):
                make()
    assert rnn.LSTMCell is LSTMCell and namespace["Alias"] is LSTMCell
    assert rnn.LSTMCell(2, 3)(tg.zeros(1, 2))[0].shape == (1, 3)


def test_forbid_blocks_an_op_class_run_through_apply():
    # Ops are never constructed by their users: Op.apply(...) runs them, so blocking construction
    # alone let tensorgrad.ops.CTCLoss.apply through a check that forbade the class.
    import tensorgrad.ops.conv

    x, w = tg.zeros(1, 1, 3, 3), tg.zeros(1, 1, 2, 2)
    with forbid(tensorgrad.ops.conv.Conv2d, task="conv2d_im2col"):
        with pytest.raises(ShortcutUsed, match="write conv2d_im2col yourself"):
            tensorgrad.ops.Conv2d.apply(x, w, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
        with pytest.raises(ShortcutUsed):
            tg.functional.conv2d(x, w)  # the functional form reaches the op through the module too
    assert tg.functional.conv2d(x, w).shape == (1, 1, 2, 2)


def test_forbid_blocks_a_function_and_restores_it_after_an_error():
    softmax = tg.softmax
    with pytest.raises(ShortcutUsed, match="tensorgrad.softmax"):
        with forbid(tg.softmax):
            tg.softmax(tg.zeros(3), dim=0)
    assert tg.softmax is softmax


def test_a_shortcut_is_a_failed_check_shown_as_one_line():
    error = ShortcutUsed("This exercise asks you to write f yourself.")
    assert isinstance(error, AssertionError)
    assert error._render_traceback_() == ["ShortcutUsed: This exercise asks you to write f yourself."]


def test_call_turns_an_error_in_the_students_code_into_one_sentence():
    def student(x):
        return x @ np.ones((3, 2))

    with pytest.raises(ExerciseFailed, match=r"^B=2: student raised ValueError: matmul") as info:
        call(student, np.ones((2, 4)), where="B=2")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_call_lets_the_unsolved_stub_and_check_failures_through():
    def stub():
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        call(stub)
    assert call(lambda a, b=1: a + b, 1, b=2) == 3
