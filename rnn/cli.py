"""Command line: train a character-level language model, and sample from a checkpoint.

    python -m rnn train [--data tinyshakespeare|PATH] [--model lstm|gru|rnn] [--hidden N] ...
    python -m rnn sample DIR [--length N] [--temperature F] [--top-k N] [--prime TEXT] [--seed N]

A checkpoint directory holds config.json (the model's and the run's settings
and the vocabulary), model.npz (the weights, for ``tg.load`` +
``load_state_dict``) and trainer.npz (optimizer state, step, position in the
stream and the carried recurrent state), so ``--resume`` continues exactly.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

import tensorgrad as tg

from . import data
from .bptt import detach_state, evaluate, tbptt
from .lm import LAYERS, CharLM, bits, sample

# Settings of a run; None in the parser means "not given", so --resume can tell
# what the user asked for from what the checkpoint says.
DEFAULTS = {
    "data": "tinyshakespeare", "model": "lstm", "hidden": 256, "layers": 1, "embedding": 64,
    "dropout": 0.0, "bptt": 64, "batch_size": 32, "steps": 4000, "lr": 3e-3, "clip": 1.0,
    "device": "cpu", "seed": 0, "valid_fraction": 0.1,
}
ARCHITECTURE = ("data", "model", "hidden", "layers", "embedding", "dropout", "valid_fraction")
CONFIG, WEIGHTS, TRAINER = "config.json", "model.npz", "trainer.npz"


class UsageError(Exception):
    """Bad input from the user: reported as one line, with a non-zero exit."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage dump
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0 or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def build_parser():
    parser = _Parser(prog="python -m rnn", description="Character-level recurrent language models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model (or continue one with --resume)")
    train.add_argument("--data", help="'tinyshakespeare' (shipped) or the path of a UTF-8 text file")
    train.add_argument("--model", choices=sorted(LAYERS), help="recurrent layer (default lstm)")
    train.add_argument("--hidden", type=_positive(int), help="hidden units per layer (default 256)")
    train.add_argument("--layers", type=_positive(int), help="stacked recurrent layers (default 1)")
    train.add_argument("--embedding", type=_positive(int), help="character embedding size (default 64)")
    train.add_argument("--dropout", type=_probability, help="dropout between layers (default 0)")
    train.add_argument("--bptt", type=_positive(int), help="truncated BPTT length k (default 64)")
    train.add_argument("--batch-size", type=_positive(int), help="parallel streams (default 32)")
    train.add_argument("--steps", type=_positive(int), help="total optimizer steps (default 4000)")
    train.add_argument("--lr", type=_positive(float), help="Adam learning rate (default 3e-3)")
    train.add_argument("--clip", type=_positive(float), help="max global gradient norm (default 1.0)")
    train.add_argument("--device", choices=["cpu", "cuda"], help="where to train (default cpu)")
    train.add_argument("--seed", type=int, help="seed for init and sampling (default 0)")
    train.add_argument("--valid-fraction", type=_probability,
                       help="last fraction of the text held out for validation (default 0.1)")
    train.add_argument("--out", default="runs/charlm", help="checkpoint directory (default runs/charlm)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    train.add_argument("--eval-every", type=_positive(int), default=500,
                       help="validate, print a sample and save every N steps (default 500)")
    train.add_argument("--valid-chars", type=_positive(int), default=50_000,
                       help="validate on the first N characters of the validation split (default 50000)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    train.add_argument("--threads", type=_positive(int), help="BLAS threads (default 1); 1 on a busy machine")

    smp = commands.add_parser("sample", help="generate text from a checkpoint directory")
    smp.add_argument("dir", help="checkpoint directory written by train")
    smp.add_argument("--length", type=_positive(int), default=500, help="characters to generate")
    smp.add_argument("--temperature", type=_positive(float), default=0.8, help="< 1 is more conservative")
    smp.add_argument("--top-k", type=_positive(int), help="sample only from the k likeliest characters")
    smp.add_argument("--prime", default="\n", help="text to start from (default a newline)")
    smp.add_argument("--seed", type=int, default=0, help="same seed, same text")
    smp.add_argument("--threads", type=_positive(int), help="BLAS threads (default 1); 1 on a busy machine")
    return parser


# ------------------------------------------------------------------ checkpoints
def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
    os.replace(tmp, path)


def save_checkpoint(out, config, vocab, model, optimizer, step, position, state):
    os.makedirs(out, exist_ok=True)
    carried = {} if state is None else {f"h{i}": s for i, s in enumerate(
        state if isinstance(state, tuple) else (state,))}
    tg.save(model.state_dict(), os.path.join(out, WEIGHTS))
    tg.save({"optimizer": optimizer.state_dict(), "step": step, "position": position, "state": carried},
            os.path.join(out, TRAINER))
    _write_json(os.path.join(out, CONFIG), {**config, "vocabulary": vocab.chars, "step": step})


def load_config(directory):
    """The config and vocabulary of a checkpoint directory, with clear errors if it is not one."""
    if not os.path.isdir(directory):
        raise UsageError(f"no checkpoint directory at {directory!r}; train one first with "
                         f"`python -m rnn train --out {directory}`")
    path = os.path.join(directory, CONFIG)
    if not os.path.isfile(path):
        raise UsageError(f"{directory!r} holds no {CONFIG}; it is not a checkpoint directory written "
                         "by `python -m rnn train`")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        vocab = data.Vocabulary(config["vocabulary"])
        missing = [k for k in ARCHITECTURE if k not in config]
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{path} is damaged or not a checkpoint config ({err})") from None
    if missing:
        raise UsageError(f"{path} lacks the settings {', '.join(missing)}; it was not written by "
                         "this trainer")
    return config, vocab


def build_model(config, vocab, device="cpu"):
    """A fresh CharLM with the architecture ``config`` names."""
    return CharLM(len(vocab), config["hidden"], config["layers"], config["model"],
                  config["embedding"], config["dropout"], device=device)


def load_weights(model, directory):
    """Load a checkpoint directory's weights into ``model``, with a clear error if they do not fit."""
    try:
        model.load_state_dict(tg.load(os.path.join(directory, WEIGHTS)))
    except (KeyError, ValueError, TypeError) as err:
        raise UsageError(f"the weights in {directory!r} do not fit its config: {err.args[0]}") from None
    return model


# ------------------------------------------------------------------------ train
def _settings(args):
    """The run's settings: the checkpoint's on --resume (conflicts refused), else args over DEFAULTS."""
    given = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
    if not args.resume:
        if os.path.exists(os.path.join(args.out, CONFIG)):
            raise UsageError(f"{args.out!r} already holds a checkpoint; pass --resume to continue it, "
                             "or choose another --out")
        settings = {**DEFAULTS, **given}
        if settings["data"] != "tinyshakespeare":
            settings["data"] = os.path.abspath(settings["data"])
        return settings, None
    config, vocab = load_config(args.out)
    conflicts = [f"--{k.replace('_', '-')} {given[k]} (checkpoint: {config[k]})"
                 for k in ARCHITECTURE if k in given and k != "data" and given[k] != config[k]]
    if conflicts:
        raise UsageError(f"--resume keeps the checkpoint's model and data, but you asked for "
                         f"{'; '.join(conflicts)}; drop those flags or train into a new --out")
    return {**DEFAULTS, **{k: v for k, v in config.items() if k in DEFAULTS}, **given,
            "data": config["data"]}, vocab


def train(args):
    settings, vocab = _settings(args)
    text = data.load_text(settings["data"])
    vocab = vocab or data.Vocabulary.from_text(text)
    ids = vocab.encode(text)
    train_ids, valid_ids = data.train_valid_split(ids, settings["valid_fraction"])
    stream = data.batchify(train_ids, settings["batch_size"])
    valid = data.batchify(valid_ids[: args.valid_chars], min(settings["batch_size"], 16))
    inputs, targets = stream[:-1], stream[1:]

    tg.manual_seed(settings["seed"])
    device = settings["device"]
    model = build_model(settings, vocab, device)
    optimizer = tg.optim.Adam(model.parameters(), lr=settings["lr"])
    step, position, state = 0, 0, None
    if args.resume:
        load_weights(model, args.out)
        trainer = tg.load(os.path.join(args.out, TRAINER))
        optimizer.load_state_dict(trainer["optimizer"])
        optimizer.lr = settings["lr"]
        step, position = int(trainer["step"]), int(trainer["position"])
        carried = [tg.tensor(trainer["state"][k], device=device) for k in sorted(trainer.get("state", {}))]
        state = None if not carried else carried[0] if len(carried) == 1 else tuple(carried)
        if step >= settings["steps"]:
            raise UsageError(f"the checkpoint is already at step {step}; pass a larger --steps to go on")
    n_params = sum(p.size for p in model.parameters())
    print(f"{settings['model'].upper()} {settings['layers']}x{settings['hidden']}, {n_params:,} parameters; "
          f"{len(vocab)} characters, {len(train_ids):,} train / {len(valid_ids):,} valid; "
          f"batch {settings['batch_size']} x bptt {settings['bptt']}; "
          + (f"resuming at step {step}" if args.resume else f"{settings['steps']} steps"), flush=True)

    def model_step(x, h):
        return model(tg.tensor(x, device=device), h)

    def report(valid_loss):
        prime = "\n"
        text = sample(model, vocab, 200, temperature=0.8, prime=prime, rng=np.random.default_rng(step))
        return (f"step {step}: validation loss {valid_loss:.4f} nats/char ({bits(valid_loss):.3f} bits)\n"
                f"--- sample ---{text}\n--------------")

    from tqdm import tqdm
    bar = tqdm(total=settings["steps"], initial=step, disable=args.no_progress, unit="step",
               dynamic_ncols=True, file=sys.stderr)
    ema, n_seen, running, start, history = 0.0, 0, None, time.perf_counter(), []
    try:
        while step < settings["steps"]:
            if position >= len(inputs):  # a new pass over the training text
                position, state = 0, None
            updates = tbptt(model_step, model.loss, inputs[position:], targets[position:], optimizer,
                            k1=settings["bptt"], state=state, clip=settings["clip"])
            for update in updates:
                step, position, state = step + 1, position + update.steps, update.state
                ema, n_seen = 0.98 * ema + 0.02 * update.loss, n_seen + 1
                running = ema / (1 - 0.98 ** n_seen)  # bias-corrected moving average
                bar.update(1)
                bar.set_postfix(loss=f"{running:.3f}")
                if step % args.eval_every == 0 or step == settings["steps"]:
                    valid_loss, _ = evaluate(model_step, model.loss, valid[:-1], valid[1:], settings["bptt"])
                    history.append((step, running, valid_loss))
                    bar.write(report(valid_loss))
                    save_checkpoint(args.out, settings, vocab, model, optimizer, step, position, state)
                if step >= settings["steps"]:
                    break
    except KeyboardInterrupt:
        bar.close()
        save_checkpoint(args.out, settings, vocab, model, optimizer, step, position, detach_state(state))
        print(f"\ninterrupted at step {step}; checkpoint saved in {args.out} "
              f"(continue with: python -m rnn train --out {args.out} --resume)", file=sys.stderr)
        return 130
    bar.close()
    save_checkpoint(args.out, settings, vocab, model, optimizer, step, position, state)
    minutes = (time.perf_counter() - start) / 60
    print(f"done: {step} steps in {minutes:.1f} min; checkpoint in {args.out}")
    if history:
        print("step  train_loss  valid_loss (nats/char)")
        for s, tr, va in history:
            print(f"{s:>4}  {tr:>10.4f}  {va:>10.4f}")
    print(f"sample with: python -m rnn sample {args.out}")
    return 0


def sample_command(args):
    config, vocab = load_config(args.dir)
    model = load_weights(build_model(config, vocab), args.dir)
    text = sample(model, vocab, args.length, temperature=args.temperature, top_k=args.top_k,
                  prime=args.prime, rng=np.random.default_rng(args.seed))
    print(text)
    return 0


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return train(args) if args.command == "train" else sample_command(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, OSError, tg.CheckpointError, tg.DeviceError) as err:
        message = err.args[0] if err.args else type(err).__name__
        if isinstance(err, OSError) and err.filename:
            message = f"{err.strerror}: {err.filename}"
        print(f"error: {message}", file=sys.stderr)
        return 1
