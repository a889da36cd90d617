"""A started node's ports accept connections at once, whichever server answers first."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from app.node import Node
from chain.config import NodeConfig
from genesis.devnet import genesis_doc
from tests.support.nodes import free_port, write_genesis


def test_every_port_accepts_connections_as_soon_as_start_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that connects the moment the node has started (or the moment one of its
    servers answers) waits in the backlog: no port refuses while its server's thread is
    still starting. CI once saw the REST port refuse a connection as the RPC answered."""
    import uvicorn

    run = uvicorn.Server.run

    def slow_run(self: Any, *args: Any, **kwargs: Any) -> None:
        time.sleep(1)  # a server thread that a loaded machine starts late
        run(self, *args, **kwargs)

    monkeypatch.setattr(uvicorn.Server, "run", slow_run)
    write_genesis(tmp_path, genesis_doc())
    addrs = {n: f"127.0.0.1:{free_port()}" for n in ("rpc", "rest", "jsonrpc", "jsonrpc_ws")}
    laddrs = {f"{n}_laddr": a for n, a in addrs.items()}
    node = Node(NodeConfig(home=str(tmp_path), instant=True, **laddrs))
    node.start()
    try:
        for addr in reversed(addrs.values()):  # the last started first
            host, _, port = addr.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=5) as c:
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")  # answered once the server runs
                assert c.recv(12).startswith(b"HTTP/1.")
    finally:
        node.stop()
