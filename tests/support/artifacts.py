"""``artifact_server``: a real ``python -m chain.artifacts`` process, for the store's own tests
and for worker tests that need a store without a node."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.nodes import free_port
from tests.support.wait import answers, wait_for


@contextmanager
def artifact_server(
    blob_dir: Path, max_bytes: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real ``python -m chain.artifacts`` process on a free port, storing in
    ``blob_dir``; yields its base URL and the process, and stops it on exit."""
    port = free_port()
    argv = [sys.executable, "-m", "chain.artifacts", "--dir", str(blob_dir)]
    argv += ["--listen", f"127.0.0.1:{port}"]
    if max_bytes is not None:
        argv += ["--max-bytes", str(max_bytes)]
    proc = subprocess.Popen(argv)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the artifact server exited {proc.returncode}")
        return answers(f"{url}/artifacts/{'0' * 64}", "HEAD") != 0

    try:
        wait_for("the artifact server", up, 30, poll=0.1)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(10)
