"""A starting node's ports accept connections as soon as any of its servers answers."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from app.node import Node
from chain.config import NodeConfig
from genesis.devnet import genesis_doc
from tests.support.nodes import free_port, write_genesis
from tests.support.wait import answers, wait_for


def _http_get(addr: str) -> bytes:
    """The first bytes of the answer to ``GET /`` on ``addr`` (refused: ``OSError``)."""
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")  # answered once its server runs
        return c.recv(12)


def test_every_port_accepts_a_connection_once_the_rpc_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node serves its RPC first and builds the REST app after it; tools (and the
    tests) take an answering RPC to mean the node is up and go straight to REST. CI saw
    the REST port refuse that connection. Here the REST app takes 3 s to build and every
    uvicorn thread starts a second late, and the other ports are tried the moment the RPC
    answers: each must accept (wait in the backlog) and then answer."""
    import uvicorn

    import chain.rest.server as rest_server

    run, build = uvicorn.Server.run, rest_server.build_rest_app

    def slow_run(self: Any, *args: Any, **kwargs: Any) -> None:
        time.sleep(1)  # a server thread that a loaded machine starts late
        run(self, *args, **kwargs)

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3)  # the REST app (modules' routes, explorer) built slowly
        return build(*args, **kwargs)

    monkeypatch.setattr(uvicorn.Server, "run", slow_run)
    monkeypatch.setattr(rest_server, "build_rest_app", slow_build)
    write_genesis(tmp_path, genesis_doc())
    addrs = {n: f"127.0.0.1:{free_port()}" for n in ("rpc", "rest", "jsonrpc", "jsonrpc_ws")}
    laddrs = {f"{n}_laddr": a for n, a in addrs.items()}
    node = Node(NodeConfig(home=str(tmp_path), instant=True, **laddrs))
    starting = threading.Thread(target=node.start, name="start")
    starting.start()
    try:
        rpc = f"http://{addrs['rpc']}/health"
        wait_for(rpc, lambda: answers(rpc) == 200, 60, poll=0.01)
        assert starting.is_alive(), "start() should still be building the REST app"
        for name in ("rest", "jsonrpc", "jsonrpc_ws"):
            assert _http_get(addrs[name]).startswith(b"HTTP/1."), name
    finally:
        starting.join(60)
        node.stop()
