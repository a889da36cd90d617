"""A real ``vcoind start`` process on free ports in a temporary home, for tests.

``running_node(home)`` inits the home with dev keys (if it has no genesis),
starts ``vcoind start --instant`` and waits until its RPC answers ``status``;
on exit it sends SIGINT and waits for a clean stop.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

VCOIND = str(Path(sys.executable).with_name("vcoind"))


def has_node_servers() -> bool:
    """The node runner and its RPC/REST servers are installed (they land separately)."""
    return all(
        importlib.util.find_spec(m) is not None
        for m in ("chain.node", "chain.rpc.server", "chain.rest.server")
    )


needs_node = pytest.mark.skipif(
    not has_node_servers(), reason="chain.node / chain.rpc / chain.rest not installed yet"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.head(f"{url}/artifacts/{'0' * 64}", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("artifact server did not start") from None
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(10)


def vcoind(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``vcoind`` console script; never raises on a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
    return subprocess.run(
        [VCOIND, "--home", str(home), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@dataclass
class NodeProc:
    home: Path
    rpc: str
    rest: str
    proc: subprocess.Popen[str]
    log_path: Path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return vcoind(*args, "--node", self.rpc, home=self.home, stdin=stdin)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_node(home: Path, extra: Sequence[str] = ()) -> Iterator[NodeProc]:
    if not (home / "config" / "genesis.json").exists():
        r = vcoind("init", "--dev-keys", home=home)
        assert r.returncode == 0, r.stderr
    rpc_port, rest_port = free_port(), free_port()
    log_path = home / f"node-{rpc_port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                VCOIND,
                "--home",
                str(home),
                "start",
                "--instant",
                "--rpc-laddr",
                f"127.0.0.1:{rpc_port}",
                "--rest-laddr",
                f"127.0.0.1:{rest_port}",
                "--log-format",
                "text",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    node = NodeProc(
        home, f"http://127.0.0.1:{rpc_port}", f"http://127.0.0.1:{rest_port}", proc, log_path
    )
    try:
        _wait_ready(node)
        yield node
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(node: NodeProc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    body = {"jsonrpc": "2.0", "id": 1, "method": "status", "params": {}}
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            raise AssertionError(f"vcoind start exited {node.proc.returncode}:\n{node.log()}")
        try:
            if httpx.post(node.rpc, json=body, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"node RPC not up after {timeout}s:\n{node.log()}")
