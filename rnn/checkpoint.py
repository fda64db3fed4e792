"""The trainer's checkpoint directory: one verified file per checkpoint, and a lock against a second trainer.

    OUT/latest.npz   the newest checkpoint: what --resume continues from
    OUT/best.npz     the checkpoint with the lowest validation loss so far (sample reads it first)
    OUT/.lock        held (flock) by the trainer writing OUT; says who holds it (see Lock)

Each .npz is written by ``tg.save``: atomically (a temporary, fsync, rename,
fsync of the directory) and with a SHA-256 of its contents inside, so it is
either a whole checkpoint from one step or refused on load. It holds
everything a resume needs (see ``payload``); ``tg.load(path)["model"]`` is a
plain state_dict for anyone who wants only the weights.
"""

import datetime
import errno
import fcntl
import math
import os
import re
import socket
import stat

import numpy as np

import tensorgrad as tg

from . import data
from .lm import LAYERS

LATEST, BEST, LOCK = "latest.npz", "best.npz", ".lock"
FORMAT, VERSION = "rnn.charlm-checkpoint", 1
OLD_LAYOUT = ("config.json", "model.npz", "trainer.npz")  # before version 1: three separate files


SCHEDULES = ("constant", "cosine", "step")  # the learning-rate schedules of --lr-schedule


class CheckpointUnusable(Exception):
    """A checkpoint (or checkpoint directory) that cannot be used; the message says why and what to do."""


def payload(config, vocab, data_sha256, model, optimizer, step, position, state, best_valid_loss,
            lr_scheduler=None):
    """Everything a resume needs, as one dict for ``tg.save``.

    config: the run's settings (JSON values); vocab: a Vocabulary; data_sha256:
    hex digest of the training text; state: the recurrent state carried into
    the next step (a Tensor, a tuple of Tensors, or None). The random state of
    every device's generator is taken now. lr_scheduler: the learning-rate
    schedule (its state_dict() is saved), or None for a run without one.
    """
    carried = None if state is None else list(state if isinstance(state, tuple) else (state,))
    return {"format": FORMAT, "version": VERSION, "config": dict(config), "vocabulary": vocab.chars,
            "data_sha256": data_sha256, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "lr_scheduler": None if lr_scheduler is None else lr_scheduler.state_dict(),
            "step": int(step), "position": int(position), "state": carried,
            "rng": tg.random.get_rng_state(), "best_valid_loss": best_valid_loss}


def save(directory, checkpoint, best=False):
    """Write ``checkpoint`` (a ``payload``) as latest.npz, and first as best.npz when ``best``.

    best.npz goes first: a kill between the two leaves latest.npz older than
    best.npz, and resuming from it redoes the same steps (exactly), so nothing
    is inconsistent.
    """
    if best:
        tg.save(checkpoint, os.path.join(directory, BEST))
    tg.save(checkpoint, os.path.join(directory, LATEST))


def load(path):
    """The checkpoint dict in the file ``path``, verified and validated; CheckpointUnusable saying why not."""
    try:
        checkpoint = tg.load(path, max_bytes=_load_limit())
    except tg.CheckpointError as err:
        raise CheckpointUnusable(f"{err}{_other_hint(path)}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointUnusable(f"{path!r} is a tg.save file but not a checkpoint of `python3 -m rnn train`")
    if checkpoint.get("version") != VERSION:
        raise CheckpointUnusable(f"{path!r} is a version {_shown(checkpoint.get('version'))} checkpoint; "
                                 f"this trainer reads version {VERSION}")
    validate(checkpoint, path)
    checkpoint["vocabulary"] = data.Vocabulary(checkpoint["vocabulary"])
    return checkpoint


def _load_limit():
    """tg.load's max_bytes for a checkpoint: this machine's memory (a larger file could not be used
    anyway), and at least tg.load's default. A model _check_memory lets train can be resumed."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not every platform says
        memory = 0
    return max(tg.io.DEFAULT_MAX_BYTES, memory)


# ------------------------------------------------------------ the schema
# The checksum proves a file is whole, not that whoever wrote it wrote sense: every field is
# checked here, so that nothing later meets a wrong type or an impossible value.
def _positive_int(v):
    return type(v) is int and v > 0


def _positive_number(v):
    return type(v) in (int, float) and math.isfinite(v) and v > 0


def _fraction(v):
    return type(v) in (int, float) and 0 <= v < 1


CONFIG = {  # field: (test, what it must be)
    "data": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "model": (lambda v: isinstance(v, str) and v in LAYERS, f"one of {', '.join(sorted(LAYERS))}"),
    **{k: (_positive_int, "a positive integer") for k in (
        "hidden", "layers", "embedding", "bptt", "batch_size", "steps", "schedule_steps")},
    "dropout": (_fraction, "a number in [0, 1)"),
    "valid_fraction": (_fraction, "a number in [0, 1)"),
    "lr": (_positive_number, "a positive finite number"),
    "clip": (_positive_number, "a positive finite number"),
    "device": (lambda v: v in ("cpu", "cuda"), "cpu or cuda"),
    "seed": (lambda v: type(v) is int and 0 <= v < 2**63, "an integer in [0, 2**63)"),
    "lr_schedule": (lambda v: isinstance(v, str) and v in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
}
CONFIG_LATER = {  # added after version 1 began: optional, with what older checkpoints meant
    "eval_every": (_positive_int, "a positive integer"),
    "valid_chars": (_positive_int, "a positive integer"),
    "tie_weights": (lambda v: type(v) is bool, "true or false"),
    **{k: (_fraction, "a number in [0, 1)") for k in ("embedding_dropout", "locked_dropout", "weight_drop")},
}


def _shown(value):
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _float_array(v, shape=None):
    return (isinstance(v, np.ndarray) and v.dtype.kind == "f" and (shape is None or v.shape == shape)
            and bool(np.isfinite(v).all()))


def validate(checkpoint, path):
    """Check every field of a loaded ``payload`` (types, ranges, the state's shapes against the config).

    Fills what older checkpoints lack (lr_schedule "constant", schedule_steps = steps).
    Raises CheckpointUnusable naming the first field that is wrong.
    """
    def check(ok, field, what, value):
        if not ok:
            raise CheckpointUnusable(f"{path!r} is not a usable checkpoint: its {field} must be {what}, "
                                     f"got {_shown(value)}; it was altered, or not written by "
                                     "`python3 -m rnn train`")

    missing = sorted({"config", "vocabulary", "data_sha256", "model", "optimizer", "lr_scheduler", "step",
                      "position", "state", "rng", "best_valid_loss"} - set(checkpoint))
    check(not missing, "fields", "all present", f"no {', '.join(missing)}")
    config = checkpoint["config"]
    check(isinstance(config, dict), "config", "a dict of settings", config)
    config.setdefault("lr_schedule", "constant")  # checkpoints from before --lr-schedule
    config.setdefault("schedule_steps", config.get("steps"))
    for field, (test, what) in {**CONFIG, **{k: v for k, v in CONFIG_LATER.items() if k in config}}.items():
        if field not in config:
            raise CheckpointUnusable(f"{path!r} is not a usable checkpoint: its config lacks {field} "
                                     f"({what}); it was altered, or not written by `python3 -m rnn train`")
        check(test(config[field]), f"config.{field}", what, config[field])
    vocabulary = checkpoint["vocabulary"]
    check(isinstance(vocabulary, str) and vocabulary != "" and "".join(sorted(set(vocabulary))) == vocabulary,
          "vocabulary", "its characters as one sorted string, each once", vocabulary)
    digest = checkpoint["data_sha256"]
    check(isinstance(digest, str) and re.fullmatch("[0-9a-f]{64}", digest), "data_sha256", "64 hex digits",
          digest)
    model = checkpoint["model"]
    check(isinstance(model, dict), "model", "a dict of weights", model)
    for name, weight in model.items():
        check(_float_array(weight), f"model.{name}", "a float array of finite numbers", weight)
    optimizer = checkpoint["optimizer"]
    check(isinstance(optimizer, dict), "optimizer", "a dict of arrays", optimizer)
    for name, value in optimizer.items():
        check(isinstance(value, np.ndarray) and value.dtype.kind in "biuf", f"optimizer.{name}",
              "a numeric array", value)
    scheduler = checkpoint["lr_scheduler"]
    check(scheduler is None or isinstance(scheduler, dict), "lr_scheduler", "None or a dict", scheduler)
    for name, value in (scheduler or {}).items():
        values = value if isinstance(value, list) else [value]
        check(all(type(v) in (int, float) and math.isfinite(v) for v in values), f"lr_scheduler.{name}",
              "a finite number or a list of them", value)
    step, position = checkpoint["step"], checkpoint["position"]
    check(type(step) is int and 0 <= step <= config["steps"], "step",
          f"an integer from 0 to config.steps ({config['steps']})", step)
    check(type(position) is int and position >= 0, "position", "a non-negative integer", position)
    state = checkpoint["state"]
    if state is not None:
        shape = (config["layers"], config["batch_size"], config["hidden"])
        count = 2 if config["model"] == "lstm" else 1
        check(isinstance(state, list) and len(state) == count, "state",
              f"None or a list of {count} array(s)", state)
        for k, s in enumerate(state):
            check(_float_array(s, shape), f"state.{k}", f"a finite float array of shape {shape}", s)
    rng = checkpoint["rng"]
    check(isinstance(rng, np.ndarray) and rng.dtype == np.uint8 and rng.ndim == 1, "rng",
          "a 1-D uint8 array (tg.random.get_rng_state())", rng)
    best = checkpoint["best_valid_loss"]
    check(best is None or (type(best) in (int, float) and math.isfinite(best) and best >= 0),
          "best_valid_loss", "None or a finite number >= 0", best)


def _other_hint(path):
    """Where a damaged checkpoint file has a good sibling, say how to use it."""
    directory, name = os.path.split(path)
    other = {LATEST: BEST, BEST: LATEST}.get(name)
    if other and os.path.isfile(os.path.join(directory, other)):
        return (f"; {other} in the same directory may be intact: sample from it with `python3 -m rnn "
                f"sample {os.path.join(directory, other)}`, or copy it over {name} to resume from it")
    return ""


def find(path, prefer=BEST):
    """The checkpoint file for ``path``: the file itself, or in a directory ``prefer`` else the other one."""
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise CheckpointUnusable(f"no checkpoint directory at {path!r}; train one first with "
                                 f"`python3 -m rnn train --out {path}`")
    order = (prefer, LATEST if prefer == BEST else BEST)
    for name in order:
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    refuse_old_layout(path)
    raise CheckpointUnusable(f"{path!r} holds no checkpoint ({' or '.join(order)}); it is not a "
                             "directory written by `python3 -m rnn train`, or training stopped before "
                             "its first save")


def refuse_old_layout(directory):
    """Raise if ``directory`` holds a checkpoint in the three-file layout of earlier versions."""
    if all(os.path.isfile(os.path.join(directory, name)) for name in OLD_LAYOUT[1:]):
        raise CheckpointUnusable(
            f"{directory!r} holds a checkpoint in the old three-file layout ({', '.join(OLD_LAYOUT)}), "
            "whose files may come from different steps, so it cannot be verified; this version reads "
            f"only {LATEST} / {BEST}. Train into a new --out (or use the version that wrote it)")


class Lock:
    """The lock on a checkpoint directory, held by the trainer writing it: ``Lock(directory)``, ``close()``.

    fcntl.flock is released by the OS when the process dies however it dies,
    so a lock left by a killed trainer is simply taken over. The file holds
    the holder's pid, host and start time, for the message a second trainer
    gets. It is opened with O_NOFOLLOW, so a symbolic link planted at .lock is
    refused, never written through. A lock belongs to a file, not a name: if
    .lock is deleted or replaced (by hand, or by a trainer that started after
    that), ``check()`` sees it before the next save.
    """

    def __init__(self, directory):
        self.directory, self.path = directory, os.path.join(directory, LOCK)
        self.file = self._take()

    def _take(self):
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o666)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise CheckpointUnusable(f"{self.path!r} is a symbolic link; the trainer never writes "
                                         "through one (it could overwrite another file): remove it, or "
                                         "choose another --out") from None
            raise
        f = os.fdopen(fd, "r+", encoding="utf-8", errors="replace")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise CheckpointUnusable(f"{self.path!r} is not a regular file; remove it, or choose "
                                         "another --out")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = f.read(200).strip() or "a process that has not yet said who it is"
                raise CheckpointUnusable(f"{self.directory!r} is in use by another trainer ({holder}); wait "
                                         "for it to finish or stop it, or choose another --out") from None
            if not self._is_ours(f):  # replaced between our open and our lock
                raise CheckpointUnusable(f"{self.path!r} was replaced while this trainer took the lock; "
                                         "another trainer may be starting there: try again, or choose "
                                         "another --out")
        except BaseException:
            f.close()
            raise
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n")
        f.flush()
        return f

    def _is_ours(self, f):
        """Whether the name .lock still leads to the file ``f`` holds locked (the same inode)."""
        try:
            named = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        held = os.fstat(f.fileno())
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def check(self):
        """Before a save: make sure this trainer still holds the lock on the file named .lock.

        If .lock was deleted, take a new one (nobody else can have been
        refused meanwhile, or they would hold it now); if another trainer
        holds the new .lock, raise CheckpointUnusable: two trainers must not
        write one --out.
        """
        if self._is_ours(self.file):
            return
        self.file.close()
        try:
            self.file = self._take()
        except CheckpointUnusable as err:
            raise CheckpointUnusable(f"{self.path!r} was deleted or replaced while training, and {err}; "
                                     "this trainer stops without saving so as not to overwrite the other's "
                                     "checkpoints") from None

    def close(self):
        self.file.close()
