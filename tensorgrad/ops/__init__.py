"""The primitive ops: each is one Function (tensorgrad.autograd), forward on raw arrays beside its
backward, with f and its derivative in its docstring. One module per family:

    elementwise.py  two operands broadcast together: + - * / // % **, maximum, where; and
                    Elementwise, the one place that casts them to torch's result dtype
                    and undoes broadcasting (sum_to) in their gradients
    pointwise.py    one operand, element by element: exp, log, tanh, relu, clamp, ...;
                    and the copies: clone, cast, move to a device
    reductions.py   sum, mean, max/min, norm, prod, cumsum, and the matrix product
    shape.py        reshape, transpose, expand, repeat, split, indexing, gather, cat, stack, pad
    losses.py       softmax, log_softmax, NLL and cross-entropy
    conv.py         2-D convolution (im2col + one GEMM per group), max and average pooling
    unfold.py       unfold (im2col) and fold (col2im), each the other's adjoint
    ctc.py          the CTC loss (alpha/beta recursions over the frames)

Notation in the docstrings: g is the gradient arriving at the output, dL/dx
what backward returns for input x.

Adding an op:
1. Pick its family's module; write one class with ``forward(self, *arrays, **params)``
   on raw arrays (find the array module with ``get_array_module``, never ``numpy.``
   directly) and ``backward(self, g)`` returning one gradient (or None) per input;
   skip work where ``self.needs_grad[i]`` is False. Its docstring states f and dL/dx.
   Two broadcast operands: subclass Elementwise and write ``compute`` and
   ``gradients`` instead; it casts and undoes broadcasting for you.
2. Declare what backward reads: ``saved_inputs`` (input positions; () for none)
   and ``saves_output``, so an in-place change to them raises at backward. Where
   an input is read only for another input's gradient, make ``saved_inputs`` a
   property of ``self.needs_grad`` (Mul, Div): it then raises exactly where torch does.
3. Mark it ``trusted=True`` in the class line only once a test checks its
   gradients (gradcheck on float64, tests/test_op_gradients.py): backward then
   skips checking what it returns.
4. Give it a Tensor method (tensor_math.py, tensor_reductions.py, tensor_shape.py)
   and, where torch has one, a ``tg.`` function with torch's name and arguments;
   compare values and gradients with torch in tests (tests/test_torch_habits.py).
"""

from ..autograd import ShapeError  # noqa: F401  (tg.ShapeError, raised by the ops)
from .conv import AvgPool2d, Conv2d, MaxPool2d  # noqa: F401
from .ctc import CTCLoss  # noqa: F401
from .elementwise import (  # noqa: F401
    Add,
    Div,
    Elementwise,
    FloorDivide,
    Maximum,
    Minimum,
    Mul,
    PowTensor,
    Remainder,
    Sub,
    Where,
    floating,
    result_type,
    same_dtype,
    sum_to,
)
from .losses import (  # noqa: F401
    CrossEntropy,
    LogSoftmax,
    NLLLoss,
    Softmax,
    log_softmax_array,
)
from .pointwise import (  # noqa: F401
    Abs,
    Cast,
    Clamp,
    Clone,
    Exp,
    Expm1,
    Gelu,
    Log,
    Log1p,
    Neg,
    Pow,
    Relu,
    Rounding,
    Sigmoid,
    Sign,
    Softplus,
    Sqrt,
    StdSqrt,
    Tanh,
    ToDevice,
    erf_array,
    sigmoid_array,
    softplus_array,
)
from .reductions import (  # noqa: F401
    Cumsum,
    MatMul,
    Max,
    Mean,
    Min,
    Norm,
    Prod,
    Sum,
)
from .shape import (  # noqa: F401
    Concat,
    Expand,
    Gather,
    GetItem,
    Pad,
    Repeat,
    Reshape,
    SetItem,
    Split,
    Stack,
    Transpose,
    Unbind,
    index_copies,
    index_may_repeat,
    index_on,
)
from .unfold import Fold, Unfold  # noqa: F401
