"""What torch.cuda answers first in a script: ``device = "cuda" if tg.cuda.is_available() else "cpu"``."""

from .backend import cuda_available


def is_available():
    """True when CuPy is installed and sees a GPU (tg.cuda_available())."""
    return cuda_available()
