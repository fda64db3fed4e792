"""Checkpoints: ``save`` / ``load`` nested states as verified .npz files, atomically. Loading never unpickles.

A state is a dict whose values are arrays, Tensors, Python numbers, strings,
None, or again dicts (str or int keys), lists and tuples of those: what
``model.state_dict()`` and ``optimizer.state_dict()`` give, as ``torch.save``
takes them. ``load`` gives the same structure back, arrays as NumPy arrays.

The file is a plain .npz (``numpy.load`` reads it): one member per array,
named by its path ("model/rnn.weight_ih_l0"), plus two small string members:
``__structure__`` (the nesting and the non-array values, as JSON) and
``__sha256__`` (a SHA-256 over the structure and every array's name, dtype,
shape and bytes). The structure is the file's manifest: it names every array
member, and the checksum covers it.

``load`` trusts nothing in the file until it has checked it, in this order:

1. the container: a regular file, a zip whose directory accounts for every
   byte (members back to back from offset 0 up to the directory, no comment,
   no encryption, stored or deflated members only), so a damaged directory
   cannot hide members;
2. sizes: what the members declare they hold, before anything is
   decompressed, against ``max_bytes`` (a limit the caller chooses);
3. the manifest: the structure (nested at most MAX_DEPTH deep) must name
   exactly the array members present, no more and no fewer;
4. the SHA-256, computed while streaming the members in small chunks, so a
   file that lies (a decompression bomb, a damaged file, one assembled from
   parts of two saves) is refused with little memory used;
5. only then are the arrays read (no pickles: only numeric, boolean and
   string dtypes) and the state rebuilt.

Anything wrong gives a CheckpointError with one line saying what; no input
reaches a raw traceback. A plain ``numpy.savez`` file has no checksum and is
refused (read it with ``numpy.load(path, allow_pickle=False)``).

``save`` refuses, before writing anything, whatever ``load`` would not give
back equal: keys that are not non-empty UTF-8 strings without "/" or NUL (or
ints), two entries stored under one name, object data, nesting deeper than
MAX_DEPTH (or a state that contains itself).

``save`` is atomic and durable: it writes a temporary file beside ``path``,
fsyncs it, renames it over ``path`` and fsyncs the directory, so after a crash
or a kill at any moment ``path`` holds either the previous file or the new one,
whole. The file's permissions follow the umask like any other file's.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import stat
import struct
import zipfile

import numpy
import numpy.lib.format

from . import backend
from .tensor import Tensor

_STRUCTURE, _CHECKSUM = "__structure__", "__sha256__"
_ARRAY, _TUPLE, _DICT = "__array__", "__tuple__", "__dict__"  # markers inside the structure JSON
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{16}\.tmp$")  # what atomic_write names its temporaries


# os.open flags for a new file, never through a link planted at its name (O_EXCL alone refuses one)
NEW_FILE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                  | getattr(os, "O_CLOEXEC", 0))


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
                fd = os.open(tmp, NEW_FILE_FLAGS, 0o666)
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
MAX_DEPTH = 64  # nested dicts, lists and tuples; torch-style states need fewer than 5
DEFAULT_MAX_BYTES = 4 * 2**30  # what load may allocate for arrays unless told otherwise
_CHUNK = 2**20  # bytes read at a time while streaming a member through the checksum
_KINDS = "biufU"  # bool, int, uint, float, str: the dtypes save writes and load reads


def _encode(value, path, arrays, depth=0):
    """``value`` as JSON-able structure; its arrays go into ``arrays`` under their path names."""
    if depth > MAX_DEPTH:
        raise ValueError(f"save: {path!r} is nested more than {MAX_DEPTH} levels deep (or the state "
                         "contains itself); flatten it")
    if isinstance(value, dict):
        for key in value:
            _check_key(key, path)
        items = {key: _encode(v, f"{path}/{key}" if path else str(key), arrays, depth + 1)
                 for key, v in value.items()}
        if all(isinstance(key, str) and key not in (_ARRAY, _TUPLE, _DICT) for key in items):
            return items
        return {_DICT: [[key, v] for key, v in items.items()]}  # int keys survive the round trip
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{path}/{i}", arrays, depth + 1) for i, v in enumerate(value)]
        return {_TUPLE: items} if isinstance(value, tuple) else items
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Tensor):
        value = value.array
    array = numpy.asarray(backend.to_numpy(value))
    if array.dtype.kind not in _KINDS or array.dtype.fields is not None:
        raise TypeError(f"save: {path!r} holds {array.dtype} data; only numeric, boolean and "
                        "string arrays can be saved (no pickled objects)")
    if path in arrays or path in (_STRUCTURE, _CHECKSUM):
        raise ValueError(f"save: two entries would both be stored as {path!r}; rename one of them")
    # C order, so load can stream the bytes through the checksum (ascontiguousarray would make 0-d 1-d)
    arrays[path] = array if array.flags.c_contiguous else array.copy(order="C")
    return {_ARRAY: path}


def _check_key(key, path):
    where = path or "the state"
    if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "" or "/" in str(key):
        raise ValueError(f"save: keys must be ints or non-empty strings without '/', got {key!r} in {where}")
    if isinstance(key, str):
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"save: the key {key!r} in {where} is not valid Unicode (a lone surrogate), "
                             "so it cannot name a file member; rename it") from None
        if "\x00" in key:
            raise ValueError(f"save: the key {key!r} in {where} holds a NUL character, which zip member "
                             "names cannot hold; rename it")


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

    Refuses (ValueError / TypeError, nothing written) a state that ``load``
    would not return equal. ``path`` may also be a binary file object open for
    writing (as torch.save accepts): the archive is written into it at its
    position; atomicity is then the caller's (only a path can be replaced whole).
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


def states_equal(a, b):
    """Whether ``b`` is ``a`` as ``load`` must give back what ``save`` wrote: the same containers and
    key types, arrays equal bit for bit (dtype, shape, bytes), numbers by repr (nan equals nan, -0.0
    is not 0.0)."""
    if isinstance(a, numpy.ndarray):
        return (isinstance(b, numpy.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == b.tobytes())
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return (list(a) == list(b) and all(type(k) is type(m) for k, m in zip(a, b, strict=True))
                and all(states_equal(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(states_equal(x, y) for x, y in zip(a, b, strict=True))
    return repr(a) == repr(b)


def load(path, *, max_bytes=DEFAULT_MAX_BYTES):
    """Read a checkpoint written by ``save``: the saved structure, arrays as NumPy arrays.

    ``path`` is a file name or a binary file object open for reading (read from its
    position). max_bytes: the most bytes the file's members may declare (the
    arrays ``load`` would allocate), checked before anything is decompressed;
    raise it for a larger checkpoint you trust. Raises FileNotFoundError for a
    missing file, and CheckpointError, with one line saying what is wrong, for
    any file that fails a check (see the module docstring).
    """
    if not (isinstance(max_bytes, int) and max_bytes > 0):
        raise ValueError(f"load: max_bytes must be a positive int, got {max_bytes!r}")
    if hasattr(path, "read"):  # a file object: read it (bounded), then check it as a file's bytes
        if isinstance(path, io.TextIOBase):
            raise TypeError("load: the file object is open in text mode; open it with 'rb'")
        limit = max_bytes + _FILE_OBJECT_SLACK
        content = path.read(limit)
        name = getattr(path, "name", None) or "<file object>"
        if len(content) >= limit:
            raise CheckpointError(f"load: {name!r} holds more than max_bytes={max_bytes} bytes; pass a "
                                  "larger max_bytes for a larger checkpoint you trust")
        return _Reader(io.BytesIO(content), name, max_bytes).state()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint file at {path!r}")
    try:  # O_NONBLOCK: a FIFO must not block the open; it is refused just below
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise OSError(err.errno, f"load: cannot open the checkpoint: {err.strerror}", path) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(f"load: {path!r} is not a regular file (a directory, device, FIFO or "
                              "socket); give the path of a checkpoint file")
    with os.fdopen(fd, "rb") as f:
        return _Reader(f, path, max_bytes).state()


_FILE_OBJECT_SLACK = 1 << 20  # zip headers and .npy headers beyond the members' declared bytes


class _Reader:
    """One checkpoint file, read in the order of the module docstring: container, sizes, manifest,
    checksum, arrays."""

    def __init__(self, f, path, max_bytes):
        self.f, self.path, self.max_bytes = f, path, max_bytes

    def refuse(self, why):
        return CheckpointError(f"load: {self.path!r} {why}")

    def state(self):
        magic = self.f.read(6)
        if magic == b"\x93NUMPY":
            raise self.refuse("is a single .npy array, not a .npz checkpoint")
        if not magic.startswith(b"PK"):
            raise self.refuse("is not a readable .npz checkpoint (it is not a zip archive); was it "
                              "written by tg.save?")
        try:
            with zipfile.ZipFile(self.f) as archive:
                return self._state(archive)
        except (CheckpointError, MemoryError):
            raise
        except Exception as err:  # noqa: BLE001 (untrusted bytes: zipfile, zlib and the .npy reader fail in many ways)
            raise self.refuse(f"is not a readable .npz checkpoint ({type(err).__name__}: {err}); was it "
                              "truncated, damaged or written by another program?") from None

    # 1. the container
    def _members(self, archive):
        """{name without .npy: ZipInfo}, after checking the zip's directory accounts for the whole file."""
        members, end = {}, 0
        for info in sorted(archive.infolist(), key=lambda i: i.header_offset):
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in members:
                raise self.refuse(f"holds an unexpected member {name!r}; it was not written by tg.save, "
                                  "or was altered since")
            if info.flag_bits & 0x1:
                raise self.refuse(f"holds an encrypted member {name!r}; tg.save never encrypts")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.refuse(f"member {name!r} uses zip compression method {info.compress_type}; "
                                  "only stored and deflated members are read")
            if info.header_offset != end:
                raise self.refuse("has bytes its zip directory does not account for (a member was "
                                  "hidden, or the directory damaged); refusing to load it")
            self.f.seek(info.header_offset)
            local = self.f.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise self.refuse(f"has a damaged zip header for {name!r}")
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            end = info.header_offset + 30 + name_length + extra_length + info.compress_size
            if info.flag_bits & 0x8:  # a data descriptor follows the data (tg.save never writes one)
                raise self.refuse(f"member {name!r} has a data descriptor; tg.save never writes one")
            members[name[:-4]] = info
        if end != archive.start_dir or archive.comment:
            raise self.refuse("has bytes its zip directory does not account for (a member was hidden, "
                              "or the directory damaged); refusing to load it")
        return members

    # 2. sizes
    def _check_sizes(self, members):
        declared = sum(info.file_size for info in members.values())
        if declared > self.max_bytes:
            raise self.refuse(f"declares {declared:,} bytes of arrays, above max_bytes={self.max_bytes:,}; "
                              "if you trust the file, pass a larger tg.load(path, max_bytes=...)")

    def _open_array(self, archive, info):
        """(member file positioned at the data, dtype, shape, fortran_order, nbytes), checked."""
        member = archive.open(info)
        version = numpy.lib.format.read_magic(member)
        read_header = {(1, 0): numpy.lib.format.read_array_header_1_0,
                       (2, 0): numpy.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise self.refuse(f"member {info.filename!r} is a .npy of version {version}, which tg.save "
                              "never writes")
        shape, fortran_order, dtype = read_header(member)
        if dtype.hasobject:
            raise self.refuse("holds object arrays, which could run code when unpickled; refusing to "
                              "load it")
        if dtype.kind not in _KINDS or dtype.fields is not None:
            raise self.refuse(f"member {info.filename!r} holds {dtype} data, which tg.save never writes")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes != info.file_size - member.tell():
            raise self.refuse(f"member {info.filename!r} declares {nbytes:,} bytes of data but holds "
                              f"{info.file_size - member.tell():,}; it is damaged")
        return member, dtype, shape, fortran_order, nbytes

    def _read_array(self, archive, info):
        member, dtype, shape, fortran_order, nbytes = self._open_array(archive, info)
        with member:
            raw = member.read(nbytes)
        if len(raw) != nbytes:
            raise self.refuse(f"member {info.filename!r} is truncated")
        if nbytes == 0:
            return numpy.empty(shape, dtype=dtype)
        order = "F" if fortran_order else "C"
        return numpy.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy(order=order)

    def _read_text(self, archive, members, name):
        if name not in members:
            raise self.refuse(f"lacks its {name} entry, so it cannot be verified; it was not written by "
                              "tg.save, or was altered after tg.save wrote it (a plain .npz is read with "
                              "numpy.load(path, allow_pickle=False))")
        value = self._read_array(archive, members[name])
        if value.dtype.kind != "U" or value.shape != ():
            raise self.refuse(f"has a damaged {name} entry")
        return str(value[()])

    # 4. the checksum, streamed
    def _digest(self, archive, structure, members):
        """``_digest(structure, arrays)`` without holding more than one chunk (C-order members)."""
        h = hashlib.sha256(structure.encode("utf-8"))
        for name in sorted(members):
            member, dtype, shape, fortran_order, nbytes = self._open_array(archive, members[name])
            with member:
                # list(shape) or [1]: save's digest sees a 0-d array as ascontiguousarray shows it, (1,)
                h.update(json.dumps([name, dtype.str, list(shape) or [1]]).encode("utf-8"))
                if fortran_order and len(shape) > 1:  # older files: hash the C-order bytes, as save did
                    member.close()
                    h.update(self._read_array(archive, members[name]).tobytes(order="C"))
                    continue
                left = nbytes
                while left:
                    chunk = member.read(min(left, _CHUNK))
                    if not chunk:
                        raise self.refuse(f"member {members[name].filename!r} is truncated")
                    h.update(chunk)
                    left -= len(chunk)
        return h.hexdigest()

    def _state(self, archive):
        members = self._members(archive)
        self._check_sizes(members)
        structure = self._read_text(archive, members, _STRUCTURE)
        expected = self._read_text(archive, members, _CHECKSUM)
        del members[_STRUCTURE], members[_CHECKSUM]
        # 3. the manifest: the structure, nested no deeper than save allows, names exactly the members
        depth = _json_depth(structure)
        if depth > MAX_DEPTH + 2:  # + the top dict and an _ARRAY / _DICT marker
            raise self.refuse(f"has a structure nested {depth} levels deep, more than tg.save writes "
                              f"({MAX_DEPTH}); refusing to load it")
        try:
            tree = json.loads(structure)
        except ValueError as err:
            raise self.refuse(f"has an unreadable structure entry ({err})") from None
        named = []
        _check_tree(tree, named, self.refuse)
        unexpected = sorted(set(members) - set(named))
        missing = sorted(set(named) - set(members))
        if unexpected or missing or len(named) != len(set(named)):
            listed = ", ".join(map(repr, (unexpected or missing)[:3]))
            what = (f"members its structure does not name ({listed})" if unexpected else
                    f"no members for arrays its structure names ({listed})" if missing else
                    "a structure naming one array twice")
            raise self.refuse(f"has {what}; it was damaged or altered after tg.save wrote it")
        if self._digest(archive, structure, members) != expected:
            raise self.refuse("does not match the SHA-256 recorded when it was written: it was damaged, "
                              "or assembled from parts of different files; refusing to load it")
        # 5. verified: read the arrays and rebuild the state
        arrays = {name: self._read_array(archive, info) for name, info in members.items()}
        return _decode(tree, arrays)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _json_depth(text):
    """How deeply the JSON ``text`` nests arrays and objects (without parsing it: json recurses)."""
    depth = deepest = 0
    for char in _STRING.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _is_scalar(node):
    return node is None or type(node) in (bool, int, float, str)


def _check_tree(node, named, refuse):
    """Check ``node`` has only the shapes ``_encode`` writes; collect the array names it uses."""
    stack = [node]
    while stack:  # iterative: the depth was checked, but a wide tree must not recurse either
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            markers = [key for key in (_ARRAY, _TUPLE, _DICT) if key in node]
            if not markers:
                stack.extend(node.values())
                continue
            value = node[markers[0]]
            if len(node) != 1:
                raise refuse(f"has a damaged structure entry (a {markers[0]} node with other keys)")
            if markers[0] == _ARRAY and isinstance(value, str):
                named.append(value)
            elif markers[0] == _TUPLE and isinstance(value, list):
                stack.extend(value)
            elif markers[0] == _DICT and isinstance(value, list) and all(
                    isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in (int, str)
                    for pair in value):
                stack.extend(pair[1] for pair in value)
            else:
                raise refuse(f"has a damaged structure entry (a malformed {markers[0]} node)")
        elif not _is_scalar(node):
            raise refuse("has a damaged structure entry")


def _decode(node, arrays):
    """The value ``_encode`` turned into ``node`` (already checked by ``_check_tree``)."""
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if _ARRAY in node:
        return arrays[node[_ARRAY]]
    if _TUPLE in node:
        return tuple(_decode(v, arrays) for v in node[_TUPLE])
    if _DICT in node:
        return {key: _decode(v, arrays) for key, v in node[_DICT]}
    return {key: _decode(v, arrays) for key, v in node.items()}
