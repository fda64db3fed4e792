"""Random tensors for parameter init and dropout, reproducible through ``manual_seed``.

One generator per device, all started from the same seed, so a seeded run
gives the same weights and dropout masks every time on that device.
"""

import json
import numbers
import zlib

import numpy

from . import backend
from .creation import creation_shape
from .tensor import DEFAULT_FLOAT, Tensor

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
    device = backend.device_name(device)  # None: the default device
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
    raw = backend.to_numpy(state.array if isinstance(state, Tensor) else state)
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


def randint(low, high=None, size=None, *, dtype=None, device=None):
    """Integers drawn uniformly from [low, high), int64 unless dtype says otherwise, as torch.randint:
    randint(high, size) or randint(low, high, size), size a tuple."""
    if size is None:  # randint(high, size): torch's two-argument form
        low, high, size = 0, low, high
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {size!r} (e.g. randint(0, 10, (3,)))")
    if not (isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)) or high <= low:
        raise ValueError(f"randint: needs ints low < high, got low={low!r}, high={high!r}")
    dtype = numpy.dtype(dtype or numpy.int64)
    data = generator(device).integers(low, high, creation_shape(tuple(size)), dtype=numpy.int64)
    return Tensor(data.astype(dtype, copy=False), device=device)


def randn_like(t, dtype=None, device=None):
    """randn with ``t``'s shape, dtype and device (as torch.randn_like)."""
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def rand_like(t, dtype=None, device=None):
    """rand with ``t``'s shape, dtype and device (as torch.rand_like)."""
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def uniform(low, high, shape, dtype=None, device=None):
    """A raw array of samples from U(low, high): the init of Linear and the RNN layers."""
    data = generator(device).random(creation_shape((shape,)), dtype=_float_dtype(dtype))
    return data * (high - low) + low


def multinomial(input, num_samples, replacement=False):
    """Indices drawn with probability proportional to ``input``'s weights, as torch.multinomial.

    input: (C,) or (N, C) non-negative weights (they need not sum to 1), one row per draw.
    Returns int64 indices, (num_samples,) or (N, num_samples). Without replacement an index is
    drawn at most once per row (the Gumbel top-k trick: the k largest of log w + Gumbel noise are
    an exact draw without replacement; as in torch, zero-weight indices come last, once the others
    are used up). Seeded by manual_seed, on input's device; the stream is
    not torch's, so the same seed gives other draws than in torch.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: input must be a Tensor of weights, got {type(input).__name__}")
    w = input.array
    if w.ndim not in (1, 2) or w.dtype.kind != "f":
        raise ValueError(f"multinomial: input must be a 1-D or 2-D float tensor of weights, got "
                         f"{w.dtype} of shape {tuple(w.shape)}")
    if not isinstance(num_samples, numbers.Integral) or num_samples < 1:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    xp = backend.get_array_module(w)
    rows = w.reshape(-1, w.shape[-1]).astype(numpy.float64)
    totals = rows.sum(axis=1, keepdims=True)
    if bool((rows < 0).any()) or not bool(xp.isfinite(rows).all()) or bool((totals <= 0).any()):
        raise ValueError("multinomial: weights must be finite and non-negative, with a positive sum in "
                         "every row")
    if not replacement and num_samples > rows.shape[1]:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                         f"{rows.shape[1]} categories; pass replacement=True")
    rng = generator(input.device)
    if replacement:
        cdf = xp.cumsum(rows / totals, axis=1)
        u = rng.random((rows.shape[0], num_samples))
        picks = (u[:, :, None] >= cdf[:, None, :-1]).sum(axis=2)  # the first category whose cdf exceeds u
    else:
        with numpy.errstate(divide="ignore"):
            keys = xp.log(rows) - xp.log(-xp.log(rng.random(rows.shape)))  # log w + Gumbel(0, 1)
        picks = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(numpy.int64)
    return Tensor(picks if w.ndim == 2 else picks[0], device=input.device)


# torch.Generator's seed when none is given (torch.Generator().initial_seed()), so an unseeded
# Generator gives the same stream every run, as torch's does.
DEFAULT_GENERATOR_SEED = 67280421310721


class Generator:
    """A random stream of its own, as torch.Generator: ``g = tg.Generator().manual_seed(0)``.

    Pass it as ``generator=`` to randperm, random_split or a shuffling DataLoader so their
    order is reproducible without touching the global stream that ``manual_seed`` seeds
    (parameter init, dropout). Same seed, same stream; the stream is NumPy's, so it is not
    torch's (the same seed gives another permutation than in torch).
    """

    def __init__(self, device="cpu"):
        self.device = backend.device_name(device)
        self.manual_seed(DEFAULT_GENERATOR_SEED)

    def manual_seed(self, seed):
        """Restart the stream from ``seed`` (a non-negative int); returns self, as torch's."""
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"Generator.manual_seed needs a non-negative int, got {seed!r}")
        self._seed = int(seed)
        self.rng = backend.module_for(self.device).random.default_rng(self._seed)
        return self

    def initial_seed(self):
        """The seed the stream last started from."""
        return self._seed

    def __repr__(self):
        return f"Generator(device={self.device!r}, initial_seed={self._seed})"


def _rng(generator_, device):
    """The stream to draw from: ``generator_``'s, or the global one of ``device``."""
    if generator_ is None:
        return generator(device)
    if not isinstance(generator_, Generator):
        raise TypeError(f"generator must be a tg.Generator (or None for the global stream), "
                        f"got {type(generator_).__name__}")
    return generator_.rng


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1, int64 unless dtype says otherwise, as torch.randperm.

    generator: a tg.Generator, or None for the global stream seeded by manual_seed.
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    device = backend.device_name(device) if device is not None else None
    rng = _rng(generator, device or (generator.device if generator is not None else None))
    perm = rng.permutation(int(n)).astype(numpy.dtype(dtype or numpy.int64))
    return Tensor(perm, requires_grad=requires_grad, device=device)
