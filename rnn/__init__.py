"""rnn: recurrent networks (RNN, LSTM, GRU) built only from tensorgrad."""
