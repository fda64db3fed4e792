"""tensorgrad: a small reverse-mode autodiff library over NumPy (CPU) or CuPy (GPU).

    import tensorgrad as tg
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # array([2., 4.], dtype=float32)
"""

from numpy import float32, float64, int64

from . import functional, nn, optim
from .autograd import Function, GraphFreedError, is_grad_enabled, no_grad
from .backend import DeviceError, cuda_available, default_device, get_array_module, get_backend, set_backend
from .functional import concat, stack, where
from .gradcheck import GradcheckError, gradcheck
from .io import CheckpointError, load, save
from .ops import ShapeError, sum_to
from .random import manual_seed, rand, randn
from .tensor import Tensor, ones, tensor, zeros

__version__ = "0.1.0"

__all__ = [
    "Function", "GraphFreedError", "is_grad_enabled", "no_grad",
    "DeviceError", "cuda_available", "default_device", "get_array_module", "get_backend", "set_backend",
    "concat", "stack", "where", "GradcheckError", "gradcheck", "CheckpointError", "load", "save",
    "ShapeError", "sum_to", "manual_seed", "rand", "randn", "Tensor", "ones", "tensor", "zeros",
    "functional", "nn", "optim", "float32", "float64", "int64",
]
