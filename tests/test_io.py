"""Checkpoints: .npz round trips, and loading never unpickles or trusts a damaged file."""

import errno
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.io import states_equal


def test_save_and_load_round_trip_nested_state(tmp_path):
    model = nn.Linear(3, 2)
    state = {"model": model.state_dict(), "step": 7, "note": np.array("hello")}
    path = tmp_path / "ckpt.npz"
    tg.save(state, path)
    loaded = tg.load(path)
    assert int(loaded["step"]) == 7 and str(loaded["note"]) == "hello"
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded["model"][name], value)
        assert loaded["model"][name].dtype == value.dtype
    model.load_state_dict(loaded["model"])


def test_save_writes_exactly_the_given_path_and_no_temp_files(tmp_path):
    tg.save({"x": tg.ones(2)}, tmp_path / "weights.ckpt")
    assert [p.name for p in tmp_path.iterdir()] == ["weights.ckpt"]


def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="no pickled objects"):
        tg.save({"x": np.array([{"a": 1}], dtype=object)}, tmp_path / "bad.npz")


def test_load_refuses_a_checkpoint_holding_object_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    tg.save({"payload": np.zeros(1)}, path)
    _rewrite(path, lambda m: m.__setitem__("payload", np.array([print], dtype=object)))  # needs unpickling
    with pytest.raises(tg.CheckpointError, match="object arrays.*refusing"):
        tg.load(path)


def test_load_refuses_a_plain_npz_without_a_checksum(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.zeros(2))
    with pytest.raises(tg.CheckpointError, match="lacks its __structure__ entry.*numpy.load"):
        tg.load(tmp_path / "plain.npz")


def test_load_of_a_corrupt_file_is_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"this is not a zip file at all")
    with pytest.raises(tg.CheckpointError, match="not a readable .npz checkpoint"):
        tg.load(path)


def test_load_of_a_truncated_file_is_a_clear_error(tmp_path):
    good = tmp_path / "good.npz"
    tg.save({"w": np.arange(1000.0)}, good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(tg.CheckpointError, match="not a readable .npz checkpoint"):
        tg.load(cut)


def test_load_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file at .*nothing.npz"):
        tg.load(tmp_path / "nothing.npz")


def test_load_of_a_single_npy_array_is_refused(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(3))
    with pytest.raises(tg.CheckpointError, match="single .npy array"):
        tg.load(path)


def test_save_and_load_round_trip_any_nesting_of_dicts_lists_tuples_and_scalars(tmp_path):
    # e.g. a torch-style optimizer state: int keys, lists of groups, tuples, None
    state = {"state": {0: {"step": 3, "exp_avg": np.ones(2)}}, "param_groups": [
        {"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "foreign": None, "nesterov": False}],
        "name": "adam", "__dict__": "a key like a marker"}
    tg.save(state, tmp_path / "opt.npz")
    loaded = tg.load(tmp_path / "opt.npz")
    np.testing.assert_array_equal(loaded["state"][0]["exp_avg"], np.ones(2))
    loaded["state"][0]["exp_avg"] = state["state"][0]["exp_avg"]
    assert loaded == state and isinstance(loaded["param_groups"][0]["betas"], tuple)


def test_save_stores_arrays_as_plain_npz_members_named_by_path(tmp_path):
    tg.save({"model": {"w": np.arange(3.0)}, "file": np.zeros(1)}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz") as archive:
        assert {"model/w", "file", "__structure__", "__sha256__"} == set(archive.files)


def _rewrite(path, change):
    """Rewrite the .npz at ``path`` with ``change(dict of arrays)`` applied, bypassing tg.save."""
    with np.load(path, allow_pickle=True) as archive:
        members = {name: archive[name] for name in archive.files}
    change(members)
    with zipfile.ZipFile(path, "w") as archive:  # np.savez(path, **members) refuses tg.save's member names
        for name, array in members.items():
            with archive.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=True)


def test_load_refuses_a_file_whose_arrays_changed_after_saving(tmp_path):
    path = tmp_path / "c.npz"
    tg.save({"w": np.arange(4.0), "step": 2}, path)
    _rewrite(path, lambda m: m.__setitem__("w", m["w"] + 1))
    with pytest.raises(tg.CheckpointError, match="does not match the SHA-256"):
        tg.load(path)


def test_load_refuses_a_file_assembled_from_two_saves(tmp_path):
    tg.save({"w": np.zeros(3), "step": 1}, tmp_path / "a.npz")
    tg.save({"w": np.ones(3), "step": 2}, tmp_path / "b.npz")
    with np.load(tmp_path / "a.npz") as a:
        old_w = a["w"]
    _rewrite(tmp_path / "b.npz", lambda m: m.__setitem__("w", old_w))
    with pytest.raises(tg.CheckpointError, match="assembled from parts of different files"):
        tg.load(tmp_path / "b.npz")


def test_load_refuses_a_file_whose_checksum_was_removed(tmp_path):
    path = tmp_path / "c.npz"
    tg.save({"w": np.arange(4.0)}, path)
    _rewrite(path, lambda m: m.pop("__sha256__"))
    with pytest.raises(tg.CheckpointError, match="lacks its __sha256__ entry"):
        tg.load(path)


def test_save_follows_the_umask_like_any_other_file(tmp_path):
    old = os.umask(0o027)
    try:
        tg.save({"x": np.zeros(1)}, tmp_path / "c.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o640


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    tg.save({"w": np.zeros(2)}, path)
    before = path.read_bytes()

    def crash(stage, target):
        if stage == "synced":
            raise KeyboardInterrupt  # e.g. Ctrl-C between fsync and rename

    monkeypatch.setattr(tg.io, "_fault_point", crash)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"w": np.ones(2)}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_a_full_disk_error_names_the_file_being_saved(tmp_path, monkeypatch):
    def full(f, members):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tg.io, "_write_npz", full)
    with pytest.raises(OSError, match="No space left") as info:
        tg.save({"w": np.zeros(2)}, tmp_path / "c.npz")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "c.npz")
    assert list(tmp_path.iterdir()) == []


def test_remove_stale_temporaries_removes_only_what_atomic_write_leaves(tmp_path):
    (tmp_path / ".latest.npz.0123456789abcdef.tmp").write_bytes(b"half")
    (tmp_path / "notes.tmp").write_text("mine")
    assert tg.io.remove_stale_temporaries(tmp_path) == [".latest.npz.0123456789abcdef.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.tmp"]


# ------------------------------------------------------- files that try to fool load
def _central_directory(data):
    """(offset of the zip's central directory, its entries as raw bytes) of the zip file ``data``."""
    eocd = data.rindex(b"PK\x05\x06")
    count, size, offset = struct.unpack("<HII", data[eocd + 10:eocd + 20])
    entries, at = [], offset
    for _ in range(count):
        n, m, k = struct.unpack("<HHH", data[at + 28:at + 34])
        entries.append(data[at:at + 46 + n + m + k])
        at += 46 + n + m + k
    return offset, entries


def _with_directory(data, entries):
    """The zip ``data`` with its central directory replaced by ``entries`` (and a matching end record)."""
    offset, _ = _central_directory(data)
    directory = b"".join(entries)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(directory), offset, 0)
    return data[:offset] + directory + end


def test_load_refuses_a_file_whose_zip_directory_hides_members(tmp_path):
    # the checksum members still lie in the file, but the directory no longer lists them
    path = tmp_path / "c.npz"
    tg.save({"w": np.arange(4.0)}, path)
    _, entries = _central_directory(path.read_bytes())
    kept = [e for e in entries if b"__" not in e]
    path.write_bytes(_with_directory(path.read_bytes(), kept))
    with pytest.raises(tg.CheckpointError, match="does not account for"):
        tg.load(path)


def test_load_refuses_a_member_the_structure_does_not_name(tmp_path):
    path = tmp_path / "c.npz"
    tg.save({"w": np.arange(4.0)}, path)
    with zipfile.ZipFile(path, "a") as archive, archive.open("extra.npy", "w") as member:
        np.lib.format.write_array(member, np.zeros(2))
    with pytest.raises(tg.CheckpointError, match="members its structure does not name .*'extra'"):
        tg.load(path)


def test_load_refuses_a_structure_naming_a_missing_array(tmp_path):
    path = tmp_path / "c.npz"
    tg.save({"w": np.arange(4.0), "v": np.zeros(1)}, path)
    _rewrite(path, lambda m: m.pop("v"))
    with pytest.raises(tg.CheckpointError, match="no members for arrays its structure names .*'v'"):
        tg.load(path)


def _forge(path, structure, arrays):
    """Write a file with a valid checksum over ``structure`` (JSON text) and ``arrays``: a crafted file."""
    members = {**arrays, "__structure__": np.array(structure),
               "__sha256__": np.array(tg.io._digest(structure, arrays))}
    with open(path, "wb") as f:
        tg.io._write_npz(f, members)


def test_load_refuses_a_verified_file_nested_deeper_than_save_writes(tmp_path):
    path = tmp_path / "deep.npz"
    _forge(path, "[" * 1000 + "]" * 1000, {})
    with pytest.raises(tg.CheckpointError, match="nested 1000 levels deep"):
        tg.load(path)


@pytest.mark.parametrize("structure", ['{"__array__": 3}', '{"__dict__": [[1.5, 2]]}',
                                       '{"__tuple__": {}, "x": 1}', '{"a": {"__array__": "nope"}}'])
def test_load_refuses_a_verified_file_with_a_malformed_structure(tmp_path, structure):
    _forge(tmp_path / "c.npz", structure, {})
    with pytest.raises(tg.CheckpointError, match="damaged structure|structure names"):
        tg.load(tmp_path / "c.npz")


def test_save_refuses_nesting_deeper_than_load_reads(tmp_path):
    state = {}
    node = state
    for _ in range(tg.io.MAX_DEPTH + 1):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ValueError, match="nested more than"):
        tg.save(state, tmp_path / "c.npz")
    loop = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="contains itself"):
        tg.save(loop, tmp_path / "c.npz")
    assert list(tmp_path.iterdir()) == []


def _bomb(path, declared):
    """A small deflated .npz whose one member declares ``declared`` bytes of zeros (no valid checksum)."""
    header = {"descr": "|u1", "fortran_order": False, "shape": (declared,)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("w.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            zeros = bytes(2**20)
            for _ in range(declared // 2**20):
                member.write(zeros)
        for name, value in (("__structure__", '{"w": {"__array__": "w"}}'), ("__sha256__", "0" * 64)):
            with archive.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, np.array(value))


def test_load_refuses_a_file_declaring_more_than_max_bytes_before_decompressing(tmp_path):
    _bomb(tmp_path / "bomb.npz", 2**24)
    assert (tmp_path / "bomb.npz").stat().st_size < 2**16
    with pytest.raises(tg.CheckpointError, match=r"declares 16,777,[0-9]+ bytes .*above max_bytes=1,000,000"):
        tg.load(tmp_path / "bomb.npz", max_bytes=1_000_000)


def test_a_decompression_bomb_is_refused_with_little_memory(tmp_path):
    # 64 MiB of zeros in a ~64 KiB file: under the default max_bytes, so it is streamed through the
    # checksum, which it fails; the process's peak memory must grow by far less than it declares
    _bomb(tmp_path / "bomb.npz", 2**26)
    code = ("import resource, sys, tensorgrad as tg\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    tg.load(sys.argv[1])\nexcept tg.CheckpointError as err:\n    print(err)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bomb.npz")], capture_output=True,
                            text=True, check=True, timeout=120)
    message, grown_mib = result.stdout.strip().splitlines()
    assert "does not match the SHA-256" in message and int(grown_mib) < 32


@pytest.mark.parametrize("special", ["fifo", "directory"])
def test_load_refuses_what_is_not_a_regular_file_without_blocking(tmp_path, special):
    path = tmp_path / "c.npz"
    os.mkfifo(path) if special == "fifo" else path.mkdir()
    with pytest.raises(tg.CheckpointError, match="not a regular file"):
        tg.load(path)


# ----------------------------------------------------------- save and load agree
def test_keys_that_differ_only_by_a_npy_suffix_round_trip(tmp_path):
    tg.save({"a": np.zeros(2), "a.npy": np.ones(2)}, tmp_path / "c.npz")
    loaded = tg.load(tmp_path / "c.npz")
    assert loaded.keys() == {"a", "a.npy"} and loaded["a.npy"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("key", ["", "a/b", "nul\x00", "\ud800", True, 1.5, None])
def test_save_refuses_keys_load_could_not_give_back(tmp_path, key):
    with pytest.raises(ValueError, match="key"):
        tg.save({key: np.zeros(1)}, tmp_path / "c.npz")
    assert list(tmp_path.iterdir()) == []


_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
           np.float16, np.float32, np.float64, np.dtype(">f4"), np.dtype(">i8"), np.dtype("<U3")]
_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
_arrays = st.sampled_from(_DTYPES).flatmap(lambda dtype: hnp.arrays(np.dtype(dtype), _shapes))
_keys = st.one_of(st.text(max_size=6), st.integers(-3, 2**70), st.sampled_from(
    ["__array__", "__dict__", "__tuple__", "__structure__", "__sha256__", "a.npy", "0"]))
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=8),
                    _arrays)
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(_keys, inner, max_size=3)), max_leaves=12)


@given(state=st.dictionaries(_keys, _values, max_size=4))
@settings(max_examples=150)
def test_save_refuses_or_load_returns_equal(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("prop") / "c.npz"
    try:
        tg.save(state, path)
    except (ValueError, TypeError):
        assert not path.exists()  # refused before writing
        return
    assert states_equal(state, tg.load(path))


def test_single_bit_flips_are_refused_or_load_equal_never_anything_else(tmp_path):
    # a fast slice of tools/bitflip_sweep.py: 300 seeded flips in a small nested checkpoint
    state = {"model": {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(3)},
             "step": 4, "config": {"name": "x", "pair": (1, 2.5)}, "text": np.array("abc")}
    tg.save(state, tmp_path / "c.npz")
    good = (tmp_path / "c.npz").read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"refused": 0, "equal": 0}
    for bit in rng.integers(0, 8 * len(good), 300):
        flipped = bytearray(good)
        flipped[bit // 8] ^= 1 << (bit % 8)
        (tmp_path / "f.npz").write_bytes(flipped)
        try:
            loaded = tg.load(tmp_path / "f.npz")
        except tg.CheckpointError:
            outcomes["refused"] += 1
            continue
        assert states_equal(state, loaded), f"bit {bit} gave a different state"
        outcomes["equal"] += 1
    assert outcomes["refused"] > 200  # most bytes matter; flips in unchecked zip fields (times) load equal
