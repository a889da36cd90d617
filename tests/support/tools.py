"""Outside tools the tests drive (Node.js and npm, Go): skip or fail when one is missing,
and the tail of a tool's output for a failure message."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

TAIL = 12_000  # characters of a tool's output in a failure message


def require_tools(tools: tuple[str, ...], what: str, env_var: str) -> None:
    """Skip, saying why, when one of ``tools`` is not on PATH; fail instead when
    ``env_var`` is set (``scripts/test`` sets it: there the tests must run)."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    why = f"{' and '.join(missing)} not installed: {what}"
    if os.environ.get(env_var):
        pytest.fail(f"{why} ({env_var} is set)")
    pytest.skip(why)


def output_tail(r: subprocess.CompletedProcess[str], limit: int = TAIL) -> str:
    """A finished tool's stdout and stderr, the last ``limit`` characters of them."""
    text = (r.stdout or "") + (r.stderr or "")
    return text if len(text) <= limit else "…" + text[-limit:]
