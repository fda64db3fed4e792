"""Text data for character-level language models: the corpus, a vocabulary, streams and chunks.

The pipeline, with the shapes at each step (L = length of the text, B = batch size):

    text  = load_text("tinyshakespeare")            # str, about 1.1M characters
    vocab = Vocabulary.from_text(text)              # 65 characters, sorted
    ids   = vocab.encode(text)                      # (L,) int64
    train, valid = train_valid_split(ids, 0.1)      # contiguous: the last 10% validates
    stream = batchify(train, B)                     # (L // B, B): B parallel streams, time-major
    for inputs, targets in iter_chunks(stream, k):  # (k, B) each; targets = inputs shifted by one
        ...

The tiny Shakespeare corpus (public domain; Karpathy's char-rnn collection of
Shakespeare's plays) ships gzip-compressed inside the package and is checked
against its SHA-256 every time it is read, so no network is ever needed.
"""

import gzip
import hashlib
import io
import os
import stat
from importlib import resources

import numpy as np

from tensorgrad import Tensor

TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
_CORPORA = {"tinyshakespeare": ("tinyshakespeare.txt.gz", TINYSHAKESPEARE_SHA256)}


class CorpusError(ValueError):
    """A packaged corpus file is missing or does not hold the text it should."""


class TextTooLarge(ValueError):
    """A text file larger than the limit ``load_text`` was given (``size`` and ``limit`` in bytes)."""

    def __init__(self, message, size, limit):
        super().__init__(message)
        self.size, self.limit = size, limit


class NotARegularFile(ValueError):
    """A path that is a device, FIFO or socket, where a text file was expected (``kind`` says which)."""

    def __init__(self, message, kind):
        super().__init__(message)
        self.kind = kind


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"))


# ------------------------------------------------------------------- the corpus
def compress_corpus(source, destination):
    """Write the text file ``source`` gzip-compressed to ``destination``, byte-reproducibly.

    The gzip header stores no file name and a zero timestamp, and the level is
    fixed at 9, so the same text always gives the same bytes (with the same
    zlib). This is how rnn/corpus/tinyshakespeare.txt.gz was made:

        python3 -c "from rnn.data import compress_corpus; compress_corpus(
            '/work/shared/data/tinyshakespeare.txt', 'rnn/corpus/tinyshakespeare.txt.gz')"
    """
    with open(source, "rb") as f:
        raw = f.read()
    with open(destination, "wb") as f:
        f.write(gzip_bytes(raw))


def gzip_bytes(raw):
    """``raw`` bytes gzip-compressed with no name, mtime 0 and level 9: the same input, the same output."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    return buffer.getvalue()


def load_corpus(name="tinyshakespeare"):
    """The text of a corpus shipped with the package, verified against its SHA-256."""
    if name not in _CORPORA:
        raise ValueError(f"load_corpus: unknown corpus {name!r}; the packaged corpora are "
                         f"{', '.join(sorted(_CORPORA))}")
    filename, expected = _CORPORA[name]
    resource = resources.files("rnn").joinpath("corpus", filename)
    try:
        compressed = resource.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"load_corpus: the packaged file rnn/corpus/{filename} is missing; "
                          "reinstall the package (it ships as package data)") from None
    return _verified_text(compressed, expected, f"rnn/corpus/{filename}")


def _verified_text(compressed, expected_sha256, where):
    """Decompress, check the SHA-256 of the raw bytes, decode as UTF-8."""
    try:
        raw = gzip.decompress(compressed)
    except (OSError, EOFError) as err:
        raise CorpusError(f"{where} is damaged: it is not a complete gzip file ({err}); "
                          "reinstall the package") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise CorpusError(f"{where} is damaged: its text has SHA-256 {digest}, expected "
                          f"{expected_sha256}; reinstall the package")
    return raw.decode("utf-8")


def load_text(name_or_path, max_bytes=None):
    """A whole text: a packaged corpus by name ("tinyshakespeare") or a UTF-8 text file by path.

    A path must be a regular file (not /dev/zero, a FIFO or a socket) of at most
    ``max_bytes`` bytes (None: no limit); both are checked before reading,
    raising NotARegularFile / TextTooLarge (ValueErrors).
    """
    if isinstance(name_or_path, str) and name_or_path in _CORPORA:
        return load_corpus(name_or_path)
    path = os.fspath(name_or_path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_text: {path!r} is neither a packaged corpus "
                                f"({', '.join(sorted(_CORPORA))}) nor an existing file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load_text: {path!r} is a directory; give the path of a text file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open: it is refused below
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)  # of what was opened, not of what the path named a moment ago
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise NotARegularFile(f"load_text: {path!r} is {kind}, not a regular file; give the path "
                                      "of a text file", kind)
        if max_bytes is not None and info.st_size > max_bytes:
            raise TextTooLarge(f"load_text: {path!r} holds {info.st_size:,} bytes, above the limit of "
                               f"{max_bytes:,}", info.st_size, max_bytes)
        raw = f.read() if max_bytes is None else f.read(max_bytes + 1)  # a file growing while read
    if max_bytes is not None and len(raw) > max_bytes:
        raise TextTooLarge(f"load_text: {path!r} holds more than {max_bytes:,} bytes", len(raw), max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"load_text: {path!r} is not UTF-8 text: byte {raw[err.start]:#04x} at "
                         f"offset {err.start} cannot be decoded ({err.reason}); convert the file to "
                         "UTF-8 first") from None
    if not text:
        raise ValueError(f"load_text: {path!r} is empty; a language model needs some text to learn from")
    return text


# --------------------------------------------------------------- the vocabulary
class Vocabulary:
    """The characters a model knows, each with an integer id: its position in sorted order.

    vocab.chars   the characters as one string, sorted by code point (id i is chars[i])
    encode(text)  str -> (len(text),) int64 ids
    decode(ids)   ids (any shape, flattened) -> str

    To store a vocabulary in a checkpoint, save ``vocab.to_array()`` (int code
    points, safe in .npz) and rebuild it with ``Vocabulary.from_array(a)``.
    """

    def __init__(self, chars):
        chars = "".join(chars)
        if not chars:
            raise ValueError("Vocabulary: needs at least one character")
        if "".join(sorted(set(chars))) != chars:
            raise ValueError("Vocabulary: chars must be distinct and sorted by code point; "
                             "build one from text with Vocabulary.from_text(text)")
        self.chars = chars
        self._ids = {c: i for i, c in enumerate(chars)}
        self._table = np.array(list(chars))  # id -> character, for decode

    @classmethod
    def from_text(cls, text):
        """The vocabulary of every distinct character in ``text`` (the same text, the same ids)."""
        if not text:
            raise ValueError("Vocabulary.from_text: the text is empty")
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and other.chars == self.chars

    def __hash__(self):
        return hash(self.chars)

    def __repr__(self):
        return f"Vocabulary({len(self)} characters: {self.chars[:40]!r}{'...' if len(self) > 40 else ''})"

    def encode(self, text):
        """str -> (len(text),) int64 array of ids. Raises naming any character not in the vocabulary."""
        try:
            return np.fromiter((self._ids[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError:
            unknown = sorted(set(text) - set(self._ids))
            raise ValueError(f"Vocabulary.encode: {len(unknown)} character(s) not in the vocabulary: "
                             f"{', '.join(repr(c) for c in unknown[:20])}; build the vocabulary from "
                             "text that contains them, or remove them") from None

    def decode(self, ids):
        """int ids (a list, array or Tensor; any shape, read in C order) -> str."""
        if isinstance(ids, Tensor):
            ids = ids.numpy()  # copied to the host if it lives on a GPU
        ids = np.asarray(ids).reshape(-1)
        if ids.size == 0:
            return ""
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Vocabulary.decode: ids must be integers, got dtype {ids.dtype}")
        if ids.min() < 0 or ids.max() >= len(self):
            bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
            raise ValueError(f"Vocabulary.decode: id {bad} is out of range for a vocabulary of "
                             f"{len(self)} characters (ids are 0..{len(self) - 1})")
        return "".join(self._table[ids].tolist())

    def to_array(self):
        """(V,) int64 Unicode code points: what a checkpoint stores (no pickling needed)."""
        return np.array([ord(c) for c in self.chars], dtype=np.int64)

    @classmethod
    def from_array(cls, codes):
        """The vocabulary ``to_array`` saved."""
        codes = np.asarray(codes).reshape(-1)
        if codes.dtype.kind not in "iu":
            raise TypeError(f"Vocabulary.from_array: expected integer code points, got dtype {codes.dtype}")
        return cls("".join(chr(int(c)) for c in codes))


# ------------------------------------------------------- splits, streams, chunks
def train_valid_split(ids, valid_fraction=0.1):
    """Contiguous split: the first (1 - f) of ``ids`` trains, the last f validates. (L,) -> (L1,), (L2,).

    Contiguous rather than shuffled, because neighbouring characters are not
    independent: a random split would leak training text into validation.
    """
    if not 0 < valid_fraction < 1:
        raise ValueError(f"train_valid_split: valid_fraction must be in (0, 1), got {valid_fraction!r}")
    n = len(ids)
    n_valid = int(round(n * valid_fraction))
    if n_valid == 0 or n_valid == n:
        raise ValueError(f"train_valid_split: {n} ids cannot be split with valid_fraction "
                         f"{valid_fraction}: one part would be empty")
    return ids[: n - n_valid], ids[n - n_valid:]


def batchify(ids, batch_size):
    """Cut a 1-D sequence into ``batch_size`` contiguous streams, side by side: (L,) -> (L // B, B).

    Column b is ids[b * n : (b + 1) * n] with n = L // B; the last L % B ids are
    dropped. Time runs down the rows, so row t holds step t of every stream,
    and a recurrent state carried from one chunk of rows to the next continues
    each stream exactly where it stopped.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"batchify: ids must be 1-D, got shape {ids.shape}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batchify: batch_size must be a positive int, got {batch_size!r}")
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"batchify: {len(ids)} ids are too few for {batch_size} streams; each stream "
                         f"needs at least 2 ids (an input and its target), so give at least "
                         f"{2 * batch_size} ids or a smaller batch_size")
    return ids[: n * batch_size].reshape(batch_size, n).T


def iter_chunks(stream, length):
    """(inputs, targets) chunks of a time-major stream (L, ...) for truncated BPTT: (k, ...) each.

    inputs = stream[i : i + k] and targets = stream[i + 1 : i + 1 + k] for
    i = 0, length, 2 * length, ...; every step of the stream except the last is
    an input exactly once. The final chunk is shorter when L - 1 is not a
    multiple of ``length``. Chunks are views, not copies.
    """
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"iter_chunks: length must be a positive int, got {length!r}")
    n_steps = len(stream) - 1
    if n_steps < 1:
        raise ValueError(f"iter_chunks: a stream of length {len(stream)} has no (input, target) pair; "
                         "it needs at least 2 steps")
    for start in range(0, n_steps, length):
        stop = min(start + length, n_steps)
        yield stream[start:stop], stream[start + 1: stop + 1]
