"""Checkpoints: .npz round trips, and loading never unpickles or trusts a damaged file."""

import errno
import os

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn


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
    np.savez(path, payload=np.array([print], dtype=object))  # would need unpickling
    with pytest.raises(tg.CheckpointError, match="object arrays.*refusing"):
        tg.load(path)


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
    with np.load(path) as archive:
        members = {name: archive[name] for name in archive.files}
    change(members)
    np.savez(path, **members)


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
