"""Checkpoints: ``save`` / ``load`` nested states as verified .npz files, atomically. Loading never unpickles.

A state is a dict whose values are arrays, Tensors, Python numbers, strings,
None, or again dicts (str or int keys), lists and tuples of those: what
``model.state_dict()`` and ``optimizer.state_dict()`` give, as ``torch.save``
takes them. ``load`` gives the same structure back, arrays as NumPy arrays.

The file is a plain .npz (``numpy.load`` reads it): one member per array,
named by its path ("model/rnn.weight_ih_l0"), plus two small string members:
``__structure__`` (the nesting and the non-array values, as JSON) and
``__sha256__`` (a SHA-256 over the structure and every array's name, dtype,
shape and bytes). ``load`` recomputes the digest and refuses a file whose
contents do not match it: a damaged file, or one assembled from parts of two
saves, is never loaded. Files without those members (plain ``numpy.savez``
output, or files from older versions of ``save``) load as flat dicts split on
"/", unverified.

``save`` is atomic and durable: it writes a temporary file beside ``path``,
fsyncs it, renames it over ``path`` and fsyncs the directory, so after a crash
or a kill at any moment ``path`` holds either the previous file or the new one,
whole. The file's permissions follow the umask like any other file's.
"""

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import zipfile

import numpy
import numpy.lib.format

from . import backend
from .tensor import Tensor

_STRUCTURE, _CHECKSUM = "__structure__", "__sha256__"
_ARRAY, _TUPLE, _DICT = "__array__", "__tuple__", "__dict__"  # markers inside the structure JSON
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{16}\.tmp$")  # what atomic_write names its temporaries


class CheckpointError(ValueError):
    """A file is not a checkpoint this library can load safely."""


# --------------------------------------------------------------- atomic writes
def _fault_point(stage, path):
    """Called at each stage of ``atomic_write`` ("written", "synced", "renamed"); does nothing.

    Fault-injection tests replace it to kill the process between the stages.
    """


def atomic_write(path, write):
    """Create or replace the file ``path`` with what ``write(binary_file)`` writes, all or nothing.

    The bytes go to a temporary ``.NAME.<16 hex>.tmp`` in the same directory,
    are fsynced, and the temporary is renamed over ``path`` (atomic on POSIX);
    then the directory is fsynced so the rename itself survives a power cut.
    On any error, or an interrupt, the temporary is removed and ``path`` is
    untouched. OSErrors (disk full, permission denied) name ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        while True:
            tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
            try:  # 0o666 and the umask, as for any new file (mkstemp would give 0600)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
    except OSError as err:
        raise OSError(err.errno, err.strerror, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            _fault_point("written", path)
            os.fsync(f.fileno())
        _fault_point("synced", path)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OSError(err.errno, err.strerror, path) from None
        raise
    _fault_point("renamed", path)
    _fsync_directory(directory)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform that cannot open directories: the rename is all we can do
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(directory):
    """Delete the temporaries that interrupted ``atomic_write`` calls left in ``directory``.

    Call it only while no other process is saving there (e.g. under a lock).
    Returns the names removed.
    """
    removed = []
    for name in os.listdir(directory):
        if _TEMPORARY.match(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))
                removed.append(name)
    return removed


# ------------------------------------------------------------------ save, load
def _encode(value, path, arrays):
    """``value`` as JSON-able structure; its arrays go into ``arrays`` under their path names."""
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "" or "/" in str(key):
                raise ValueError(f"save: keys must be ints or non-empty strings without '/', got {key!r} "
                                 f"in {path or 'the state'}")
        items = {key: _encode(v, f"{path}/{key}" if path else str(key), arrays) for key, v in value.items()}
        if all(isinstance(key, str) and key not in (_ARRAY, _TUPLE, _DICT) for key in items):
            return items
        return {_DICT: [[key, v] for key, v in items.items()]}  # int keys survive the round trip
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
        return {_TUPLE: items} if isinstance(value, tuple) else items
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Tensor):
        value = value.data
    array = numpy.asarray(backend.to_numpy(value))
    if array.dtype.kind not in "biufU":
        raise TypeError(f"save: {path!r} holds {array.dtype} data; only numeric, boolean and "
                        "string arrays can be saved (no pickled objects)")
    if path in arrays or path in (_STRUCTURE, _CHECKSUM):
        raise ValueError(f"save: two entries would both be stored as {path!r}; rename one of them")
    arrays[path] = array
    return {_ARRAY: path}


def _decode(node, arrays, where):
    if isinstance(node, list):
        return [_decode(v, arrays, where) for v in node]
    if not isinstance(node, dict):
        return node
    if _ARRAY in node:
        if node[_ARRAY] not in arrays:
            raise CheckpointError(f"load: {where!r} lacks the array {node[_ARRAY]!r} its structure names")
        return arrays[node[_ARRAY]]
    if _TUPLE in node:
        return tuple(_decode(v, arrays, where) for v in node[_TUPLE])
    if _DICT in node:
        return {key: _decode(v, arrays, where) for key, v in node[_DICT]}
    return {key: _decode(v, arrays, where) for key, v in node.items()}


def _digest(structure, arrays):
    """SHA-256 hex digest of the structure JSON and every array's name, dtype, shape and bytes."""
    h = hashlib.sha256(structure.encode("utf-8"))
    for name in sorted(arrays):
        a = numpy.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode("utf-8"))
        h.update(a.reshape(-1).view(numpy.uint8))
    return h.hexdigest()


def _write_npz(f, members):
    """What numpy.savez does (uncompressed, zip64), without its reserved keyword names."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in members.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                numpy.lib.format.write_array(member, array, allow_pickle=False)


def save(state, path):
    """Write ``state`` (a dict; see the module docstring) to ``path`` as a verified .npz, atomically.

    ``path`` may also be a binary file object open for writing (as torch.save accepts): the
    archive is written into it at its position; atomicity is then the caller's (only a path can
    be replaced whole).
    """
    if not isinstance(state, dict):
        if hasattr(state, "state_dict"):  # torch.save(model, f) pickles the object; we never pickle
            raise TypeError(f"save: got a {type(state).__name__} object; tensorgrad saves states, not "
                            "objects (a checkpoint never runs code when loaded): save "
                            "model.state_dict() and restore with model.load_state_dict(tg.load(path))")
        raise TypeError(f"save: a state is a dict of names to arrays, got {type(state).__name__}")
    if not hasattr(path, "write"):
        try:
            os.fspath(path)
        except TypeError:
            raise TypeError(f"save: path must be a file name (str or os.PathLike) or a binary file object "
                            f"open for writing, got {type(path).__name__}") from None
    arrays = {}
    structure = json.dumps(_encode(state, "", arrays))
    members = {**arrays, _STRUCTURE: numpy.array(structure),
               _CHECKSUM: numpy.array(_digest(structure, arrays))}
    if hasattr(path, "write"):
        if isinstance(path, io.TextIOBase):
            raise TypeError("save: the file object is open in text mode; open it with 'wb'")
        _write_npz(path, members)
        return
    atomic_write(path, lambda f: _write_npz(f, members))


def load(path):
    """Read a checkpoint written by ``save``: the saved structure, arrays as NumPy arrays.

    ``path`` is a file name or a binary file object open for reading (read from its position).
    Raises CheckpointError for a file that is not a readable .npz, holds
    pickled objects, or does not match the SHA-256 recorded inside it.
    """
    if hasattr(path, "read"):  # a file object: read it whole, then parse it as a file's bytes
        if isinstance(path, io.TextIOBase):
            raise TypeError("load: the file object is open in text mode; open it with 'rb'")
        content = path.read()
        path = getattr(path, "name", None) or "<file object>"
        source = io.BytesIO(content)
        magic = content[:6]
    else:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"load: no checkpoint file at {path!r}")
        with open(path, "rb") as f:
            magic = f.read(6)
        source = path
    if magic == b"\x93NUMPY":
        raise CheckpointError(f"load: {path!r} is a single .npy array, not a .npz checkpoint")
    if not magic.startswith(b"PK"):
        raise CheckpointError(f"load: {path!r} is not a readable .npz checkpoint (it is not a zip "
                              "archive); was it written by tg.save?")
    try:
        with numpy.load(source, allow_pickle=False) as archive:
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
    if _STRUCTURE in flat or _CHECKSUM in flat:
        return _verified(flat, path)
    state = {}  # a flat .npz: nest on "/"
    for name, array in flat.items():
        *parents, leaf = name.split("/")
        node = state
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = array
    return state


def _verified(flat, path):
    """The state in ``flat`` (the archive's members) after checking it against its SHA-256."""
    if _STRUCTURE not in flat or _CHECKSUM not in flat:
        missing = _CHECKSUM if _STRUCTURE in flat else _STRUCTURE
        raise CheckpointError(f"load: {path!r} lacks its {missing} entry, so it cannot be verified; "
                              "it was altered after tg.save wrote it")
    structure, expected = str(flat.pop(_STRUCTURE)[()]), str(flat.pop(_CHECKSUM)[()])
    if _digest(structure, flat) != expected:
        raise CheckpointError(f"load: {path!r} does not match the SHA-256 recorded when it was "
                              "written: it was damaged, or assembled from parts of different files; "
                              "refusing to load it")
    try:
        tree = json.loads(structure)
    except ValueError as err:
        raise CheckpointError(f"load: {path!r} has an unreadable structure entry ({err})") from None
    return _decode(tree, flat, path)
