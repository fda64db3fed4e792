"""Checkpoints: .npz round trips, and loading never unpickles or trusts a damaged file."""

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
