"""python -m rnn: train and sample character-level language models (see rnn/cli.py)."""

import sys

from .cli import main

sys.exit(main())
