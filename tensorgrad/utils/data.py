"""Datasets and batching, as torch.utils.data: Dataset, TensorDataset, Subset, ConcatDataset,
random_split, the samplers (Sequential, Random, Batch), DataLoader and default_collate.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` returning one sample. A DataLoader
walks the indices 0 .. N-1 (in a random order each pass with ``shuffle=True``), cuts them into
batches of ``batch_size`` and hands each batch's samples to ``collate_fn``; the default one,
``default_collate``, stacks them into Tensors with a leading batch dim:

    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                        generator=tg.Generator().manual_seed(0))
    for xb, yb in loader:          # xb (32, ...), yb (32, ...); the last batch may be smaller
        ...

Everything runs in the calling process: ``num_workers`` must be 0 (NumPy releases the GIL in its
big kernels, and a course's datasets fit in memory, so worker processes would buy little here).
"""

import bisect
import collections.abc
import math
import numbers
import warnings

import numpy

from ..creation import tensor
from ..functional import stack
from ..random import Generator, randperm
from ..random import generator as global_generator
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "default_collate", "default_convert", "Generator", "Sampler", "SequentialSampler", "RandomSampler",
           "BatchSampler"]


class Dataset:
    """Base class of map-style datasets: subclass it and write ``__getitem__(i)`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__; a Dataset subclass must "
                                  "define __getitem__(index) (and __len__ for DataLoader)")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows: ``ds[i] == (t[i] for t in tensors)``; every tensor has the same size(0)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, not a Tensor "
                                "(wrap arrays with tg.tensor or tg.from_numpy)")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is 0-d; every tensor needs a dim 0 to index")
        sizes = [t.shape[0] for t in tensors]
        if any(n != sizes[0] for n in sizes):
            raise ValueError(f"TensorDataset: size mismatch between tensors: their sizes along dim 0 are "
                             f"{sizes}; every tensor must have one row per sample")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several datasets, one after the other (also ``ds1 + ds2``)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(numpy.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][index - start]


def _split_lengths(lengths, n):
    """Sizes from ``lengths``: counts as given, or fractions summing to 1 turned into counts as torch
    does (floor of each fraction times n, then one more to the first splits until they add up to n)."""
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions (torch's test, also for [0, 1])
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):  # distribute the remainder round-robin
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=3)
        return counts
    for x in lengths:
        if not isinstance(x, numbers.Integral) or isinstance(x, bool) or x < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, "
                             f"got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length "
                         f"of the input dataset ({n})!")
    return [int(x) for x in lengths]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` at random into Subsets of the given ``lengths`` (counts, or fractions summing
    to 1), as torch.utils.data.random_split. generator: a tg.Generator for a reproducible split
    (None: the global stream seeded by tg.manual_seed)."""
    counts = _split_lengths(lengths, len(dataset))
    order = randperm(sum(counts), generator=generator, device="cpu").tolist()
    subsets, offset = [], 0
    for count in counts:
        subsets.append(Subset(dataset, order[offset:offset + count]))
        offset += count
    return subsets


# ------------------------------------------------------------------ samplers
class Sampler:
    """Base class of index orders: iterating one gives the dataset indices of a pass."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order of the indices on every pass (without replacement: a permutation; with
    replacement=True: num_samples independent draws), from ``generator`` (None: the global stream)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if num_samples is not None and (not isinstance(num_samples, numbers.Integral) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"got {num_samples!r}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        if self.replacement:
            rng = self.generator.rng if self.generator is not None else global_generator("cpu")
            return iter(rng.integers(0, n, self.num_samples).tolist())
        order = []
        while len(order) < self.num_samples:  # num_samples > n: several permutations, as torch
            order += randperm(n, generator=self.generator, device="cpu").tolist()
        return iter(order[:self.num_samples])

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"got {batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ------------------------------------------------------------------ collation
def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _numpy_to_tensor(array, what):
    if array.dtype.kind in "OSUV":
        raise TypeError(f"{what}: NumPy arrays of {array.dtype} cannot become tensors; batches must "
                        "contain tensors, numpy arrays, numbers, dicts or lists")
    return Tensor(array, device="cpu")


def default_collate(batch):
    """Samples -> one batch, as torch's default_collate: Tensors (and NumPy arrays) are stacked
    along a new dim 0; Python floats become a float64 tensor, ints int64 and bools bool; strings
    stay a list; dicts, tuples and lists are collated field by field (a tuple sample gives a list of
    batched fields, as in torch; a namedtuple stays one)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, (numpy.ndarray, numpy.generic)) and not isinstance(elem, (numpy.str_, numpy.bytes_)):
        if isinstance(elem, numpy.ndarray) and elem.ndim > 0:
            return default_collate([_numpy_to_tensor(b, "default_collate") for b in batch])
        return _numpy_to_tensor(numpy.array(batch), "default_collate")  # NumPy scalars keep their dtype
    if isinstance(elem, float):
        return tensor(batch, dtype=numpy.float64)
    if isinstance(elem, (bool, int)):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a Mapping whose constructor takes something else
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch, strict=True)]
        if isinstance(elem, tuple):
            return fields  # torch's choice, kept for compatibility: tuples come back as lists
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem)}")


def default_convert(data):
    """One sample as it is, but NumPy arrays (also inside dicts, tuples and lists) made Tensors, as
    torch's default_convert: the collate_fn of a DataLoader with batch_size=None."""
    if isinstance(data, numpy.ndarray) and data.dtype.kind not in "OSUV":
        return Tensor(data, device="cpu")
    if isinstance(data, collections.abc.Mapping):
        return type(data)({key: default_convert(value) for key, value in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


# ------------------------------------------------------------------ the loader
class DataLoader:
    """Batches of a dataset: ``for batch in DataLoader(dataset, batch_size=32, shuffle=True): ...``

    dataset       anything with __len__ and __getitem__(i)
    batch_size    samples per batch (default 1); None yields single samples, unbatched
    shuffle       a new random order on every pass (drawn from ``generator``)
    sampler       an iterable of indices to use instead of 0 .. N-1 (not with shuffle)
    batch_sampler an iterable of lists of indices, one list per batch (replaces batch_size,
                  shuffle, sampler and drop_last)
    collate_fn    list of samples -> batch (default: default_collate)
    drop_last     leave out the last batch when it is smaller than batch_size
    generator     a tg.Generator for the shuffle order (None: the global stream, tg.manual_seed)
    num_workers   must be 0: batches are made in this process
    len(loader) is the number of batches.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if num_workers > 0 or persistent_workers or prefetch_factor is not None:
            raise ValueError(f"DataLoader: num_workers={num_workers}: tensorgrad's DataLoader has no worker "
                             "processes and makes every batch in the calling process; pass num_workers=0 "
                             "(and no prefetch_factor or persistent_workers)")
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                             "shuffle, sampler, and drop_last")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a tg.Generator, got {type(generator).__name__}")
        if not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: {type(dataset).__name__} is not a map-style dataset "
                            "(it needs __getitem__ and __len__)")
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else batch_size
        self.shuffle = bool(shuffle)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.drop_last = drop_last
        self.generator = generator
        self.num_workers = 0
        self.pin_memory = pin_memory  # nothing to pin on NumPy; kept so code that reads it works
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        auto = default_collate if batch_size is not None or batch_sampler is not None else default_convert
        self.collate_fn = collate_fn if collate_fn is not None else auto

    def _indices(self):
        """The sample order of one pass."""
        if self.sampler is not None:
            return self.sampler
        if self.shuffle:
            return RandomSampler(self.dataset, generator=self.generator)
        return SequentialSampler(self.dataset)

    def _batches(self):
        """The lists of indices of one pass, one list per batch."""
        if self.batch_sampler is not None:
            return self.batch_sampler
        return BatchSampler(self._indices(), self.batch_size, self.drop_last)

    def __iter__(self):
        dataset, collate = self.dataset, self.collate_fn
        if self.batch_size is None and self.batch_sampler is None:
            for i in self._indices():
                yield collate(dataset[i])
            return
        for indices in self._batches():
            yield collate([dataset[i] for i in indices])

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})")
