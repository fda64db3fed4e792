"""The char-LM trainer and sampler against a PyTorch twin of the same loop (chars/s, paired ratios).

    python benchmarks/charlm.py [--threads 1] [--rounds 15] [--model lstm|gru|rnn] [--hidden 256]
                                [--layers 1] [--embedding 64] [--bptt 64] [--batch-size 32]

* trainer: one TBPTT update of ``python -m rnn train``'s default configuration
  (tiny Shakespeare, LSTM 1x256, embedding 64, batch 32 x bptt 64, Adam 3e-3,
  gradient clipping at 1.0) run by ``rnn.bptt.tbptt``, against the same loop in
  torch (nn.Embedding -> nn.LSTM -> nn.Linear, the same initial weights, data
  order, torch.optim.Adam and clip_grad_norm_). Ratios are medians of per-round
  paired ratios, the two interleaved round-robin. After the timed rounds both
  models have trained on the same chunks, and their validation losses are
  printed side by side: they agree to ~3 digits (float32 rounding apart).
* faults: minor page faults (ru_minflt) per trainer update of ours after warm-up.
* sampling: characters per second of ``rnn.lm.sample`` against the same loop on
  the torch twin (one character per call, softmax, numpy's rng.choice), both
  from the same state.

torch is optional: without it only our numbers are printed.
"""

import argparse
import os
import resource
import sys
import time


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP / torch threads (default 1)")
    parser.add_argument("--rounds", type=int, default=15, help="timed trainer updates each (median shown)")
    parser.add_argument("--model", default="lstm", choices=["lstm", "gru", "rnn"])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sample-length", type=int, default=500, help="characters per sampling round")
    return parser.parse_args()


ARGS = _parse()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tensorgrad as tg  # noqa: E402
from rnn import data  # noqa: E402
from rnn.bptt import evaluate, tbptt  # noqa: E402
from rnn.lm import CharLM, sample  # noqa: E402

try:
    import torch
    torch.set_num_threads(ARGS.threads)
except ImportError:
    torch = None


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def build_ours(vocab):
    tg.manual_seed(0)
    model = CharLM(len(vocab), ARGS.hidden, ARGS.layers, ARGS.model, ARGS.embedding)
    return model, tg.optim.Adam(model.parameters(), lr=3e-3)


def build_torch(ours):
    """The twin: the same architecture in torch.nn, with our initial weights."""
    class TorchCharLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(ours.vocab_size, ARGS.embedding)
            self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[ARGS.model](
                ARGS.embedding, ARGS.hidden, num_layers=ARGS.layers)
            self.head = torch.nn.Linear(ARGS.hidden, ours.vocab_size)

        def forward(self, ids, state=None):
            hidden, state = self.rnn(self.embed(ids), state)
            return self.head(hidden), state

    twin = TorchCharLM()
    twin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    return twin, torch.optim.Adam(twin.parameters(), lr=3e-3)


def torch_updates(model, optimizer, inputs, targets, k):
    """The torch twin of ``tbptt(...)`` with k1 = k2 = k and clip 1.0: yields after every update."""
    state = None
    for a in range(0, len(inputs), k):
        x = torch.from_numpy(inputs[a:a + k])
        y = torch.from_numpy(targets[a:a + k]).reshape(-1)
        logits, state = model(x, state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        yield loss.item()


def torch_valid_loss(model, inputs, targets, k):
    total, state = 0.0, None
    with torch.no_grad():
        for a in range(0, len(inputs), k):
            logits, state = model(torch.from_numpy(inputs[a:a + k]), state)
            y = torch.from_numpy(targets[a:a + k]).reshape(-1)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y).item() \
                * len(inputs[a:a + k])
    return total / len(inputs)


def torch_sample(model, vocab, length, temperature, rng):
    """The same sampling loop as rnn.lm.sample, on the torch twin."""
    ids = np.concatenate([vocab.encode("\n\n"), vocab.encode("\n")])
    out = []
    with torch.no_grad():
        logits, state = model(torch.from_numpy(ids[:, None]))
        for _ in range(length):
            scores = logits[-1, 0].numpy().astype(np.float64) / temperature
            p = np.exp(scores - scores.max())
            next_id = int(rng.choice(len(p), p=p / p.sum()))
            out.append(next_id)
            logits, state = model(torch.tensor([[next_id]]), state)
    return vocab.decode(np.array(out, dtype=np.int64))


def main():
    text = data.load_text("tinyshakespeare")
    vocab = data.Vocabulary.from_text(text)
    train_ids, valid_ids = data.train_valid_split(vocab.encode(text), 0.1)
    stream = data.batchify(train_ids, ARGS.batch_size)
    inputs, targets = stream[:-1], stream[1:]
    valid = data.batchify(valid_ids[:20_000], 16)
    k = ARGS.bptt
    chars_per_update = k * ARGS.batch_size

    ours, optimizer = build_ours(vocab)
    contenders = {"ours": iter(tbptt(lambda x, h: ours(tg.tensor(x), h), ours.loss, inputs, targets,
                                     optimizer, k1=k, clip=1.0))}
    if torch is not None:
        twin, twin_opt = build_torch(ours)
        contenders["torch"] = torch_updates(twin, twin_opt, inputs, targets, k)
    print(f"threads: {ARGS.threads}; {ARGS.model.upper()} {ARGS.layers}x{ARGS.hidden}, embedding "
          f"{ARGS.embedding}, batch {ARGS.batch_size} x bptt {k}, {len(vocab)} characters"
          + ("" if torch is not None else "; torch not installed: ours only"))

    # ---------------------------------------------------------------- trainer
    for updates in contenders.values():  # warm-up: two updates each
        next(updates), next(updates)
    times = {name: [] for name in contenders}
    faults = []
    for _ in range(ARGS.rounds):
        for name, updates in contenders.items():
            before, start = minor_faults(), time.perf_counter()
            next(updates)
            times[name].append(time.perf_counter() - start)
            if name == "ours":
                faults.append(minor_faults() - before)
    for name, ts in times.items():
        print(f"trainer {name:5}: {1e3 * np.median(ts):7.1f} ms per update, "
              f"{chars_per_update / np.median(ts):8.0f} chars/s")
    if "torch" in times:
        print(f"trainer ours/torch per update: {np.median(np.divide(times['ours'], times['torch'])):.2f} "
              "(median of paired ratios)")
    print(f"minor page faults per update of ours after warm-up: median {int(np.median(faults))}, "
          f"max {max(faults)}")
    n = 2 + ARGS.rounds
    ours_valid, _ = evaluate(lambda x, h: ours(tg.tensor(x), h), ours.loss, valid[:-1], valid[1:], k)
    line = f"validation loss after {n} updates: ours {ours_valid:.4f}"
    if torch is not None:
        line += f", torch {torch_valid_loss(twin, valid[:-1], valid[1:], k):.4f}"
    print(line)

    # --------------------------------------------------------------- sampling
    samplers = {"ours": lambda: sample(ours, vocab, ARGS.sample_length, temperature=0.8,
                                       rng=np.random.default_rng(0))}
    if torch is not None:
        twin.eval()
        samplers["torch"] = lambda: torch_sample(twin, vocab, ARGS.sample_length, 0.8,
                                                 np.random.default_rng(0))
    for fn in samplers.values():
        fn()
    stimes = {name: [] for name in samplers}
    for _ in range(5):
        for name, fn in samplers.items():
            start = time.perf_counter()
            fn()
            stimes[name].append(time.perf_counter() - start)
    for name, ts in stimes.items():
        print(f"sampling {name:5}: {ARGS.sample_length / np.median(ts):8.0f} chars/s")
    if "torch" in stimes:
        print(f"sampling ours/torch chars/s: {np.median(np.divide(stimes['torch'], stimes['ours'])):.2f} "
              "(median of paired ratios)")


if __name__ == "__main__":
    main()
