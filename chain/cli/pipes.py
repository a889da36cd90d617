"""A console command whose stdout reader goes away (``vcoind keys list | head``)
ends quietly with status 141, as a Unix tool killed by SIGPIPE does.

``run_cli(run, argv)`` is the ``main`` of ``vcoind``, ``vcoin-worker`` and
``vcoin-oracle``: it flushes stdout itself before returning (and after argparse's
``--help`` and usage exits), while a closed pipe can still be answered, and then
points stdout at /dev/null, so that Python's own flush at exit cannot fail again
("Exception ignored … BrokenPipeError", status 120).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

A = TypeVar("A")
CLOSED_PIPE = 141


def run_cli(run: Callable[[A], int], argv: A) -> int:
    """``run(argv)``'s exit code, or 141 when stdout's reader left."""
    try:
        code = run(argv)
    except SystemExit:  # argparse's --help and usage errors
        if not flush_stdout():
            return CLOSED_PIPE
        raise
    except BrokenPipeError:
        stdout_to_devnull()
        return CLOSED_PIPE
    return code if flush_stdout() else CLOSED_PIPE


def flush_stdout() -> bool:
    """Flush stdout now; False when the reader has gone (stdout is then /dev/null)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_to_devnull()
        return False
    return True


def stdout_to_devnull() -> None:
    """Point stdout's file descriptor at /dev/null: what is still buffered goes nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
