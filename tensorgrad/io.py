"""Checkpoints: ``save`` / ``load`` dicts of arrays as .npz files. Loading never unpickles.

A state is a dict of names to arrays, Tensors or numbers; nested dicts are
stored with "/" in their keys ("model/weight") and come back nested.
"""

import os
import tempfile
import zipfile

import numpy

from . import backend
from .tensor import Tensor


class CheckpointError(ValueError):
    """A file is not a checkpoint this library can load safely."""


def _flatten(state, prefix, out):
    if not isinstance(state, dict):
        raise TypeError(f"save: a state is a dict of names to arrays, got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str) or "/" in key or not key:
            raise ValueError(f"save: keys must be non-empty strings without '/', got {key!r}")
        name = prefix + key
        if isinstance(value, dict):
            _flatten(value, name + "/", out)
            continue
        if isinstance(value, Tensor):
            value = value.data
        array = numpy.asarray(backend.to_numpy(value))
        if array.dtype.kind not in "biufU":
            raise TypeError(f"save: {name!r} holds {array.dtype} data; only numeric, boolean and "
                            "string arrays can be saved (no pickled objects)")
        out[name] = array


def save(state, path):
    """Write ``state`` to ``path`` as .npz (atomically: a crash never leaves half a file)."""
    arrays = {}
    _flatten(state, "", arrays)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            numpy.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read a checkpoint written by ``save``: a dict of NumPy arrays (nested as saved)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no checkpoint file at {path!r}")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise CheckpointError(f"load: {path!r} is a single .npy array, not a .npz checkpoint")
    if not magic.startswith(b"PK"):
        raise CheckpointError(f"load: {path!r} is not a readable .npz checkpoint (it is not a zip "
                              "archive); was it written by tg.save?")
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            flat = {name: archive[name] for name in archive.files}
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise CheckpointError(f"load: {path!r} holds object arrays, which could run code when "
                                  "unpickled; refusing to load it") from None
        raise CheckpointError(f"load: {path!r} is not a readable .npz checkpoint ({err})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as err:
        raise CheckpointError(f"load: {path!r} is not a readable .npz checkpoint "
                              f"({type(err).__name__}: {err}); was it truncated or written by "
                              "another program?") from None
    state = {}
    for name, array in flat.items():
        *parents, leaf = name.split("/")
        node = state
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = array
    return state
