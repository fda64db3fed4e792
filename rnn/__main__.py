"""python3 -m rnn: train and sample character-level language models (see rnn/cli.py).

``--threads N`` sets the BLAS / OpenMP thread count (OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS). Those are read once, when NumPy's BLAS
loads, and ``python3 -m rnn`` imports the ``rnn`` package (and with it NumPy)
before this file runs; so when the variables have to change, the command is
started again with them set, before anything is imported: one extra interpreter
start (~0.3 s). Without --threads, variables the user set are kept; when none
is set, DEFAULT_THREADS applies.
"""

import os
import signal
import subprocess
import sys
import threading

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_THREADS = 1  # measured: see the README's "Speed" section
RESTARTED = "RNN_THREADS_SET"  # marks the restarted process, so it never restarts again


def requested_threads(argv):
    """The N of ``--threads N`` / ``--threads=N`` in argv (the last one wins), or None; no checks here:
    the argument parser of rnn/cli.py reports a bad value."""
    n = None
    for k, arg in enumerate(argv):
        if arg == "--threads" and k + 1 < len(argv):
            n = argv[k + 1]
        elif arg.startswith("--threads="):
            n = arg.split("=", 1)[1]
    return n if n is not None and n.isdigit() and int(n) > 0 else None


def thread_environment(argv, environ):
    """The thread variables to set, {} when ``environ`` already has them right."""
    n = requested_threads(argv)
    if n is None:
        if any(v in environ for v in THREAD_VARIABLES):
            return {}  # the user's own settings
        n = str(DEFAULT_THREADS)
    wanted = {v: n for v in THREAD_VARIABLES}
    return {} if all(environ.get(v) == n for v in THREAD_VARIABLES) else wanted


def open_standard_streams():
    """Put /dev/null on stdin, stdout or stderr where they are closed (``python3 -m rnn train >&-``).

    Otherwise the first files the trainer opens (its lock, a checkpoint's
    temporary) would get descriptors 0-2, and reports meant for the terminal
    would be written into them.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def main():
    open_standard_streams()
    argv = sys.argv[1:]
    changes = {} if os.environ.get(RESTARTED) else thread_environment(argv, os.environ)
    if changes:  # BLAS already loaded with other settings: start again with these
        command = [sys.executable, "-m", "rnn", *argv]
        env = {**os.environ, **changes, RESTARTED: "1"}
        if os.name == "posix":
            sys.stdout.flush()
            os.execve(sys.executable, command, env)
        return subprocess.call(command, env=env)
    try:
        from .cli import main as cli_main
        return cli_main(argv)
    finally:
        # The work is over (saved, or refused). A Ctrl-C from here on would land in the
        # interpreter's shutdown, joining threads, and print a traceback from the threading
        # module (a quick double Ctrl-C did): let the process end instead.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
