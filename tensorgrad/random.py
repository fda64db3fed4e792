"""Random tensors for parameter init and dropout, reproducible through ``manual_seed``.

One generator per device, all started from the same seed, so a seeded run
gives the same weights and dropout masks every time on that device.
"""

import json
import numbers
import zlib

import numpy

from . import backend
from .tensor import DEFAULT_FLOAT, Tensor, creation_shape

_seed = None
_generators = {}  # device name -> the backend's Generator


def manual_seed(seed):
    """Seed parameter init and dropout on every device (a non-negative int)."""
    global _seed
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed needs a non-negative int, got {seed!r}")
    _seed = int(seed)
    _generators.clear()


def generator(device=None):
    """The random Generator for ``device`` (default: the default device)."""
    device = device or backend.default_device()
    if device not in _generators:
        _generators[device] = backend.module_for(device).random.default_rng(_seed)
    return _generators[device]


def get_rng_state():
    """The state of every device's generator and the seed, as a (n,) uint8 array (save it in a checkpoint).

    Like ``torch.get_rng_state`` it is an opaque byte array; unlike it, it
    covers every device at once (torch keeps CUDA's apart). NumPy generators
    are captured exactly. CuPy's cannot be serialized (CuPy says so), so for
    "cuda" only the seed is kept: ``set_rng_state`` re-seeds it from the seed
    and this state, the same way every time, but not where it had got to.
    """
    generators = {}
    for device, gen in _generators.items():
        state = getattr(gen, "bit_generator", None)
        generators[device] = state.state if isinstance(gen, numpy.random.Generator) else None
    text = json.dumps({"seed": _seed, "generators": generators}, sort_keys=True)
    return numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8).copy()


def set_rng_state(state):
    """Restore what ``get_rng_state`` returned: the seed and every device's generator."""
    global _seed
    raw = backend.to_numpy(state.data if isinstance(state, Tensor) else state)
    try:
        saved = json.loads(numpy.asarray(raw, dtype=numpy.uint8).tobytes().decode("utf-8"))
        seed, generators = saved["seed"], dict(saved["generators"])
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"set_rng_state: not a state from get_rng_state ({err})") from None
    restored = {}
    for device, bits in generators.items():
        if bits is None:  # not serializable (CuPy): a fresh generator, derived from the whole state
            key = zlib.crc32(numpy.asarray(raw, dtype=numpy.uint8).tobytes())
            restored[device] = backend.module_for(device).random.default_rng([seed or 0, key])
            continue
        gen = numpy.random.default_rng()
        try:
            gen.bit_generator.state = bits
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"set_rng_state: the {device} generator state cannot be restored "
                             f"({err}); was it saved by another NumPy bit generator?") from None
        restored[device] = gen
    _seed = seed
    _generators.clear()
    _generators.update(restored)


def _float_dtype(dtype):
    dtype = numpy.dtype(dtype or DEFAULT_FLOAT)
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"random tensors are float32 or float64, not {dtype}")
    return dtype


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Samples of the standard normal N(0, 1), float32 unless dtype says otherwise."""
    data = generator(device).standard_normal(creation_shape(shape), dtype=_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad, device=device)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Samples of the uniform distribution on [0, 1)."""
    data = generator(device).random(creation_shape(shape), dtype=_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad, device=device)


def uniform(low, high, shape, dtype=None, device=None):
    """A raw array of samples from U(low, high): the init of Linear and the RNN layers."""
    data = generator(device).random(creation_shape((shape,)), dtype=_float_dtype(dtype))
    return data * (high - low) + low
