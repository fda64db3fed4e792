"""rnn: recurrent networks (RNN, LSTM, GRU) built only from tensorgrad."""

from .attention import AdditiveAttention, additive_attention
from .bleu import corpus_bleu, modified_precision, sentence_bleu
from .cells import GRUCell, LSTMCell, RNNCell, gru_cell, lstm_cell, rnn_cell
from .ctc import ctc_greedy_decode, ctc_prefix_beam_search, edit_distance, error_rate
from .decode import Hypothesis, beam_search, greedy_decode
from .layers import GRU, LSTM, RNN
from .lru import LRU
from .mingru import MinGRU
from .regularize import LockedDropout, ar_penalty, embedding_dropout, locked_dropout, tar_penalty, weight_drop
from .scan import complex_linear_recurrence, linear_recurrence, log_linear_recurrence
from .variants import ifgo_to_ifog, ifog_to_ifgo, lstm_from_cs231n, lstm_to_cs231n

__all__ = [
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    "rnn_cell", "lstm_cell", "gru_cell",
    "ifgo_to_ifog", "ifog_to_ifgo", "lstm_to_cs231n", "lstm_from_cs231n",
    "linear_recurrence", "log_linear_recurrence", "complex_linear_recurrence",
    "MinGRU", "LRU",
    "LockedDropout", "locked_dropout", "embedding_dropout", "weight_drop", "ar_penalty", "tar_penalty",
    "additive_attention", "AdditiveAttention",
    "greedy_decode", "beam_search", "Hypothesis",
    "corpus_bleu", "sentence_bleu", "modified_precision",
    "ctc_greedy_decode", "ctc_prefix_beam_search", "edit_distance", "error_rate",
]
