"""The trainer's checkpoint directory: one verified file per checkpoint, and a lock against a second trainer.

    OUT/latest.npz   the newest checkpoint: what --resume continues from
    OUT/best.npz     the checkpoint with the lowest validation loss so far (sample reads it first)
    OUT/.lock        held (flock) by the trainer writing OUT; says who holds it

Each .npz is written by ``tg.save``: atomically (a temporary, fsync, rename,
fsync of the directory) and with a SHA-256 of its contents inside, so it is
either a whole checkpoint from one step or refused on load. It holds
everything a resume needs (see ``payload``); ``tg.load(path)["model"]`` is a
plain state_dict for anyone who wants only the weights.
"""

import datetime
import fcntl
import os
import socket

import tensorgrad as tg

from . import data

LATEST, BEST, LOCK = "latest.npz", "best.npz", ".lock"
FORMAT, VERSION = "rnn.charlm-checkpoint", 1
OLD_LAYOUT = ("config.json", "model.npz", "trainer.npz")  # before version 1: three separate files


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
    """The checkpoint dict in the file ``path``, verified; CheckpointUnusable with the reason if not."""
    try:
        checkpoint = tg.load(path)
    except tg.CheckpointError as err:
        raise CheckpointUnusable(f"{err}{_other_hint(path)}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointUnusable(f"{path!r} is a tg.save file but not a checkpoint of `python -m rnn train`")
    if checkpoint.get("version") != VERSION:
        raise CheckpointUnusable(f"{path!r} is a version {checkpoint.get('version')} checkpoint; this "
                                 f"trainer reads version {VERSION}")
    checkpoint["vocabulary"] = data.Vocabulary(checkpoint["vocabulary"])
    return checkpoint


def _other_hint(path):
    """Where a damaged checkpoint file has a good sibling, say how to use it."""
    directory, name = os.path.split(path)
    other = {LATEST: BEST, BEST: LATEST}.get(name)
    if other and os.path.isfile(os.path.join(directory, other)):
        return (f". {other} in the same directory may be intact: sample from it with `python -m rnn "
                f"sample {os.path.join(directory, other)}`, or copy it over {name} to resume from it")
    return ""


def find(path, prefer=BEST):
    """The checkpoint file for ``path``: the file itself, or in a directory ``prefer`` else the other one."""
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise CheckpointUnusable(f"no checkpoint directory at {path!r}; train one first with "
                                 f"`python -m rnn train --out {path}`")
    order = (prefer, LATEST if prefer == BEST else BEST)
    for name in order:
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    refuse_old_layout(path)
    raise CheckpointUnusable(f"{path!r} holds no checkpoint ({' or '.join(order)}); it is not a "
                             "directory written by `python -m rnn train`, or training stopped before "
                             "its first save")


def refuse_old_layout(directory):
    """Raise if ``directory`` holds a checkpoint in the three-file layout of earlier versions."""
    if all(os.path.isfile(os.path.join(directory, name)) for name in OLD_LAYOUT[1:]):
        raise CheckpointUnusable(
            f"{directory!r} holds a checkpoint in the old three-file layout ({', '.join(OLD_LAYOUT)}), "
            "whose files may come from different steps, so it cannot be verified; this version reads "
            f"only {LATEST} / {BEST}. Train into a new --out (or use the version that wrote it)")


def lock(directory):
    """Take the lock on ``directory`` for this process: an open file to keep while training.

    fcntl.flock is released by the OS when the process dies however it dies,
    so a lock left by a killed trainer is simply taken over. The file holds
    the holder's pid, host and start time, for the message a second trainer gets.
    """
    path = os.path.join(directory, LOCK)
    f = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o666), "r+", encoding="utf-8")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = f.read().strip() or "a process that has not yet said who it is"
        f.close()
        raise CheckpointUnusable(f"{directory!r} is in use by another trainer ({holder}); wait for it "
                                 "to finish or stop it, or choose another --out") from None
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n")
    f.flush()
    return f
