"""torch.nn.utils as tensorgrad has it (``tg.nn.utils``): gradient clipping, and ``rnn`` with
pad_sequence and the packed-sequence names (which raise, pointing to ``lengths=``)."""

from . import sequences as rnn
from .optim.clip_grad import clip_grad_norm, clip_grad_norm_

__all__ = ["clip_grad_norm_", "clip_grad_norm", "rnn"]
