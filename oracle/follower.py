"""Following the chain: every committed block's events, in order, none skipped.

The daemon reads blocks one height at a time with ``block_results`` (the
events of every successful tx, then the block's own begin/end-block events:
``VerificationRequested`` and ``VerdictReached`` come from end-block). The
same call serves the catch-up after a restart and the live path, so there is
one code path and "what was handled" is just a height.

The websocket subscription (``tm.event='NewBlock'``) only wakes the daemon
up as soon as a block commits; if the socket is down the daemon polls every
``poll_s`` seconds instead, and nothing is lost either way because the
blocks themselves are always read by height.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("vcoin.oracle.follow")

NEW_BLOCKS = "tm.event='NewBlock'"


class BlockSource(Protocol):
    def block_results(self, height: int | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ChainEvent:
    type: str
    attrs: dict[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.attrs.get(key, default)

    def int(self, key: str) -> int:
        return int(self.attrs.get(key, "0") or 0)


def _events(raw: list[dict[str, Any]] | None) -> list[ChainEvent]:
    out = []
    for e in raw or []:
        attrs = {str(a.get("key")): str(a.get("value", "")) for a in e.get("attributes") or []}
        out.append(ChainEvent(str(e.get("type")), attrs))
    return out


def block_events(src: BlockSource, height: int) -> list[ChainEvent]:
    """The events of block ``height``: successful txs in order, then the block's own."""
    r = src.block_results(height)
    evs: list[ChainEvent] = []
    for tx in r.get("txs_results") or []:
        if int(tx.get("code") or 0) == 0:
            evs.extend(_events(tx.get("events")))
    evs.extend(_events(r.get("finalize_block_events")))
    return evs


def ws_url(rpc: str) -> str:
    base = rpc.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/websocket"
    return "ws://" + base.removeprefix("http://") + "/websocket"


class Waker(threading.Thread):
    """Sets ``wake`` whenever the node announces a new block; reconnects forever."""

    def __init__(self, rpc: str, wake: threading.Event, stop: threading.Event) -> None:
        super().__init__(name="oracle-ws", daemon=True)
        self.url = ws_url(rpc)
        self.wake = wake
        self.stop_event = stop
        self.connected = threading.Event()

    def run(self) -> None:
        backoff = 0.5
        while not self.stop_event.is_set():
            try:
                self._listen()
                backoff = 0.5
            except Exception as e:  # noqa: BLE001 - the node may be down; polling covers it
                self.connected.clear()
                log.debug("websocket down (%s); polling until it is back", e)
            self.stop_event.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def _listen(self) -> None:
        from websockets.sync.client import connect

        with connect(self.url, open_timeout=5, close_timeout=1) as ws:
            req = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "subscribe",
                "params": {"query": NEW_BLOCKS},
            }
            ws.send(json.dumps(req))
            self.connected.set()
            log.info("subscribed to new blocks", extra={"url": self.url})
            while not self.stop_event.is_set():
                try:
                    msg = ws.recv(timeout=1.0)
                except TimeoutError:
                    continue
                doc = json.loads(msg)
                if doc.get("error"):
                    raise RuntimeError(f"subscription refused: {doc['error']}")
                if doc.get("result"):
                    self.wake.set()
