"""A node running in this process on free ports, for the RPC and REST tests.

``inproc_node(tmp_path)`` writes the devnet genesis into a fresh home, starts
``Node`` (solo driver, RPC and REST servers in threads, ``--instant``) and
waits until both servers answer; on exit it stops the node cleanly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from chain.config import NodeConfig
from chain.node import Node
from genesis.devnet import genesis_doc
from tests.chain.nodeproc import free_port


@contextmanager
def inproc_node(home: Path, **overrides: Any) -> Iterator[Node]:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "genesis.json").write_text(json.dumps(genesis_doc()))
    settings: dict[str, Any] = {
        "home": str(home),
        "instant": True,
        "block_time_ms": 500,
        "rpc_laddr": f"127.0.0.1:{free_port()}",
        "rest_laddr": f"127.0.0.1:{free_port()}",
        "log_level": "warning",
    }
    settings.update(overrides)
    node = Node(NodeConfig(**settings))
    node.start()
    try:
        _wait_up(f"http://{node.cfg.rpc_laddr}/health")
        _wait_up(f"http://{node.cfg.rest_laddr}/cosmos/base/tendermint/v1beta1/blocks/latest")
        yield node
    finally:
        node.stop()


def _wait_up(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout}s")
        time.sleep(0.05)
