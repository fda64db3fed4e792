"""Flip single bits in real trainer checkpoints and count what each loading path makes of them (issue 19).

    PYTHONPATH=$PWD python3 tools/bitflip_sweep.py [--flips-per-file 1600] [--seed 0]

Three checkpoints of different sizes are trained on the first 4,000 characters
of the shipped corpus. Every flipped copy is then read three ways:

    tg.load       the library: refused (CheckpointError), loaded equal to the
                  original, loaded *different* (a silent partial or wrong load),
                  or any other exception (a raw traceback);
    sample        `python3 -m rnn sample FILE`: exit 0, or refused in one
                  "error:" line (exit 1 or 2), or an exception out of main;
    --resume      `python3 -m rnn train --out DIR --resume` for one more step,
                  classified the same way.

Half the flips land anywhere in the file (most hit array data, which the
checksum catches); the other half land in the bytes that describe the file
(zip headers and directory, .npy headers, the structure JSON), where a
damaged container could hide members or mislead the parser. The requirement:
0 raw tracebacks and 0 silent loads on every path. Prints one table; exits 1
if the requirement fails.
"""

import argparse
import collections
import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import zipfile

import numpy as np

import tensorgrad as tg
from rnn import cli, data
from tensorgrad.io import states_equal

SIZES = {"small": ["--hidden", "8", "--embedding", "4"],
         "medium": ["--hidden", "32", "--embedding", "8", "--layers", "2", "--model", "gru"],
         "large": ["--hidden", "96", "--embedding", "16"]}
RUN = ["--bptt", "8", "--batch-size", "4", "--steps", "4", "--eval-every", "2", "--valid-chars", "300",
       "--no-progress", "--threads", "1"]


def _descriptive_bytes(path):
    """Offsets of the bytes that describe the file rather than hold array data."""
    raw = open(path, "rb").read()
    offsets = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                np.lib.format.read_magic(member)
                np.lib.format.read_array_header_1_0(member)
                header = member.tell()
            local = raw[info.header_offset:info.header_offset + 30]
            n, m = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
            data_start = info.header_offset + 30 + n + m
            whole = info.filename.startswith("__")  # the structure and checksum members: all of them
            offsets += range(info.header_offset, data_start + (info.file_size if whole else header))
        offsets += range(archive.start_dir, len(raw))
    return offsets


def _run_cli(argv):
    """(outcome, detail) of cli.main(argv) with its output captured."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    except Exception as exc:  # noqa: BLE001 (what the sweep is looking for)
        return "raw traceback", f"{type(exc).__name__}: {exc}"
    message = err.getvalue().strip()
    if code == 0:
        return "ok", ""
    if code in (1, 2) and message.startswith("error:") and "\n" not in message and "Traceback" not in message:
        return "refused", message
    return "raw traceback", f"exit {code}: {message[-300:]}"


def sweep(flips_per_file, seed):
    rnd = random.Random(seed)
    work = tempfile.mkdtemp(prefix="bitflips.")
    text = os.path.join(work, "tiny.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write(data.load_corpus("tinyshakespeare")[:4000])
    counts = collections.Counter()
    examples = {}
    for size, options in SIZES.items():
        run = os.path.join(work, size)
        code, detail = _run_cli(["train", "--data", text, "--out", run, *options, *RUN])
        assert code == "ok", detail
        original_path = os.path.join(run, "latest.npz")
        original_bytes = open(original_path, "rb").read()
        original = tg.load(original_path)
        descriptive = _descriptive_bytes(original_path)
        print(f"{size}: {len(original_bytes):,} bytes, {len(descriptive):,} descriptive", flush=True)
        target = os.path.join(work, "target")
        for k in range(flips_per_file):
            where = "anywhere" if k % 2 == 0 else "descriptive"
            byte = rnd.randrange(len(original_bytes)) if where == "anywhere" else rnd.choice(descriptive)
            flipped = bytearray(original_bytes)
            flipped[byte] ^= 1 << rnd.randrange(8)
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(target)
            path = os.path.join(target, "latest.npz")
            with open(path, "wb") as f:
                f.write(flipped)
            # tg.load
            try:
                loaded = tg.load(path)
                outcome = "loaded equal" if states_equal(original, loaded) else "SILENT DIFFERENT LOAD"
            except tg.CheckpointError:
                outcome = "refused"
            except Exception as exc:  # noqa: BLE001
                outcome, detail = "raw traceback", f"{type(exc).__name__}: {exc}"
                examples.setdefault(("tg.load", outcome), (size, byte, detail))
            counts[("tg.load", where, outcome)] += 1
            # sample and --resume (which rewrites latest.npz: sample first)
            for path_name, argv in (("sample", ["sample", path, "--length", "5"]),
                                    ("--resume", ["train", "--out", target, "--resume", "--steps", "5",
                                                  "--eval-every", "100", "--no-progress", "--data", text])):
                result, detail = _run_cli(argv)
                if result == "ok":  # it used the file: only right if the file loads equal to the original
                    result = "loaded equal" if outcome == "loaded equal" else "SILENT DIFFERENT LOAD"
                counts[(path_name, where, result)] += 1
                if result == "raw traceback":
                    examples.setdefault((path_name, result, detail[:60]), (size, byte, detail))
    shutil.rmtree(work, ignore_errors=True)
    return counts, examples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips-per-file", type=int, default=1600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts, examples = sweep(args.flips_per_file, args.seed)
    total = collections.Counter()
    print(f"\n{'path':<9} {'where':<12} outcome: count")
    for (path_name, where, outcome), n in sorted(counts.items()):
        print(f"{path_name:<9} {where:<12} {outcome}: {n}")
        total[(path_name, outcome)] += n
    print("\ntotals over", sum(n for (p, _, _), n in counts.items() if p == "tg.load"), "flips:")
    for (path_name, outcome), n in sorted(total.items()):
        print(f"  {path_name:<9} {outcome}: {n}")
    for key, (size, byte, detail) in examples.items():
        print(f"example {key[:2]}: {size} checkpoint, byte {byte}: {detail}")
    bad = sum(n for (_, _, outcome), n in counts.items()
              if outcome in ("raw traceback", "SILENT DIFFERENT LOAD"))
    print(f"\nraw tracebacks + silent different loads: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
