"""The README's demo runs and its RNN actually learns."""

import re

from tensorgrad import demo


def test_demo_runs_and_the_rnn_beats_the_zero_predictor(capsys):
    demo.main()
    out = capsys.readouterr().out
    assert "gradcheck passed: True" in out
    final = float(re.findall(r"mse (\d+\.\d+)", out)[-1])
    assert final < 0.05
