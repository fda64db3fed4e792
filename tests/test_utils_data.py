"""tensorgrad.utils.data: Dataset, TensorDataset, DataLoader, random_split, default_collate and
tg.randperm, with torch.utils.data's semantics. Where torch is installed the same index order gives
the same batches in both, and the same calls raise."""

import collections
import warnings

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.utils.data
from tensorgrad.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)

try:
    import torch
    import torch.utils.data as torch_data
except ImportError:
    torch = torch_data = None

with_torch = pytest.mark.skipif(torch is None, reason="the torch side needs torch")


def _xy(n=10):
    x = tg.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return x, tg.arange(n)


# ------------------------------------------------------------------ randperm / Generator
def test_randperm_is_a_permutation_of_int64():
    p = tg.randperm(50)
    assert p.dtype == np.int64 and p.shape == (50,)
    assert sorted(p.tolist()) == list(range(50))


def test_randperm_with_a_seeded_generator_repeats():
    a = tg.randperm(20, generator=tg.Generator().manual_seed(3)).tolist()
    b = tg.randperm(20, generator=tg.Generator().manual_seed(3)).tolist()
    c = tg.randperm(20, generator=tg.Generator().manual_seed(4)).tolist()
    assert a == b and a != c


def test_randperm_without_generator_follows_manual_seed():
    tg.manual_seed(7)
    a = tg.randperm(20).tolist()
    tg.manual_seed(7)
    assert tg.randperm(20).tolist() == a


def test_generator_manual_seed_returns_the_generator_and_refuses_negative_seeds():
    g = tg.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    with pytest.raises(ValueError, match="non-negative int"):
        g.manual_seed(-1)


def test_randperm_refuses_a_negative_n():
    with pytest.raises(ValueError, match="randperm: n must be a non-negative int"):
        tg.randperm(-1)


# ------------------------------------------------------------------ datasets
def test_tensor_dataset_gives_rows_as_tuples():
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[4]
    assert xi.tolist() == [12.0, 13.0, 14.0] and yi.item() == 4


def test_tensor_dataset_refuses_tensors_of_different_lengths():
    with pytest.raises(ValueError, match=r"size mismatch between tensors.*\[10, 9\]"):
        TensorDataset(tg.zeros(10, 2), tg.zeros(9))


def test_a_dataset_subclass_without_getitem_says_what_to_write():
    with pytest.raises(NotImplementedError, match="must define __getitem__"):
        Dataset()[0]


def test_subset_and_concat_index_through():
    x, y = _xy()
    ds = TensorDataset(x, y)
    sub = Subset(ds, [9, 0])
    assert len(sub) == 2 and sub[0][1].item() == 9
    both = ds + sub
    assert isinstance(both, ConcatDataset) and len(both) == 12
    assert both[10][1].item() == 9 and both[-1][1].item() == 0


# ------------------------------------------------------------------ the loader
def test_loader_batches_in_order_with_a_smaller_last_batch():
    x, y = _xy()
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 3)


def test_drop_last_leaves_out_the_short_batch_and_len_counts_batches():
    ds = TensorDataset(*_xy())
    assert len(DataLoader(ds, batch_size=4)) == 3
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2 and [yb.tolist() for _, yb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_with_a_seeded_generator_repeats_and_covers_every_sample():
    ds = TensorDataset(*_xy(20))
    runs = [[yb.tolist() for _, yb in DataLoader(ds, batch_size=6, shuffle=True,
                                                 generator=tg.Generator().manual_seed(1))]
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert sorted(sum(runs[0], [])) == list(range(20)) and runs[0][0] != [0, 1, 2, 3, 4, 5]


def test_shuffle_draws_a_new_order_every_pass():
    loader = DataLoader(TensorDataset(*_xy(20)), batch_size=20, shuffle=True,
                        generator=tg.Generator().manual_seed(1))
    first, second = ([yb.tolist() for _, yb in loader] for _ in range(2))
    assert first != second


def test_worker_processes_are_refused_clearly():
    with pytest.raises(ValueError, match="num_workers=2: tensorgrad's DataLoader has no worker processes"):
        DataLoader(TensorDataset(*_xy()), num_workers=2)


def test_bad_batch_size_and_sampler_with_shuffle_are_refused():
    ds = TensorDataset(*_xy())
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)


def test_sampler_and_batch_sampler_choose_the_indices():
    ds = TensorDataset(*_xy())
    assert [yb.tolist() for _, yb in DataLoader(ds, batch_size=2, sampler=[9, 8, 7])] == [[9, 8], [7]]
    assert [yb.tolist() for _, yb in DataLoader(ds, batch_sampler=[[1, 5], [2]])] == [[1, 5], [2]]


def test_batch_size_none_yields_single_samples_with_arrays_made_tensors():
    class Arrays(Dataset):
        def __getitem__(self, i):
            return np.full(2, i), i

        def __len__(self):
            return 3

    samples = list(DataLoader(Arrays(), batch_size=None))
    assert isinstance(samples[0][0], tg.Tensor) and samples[2][0].tolist() == [2, 2] and samples[2][1] == 2


def test_import_forms_work():
    assert tensorgrad.utils.data.DataLoader is DataLoader and tg.utils.data.random_split is random_split


# ------------------------------------------------------------------ collate
Pair = collections.namedtuple("Pair", ["a", "b"])


def test_default_collate_stacks_and_converts_as_torch_does():
    out = default_collate([(np.ones(2, np.float64), 1.5, 3, True, "s"), (np.zeros(2, np.float64), 2.5, 4,
                                                                        False, "t")])
    assert isinstance(out, list)  # a tuple sample gives a list of fields, as in torch
    arr, floats, ints, bools, strs = out
    assert arr.dtype == np.float64 and arr.shape == (2, 2)
    assert floats.dtype == np.float64 and ints.dtype == np.int64 and bools.dtype == np.bool_
    assert strs == ["s", "t"]


def test_default_collate_keeps_dicts_and_namedtuples():
    out = default_collate([{"x": tg.ones(2), "n": Pair(1, 2.0)}, {"x": tg.zeros(2), "n": Pair(3, 4.0)}])
    assert out["x"].shape == (2, 2)
    assert isinstance(out["n"], Pair) and out["n"].a.tolist() == [1, 3]


def test_default_collate_refuses_ragged_lists_and_unknown_types():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers"):
        default_collate([object(), object()])


def test_collated_tensors_keep_their_gradient_path():
    w = tg.ones(3, requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    batch.sum().backward()
    assert np.asarray(w.grad).tolist() == [5.0, 5.0, 5.0]


# ------------------------------------------------------------------ random_split
def test_random_split_by_counts_partitions_the_dataset():
    ds = TensorDataset(*_xy(10))
    parts = random_split(ds, [7, 3], generator=tg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [7, 3]
    ids = sorted(i for p in parts for i in p.indices)
    assert ids == list(range(10))


def test_random_split_by_fractions_gives_the_remainder_to_the_first_splits():
    ds = TensorDataset(*_xy(10))
    assert [len(p) for p in random_split(ds, [0.33, 0.33, 0.34])] == [4, 3, 3]


def test_random_split_refuses_lengths_that_do_not_add_up():
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\) does not equal the length"):
        random_split(TensorDataset(*_xy(10)), [5, 4])


def test_random_split_with_one_seed_repeats():
    ds = TensorDataset(*_xy(10))
    a = random_split(ds, [5, 5], generator=tg.Generator().manual_seed(2))
    b = random_split(ds, [5, 5], generator=tg.Generator().manual_seed(2))
    assert a[0].indices == b[0].indices


# ------------------------------------------------------------------ against torch
def _torch_pair(n=10):
    x = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)
    return x, torch.arange(n)


@with_torch
@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (4, True), (10, False)])
def test_same_index_order_gives_the_same_batches_as_torch(batch_size, drop_last):
    order = [3, 1, 4, 0, 9, 2, 6, 5, 8, 7]
    ours = DataLoader(TensorDataset(*_xy()), batch_size=batch_size, drop_last=drop_last, sampler=order)
    theirs = torch_data.DataLoader(torch_data.TensorDataset(*_torch_pair()), batch_size=batch_size,
                                   drop_last=drop_last, sampler=order)
    assert len(ours) == len(theirs)
    for (xa, ya), (xb, yb) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
        assert xa.dtype == xb.numpy().dtype and ya.dtype == yb.numpy().dtype


@with_torch
def test_default_collate_matches_torchs_types_and_values():
    samples = [(np.arange(3, dtype=np.int32), 0.5, 7, True, np.float64(2.5), {"k": [1, 2]}),
               (np.arange(3, 6, dtype=np.int32), 1.5, 8, False, np.float64(3.5), {"k": [3, 4]})]

    def flat(x):
        if isinstance(x, dict):
            return {k: flat(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(flat(v) for v in x)
        return (str(np.asarray(x).dtype), np.asarray(x).tolist())

    theirs = torch_data.default_collate(samples)
    ours = default_collate(samples)

    def convert(x):
        if isinstance(x, dict):
            return {k: convert(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(convert(v) for v in x)
        return x.numpy() if hasattr(x, "numpy") else x

    assert flat(convert(ours)) == flat(convert(theirs))


@with_torch
@pytest.mark.parametrize("lengths", [[7, 3], [0.5, 0.5], [0.33, 0.33, 0.34], [0.1, 0.2, 0.7], [0.25, 0.75]])
def test_random_split_sizes_match_torch(lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [len(p) for p in random_split(TensorDataset(*_xy(10)), lengths)]
        torch_ds = torch_data.TensorDataset(*_torch_pair(10))
        theirs = [len(p) for p in torch_data.random_split(torch_ds, lengths)]
    assert ours == theirs


@with_torch
def test_the_same_calls_raise_as_in_torch():
    with pytest.raises(ValueError):
        torch_data.random_split(torch_data.TensorDataset(*_torch_pair(10)), [5, 4])
    with pytest.raises(ValueError):
        torch_data.DataLoader(torch_data.TensorDataset(*_torch_pair()), batch_size=0)
    with pytest.raises(ValueError):
        torch_data.DataLoader(torch_data.TensorDataset(*_torch_pair()), sampler=[0], shuffle=True)
    with pytest.raises(AssertionError):  # torch asserts, we raise ValueError with the sizes
        torch_data.TensorDataset(torch.zeros(10, 2), torch.zeros(9))
    with pytest.raises(RuntimeError):
        torch_data.default_collate([[1, 2], [3]])


@with_torch
def test_randperm_matches_torchs_dtype_and_shape():
    ours, theirs = tg.randperm(6), torch.randperm(6)
    assert ours.dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape)


# ------------------------------------------------------------------ samplers
def test_random_sampler_draws_a_permutation_and_batch_sampler_cuts_it():
    from tensorgrad.utils.data import BatchSampler, RandomSampler, SequentialSampler

    ds = TensorDataset(*_xy(10))
    order = list(RandomSampler(ds, generator=tg.Generator().manual_seed(0)))
    assert sorted(order) == list(range(10))
    batches = list(BatchSampler(SequentialSampler(ds), 4, drop_last=False))
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(BatchSampler(range(10), 4, drop_last=True)) == 2
    draws = list(RandomSampler(ds, replacement=True, num_samples=25, generator=tg.Generator().manual_seed(0)))
    assert len(draws) == 25 and all(0 <= i < 10 for i in draws)


def test_loader_with_a_random_sampler_as_the_seq2seq_tutorial_builds_it():
    from tensorgrad.utils.data import RandomSampler

    ds = TensorDataset(*_xy(10))
    loader = DataLoader(ds, sampler=RandomSampler(ds), batch_size=4)
    assert len(loader) == 3 and sorted(sum((yb.tolist() for _, yb in loader), [])) == list(range(10))


@with_torch
def test_sampler_lengths_match_torch():
    from tensorgrad.utils.data import BatchSampler, RandomSampler

    for n, bs, drop in [(10, 4, False), (10, 4, True), (8, 4, True)]:
        assert len(BatchSampler(range(n), bs, drop)) == len(torch_data.BatchSampler(range(n), bs, drop))
        assert list(BatchSampler(range(n), bs, drop)) == list(torch_data.BatchSampler(range(n), bs, drop))
    theirs = torch_data.RandomSampler(range(7), num_samples=12)
    assert len(RandomSampler(range(7), num_samples=12)) == len(theirs) == len(list(theirs))
