"""Optimizers (SGD, Adam, AdamW, RMSprop), learning-rate schedules and gradient clipping.

Named and defined as in PyTorch's torch.optim; ``tg.optim.lr_scheduler.StepLR``
is ``torch.optim.lr_scheduler.StepLR``, and ``clip_grad_norm_`` is
``torch.nn.utils.clip_grad_norm_``.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .clip_grad import clip_grad_norm, clip_grad_norm_
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler", "clip_grad_norm_",
           "clip_grad_norm"]
