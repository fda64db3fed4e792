"""torch.nn.utils.rnn's counterpart (``tg.nn.utils.rnn``): padding a list of sequences into one
batch, and clear errors for packed sequences, which tensorgrad replaces with ``lengths=``.

torch packs a padded batch so its recurrent layers skip the padding. rnn's layers take the
lengths directly and give packed-sequence results (outputs past a sequence's end are zero,
``h_n`` is each sequence's state at its own last step):

    out, (h_n, c_n) = LSTM(I, H)(padded, lengths=lengths)     # from rnn import LSTM
"""

from . import functional
from .tensor import Tensor

_INSTEAD = ("tensorgrad has no packed sequences: pass the padded batch and its lengths to the recurrent "
            "layer instead, `from rnn import LSTM; out, (h_n, c_n) = LSTM(I, H)(padded, lengths=lengths)` "
            "(also RNN and GRU): outputs past each length are zero and h_n is each sequence's last state, "
            "as with a packed sequence")


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of different lengths, padded with ``padding_value``, as torch's pad_sequence:
    a list of (L_i, *) tensors -> (max L, B, *), or (B, max L, *) with batch_first=True.
    Differentiable in the sequences."""
    sequences = list(sequences)
    if not sequences or not all(isinstance(s, Tensor) for s in sequences):
        raise TypeError("pad_sequence: expects a non-empty list of Tensors")
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        # F.pad's widths run from the last dim backwards: (0, 0) for each trailing dim, then dim 0
        widths = (0, 0) * (s.ndim - 1) + ((0, missing) if padding_side == "right" else (missing, 0))
        padded.append(functional.pad(s, widths, value=padding_value) if missing else s)
    return functional.stack(padded, 0 if batch_first else 1)


def _refuse(name):
    def refuse(*args, **kwargs):
        raise NotImplementedError(f"{name}: {_INSTEAD}")
    refuse.__name__ = refuse.__qualname__ = name
    refuse.__doc__ = f"Not in tensorgrad: raises, naming ``lengths=`` ({_INSTEAD})."
    return refuse


pack_padded_sequence = _refuse("pack_padded_sequence")
pad_packed_sequence = _refuse("pad_packed_sequence")
pack_sequence = _refuse("pack_sequence")
unpack_sequence = _refuse("unpack_sequence")
PackedSequence = _refuse("PackedSequence")
