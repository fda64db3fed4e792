"""rnn.data: the packaged corpus, the character vocabulary, splits, batchify and TBPTT chunks."""

import gzip
import hashlib
import itertools
import zlib
from importlib import resources

import numpy as np
import pytest

import tensorgrad as tg
from rnn import data
from rnn.data import CorpusError, Vocabulary, batchify, iter_chunks, load_corpus, load_text, train_valid_split

SHIPPED_ZLIB = "1.2.13"  # the zlib that wrote rnn/corpus/tinyshakespeare.txt.gz


@pytest.fixture(scope="module")
def shipped_gz():
    """The bytes of the packaged rnn/corpus/tinyshakespeare.txt.gz."""
    return resources.files("rnn").joinpath("corpus", "tinyshakespeare.txt.gz").read_bytes()


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


# ------------------------------------------------------------------- the corpus
def test_packaged_corpus_matches_its_sha256(corpus):
    assert hashlib.sha256(corpus.encode("utf-8")).hexdigest() == data.TINYSHAKESPEARE_SHA256
    assert len(corpus) == 1_115_394
    assert corpus.startswith("First Citizen:")


def test_load_text_by_name_gives_the_packaged_corpus(corpus):
    assert load_text("tinyshakespeare") == corpus


def test_packaged_gzip_stores_no_file_name_and_zero_mtime(shipped_gz):
    header = shipped_gz[:10]
    assert header[:3] == b"\x1f\x8b\x08"  # gzip magic, deflate
    assert header[3] == 0  # no FNAME, FCOMMENT or FEXTRA fields
    assert header[4:8] == b"\x00\x00\x00\x00"  # mtime 0


def test_gzip_bytes_is_deterministic():
    raw = b"to be or not to be\n" * 100
    assert data.gzip_bytes(raw) == data.gzip_bytes(raw)
    assert gzip.decompress(data.gzip_bytes(raw)) == raw


def test_recompressing_the_corpus_reproduces_the_shipped_file(corpus, shipped_gz):
    if zlib.ZLIB_RUNTIME_VERSION != SHIPPED_ZLIB:
        pytest.skip(f"the shipped file was written with zlib {SHIPPED_ZLIB}, "
                    f"this Python has {zlib.ZLIB_RUNTIME_VERSION}")
    assert data.gzip_bytes(corpus.encode("utf-8")) == shipped_gz


def test_compress_corpus_writes_a_file_load_text_reads_back(tmp_path):
    source = tmp_path / "play.txt"
    source.write_text("ROMEO:\nBut soft!\n", encoding="utf-8")
    destination = tmp_path / "play.txt.gz"
    data.compress_corpus(source, destination)
    assert gzip.decompress(destination.read_bytes()) == source.read_bytes()


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Make load_corpus read rnn/corpus/ from tmp_path; returns the file path to (mis)write."""
    (tmp_path / "corpus").mkdir()
    monkeypatch.setattr(data.resources, "files", lambda package: tmp_path)
    return tmp_path / "corpus" / "tinyshakespeare.txt.gz"


def test_truncated_corpus_file_is_reported_as_damaged(shipped_gz, fake_package):
    fake_package.write_bytes(shipped_gz[:1000])
    with pytest.raises(CorpusError, match="damaged.*gzip"):
        load_corpus()


def test_altered_corpus_text_fails_the_sha256_check(fake_package):
    fake_package.write_bytes(data.gzip_bytes(b"First Citizen:\nThis is not the corpus.\n"))
    with pytest.raises(CorpusError, match="damaged.*SHA-256"):
        load_corpus()


def test_missing_corpus_file_is_reported(fake_package):
    with pytest.raises(CorpusError, match="missing"):
        load_corpus()


def test_unknown_corpus_name_is_rejected():
    with pytest.raises(ValueError, match="tinyshakespeare"):
        load_corpus("tinydickens")


# -------------------------------------------------------------------- load_text
def test_load_text_reads_a_utf8_file(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("Ça va — très bien\n", encoding="utf-8")
    assert load_text(path) == "Ça va — très bien\n"
    assert load_text(str(path)) == "Ça va — très bien\n"


def test_load_text_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        load_text(tmp_path / "nowhere.txt")


def test_load_text_rejects_an_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_text(path)


def test_load_text_rejects_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8.*0xe9.*offset 3"):
        load_text(path)


def test_load_text_rejects_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        load_text(tmp_path)


# ---------------------------------------------------------------- the vocabulary
def test_vocabulary_is_sorted_and_independent_of_text_order(corpus):
    text = corpus[:5000]
    shuffled = "".join(np.random.default_rng(0).permutation(list(text)))
    vocab = Vocabulary.from_text(text)
    assert vocab == Vocabulary.from_text(shuffled)
    assert vocab.chars == "".join(sorted(set(text)))


def test_tinyshakespeare_vocabulary_has_65_characters(corpus):
    vocab = Vocabulary.from_text(corpus)
    assert len(vocab) == 65
    assert vocab.chars[:3] == "\n !"


def test_encode_then_decode_round_trips(corpus):
    vocab = Vocabulary.from_text(corpus)
    ids = vocab.encode(corpus[:10000])
    assert ids.dtype == np.int64 and ids.shape == (10000,)
    assert vocab.decode(ids) == corpus[:10000]


def test_ids_are_positions_in_the_sorted_characters():
    vocab = Vocabulary.from_text("banana")
    assert vocab.chars == "abn"
    np.testing.assert_array_equal(vocab.encode("nab"), [2, 0, 1])


def test_decode_accepts_lists_2d_arrays_and_tensors():
    vocab = Vocabulary.from_text("abc")
    assert vocab.decode([2, 1, 0]) == "cba"
    assert vocab.decode(np.array([[0, 1], [2, 0]])) == "abca"
    assert vocab.decode(tg.tensor(np.array([1, 2]))) == "bc"
    assert vocab.decode([]) == ""


def test_encode_names_the_unknown_characters():
    vocab = Vocabulary.from_text("hello world")
    with pytest.raises(ValueError, match=r"2 character\(s\).*'H'.*'W'"):
        vocab.encode("Hello World")


def test_decode_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="id 3 is out of range"):
        Vocabulary.from_text("abc").decode([0, 3])


def test_vocabulary_rejects_unsorted_or_repeated_chars():
    with pytest.raises(ValueError, match="sorted"):
        Vocabulary("ba")
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary("aab")


def test_vocabulary_survives_a_checkpoint_round_trip(tmp_path, corpus):
    vocab = Vocabulary.from_text(corpus)
    tg.save({"vocab": vocab.to_array()}, tmp_path / "ckpt.npz")
    restored = Vocabulary.from_array(tg.load(tmp_path / "ckpt.npz")["vocab"])
    assert restored == vocab
    assert Vocabulary(list(vocab.chars)) == vocab  # a list of characters works too


# ------------------------------------------------------- splits, streams, chunks
def test_split_keeps_the_last_fraction_for_validation():
    ids = np.arange(1000)
    train, valid = train_valid_split(ids, 0.1)
    assert len(train) == 900 and len(valid) == 100
    np.testing.assert_array_equal(np.concatenate([train, valid]), ids)


def test_split_rejects_fractions_outside_0_1_and_empty_parts():
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        train_valid_split(np.arange(10), 1.0)
    with pytest.raises(ValueError, match="empty"):
        train_valid_split(np.arange(3), 0.1)


def test_batchify_shape_is_time_major_and_trims_the_remainder():
    stream = batchify(np.arange(103), 4)
    assert stream.shape == (25, 4)


def test_batchify_columns_are_contiguous_pieces_of_the_text():
    ids = np.arange(103)
    stream = batchify(ids, 4)
    for b in range(4):
        np.testing.assert_array_equal(stream[:, b], ids[25 * b: 25 * (b + 1)])


def test_batchify_rejects_too_short_input():
    with pytest.raises(ValueError, match="too few.*at least 8"):
        batchify(np.arange(7), 4)


def test_chunks_have_length_k_except_a_shorter_last_one():
    stream = batchify(np.arange(4 * 26), 4)  # (26, 4): 25 (input, target) steps
    shapes = [(x.shape, y.shape) for x, y in iter_chunks(stream, 10)]
    assert shapes == [((10, 4), (10, 4)), ((10, 4), (10, 4)), ((5, 4), (5, 4))]


def test_chunk_targets_are_inputs_shifted_by_one_across_boundaries():
    stream = batchify(np.arange(4 * 26), 4)
    chunks = list(iter_chunks(stream, 7))
    inputs = np.concatenate([x for x, _ in chunks])
    targets = np.concatenate([y for _, y in chunks])
    np.testing.assert_array_equal(inputs, stream[:-1])
    np.testing.assert_array_equal(targets, stream[1:])
    for (_, y), (x_next, _) in itertools.pairwise(chunks):
        np.testing.assert_array_equal(y[-1], x_next[0])  # one chunk's last target starts the next
