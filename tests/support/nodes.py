"""Nodes for tests: a real ``vcoind start`` process, or a ``Node`` in this process.

* ``free_port()``; ``VCOIND`` and ``vcoind(*args, home=...)``: the installed CLI, run
  once (never raises on a non-zero exit).
* ``write_genesis(home, doc)``: ``config/genesis.json`` of a node home.
* ``start_vcoind(home, rpc_port, rest_port)``: ``vcoind start`` (``--instant`` unless
  told otherwise) on the given ports, so that a restarted node is found again (its
  Ethereum JSON-RPC on a free one: ``NodeProc.jsonrpc``); returns once its RPC
  answers ``status`` and its REST ``syncing``. ``NodeProc.stop()`` sends SIGINT and waits.
* ``running_node(home)``: inits the home with dev keys (if it has no genesis), starts
  ``vcoind start --instant`` on free ports; on exit SIGINT and a clean stop.
* ``inproc_node(home, genesis)``: ``Node`` in this process (solo driver, RPC, REST and
  Ethereum JSON-RPC servers in threads, ``--instant``) once both servers answer; stopped on exit.

Every process started here runs without the caller's ``VCOIN_*`` environment, so a
setting of the shell never reaches a test's node.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.node import Node
from chain.config import NodeConfig
from genesis.devnet import genesis_doc
from tests.support.wait import answers, wait_for

VCOIND = str(Path(sys.executable).with_name("vcoind"))


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_LOW = _ephemeral_low()
# The defaults of the node, the daemons' metrics and CometBFT: a test that runs something
# on its default port must not find it handed out.
_DEFAULTS = {1317, 8545, 8546, 9090, 9101, 9102, 9464, *range(26656, 26661)}
_handed_out: set[int] = set()
_ports = random.Random(os.getpid())


def free_port() -> int:
    """A port that nothing listens on now, below the kernel's ephemeral range, and not
    handed out before by this process.

    A port asked of the kernel (bind to port 0) comes from the ephemeral range, where
    any outgoing connection may take it before the node under test binds it: CI saw
    exactly that. Below that range only listeners bind, and those ask for their port."""
    low, high = (10_000, _EPHEMERAL_LOW) if _EPHEMERAL_LOW > 12_000 else (_EPHEMERAL_LOW, 65_536)
    for _ in range(1000):
        port = _ports.randrange(low, high)
        if port in _handed_out or port in _DEFAULTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {low}..{high - 1}")


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive ports that nothing listens on now and that
    were not handed out before, all below the ephemeral range (see ``free_port``);
    for ``app.testnet.Testnet``, whose validator i uses base + 10 i .. + 3."""
    low, high = (10_000, _EPHEMERAL_LOW) if _EPHEMERAL_LOW > 12_000 else (_EPHEMERAL_LOW, 65_536)
    for _ in range(1000):
        base = _ports.randrange(low, high - size)
        block = range(base, base + size)
        if any(p in _handed_out or p in _DEFAULTS for p in block):
            continue
        free = True
        for port in block:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    free = False
                    break
        if free:
            _handed_out.update(block)
            return base
    raise RuntimeError(f"no {size} free ports in a row in {low}..{high - 1}")


def clean_env() -> dict[str, str]:
    """This process's environment without ``VCOIN_*`` settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}


def vcoind(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``vcoind`` console script; never raises on a non-zero exit."""
    return subprocess.run(
        [VCOIND, "--home", str(home), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )


def write_genesis(home: Path, doc: dict[str, Any]) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "genesis.json").write_text(json.dumps(doc))


@dataclass
class NodeProc:
    home: Path
    rpc: str
    rest: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    jsonrpc: str = ""  # the Ethereum JSON-RPC's URL

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return vcoind(*args, "--node", self.rpc, home=self.home, stdin=stdin)

    def ok(self, *args: str) -> str:
        """``vcoind ARGS`` that must succeed: its standard output."""
        r = self.cli(*args)
        assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
        return r.stdout

    def query(self, *args: str) -> dict[str, Any]:
        """``vcoind -o json query ARGS``, parsed."""
        out: dict[str, Any] = json.loads(self.ok("-o", "json", "query", *args))
        return out

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGINT, as Ctrl-C; its exit code once it stopped within ``timeout``."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def close(self) -> None:
        """Kill it if it still runs (a test that failed midway)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def start_vcoind(
    home: Path,
    rpc_port: int | None = None,
    rest_port: int | None = None,
    *,
    instant: bool = True,
    extra: Sequence[str] = (),
    log_path: Path | None = None,
    timeout: float = 60.0,
) -> NodeProc:
    """``vcoind start`` on the given ports (free ones if None), its output in ``log_path``
    (appended to; a new file in the home if None); returns once its RPC and REST answer."""
    rpc_port = rpc_port or free_port()
    rest_port = rest_port or free_port()
    jsonrpc_port = free_port()
    log_path = log_path or home / f"node-{time.monotonic_ns()}.log"
    argv = [VCOIND, "--home", str(home), "start", *(["--instant"] if instant else [])]
    argv += ["--rpc-laddr", f"127.0.0.1:{rpc_port}", "--rest-laddr", f"127.0.0.1:{rest_port}"]
    argv += ["--jsonrpc-laddr", f"127.0.0.1:{jsonrpc_port}"]
    argv += ["--jsonrpc-ws-laddr", f"127.0.0.1:{free_port()}"]
    argv += ["--log-format", "text", *extra]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    node = NodeProc(
        home,
        f"http://127.0.0.1:{rpc_port}",
        f"http://127.0.0.1:{rest_port}",
        proc,
        log_path,
        f"http://127.0.0.1:{jsonrpc_port}",
    )
    body = {"jsonrpc": "2.0", "id": 1, "method": "status", "params": {}}

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"vcoind start exited {proc.returncode}:\n{node.log()}")
        return answers(node.rpc, "POST", json=body) == 200

    rest_up = f"{node.rest}/cosmos/base/tendermint/v1beta1/syncing"
    try:
        wait_for(f"the node's RPC (log: {log_path})", ready, timeout)
        wait_for(f"the node's REST (log: {log_path})", lambda: answers(rest_up) == 200, timeout)
    except BaseException:
        node.close()
        raise
    return node


@contextmanager
def running_node(home: Path, extra: Sequence[str] = ()) -> Iterator[NodeProc]:
    if not (home / "config" / "genesis.json").exists():
        r = vcoind("init", "--dev-keys", home=home)
        assert r.returncode == 0, r.stderr
    node = start_vcoind(home, extra=extra)
    try:
        yield node
    finally:
        if node.proc.poll() is None:
            try:
                node.stop(30)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()


def wait_up(url: str, timeout: float = 20.0) -> None:
    """Until a GET of ``url`` answers 200."""
    wait_for(url, lambda: answers(url) == 200, timeout, poll=0.05)


@contextmanager
def inproc_node(
    home: Path, genesis: dict[str, Any] | None = None, **overrides: Any
) -> Iterator[Node]:
    """``app.node.Node`` on free ports with ``genesis`` (the devnet's if None);
    ``overrides`` are ``NodeConfig`` settings."""
    write_genesis(home, genesis if genesis is not None else genesis_doc())
    settings: dict[str, Any] = {
        "home": str(home),
        "instant": True,
        "block_time_ms": 500,
        "rpc_laddr": f"127.0.0.1:{free_port()}",
        "rest_laddr": f"127.0.0.1:{free_port()}",
        "jsonrpc_laddr": f"127.0.0.1:{free_port()}",
        "jsonrpc_ws_laddr": "",  # a test that wants the websocket names a free port
        "log_level": "warning",
    }
    settings.update(overrides)
    node = Node(NodeConfig(**settings))
    node.start()
    try:
        wait_up(f"http://{node.cfg.rpc_laddr}/health")
        wait_up(f"http://{node.cfg.rest_laddr}/cosmos/base/tendermint/v1beta1/blocks/latest")
        yield node
    finally:
        node.stop()


def have_cometbft() -> bool:
    """Whether a ``cometbft`` binary is there (scripts/setup-cometbft installs it)."""
    from app.testnet import TestnetError, find_cometbft

    try:
        find_cometbft()
    except TestnetError:
        return False
    return True


# Tests on real CometBFT processes: skipped without the binary, unless the test
# script requires them (VCOIN_REQUIRE_COMETBFT, set by scripts/test).
needs_cometbft = pytest.mark.skipif(
    not have_cometbft() and not os.environ.get("VCOIN_REQUIRE_COMETBFT"),
    reason="no cometbft binary (scripts/setup-cometbft installs it)",
)
