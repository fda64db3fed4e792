"""tg.random.get_rng_state / set_rng_state: a saved random state replays the same draws."""

import numpy as np
import pytest

import tensorgrad as tg


def test_restoring_the_state_replays_the_same_draws():
    tg.manual_seed(7)
    tg.randn(5)
    state = tg.random.get_rng_state()
    first = tg.rand(4).numpy(), tg.functional.dropout(tg.ones(8), 0.5).numpy()
    tg.manual_seed(99)  # anything in between
    tg.randn(3)
    tg.random.set_rng_state(state)
    again = tg.rand(4).numpy(), tg.functional.dropout(tg.ones(8), 0.5).numpy()
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_state_is_a_byte_array_that_tg_save_stores(tmp_path):
    tg.manual_seed(3)
    tg.rand(2)
    state = tg.random.get_rng_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    tg.save({"rng": state}, tmp_path / "rng.npz")
    expected = tg.rand(3).numpy()
    tg.random.set_rng_state(tg.load(tmp_path / "rng.npz")["rng"])
    np.testing.assert_array_equal(tg.rand(3).numpy(), expected)


def test_set_rng_state_refuses_bytes_that_are_not_a_state():
    with pytest.raises(ValueError, match="not a state from get_rng_state"):
        tg.random.set_rng_state(np.frombuffer(b"garbage", dtype=np.uint8))
