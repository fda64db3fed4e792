"""The simulated GPU (tensorgrad.testing): CuPy's refusals, op counting, and the engine, layers and
training loop running on it with the CPU's numbers.

A failure here on code that passes on the CPU means an array was allocated
with numpy (or converted to the host implicitly) where the tensor's array
module should have been used: the same code fails on a real GPU.
"""

import copy

import numpy as np
import pytest

import rnn
import tensorgrad as tg
import tensorgrad.functional as F
from rnn import cli
from rnn.lm import CharLM
from tensorgrad import backend
from tensorgrad.testing import SimArray, count_ops, simulated_device, xp

HOST_MIX = r"Unsupported type <class 'numpy\.ndarray'>"
IMPLICIT = r"Implicit conversion to a NumPy array is not allowed\. Please use `\.get\(\)`"


# ------------------------------------------------------------- CuPy's refusals
@pytest.mark.parametrize("mix", [
    lambda a, h: a + h, lambda a, h: h + a, lambda a, h: a * h[0:1], lambda a, h: a @ h,
    lambda a, h: xp.concatenate([a, h]), lambda a, h: xp.where(a > 0, a, h), lambda a, h: np.maximum(a, h),
    lambda a, h: a + np.asarray(1.0),  # a 0-d host array is a host array too, as in CuPy
], ids=["op", "reflected-op", "slice", "matmul", "concatenate", "where", "numpy-ufunc", "0-d"])
def test_mixing_with_a_host_array_raises_cupys_type_error(mix):
    with pytest.raises(TypeError, match=HOST_MIX + ".*get_array_module"):
        mix(xp.ones(3), np.ones(3))


def test_assigning_a_host_array_into_a_device_array_raises():
    a = xp.zeros((2, 3))
    with pytest.raises(TypeError, match=HOST_MIX):
        a[0] = np.ones(3)


def test_python_and_numpy_scalars_mix_freely():
    a = xp.arange(3.0)
    for result in (a + 1, 2.0 * a, a * np.float32(2), np.float64(1) - a, a ** 2, -a, abs(a)):
        assert type(result) is SimArray


@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda a: np.testing.assert_allclose(a, 0.0),
                                     lambda a: np.asarray([a, a])],
                         ids=["asarray", "array", "testing", "list"])
def test_implicit_host_conversion_raises_like_cupy(convert):
    with pytest.raises(TypeError, match=IMPLICIT):
        convert(xp.zeros(3))


def test_explicit_copies_reach_the_host():
    a = xp.asarray(np.array([[1.5, 2.0]]))
    host = a.get()
    assert type(host) is np.ndarray and host.tolist() == [[1.5, 2.0]]
    assert type(xp.asnumpy(a)) is np.ndarray and a.tolist() == [[1.5, 2.0]]
    assert a[0, 0].item() == 1.5 and float(a[0, 1]) == 2.0 and int(a.sum()) == 3 and bool(a.all())
    host[0, 0] = 9.0  # a copy: the device array keeps its value
    assert a[0, 0].item() == 1.5


def test_numpy_functions_on_device_arrays_stay_on_the_device():
    h = np.arange(6.0).reshape(2, 3)
    a = xp.asarray(h)
    for device, host in [(np.exp(a), np.exp(h)), (np.sum(a, axis=0), np.sum(h, axis=0)),
                         (np.concatenate([a, a]), np.concatenate([h, h])), (a.sum(), h.sum()),
                         (np.moveaxis(a, 0, 1), np.moveaxis(h, 0, 1)), (a.max(axis=1), h.max(axis=1)),
                         (xp.einsum("ij,kj->ik", a, a), np.einsum("ij,kj->ik", h, h))]:
        assert type(device) is SimArray  # a reduction to one number too: a 0-d array, as in CuPy
        np.testing.assert_array_equal(device.get(), host)


def test_copies_stay_on_the_device_and_no_copy_means_the_same_array():
    a = xp.ones(3)
    assert a.astype(a.dtype, copy=False) is a and xp.asarray(a) is a
    for b in (copy.copy(a), copy.deepcopy(a), a.copy(), xp.array(a)):
        assert type(b) is SimArray
        b[0] = 5.0
        assert a[0].item() == 1.0


def test_host_index_arrays_are_copied_over_as_in_cupy():
    a = xp.arange(4.0)
    with count_ops() as ops:
        picked = a[np.array([3, 0, 0])]
    assert picked.tolist() == [3.0, 0.0, 0.0] and ops.by_name["host_to_device"] == 1


def test_integer_host_arrays_may_give_axes_and_shapes():
    a = xp.zeros((2, 3, 4))
    assert a.transpose(np.argsort([2, 0, 1])).shape == (3, 4, 2)
    assert xp.zeros(np.array([2, 5])).shape == (2, 5)


def test_cupy_only_names_are_refused_with_a_clear_error():
    with pytest.raises(AttributeError, match="no tensorgrad.testing.xp.ElementwiseKernel.*CuPy-only"):
        xp.ElementwiseKernel(" T x", "T y", "y = x", "copy")


def test_get_array_module_tells_device_arrays_from_host_arrays():
    assert xp.get_array_module(xp.zeros(1), 2.0) is xp
    assert xp.get_array_module(np.zeros(1)) is np


def test_the_random_generator_draws_numpys_stream_on_the_device():
    draws = xp.random.default_rng(7).standard_normal((2, 3), dtype=np.float32)
    assert type(draws) is SimArray
    expected = np.random.default_rng(7).standard_normal((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(draws.get(), expected)


# ------------------------------------------------------------------- counting
def test_count_ops_counts_each_kernel_by_name():
    with count_ops() as ops:
        a = xp.ones((2, 3))
        b = a * 2 + 1
        b.sum(axis=0)
    assert ops.by_name == {"ones": 1, "multiply": 1, "add": 1, "sum": 1} and ops.total == 4


def test_views_cost_no_kernel():
    a = xp.ones((2, 3))
    with count_ops() as ops:
        a.reshape(3, 2), a.T, a[1], a[:, 1:], a.transpose(1, 0), a.astype(a.dtype, copy=False)
    assert ops.total == 0


def test_in_place_writes_are_counted():
    a = xp.zeros((3, 2))
    with count_ops() as ops:
        a += 1
        a[0] = 2.0
        xp.add.at(a, xp.asarray([0, 0]), a[1])
        xp.copyto(a, a[::-1].copy())
    assert ops.by_name == {"add": 1, "setitem": 1, "host_to_device": 1, "add.at": 1, "copy": 1, "copyto": 1}


def test_copies_between_host_and_device_are_counted_both_ways():
    with count_ops() as ops:
        a = xp.asarray(np.zeros(3))
        a.get(), xp.asnumpy(a), a.sum().item()
    assert ops.by_name == {"host_to_device": 1, "device_to_host": 3, "sum": 1}


def test_nested_counters_each_see_what_ran_inside_them():
    with count_ops() as outer:
        xp.ones(2)
        with count_ops() as inner:
            xp.zeros(2)
    assert outer.total == 2 and inner.total == 1


def _lstm_step_ops(T, B):
    """Array ops of one LSTM forward + backward over (T, B): kernel launches on a GPU."""
    with simulated_device():
        tg.manual_seed(0)
        layer = rnn.LSTM(3, 4, device="cuda")
        x = tg.randn(T, B, 3, device="cuda")
        with count_ops() as ops:
            out, _ = layer(x)
            out.sum().backward()
    return ops.total


def test_ops_per_step_grow_with_the_sequence_length_not_the_batch():
    assert _lstm_step_ops(4, 2) == _lstm_step_ops(4, 16)
    assert _lstm_step_ops(8, 2) > _lstm_step_ops(4, 2)


# ------------------------------------------------------------------- the device
def test_the_simulated_device_poses_as_cuda(simulated_gpu):
    assert tg.cuda_available()
    t = tg.tensor([1.0, 2.0], device="cuda")
    assert t.device == "cuda" and type(t.array) is SimArray
    for made in (tg.randn(2, device="cuda"), tg.zeros(2, device="cuda"), tg.ones(2, device="cuda")):
        assert type(made.array) is SimArray
    assert tg.tensor([1.0]).device == "cpu"  # the default device stays the CPU
    layer = tg.nn.Linear(2, 3).to("cuda")
    assert all(type(p.array) is SimArray for p in layer.parameters())
    assert all(type(v) is np.ndarray for v in layer.state_dict().values())  # checkpoints are host arrays


def test_the_real_backend_comes_back_after_the_block():
    before = backend._cupy
    with simulated_device():
        tg.set_backend("cupy")
        tg.randn(2)
    assert backend._cupy is before and tg.get_backend() == "numpy" and "cuda" not in tg.random._generators


def test_moving_to_the_device_and_back_keeps_values_and_gradients(simulated_gpu):
    x = tg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = (x.to("cuda") * 3.0).tanh().to("cpu").sum()
    y.backward()
    assert type(x.grad.array) is np.ndarray
    np.testing.assert_allclose(x.grad, 3 * (1 - np.tanh(3 * np.array([1.0, -2.0])) ** 2), rtol=1e-12)


def test_cpu_and_device_tensors_do_not_mix(simulated_gpu):
    with pytest.raises(tg.DeviceError, match="Add: tensors on different devices.*'cuda'.*'cpu'"):
        tg.tensor([1.0], device="cuda") + tg.tensor([1.0])


def _engine_workout(device):
    """Most engine ops, forward and backward, on float64 inputs; returns the values and gradients."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True, device=device)
    w = tg.tensor(rng.standard_normal((3, 5)), requires_grad=True, device=device)
    h = (x @ w).tanh() * x.sum(axis=1, keepdims=True).sigmoid() + (x.exp() + 1).log().mean()
    picked = h[[0, 0, 3]] + h[1:2, ::2].max() - h.transpose(1, 0)[:, [2, 0, 1]].reshape(3, 5) / 2
    both = tg.concat([picked, tg.stack([h[0], h[2]], axis=0)], axis=0)
    gated = tg.where(both > 0, both, both * 0.1)
    loss = F.cross_entropy(gated, np.array([0, 4, 2, 1, 3])) + F.mse_loss(F.softmax(gated, dim=1), gated * 0)
    loss = loss + F.embedding(np.array([[1, 3]]), w.T).sum() + (F.relu(x) ** 2).sum() / 7
    loss.backward()
    return [loss.numpy(), x.grad.array, w.grad.array]


def test_engine_ops_and_backward_give_the_cpu_numbers(simulated_gpu):
    cpu = _engine_workout("cpu")
    device = _engine_workout("cuda")
    assert all(type(b) is SimArray for b in device[1:])
    for a, b in zip(cpu, device, strict=True):
        np.testing.assert_allclose(tg.tensor(b).numpy(), a, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------ recurrent layers
LAYER_CASES = {
    "plain": (dict(), dict()),
    "lengths": (dict(), dict(lengths=[3, 1, 2])),
    "bidirectional": (dict(bidirectional=True), dict(lengths=[2, 3, 3])),
    "two-layers": (dict(num_layers=2, batch_first=True), dict()),
}


def _run_layer(kind, options, call, device):
    tg.manual_seed(0)
    layer = getattr(rnn, kind)(3, 4, dtype=np.float64, **options).to(device)
    x = tg.tensor(np.random.default_rng(1).standard_normal((3, 3, 3)), requires_grad=True, device=device)
    out, finals = layer(x, **call)
    finals = finals if isinstance(finals, tuple) else (finals,)
    (out.sum() + sum((f * f).sum() for f in finals)).backward()
    return [out, *finals, tg.tensor(x.grad)] + [tg.tensor(p.grad) for p in layer.parameters()]


@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layer_forward_and_backward_give_the_cpu_numbers(simulated_gpu, kind, case):
    options, call = LAYER_CASES[case]
    cpu = _run_layer(kind, options, call, "cpu")
    device = _run_layer(kind, options, call, "cuda")
    for a, b in zip(cpu, device, strict=True):
        assert type(b.array) is SimArray
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_give_the_cpu_numbers(simulated_gpu, kind):
    results = []
    for device in ("cpu", "cuda"):
        tg.manual_seed(0)
        cell = getattr(rnn, kind)(3, 4, dtype=np.float64).to(device)
        x = tg.tensor(np.random.default_rng(1).standard_normal((2, 3)), requires_grad=True, device=device)
        state = cell(x)
        h = state[0] if isinstance(state, tuple) else state
        h.sum().backward()
        results.append([h.numpy(), x.grad.numpy()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------- training loop
def test_charlm_loss_takes_targets_on_the_device(simulated_gpu):
    model = CharLM(5, 4, embedding_size=3).to("cuda")
    ids = tg.tensor(np.array([[1, 2], [3, 4]]), device="cuda")
    logits, _ = model(ids)
    assert np.isfinite(model.loss(logits, ids).item())



TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 12
TINY = ["--hidden", "8", "--embedding", "4", "--bptt", "6", "--batch-size", "3", "--eval-every", "2",
        "--no-progress", "--valid-fraction", "0.2", "--valid-chars", "60", "--layers", "2"]


def _train(tmp_path, device, *extra):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT, encoding="utf-8")
    out = tmp_path / device
    assert cli.main(["train", "--data", str(data), "--out", str(out), "--device", device, *TINY, *extra]) == 0
    return out


def test_cli_training_on_the_device_gives_the_cpu_losses_and_weights(simulated_gpu, tmp_path, capsys):
    constant = ["--lr-schedule", "constant"]  # 2 + resume to 4 steps = 4 steps at a constant lr
    cpu = _train(tmp_path, "cpu", "--steps", "4", *constant)
    cpu_log = capsys.readouterr().out
    device = _train(tmp_path, "cuda", "--steps", "2", *constant)
    assert cli.main(["train", "--out", str(device), "--resume", "--steps", "4", "--no-progress",
                     "--eval-every", "2", "--valid-chars", "60"]) == 0  # resumed on the device
    device_log = capsys.readouterr().out

    def validation_loss_at_step_4(log):  # the last column of the final table's row for step 4
        return [line.split()[-1] for line in log.splitlines() if line.startswith("   4 ")]

    assert validation_loss_at_step_4(device_log) == validation_loss_at_step_4(cpu_log) != []
    a, b = tg.load(cpu / "latest.npz")["model"], tg.load(device / "latest.npz")["model"]
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-6, atol=1e-7, err_msg=name)
