"""Command line: train a character-level language model, and sample from a checkpoint.

    python3 -m rnn train [--data tinyshakespeare|PATH] [--model lstm|gru|rnn] [--hidden N] ...
                         [--lr F] [--lr-schedule cosine|constant|step] [--resume] [--steps N]
    python3 -m rnn sample DIR|FILE [--length N] [--temperature F] [--top-k N] [--prime TEXT] [--seed N]

Training writes OUT/latest.npz (every --eval-every steps, at the end, and on
Ctrl-C, SIGTERM or SIGHUP) and OUT/best.npz (the lowest validation loss so far), one
verified file each (rnn/checkpoint.py), so ``--resume`` continues exactly
where the run stopped: the same weights, to the bit, as a run never stopped
(the learning-rate schedule's position included).
A diverging run stops before it can overwrite a good checkpoint. Every
report is printed after the save it reports, so a closed stdout or stderr
(``| head``, a closed terminal) never costs a checkpoint.

Exit status: 0 done; 1 an error while running (out of memory, disk full);
2 refused input (bad arguments, an unusable checkpoint, --data or --out);
3 the run diverged (nothing saved); 128 + N stopped by signal N, saved
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP); 141 its output was closed (a broken
pipe), saved.
"""

import argparse
import errno
import hashlib
import math
import os
import secrets
import shlex
import signal
import sys
import threading
import time

import numpy as np

import tensorgrad as tg

from . import checkpoint, data
from .bptt import evaluate, tbptt
from .lm import LAYERS, CharLM, bits, default_prime, sample

# Settings of a run; None in the parser means "not given", so --resume can tell
# what the user asked for from what the checkpoint says.
DEFAULTS = {
    "data": "tinyshakespeare", "model": "lstm", "hidden": 256, "layers": 1, "embedding": 64,
    "dropout": 0.0, "bptt": 64, "batch_size": 32, "steps": 4000, "lr": 3e-3, "clip": 1.0,
    "device": "cpu", "seed": 0, "valid_fraction": 0.1, "lr_schedule": "cosine",
    "eval_every": 500, "valid_chars": 50_000,  # saved too: a resume validates and saves as the run did
    # AWD-LSTM's regularisers (rnn.regularize; lesson 11 measures them), off by default
    "tie_weights": False, "embedding_dropout": 0.0, "locked_dropout": 0.0, "weight_drop": 0.0,
}
REGULARISERS = ("tie_weights", "embedding_dropout", "locked_dropout", "weight_drop")
ARCHITECTURE = ("data", "model", "hidden", "layers", "embedding", "dropout", "valid_fraction", *REGULARISERS)
# Fixed for a run's life besides the architecture: the streams are cut for one batch size
# (the carried state and the position in them mean nothing for another), and the random
# state continues from the checkpoint, so a new seed could not take effect.
FIXED_ON_RESUME = (*ARCHITECTURE, "batch_size", "seed", "lr_schedule")
# The learning-rate schedules of --lr-schedule; cosine and step end at LR_FLOOR x --lr (see lr_factor).
SCHEDULES = checkpoint.SCHEDULES
LR_FLOOR = 0.1
# A batch's loss above this many times ln(V), the loss of a uniform guess, stops the run (see _check_loss).
BLOW_UP = 3.0
# A weight above this in magnitude (or not finite) is a blow-up too (see _check_weights).
MAX_WEIGHT = 1e4
DATA_LIMIT_MIB = 128  # --max-data-mb: enwik8 (95 MiB) fits, /dev/zero-sized mistakes do not
EXIT_DIVERGED = 3  # apart from 2 (refused input), so a sweep script can tell a blown-up run from a typo
EXIT_OUTPUT_CLOSED = 128 + 13  # as a process killed by SIGPIPE; Python ignores the signal and gets EPIPE


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
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


_probability.__name__ = "probability"


def build_parser():
    parser = _Parser(prog="python3 -m rnn", description="Character-level recurrent language models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model (or continue one with --resume)")
    train.add_argument("--data", help="'tinyshakespeare' (shipped) or the path of a UTF-8 text file")
    train.add_argument("--model", choices=sorted(LAYERS), help="recurrent layer (default lstm)")
    train.add_argument("--hidden", type=_positive(int), help="hidden units per layer (default 256)")
    train.add_argument("--layers", type=_positive(int), help="stacked recurrent layers (default 1)")
    train.add_argument("--embedding", type=_positive(int), help="character embedding size (default 64)")
    train.add_argument("--dropout", type=_probability, help="dropout between layers (default 0)")
    train.add_argument("--tie-weights", action="store_true", default=None,
                       help="the decoder reuses the embedding matrix (needs --embedding equal to --hidden)")
    train.add_argument("--embedding-dropout", type=_probability,
                       help="drop whole characters' embedding rows with this probability (default 0)")
    train.add_argument("--locked-dropout", type=_probability,
                       help="locked dropout, one mask per sequence, on the embedded input and the last "
                       "layer's output (default 0)")
    train.add_argument("--weight-drop", type=_probability,
                       help="DropConnect on the hidden-to-hidden weights (default 0)")
    train.add_argument("--bptt", type=_positive(int), help="truncated BPTT length k (default 64)")
    train.add_argument("--batch-size", type=_positive(int), help="parallel streams (default 32)")
    train.add_argument("--steps", type=_positive(int), help="total optimizer steps (default 4000)")
    train.add_argument("--lr", type=_positive(float), help="Adam learning rate (default 3e-3)")
    train.add_argument("--lr-schedule", choices=SCHEDULES,
                       help="constant: --lr throughout; cosine: from --lr down to --lr/10 at --steps; "
                       "step: --lr, then --lr/10 for the last quarter of --steps. A resume keeps the "
                       "schedule's length: steps past it run at --lr/10 "
                       f"(default {DEFAULTS['lr_schedule']})")
    train.add_argument("--clip", type=_positive(float), help="max global gradient norm (default 1.0)")
    train.add_argument("--device", choices=["cpu", "cuda"], help="where to train (default cpu)")
    train.add_argument("--seed", type=int, help="seed for init and sampling (default 0)")
    train.add_argument("--valid-fraction", type=_probability,
                       help="last fraction of the text held out for validation (default 0.1)")
    train.add_argument("--out", default="runs/charlm", help="checkpoint directory (default runs/charlm)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint in --out (its latest.npz)")
    train.add_argument("--eval-every", type=_positive(int),
                       help="validate, save and print a sample every N steps (default 500; --resume keeps "
                       "the run's)")
    train.add_argument("--valid-chars", type=_positive(int),
                       help="validate on the first N characters of the validation split (default 50000; "
                       "--resume keeps the run's)")
    train.add_argument("--max-data-mb", type=_positive(int), default=DATA_LIMIT_MIB,
                       help="refuse a --data file larger than this many MiB before reading it; training "
                       f"needs about 20 bytes of memory per character (default {DATA_LIMIT_MIB})")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    train.add_argument("--threads", type=_positive(int), help="BLAS threads (default 1); 1 on a busy machine")

    smp = commands.add_parser("sample", help="generate text from a checkpoint directory")
    smp.add_argument("dir", help="checkpoint directory written by train (its best.npz, else latest.npz), "
                     "or a checkpoint file")
    smp.add_argument("--length", type=_positive(int), default=500, help="characters to generate")
    smp.add_argument("--temperature", type=_positive(float), default=0.8, help="< 1 is more conservative")
    smp.add_argument("--top-k", type=_positive(int), help="sample only from the k likeliest characters")
    smp.add_argument("--prime", help="text to start from (default a newline, or a character the text has)")
    smp.add_argument("--seed", type=int, default=0, help="same seed, same text")
    smp.add_argument("--threads", type=_positive(int), help="BLAS threads (default 1); 1 on a busy machine")
    return parser


# ------------------------------------------------------------------- the model
def build_model(config, vocab, device="cpu"):
    """A fresh CharLM with the architecture ``config`` names (a checkpoint from before the regularisers
    has none of their keys: they are off)."""
    reg = {key: config.get(key, DEFAULTS[key]) for key in REGULARISERS}
    return CharLM(len(vocab), config["hidden"], config["layers"], config["model"],
                  config["embedding"], config["dropout"], device=device,
                  tie_weights=reg["tie_weights"], embedding_dropout=reg["embedding_dropout"],
                  input_dropout=reg["locked_dropout"], output_dropout=reg["locked_dropout"],
                  weight_dropout=reg["weight_drop"])


def load_weights(model, state, path):
    """Load a checkpoint's weights into ``model``, with a clear error if they do not fit."""
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as err:
        raise UsageError(f"the weights in {path!r} do not fit its config: {err.args[0]}") from None
    return model


def model_from(saved, path, device="cpu"):
    """The model a validated checkpoint holds: sized by its config only once its weights agree on the size.

    (A config claiming --hidden 10**9 beside small weights would otherwise be
    built, all of it, before load_weights could object.)
    """
    _check_weight_count(saved, path)
    return load_weights(build_model(saved["config"], saved["vocabulary"], device), saved["model"], path)


def _check_weight_count(saved, path):
    config, vocab = saved["config"], saved["vocabulary"]
    expected, held = parameter_count(config, len(vocab)), sum(w.size for w in saved["model"].values())
    if config.get("tie_weights"):  # state_dict lists the one tied matrix under both of its names, as torch
        expected += len(vocab) * config["hidden"]
    if expected != held:
        raise checkpoint.CheckpointUnusable(
            f"{path!r} is not a usable checkpoint: its config ({config['model']}, {config['layers']} x "
            f"{config['hidden']}, embedding {config['embedding']}, {len(vocab)} characters) needs "
            f"{expected:,} weights but the file holds {held:,}; it was altered")


def lr_factor(schedule, step, horizon):
    """The learning rate after ``step`` optimizer steps, as a multiple of --lr.

    horizon: the run's --steps when it started. constant: 1. cosine:
    f + (1 - f) (1 + cos(pi s / horizon)) / 2 with f = LR_FLOOR, from 1 at step 0
    to f at the horizon. step: 1, then f from 3/4 of the horizon on. Past the
    horizon (a run extended with --resume --steps) both stay at f.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        s = min(step, horizon)
        return LR_FLOOR + (1 - LR_FLOOR) * (1 + math.cos(math.pi * s / horizon)) / 2
    if schedule == "step":
        return 1.0 if 4 * step < 3 * horizon else LR_FLOOR
    raise ValueError(f"lr_factor: unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")


def build_scheduler(optimizer, settings):
    """A LambdaLR that sets the optimizer's lr to settings["lr"] x lr_factor(...) after every step.

    A pure function of the step (LambdaLR's lr = initial_lr x f(epoch)), not a
    recursion, so a resumed run computes the very same rates, bit for bit.
    """
    schedule, horizon = settings["lr_schedule"], settings["schedule_steps"]
    return tg.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(schedule, step, horizon))


def _set_lr(scheduler, lr):
    """Make ``lr`` the schedule's --lr (on resume), keeping its position: every group's rate follows."""
    scheduler.base_lrs = [lr] * len(scheduler.optimizer.param_groups)
    for group, fn in zip(scheduler.optimizer.param_groups, scheduler.lr_lambdas, strict=True):
        group["initial_lr"] = lr
        group["lr"] = lr * fn(scheduler.last_epoch)
    scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]


def _schedule_text(settings):
    """The run's learning-rate schedule in words, for the first line a run prints."""
    lr, schedule, horizon = settings["lr"], settings["lr_schedule"], settings["schedule_steps"]
    if schedule == "constant":
        return f"lr {lr:g}"
    text = (f"lr {lr:g} cosine to {lr * LR_FLOOR:g} at step {horizon}" if schedule == "cosine" else
            f"lr {lr:g}, {lr * LR_FLOOR:g} from step {math.ceil(3 * horizon / 4)}")
    if settings["steps"] > horizon:  # extended with --resume --steps: the schedule keeps its length
        text += f", then {lr * LR_FLOOR:g} to step {settings['steps']}"
    return text


# ------------------------------------------------------- before any work starts
def _prepare_out(out, resume=False):
    """Create --out, take its lock, prove it writable, clear temporaries of killed runs: before any work.

    Nothing in --out is opened through a symbolic link (see checkpoint.Lock; the
    probe, like every temporary, is a new file, O_EXCL | O_NOFOLLOW), so a link
    planted there cannot make the trainer write outside it. --resume creates nothing.
    """
    if resume and not os.path.isdir(out):
        raise UsageError(f"--resume: no checkpoint directory at {out!r}; train one first with "
                         f"`python3 -m rnn train --out {shlex.quote(out)}`, or check --out")
    try:
        os.makedirs(out, exist_ok=True)
        lock = checkpoint.Lock(out)
    except OSError as err:
        raise UsageError(f"--out {out!r} cannot be used: {err.strerror}; choose another --out") from None
    probe = os.path.join(out, f".write-test.{secrets.token_hex(8)}.tmp")  # removed if a kill leaves it
    try:
        fd = os.open(probe, tg.io.NEW_FILE_FLAGS, 0o600)
        try:
            os.write(fd, b"checkpoints go here")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        lock.close()
        raise UsageError(f"--out {out!r} is not writable ({err.strerror}); checkpoints are saved there, "
                         "so fix its permissions or choose another --out") from None
    tg.io.remove_stale_temporaries(out)
    return lock


def parameter_count(config, vocab_size):
    """The number of parameters ``build_model(config, vocab)`` will have, without building it."""
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[config["model"]]
    V, E, H = vocab_size, config["embedding"], config["hidden"]
    decoder = 0 if config.get("tie_weights") else H * V  # tied: the decoder's weight is the embedding's
    return V * E + decoder + V + sum(gates * H * ((E if layer == 0 else H) + H + 2)
                                   for layer in range(config["layers"]))


def _check_memory(settings, vocab_size):
    """Refuse, before allocating anything, a model whose training state cannot fit in this machine's RAM.

    (Linux hands out memory lazily, so a model too big to fit is often not a
    MemoryError but a process killed mid-way by the OOM killer.)
    """
    if settings["device"] != "cpu":
        return  # CuPy raises a MemoryError (OutOfMemoryError), which main reports
    n = parameter_count(settings, vocab_size)
    need = 16 * n  # float32 weights, their gradients and Adam's two moments
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not every platform says
        return
    if need > total:
        raise UsageError(f"out of memory: {n:,} parameters need about {need / 2**30:,.1f} GiB for the "
                         f"weights, their gradients and Adam's moments, but this machine has "
                         f"{total / 2**30:,.1f} GiB; choose a smaller --hidden, --layers or --embedding")


def _option(key):
    return "--" + key.replace("_", "-")


def _settings(args):
    """(settings, saved checkpoint or None): on --resume the checkpoint's, else args over DEFAULTS."""
    given = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
    if "data" in given and given["data"] != "tinyshakespeare":
        given["data"] = os.path.abspath(given["data"])
    if not args.resume:
        if any(os.path.exists(os.path.join(args.out, name))
               for name in (checkpoint.LATEST, checkpoint.BEST, *checkpoint.OLD_LAYOUT)):
            raise UsageError(f"{args.out!r} already holds a checkpoint; pass --resume to continue it, "
                             "or choose another --out")
        settings = {**DEFAULTS, **given}
        if settings["tie_weights"] and settings["embedding"] != settings["hidden"]:
            raise UsageError(f"--tie-weights shares one matrix between the embedding and the decoder, so "
                             f"--embedding must equal --hidden (got {settings['embedding']} and "
                             f"{settings['hidden']}); pass --embedding {settings['hidden']}")
        settings["schedule_steps"] = settings["steps"]  # the schedule's length, fixed for the run's life
        return settings, None
    path = os.path.join(args.out, checkpoint.LATEST)
    if not os.path.isfile(path):
        checkpoint.refuse_old_layout(args.out)
        path = checkpoint.find(args.out, prefer=checkpoint.LATEST)  # best.npz alone: a kill before latest
    saved = checkpoint.load(path)  # validated: every config field present, of its type and range
    config = saved["config"]
    for key in REGULARISERS:  # checkpoints from before them: off
        config.setdefault(key, DEFAULTS[key])
    conflicts = [f"{_option(k)} {given[k]} (checkpoint: {config[k]})"
                 for k in FIXED_ON_RESUME if k in given and k != "data" and given[k] != config[k]]
    if conflicts:
        raise UsageError(f"--resume keeps the checkpoint's model, data, batch size, seed and learning-rate "
                         f"schedule, but you asked for {'; '.join(conflicts)}; drop those flags or train "
                         "into a new --out")
    settings = {**DEFAULTS, **{k: v for k, v in config.items() if k in DEFAULTS}, **given}
    settings["schedule_steps"] = config["schedule_steps"]
    return settings, saved


def _text(settings, saved, limit_mib):
    """(text, its SHA-256): on --resume it must be the very text the checkpoint was trained on."""
    try:
        text = data.load_text(settings["data"], max_bytes=limit_mib * 2**20)
    except data.TextTooLarge as err:
        raise UsageError(f"--data {settings['data']} holds {err.size / 2**20:,.1f} MiB, above --max-data-mb "
                         f"{limit_mib}; training needs about 20 bytes of memory per character, so pass a "
                         "larger --max-data-mb only if this machine has the memory") from None
    except data.NotARegularFile as err:
        raise UsageError(f"--data {settings['data']} is {err.kind}, not a regular file; give the path "
                         "of a UTF-8 text file") from None
    except FileNotFoundError:
        if saved is None or settings["data"] != saved["config"]["data"]:
            raise
        raise UsageError(f"the checkpoint's training text {settings['data']!r} is gone; pass "
                         "--data PATH with the same text") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if saved is not None and digest != saved["data_sha256"]:
        if settings["data"] != saved["config"]["data"]:
            raise UsageError(f"--data {settings['data']} is not the text the checkpoint was trained on "
                             f"({saved['config']['data']}; the SHA-256 differs); --resume needs the same "
                             "text: drop --data, or train into a new --out")
        raise UsageError(f"the training text {settings['data']!r} has changed since the checkpoint was "
                         "written (its SHA-256 differs); --resume needs the text it was trained on: "
                         "restore it, pass --data with a copy of it, or train into a new --out")
    return text, digest


# -------------------------------------------------------- while training runs
class _Diverged(Exception):
    """The loss, the gradient norm or the weights blew up; nothing after it may be saved."""

    def __init__(self, what, value, limit=None, why=""):
        super().__init__(what, value, limit)
        self.what, self.value, self.limit, self.why = what, value, limit, why


def _check_loss(loss, limit, what="loss"):
    """Raise _Diverged if a loss (a training batch's, or the validation loss) is not finite or over ``limit``.

    limit = BLOW_UP * ln(V). ln(V) nats per character is the loss of a model
    that knows nothing and gives every character the same probability; an
    initialised model starts about there and training only brings it down. A
    whole batch scoring three times worse than that blind guess means the
    model is confidently wrong everywhere: its weights have blown up (too
    high a learning rate), and it rarely comes back. Healthy runs stay below
    ln(V) after their first steps, so the rule does not stop them. The same
    rule holds for the validation loss: it is checked after the update, so it
    sees a blow-up that the last batch's loss (computed before it) cannot.
    """
    if not math.isfinite(loss):
        raise _Diverged(what, loss)
    if loss > limit:
        size = round(math.exp(limit / BLOW_UP))  # the vocabulary's
        why = f"{BLOW_UP:g} x ln({size}), three times the loss of a uniform guess"
        raise _Diverged(what, loss, limit, why)


def _check_weights(model):
    """Raise _Diverged if a weight is not finite or above MAX_WEIGHT in magnitude: checked before every save.

    Pre-activations of that size saturate every gate, and no healthy run comes
    near it (the trainer's own runs stay within a few units), so such weights
    are a blow-up even where no loss has been computed since (a signal's save).
    """
    sizes = [p.detach().abs().max().item() for p in model.parameters()]  # NaN where a tensor holds one
    broken = [size for size in sizes if not math.isfinite(size)]  # (max() of a list may skip a NaN)
    if broken:
        raise _Diverged("largest weight", broken[0])
    largest = max(sizes)
    if largest > MAX_WEIGHT:
        raise _Diverged("largest weight", largest, MAX_WEIGHT, "no healthy run comes near it")


class _GuardedOptimizer:
    """The optimizer behind a check: clip the gradients, and refuse to step if their norm is not finite.

    tbptt calls zero_grad() and step(); a NaN or infinite gradient raises
    _Diverged before any weight changes.
    """

    def __init__(self, optimizer, params, clip, scheduler):
        self.optimizer, self.params, self.clip, self.scheduler = optimizer, list(params), clip, scheduler

    def zero_grad(self):
        self.optimizer.zero_grad()

    def step(self):
        norm = tg.optim.clip_grad_norm(self.params, self.clip)  # the norm before clipping
        if not math.isfinite(norm):
            raise _Diverged("gradient norm", norm)
        self.optimizer.step()
        self.scheduler.step()  # the rate for the next step


class _NoBar:
    """The progress bar's calls, for --no-progress: the reports as plain lines, and no tqdm at all.

    Even a disabled tqdm bar takes tqdm's global lock and starts its monitor
    thread; a trainer forked from a process whose monitor held that lock at
    the fork would wait for it forever.
    """

    def update(self, n=1):
        pass

    def set_postfix(self, **values):
        pass

    def write(self, line):
        print(line, flush=True)

    def close(self):
        pass


class _Output:
    """The progress bar (or _NoBar) behind a guard: a write that fails marks the output closed, not raising.

    A reader that went away (``| head -1``, a closed terminal) makes every
    write fail (EPIPE, EIO). The training loop sees ``closed``, saves and
    stops; the error itself is kept in ``error``.
    """

    def __init__(self, bar):
        self.bar, self.error = bar, None

    @property
    def closed(self):
        return self.error is not None

    def __getattr__(self, method):
        def call(*args, **kwargs):
            if self.error is None:
                try:
                    getattr(self.bar, method)(*args, **kwargs)
                except OSError as err:
                    self.error = err
                except ValueError as err:  # "I/O operation on closed file"; any other is a bug: raise it
                    if "closed file" not in str(err):
                        raise
                    self.error = err
        return call


def _say(text):
    """Print a last message to stderr, if anyone is still there to read it."""
    if sys.stderr is None:  # started with stderr closed (print would fall back to stdout)
        return
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # closed since
        pass


def _silence_output():
    """Point stdout and stderr at /dev/null, so that Python's flush at exit cannot fail a second time."""
    for stream in (sys.stdout, sys.stderr):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no real file behind it (e.g. pytest's capture)
            pass


def _resume_command(out):
    return f"python3 -m rnn train --out {shlex.quote(out)} --resume"


class _StopSignals:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP ask the training loop to save and stop at the next step boundary.

    The handler only records the signal, so an update in progress finishes
    whole and a checkpoint never holds half-updated weights. A second signal
    raises KeyboardInterrupt at once: the user wants out now, and the last
    checkpoint on disk (written atomically) stays as it was. SIGHUP (the
    terminal closed) is treated like SIGTERM: the work is saved.
    """

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))

    def __init__(self):
        self.signum = None

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def install(self):
        """Install the handlers (main thread only); returns a function that puts the old ones back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return lambda: [signal.signal(s, h) for s, h in previous.items()]


def _validate(model, model_step, valid, k):
    """Validation loss with the model in eval mode (no dropout, no random draws); train mode after."""
    model.eval()
    try:
        loss, _ = evaluate(model_step, model.loss, valid[:-1], valid[1:], k)
    finally:
        model.train()
    return loss


# ------------------------------------------------------------------------ train
def train(args):
    lock = _prepare_out(args.out, args.resume)
    try:
        return _train(args, lock)
    finally:
        lock.close()


def _restore(saved, model, optimizer, scheduler, settings, out):
    """Put the checkpoint's optimizer, schedule and random state in place; each refusal names its part."""
    parts = ((optimizer, "optimizer", "the optimizer state", "its model"),
             (scheduler, "lr_scheduler", "the learning-rate schedule's state", "this schedule"))
    for target, field, what, fit in parts:
        if saved[field] is None:
            continue
        try:
            target.load_state_dict(saved[field])
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
            raise UsageError(f"{what} in {out!r} does not fit {fit}: "
                             f"{err.args[0] if err.args else type(err).__name__}") from None
    if saved["lr_scheduler"] is None:  # a checkpoint from before --lr-schedule: constant, at its step
        scheduler.last_epoch, scheduler._step_count = saved["step"], saved["step"] + 1
    _set_lr(scheduler, settings["lr"])  # a new --lr on resume rescales the schedule from here
    try:
        tg.random.set_rng_state(saved["rng"])
    except ValueError as err:
        raise UsageError(f"the random state (rng) in {out!r} cannot be restored: {err}") from None


def _train(args, lock):
    settings, saved = _settings(args)
    text, digest = _text(settings, saved, args.max_data_mb)
    vocab = saved["vocabulary"] if saved else data.Vocabulary.from_text(text)
    ids = vocab.encode(text)
    train_ids, valid_ids = data.train_valid_split(ids, settings["valid_fraction"])
    stream = data.batchify(train_ids, settings["batch_size"])
    valid = data.batchify(valid_ids[: settings["valid_chars"]], min(settings["batch_size"], 16))
    inputs, targets = stream[:-1], stream[1:]

    if saved:
        _check_weight_count(saved, args.out)  # before _check_memory: the config may lie about the size
    _check_memory(settings, len(vocab))
    tg.manual_seed(settings["seed"])
    device = settings["device"]
    model = model_from(saved, args.out, device) if saved else build_model(settings, vocab, device)
    optimizer = tg.optim.Adam(model.parameters(), lr=settings["lr"])
    scheduler = build_scheduler(optimizer, settings)
    step, position, state, best = 0, 0, None, None
    if saved:
        _restore(saved, model, optimizer, scheduler, settings, args.out)
        step, position, best = saved["step"], saved["position"], saved["best_valid_loss"]
        if position > len(inputs):
            raise UsageError(f"the checkpoint in {args.out!r} is at position {position} of a text whose "
                             f"training streams are {len(inputs)} steps long; it was altered")
        if saved["state"] is not None:
            carried = [tg.tensor(s, device=device) for s in saved["state"]]
            state = carried[0] if len(carried) == 1 else tuple(carried)
        if step >= settings["steps"]:
            raise UsageError(f"the checkpoint is already at step {step}; pass a larger --steps to go on")
    n_params = sum(p.numel() for p in model.parameters())

    def model_step(x, h):
        return model(tg.tensor(x, device=device), h)

    def report(valid_loss):
        text = sample(model, vocab, 200, temperature=0.8, prime=default_prime(vocab),
                      rng=np.random.default_rng(step))
        return (f"step {step}: validation loss {valid_loss:.4f} nats/char ({bits(valid_loss):.3f} bits)\n"
                f"--- sample ---{text}\n--------------")

    last_saved = step if saved else None

    def save(best_too=False):
        """Write this step's checkpoint, only if its weights are sound and --out is still ours."""
        nonlocal last_saved
        _check_weights(model)
        lock.check()
        checkpoint.save(args.out, checkpoint.payload(settings, vocab, digest, model, optimizer, step,
                                                     position, state, best, scheduler), best=best_too)
        last_saved = step

    bar = _NoBar()
    if not args.no_progress and sys.stderr is not None:  # None: started with stderr closed
        from tqdm import tqdm
        try:
            bar = tqdm(total=settings["steps"], initial=step, unit="step", dynamic_ncols=True,
                       file=sys.stderr)
        except OSError:  # stderr unusable from the start: the reports go to stdout alone
            pass
    output = _Output(bar)
    output.write(f"{settings['model'].upper()} {settings['layers']}x{settings['hidden']}, {n_params:,} "
                 f"parameters; {len(vocab)} characters, {len(train_ids):,} train / {len(valid_ids):,} valid; "
                 f"batch {settings['batch_size']} x bptt {settings['bptt']}; {_schedule_text(settings)}; "
                 + (f"resuming at step {step}" if saved else f"{settings['steps']} steps"))
    guarded = _GuardedOptimizer(optimizer, model.parameters(), settings["clip"], scheduler)
    limit = BLOW_UP * math.log(len(vocab))
    stop = _StopSignals()
    ema, n_seen, running, start, history = 0.0, 0, None, time.perf_counter(), []
    restore_signals = stop.install()
    try:
        while step < settings["steps"] and stop.signum is None and not output.closed:
            if position >= len(inputs):  # a new pass over the training text
                position, state = 0, None
            for update in tbptt(model_step, model.loss, inputs[position:], targets[position:], guarded,
                                k1=settings["bptt"], state=state):
                step, position, state = step + 1, position + update.steps, update.state
                _check_loss(update.loss, limit)
                ema, n_seen = 0.98 * ema + 0.02 * update.loss, n_seen + 1
                running = ema / (1 - 0.98 ** n_seen)  # bias-corrected moving average
                output.update(1)
                output.set_postfix(loss=f"{running:.3f}")
                if step % settings["eval_every"] == 0 or step == settings["steps"]:
                    valid_loss = _validate(model, model_step, valid, settings["bptt"])
                    _check_loss(valid_loss, limit, "validation loss")
                    history.append((step, running, valid_loss))
                    improved = best is None or valid_loss < best
                    best = valid_loss if improved else best
                    save(best_too=improved)  # first: the report below may meet a closed stdout
                    output.write(report(valid_loss))
                if step >= settings["steps"] or stop.signum is not None or output.closed:
                    break
        if stop.signum is not None or output.closed:
            if last_saved != step:
                save()
            output.close()
            if output.closed and stop.signum is None:
                return _output_lost(output.error, step, args.out)
            name = "Ctrl-C" if stop.signum == signal.SIGINT else signal.Signals(stop.signum).name
            _say(f"\n{name}: stopped at step {step}; checkpoint saved in {args.out} "
                 f"(continue with: {_resume_command(args.out)})")
            return 128 + stop.signum
    except _Diverged as err:
        output.close()
        _say(f"error: {_diverged_message(err, step, last_saved, settings, args.out)}")
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        output.close()
        kept = (f"the checkpoint of step {last_saved} in {args.out} is intact (continue with: "
                f"{_resume_command(args.out)})" if last_saved is not None
                else "no checkpoint had been written yet")
        _say(f"\ninterrupted again: stopped at once without saving; {kept}")
        return 130
    finally:
        restore_signals()
    output.close()
    minutes = (time.perf_counter() - start) / 60
    lines = [f"done: {step} steps in {minutes:.1f} min; checkpoint in {args.out}"]
    if history:
        lines.append("step  train_loss  valid_loss (nats/char)")
        lines += [f"{s:>4}  {tr:>10.4f}  {va:>10.4f}" for s, tr, va in history]
    lines.append(f"sample with: python3 -m rnn sample {shlex.quote(args.out)} (it reads best.npz, the lowest "
                 "validation loss, before latest.npz)")
    print("\n".join(lines), flush=True)  # a broken pipe here: everything is saved; main ends quietly
    return 0


def _output_lost(error, step, out):
    """After the output closed and the work was saved: end quietly (a broken pipe), or say why (else)."""
    if isinstance(error, BrokenPipeError) or getattr(error, "errno", None) == errno.EPIPE:
        _silence_output()
        return EXIT_OUTPUT_CLOSED
    _say(f"error: writing the progress report failed ({error}); stopped at step {step}, checkpoint saved in "
         f"{out} (continue with: {_resume_command(out)})")
    return 1


def _diverged_message(err, step, last_saved, settings, out):
    at = step + 1 if err.what == "gradient norm" else step  # a gradient is refused before its step counts
    why = f" (above {err.limit:.3g} = {err.why})" if err.limit is not None else ""
    lr, clip = settings["lr"], settings["clip"]
    if last_saved is None:
        then = (f"no checkpoint had been written; start again with a lower --lr (now {lr:g}), "
                f"e.g. --lr {lr / 10:g}, or a smaller --clip (now {clip:g})")
    else:
        then = (f"the last good checkpoint (step {last_saved}) in {out} is untouched; continue from it "
                f"with a lower learning rate: {_resume_command(out)} --lr {lr / 10:g} "
                f"(now {lr:g}), or a smaller --clip (now {clip:g})")
    return (f"training diverged at step {at}: the {err.what} is {err.value:.4g}{why}; nothing was saved; "
            + then)


def sample_command(args):
    path = checkpoint.find(args.dir)
    saved = checkpoint.load(path)
    model = model_from(saved, path)
    text = sample(model, saved["vocabulary"], args.length, temperature=args.temperature, top_k=args.top_k,
                  prime=args.prime, rng=np.random.default_rng(args.seed))
    print(text, flush=True)
    return 0


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return train(args) if args.command == "train" else sample_command(args)
    except (UsageError, checkpoint.CheckpointUnusable) as err:
        _say(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        _say("\ninterrupted: stopped at once (checkpoints already on disk are intact)")
        return 130
    except MemoryError as err:
        size = f": {err}" if str(err) else ""
        _say(f"error: out of memory{size}; try a smaller --hidden, --layers, --embedding or --batch-size")
        return 1
    except BrokenPipeError:  # the reader of stdout went away (`| head`): nothing more to say, to anyone
        _silence_output()
        return EXIT_OUTPUT_CLOSED
    except OSError as err:  # disk full, permissions: name the file, never a bare errno
        message = err.strerror or str(err) or type(err).__name__
        _say(f"error: {message}" + (f": {err.filename}" if err.filename else ""))
        return 1
    except (ValueError, TypeError, KeyError, tg.CheckpointError, tg.DeviceError) as err:
        message = err.args[0] if err.args else type(err).__name__
        _say(f"error: {message}")
        return 1
