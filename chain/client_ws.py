"""A websocket client of the node RPC: CometBFT's event subscriptions.

The node (solo driver or CometBFT) serves JSON-RPC over ``/websocket``; a
``subscribe`` with a query in CometBFT's event query language makes it push
every matching event under the id of that request::

    with EventStream("http://127.0.0.1:26657") as stream:
        stream.subscribe("tm.event='Tx' AND JobPosted.job_id EXISTS")
        for ev in stream:                  # or stream.next(timeout=1.0)
            print(ev.kind, ev.height, ev.events["JobPosted.job_id"])

``EventStream`` is one connection, read by one thread. Any other JSON-RPC
method can be called on the same socket (``call``); events that arrive while
it waits for its answer are kept, in order, for ``next``. When the connection
drops, or the node cancels a subscription (a client too slow to read), the
stream raises ``SubscriptionClosed``: events may have been missed, so the
caller reconnects and catches up from the last height it handled (with
``block_results`` or ``tx_search``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chain.client import DEFAULT_RPC, NodeError, RpcError

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a NewBlock event carries the whole block


class SubscriptionClosed(NodeError):
    """The connection or a subscription ended; events after this may be missed."""


def ws_url(rpc_url: str) -> str:
    """``http://host:26657`` -> ``ws://host:26657/websocket`` (https -> wss)."""
    url = rpc_url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url.removeprefix("https://")
    elif url.startswith("http://"):
        url = "ws://" + url.removeprefix("http://")
    elif "://" not in url:
        url = "ws://" + url
    return url if url.endswith("/websocket") else url + "/websocket"


@dataclass(frozen=True)
class Event:
    """One pushed event: the query it matched, its kind, CometBFT's data and the
    flat ``type.key -> [values]`` attribute map."""

    query: str
    kind: str  # "Tx" | "NewBlock" | "NewBlockHeader" | …
    data: dict[str, Any]
    events: dict[str, list[str]]
    received: float = field(default_factory=time.monotonic)  # when it was read, monotonic

    @property
    def height(self) -> int:
        """The block height the event belongs to (0 when the event carries none)."""
        for key in ("tx.height", "block.height"):
            if self.events.get(key):
                return int(self.events[key][0])
        if self.kind == "Tx":
            return int(self.data.get("TxResult", {}).get("height") or 0)
        block = self.data.get("block") or self.data
        return int((block.get("header") or {}).get("height") or 0)

    def attr(self, key: str) -> list[str]:
        return self.events.get(key, [])

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> Event:
        data = result.get("data") or {}
        kind = str(data.get("type", "")).removeprefix("tendermint/event/")
        return cls(
            query=str(result.get("query", "")),
            kind=kind,
            data=dict(data.get("value") or {}),
            events={k: [str(v) for v in vs] for k, vs in (result.get("events") or {}).items()},
        )


class EventStream:
    """One websocket connection to a node, with its subscriptions. Not thread-safe."""

    def __init__(self, rpc_url: str = DEFAULT_RPC, *, open_timeout: float = 10.0) -> None:
        self.url = ws_url(rpc_url)
        self._stack = contextlib.ExitStack()
        try:
            # entered as a context manager: websockets ≥ 17.1 deprecates bare connects
            self._ws: ClientConnection = self._stack.enter_context(
                connect(self.url, open_timeout=open_timeout, max_size=MAX_MESSAGE_BYTES)
            )
        except (OSError, TimeoutError) as e:
            raise RpcError(f"cannot open a websocket to {self.url} ({e}); is the node up?") from e
        except Exception as e:  # noqa: BLE001 - handshake refusals have many types
            raise RpcError(f"websocket handshake with {self.url} failed: {e}") from e
        self._ids = itertools.count(1)
        self._subs: dict[Any, str] = {}  # subscribe request id -> query
        self._pending: deque[Event] = deque()
        self.closed = False

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self._stack.close()

    @property
    def queries(self) -> list[str]:
        return list(self._subs.values())

    # -- requests ------------------------------------------------------------
    def call(self, method: str, timeout: float = 10.0, **params: Any) -> dict[str, Any]:
        """A JSON-RPC call over the socket; events that arrive meanwhile are kept."""
        rid = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RpcError(f"{method}: no answer over the websocket within {timeout:g}s")
            msg = self._recv(left)
            if msg is None:
                continue
            if _is_reply(msg, rid):
                err = msg.get("error")
                if err:
                    raise RpcError(
                        str(err.get("message") or "error"),
                        int(err.get("code") or 0),
                        str(err.get("data") or ""),
                    )
                result = msg.get("result")
                return result if isinstance(result, dict) else {}
            self._dispatch(msg)

    def subscribe(self, query: str, timeout: float = 10.0) -> None:
        """Start receiving events that match ``query``; raises RpcError if refused."""
        rid = next(self._ids)
        self._subs[rid] = query
        self._send({"jsonrpc": "2.0", "id": rid, "method": "subscribe", "params": {"query": query}})
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._subs.pop(rid, None)
                raise RpcError(f"subscribe {query!r}: no answer within {timeout:g}s")
            msg = self._recv(left)
            if msg is None:
                continue
            if _is_reply(msg, rid):
                err = msg.get("error")
                if err:
                    self._subs.pop(rid, None)
                    raise RpcError(
                        str(err.get("message") or "subscribe refused"),
                        int(err.get("code") or 0),
                        str(err.get("data") or ""),
                    )
                return
            self._dispatch(msg)

    def unsubscribe(self, query: str) -> None:
        self.call("unsubscribe", query=query)
        for rid, q in list(self._subs.items()):
            if q == query:
                del self._subs[rid]

    # -- events --------------------------------------------------------------
    def next(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pending:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            msg = self._recv(left)
            if msg is not None:
                self._dispatch(msg)
        return self._pending.popleft()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        ev = self.next()
        assert ev is not None
        return ev

    # -- plumbing ------------------------------------------------------------
    def _send(self, body: dict[str, Any]) -> None:
        try:
            self._ws.send(json.dumps(body))
        except ConnectionClosed as e:
            self.closed = True
            raise SubscriptionClosed(f"the websocket to {self.url} closed: {e}") from e

    def _recv(self, timeout: float | None) -> dict[str, Any] | None:
        try:
            raw = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as e:
            self.closed = True
            raise SubscriptionClosed(f"the websocket to {self.url} closed: {e}") from e
        try:
            msg = json.loads(raw)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) else None

    def _dispatch(self, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        if rid not in self._subs:
            return  # an answer nobody waits for any more
        err = msg.get("error")
        if err:
            query = self._subs.pop(rid)
            detail = err.get("data") or err.get("message") if isinstance(err, dict) else err
            raise SubscriptionClosed(f"the node ended the subscription {query!r}: {detail}")
        if _is_event(msg):
            self._pending.append(Event.from_result(msg["result"]))


def _is_event(msg: dict[str, Any]) -> bool:
    result = msg.get("result")
    return isinstance(result, dict) and "data" in result and "query" in result


def _is_reply(msg: dict[str, Any], rid: int) -> bool:
    return msg.get("id") == rid and not _is_event(msg)
