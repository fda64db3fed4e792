"""tensorgrad: a small reverse-mode autodiff library over NumPy (CPU) or CuPy (GPU).

    import tensorgrad as tg
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.], ...): a Tensor, as in torch; x.grad.array is the raw array
"""

from numpy import bool_, float16, float32, float64, int32, int64

from . import cuda, functional, nn, optim, utils
from .autograd import Function, GraphFreedError, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (
    DeviceError,
    cuda_available,
    default_device,
    device,
    get_array_module,
    get_backend,
    get_default_device,
    set_backend,
    set_default_device,
)
from .creation import (
    arange,
    as_tensor,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from .functional import cat, concat, stack, where
from .gradcheck import GradcheckError, gradcheck
from .io import CheckpointError, load, save
from .matrix_ops import diag, einsum
from .new_tensors import (
    BoolTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    empty,
    empty_like,
)
from .ops import ShapeError, sum_to
from .random import Generator, manual_seed, multinomial, rand, rand_like, randint, randn, randn_like, randperm
from .tensor import Tensor

__version__ = "0.1.0"

# torch's dtype names (those that shadow a builtin are left out of __all__, so a star import
# does not replace int, float, bool, sum, max, min or abs)
bool = bool_  # noqa: A001  (shadows the builtin inside this namespace only, as torch.bool does)
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001


def _function_form(name):
    def function(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"tg.{name}(x, ...) is x.{name}(...)."
    return function


# tg.sum(x, dim) etc., as torch.sum(x, dim): the tensor method under the module's name
(sum, mean, max, min, amax, amin, argmax, argmin, prod, var, std, logsumexp, norm,  # noqa: A001
 exp, log, log1p, expm1, tanh, sigmoid, relu, sqrt, abs, sign, clamp, clip, maximum, minimum,  # noqa: A001
 transpose, permute, reshape, flatten, squeeze, unsqueeze, unbind, split, chunk, matmul, gather,
 softmax, log_softmax, masked_fill, tril, triu, t, sort, argsort, topk, isnan, isfinite,
 cumsum, round, floor, ceil, mm, bmm, narrow, equal) = (  # noqa: A001
    _function_form(name) for name in (
        "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "prod", "var", "std",
        "logsumexp", "norm", "exp", "log", "log1p", "expm1", "tanh", "sigmoid", "relu", "sqrt", "abs",
        "sign", "clamp", "clip", "maximum", "minimum", "transpose", "permute", "reshape", "flatten",
        "squeeze", "unsqueeze", "unbind", "split", "chunk", "matmul", "gather",
        "softmax", "log_softmax", "masked_fill", "tril", "triu", "t", "sort", "argsort", "topk",
        "isnan", "isfinite", "cumsum", "round", "floor", "ceil", "mm", "bmm", "narrow", "equal"))


def pow(input, exponent):  # noqa: A001
    """tg.pow(x, e) is x ** e, as torch.pow: either may be a Tensor, the other a Tensor or a number."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError(f"pow: input or exponent must be a Tensor, got {type(input).__name__} and "
                        f"{type(exponent).__name__}")
    return input ** exponent

__all__ = [
    "Function", "GraphFreedError", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled",
    "DeviceError", "cuda_available", "default_device", "get_array_module", "get_backend", "set_backend",
    "cat", "concat", "stack", "where", "GradcheckError", "gradcheck", "CheckpointError", "load", "save",
    "ShapeError", "sum_to", "manual_seed", "rand", "randn", "Tensor", "ones", "tensor", "zeros",
    "arange", "as_tensor", "from_numpy", "eye", "full", "full_like", "linspace", "ones_like", "zeros_like",
    "functional", "nn", "optim", "bool_", "float16", "float32", "float64", "int32", "int64",
    "double", "half", "long",
    "mean", "amax", "amin", "argmax", "argmin", "prod", "var", "std", "logsumexp",
    "norm", "exp", "log", "log1p", "expm1", "tanh", "sigmoid", "relu", "sqrt", "sign", "clamp",
    "clip", "maximum", "minimum", "transpose", "permute", "reshape", "flatten", "squeeze", "unsqueeze",
    "unbind", "split", "chunk", "matmul", "gather", "softmax", "log_softmax", "masked_fill", "tril", "triu",
    "multinomial", "cuda", "t", "sort", "argsort", "topk", "isnan", "isfinite", "cumsum", "floor", "ceil",
    "mm", "bmm", "randint", "randn_like", "rand_like",
    "device", "get_default_device", "set_default_device", "Generator", "randperm", "diag", "einsum",
    "empty", "empty_like", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
    "BoolTensor", "narrow", "equal", "utils",
]
