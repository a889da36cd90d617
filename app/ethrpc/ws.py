"""The Ethereum JSON-RPC over a websocket (``jsonrpc_ws_laddr``, ``:8546``), with subscriptions.

    GET /   upgrade to a websocket; then JSON-RPC 2.0 text (or binary) messages, one
            request or a batch each, answered as the HTTP server answers them
            (``EthRpcService.answer``: the same methods, errors and limits)

Besides every HTTP method, a connection may call, as geth serves them:

    eth_subscribe ["newHeads"]                       the header of each new block
    eth_subscribe ["logs", {"address", "topics"}]    each matching log of each new block
    eth_subscribe ["newPendingTransactions"]         the hash of each Ethereum tx that
                                                     enters the mempool
    eth_unsubscribe [id]                             true, or false for an unknown id

``eth_subscribe`` answers a subscription id (``0x`` and 32 hex digits); then
each event comes as ``{"jsonrpc": "2.0", "method": "eth_subscription", "params":
{"subscription": id, "result": …}}``: a block without its ``transactions`` and
``uncles`` (the header, as ``eth_getBlockByNumber`` shows it), a log as
``eth_getLogs`` shows it, or a tx hash. A subscription sees what is committed
(or enters the mempool) after it is made; blocks in height order, none skipped
while the connection keeps up. Pending txs are those this node's CheckTx
accepts into the mempool (not its rechecks): in solo mode whichever server they
came through, in CometBFT mode those CometBFT takes into its mempool, from its
RPC or from peers.

New blocks are found by one watcher per server that polls the last commit
every ``POLL_S`` while anyone subscribes (alike in solo and CometBFT mode); it
also hands out the pending txs, and never waits for a client: each connection
has a queue of at most ``MAX_QUEUED`` outgoing messages (answers and events),
and a connection whose queue overflows, a client that does not read, gets nothing more and is closed
with code 1008 and a reason saying so (the close frame reaches it after what it
had not read yet). A connection holds at most ``jsonrpc_ws_max_subscriptions``
subscriptions (default 100); one more is refused with -32005 naming the
setting. A message over ``jsonrpc_max_body_bytes`` gets -32600 and the socket
stays open; at most ``MAX_IN_FLIGHT`` calls of one connection run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_hash.auto import keccak
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.ethrpc import hexio
from app.ethrpc.blocks import block_json, log_json
from app.ethrpc.hexio import RpcError, hexdata, invalid
from app.ethrpc.logs import addresses, topics
from app.ethrpc.server import EthRpcService, _reply, limits_of
from chain.rpc import jsonbody

if TYPE_CHECKING:
    from app.node import Node

log = logging.getLogger("vcoin.ethrpc.ws")

POLL_S = 0.1  # how often the watcher looks for a new block while anyone subscribes
MAX_QUEUED = 10_000  # outgoing messages one connection may have waiting
MAX_IN_FLIGHT = 16  # calls of one connection running at once; the next message waits
MAX_BLOCKS_A_POLL = 100  # blocks one poll reports; a watcher further behind skips ahead
CLOSE_SLOW = 1008  # policy violation
SUB_METHODS = ("eth_subscribe", "eth_unsubscribe")


@dataclass
class Sub:
    kind: str  # "newHeads", "logs" or "newPendingTransactions"
    after: int  # the last height committed when it was made
    addrs: set[str] = field(default_factory=set)
    topics: list[set[str] | None] = field(default_factory=list)


def _topics_match(want: list[set[str] | None], have: list[str]) -> bool:
    if len(want) > len(have):
        return False
    return all(w is None or have[i].lower() in w for i, w in enumerate(want))


class Hub:
    """The connections of one server and the watcher that feeds their subscriptions."""

    def __init__(self, node: Node, svc: EthRpcService, max_subscriptions: int) -> None:
        self.node = node
        self.svc = svc
        self.chain = svc.api.chain
        self.max_subscriptions = max_subscriptions
        self.sessions: set[Session] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._height: int | None = None  # the last height reported
        # the txs CheckTx accepted (not rechecks), as it accepts them, while anyone
        # subscribes to pending txs
        self._added: deque[bytes] = deque(maxlen=MAX_QUEUED)
        self._listening = False
        self._hook(node.app)

    def _hook(self, app: Any) -> None:
        check = app.check_tx

        def check_tx(raw: bytes, recheck: bool = False) -> Any:
            res = check(raw, recheck=recheck)
            if self._listening and not recheck and res.ok:
                self._added.append(raw)
            return res

        app.check_tx = check_tx

    def wanted(self, *kinds: str) -> list[tuple[Session, str, Sub]]:
        return [
            (s, sid, sub) for s in self.sessions for sid, sub in s.subs.items() if sub.kind in kinds
        ]

    def listen(self) -> None:
        self._listening = True

    def wake(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while not self.node.stopped.is_set():
            try:
                if not self.wanted("newHeads", "logs"):
                    self._height = None
                else:
                    await self._blocks()
                self._listening = bool(self.wanted("newPendingTransactions"))
                if not self._listening:
                    self._added.clear()
                elif self._added:
                    await self._pending()
            except Exception:  # a bug here must not end every subscription for good
                log.exception("the subscription watcher failed; it goes on")
            if not any(s.subs for s in self.sessions):
                self._height = None
                self._listening = False
                self._added.clear()
                return
            await asyncio.sleep(POLL_S)

    # -- blocks ----------------------------------------------------------------------------
    async def _blocks(self) -> None:
        latest = await run_in_threadpool(self.chain.latest)
        subs = self.wanted("newHeads", "logs")
        if not subs:
            return
        if self._height is None:
            self._height = min(sub.after for _, _, sub in subs)
        lo = max(self._height + 1, latest - MAX_BLOCKS_A_POLL + 1)
        for h in range(lo, latest + 1):
            head, logs = await run_in_threadpool(self._render, h)
            self._height = h
            if head is None:
                continue
            for s, sid, sub in self.wanted("newHeads", "logs"):
                if h <= sub.after:
                    continue
                if sub.kind == "newHeads":
                    s.notify(sid, head)
                    continue
                for lg in logs:
                    addr = str(lg["address"] or "").lower()
                    if sub.addrs and addr not in sub.addrs:
                        continue
                    if _topics_match(sub.topics, lg["topics"]):
                        s.notify(sid, lg)
        self._height = max(self._height, latest)

    def _render(self, h: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        blk = self.chain.block(h)
        if blk is None:
            return None, []
        limit = self.chain.params().block_gas_limit
        head = block_json(blk, self.chain.base_fee(h), limit, False)
        for k in ("transactions", "uncles", "size", "totalDifficulty"):
            head.pop(k, None)
        logs = [log_json(blk, t, i, lg) for t in blk.txs for i, lg in enumerate(t.logs)]
        return head, logs

    # -- pending txs -------------------------------------------------------------------------
    async def _pending(self) -> None:
        fresh = []
        while self._added:
            fresh.append(self._added.popleft())
        if not fresh:
            return
        hashes = await run_in_threadpool(_eth_hashes, fresh)
        for s, sid, _ in self.wanted("newPendingTransactions"):
            for h in hashes:
                s.notify(sid, h)


def _eth_hashes(raws: list[bytes]) -> list[str]:
    from modules.evm import envelope

    out = []
    for raw in raws:
        if not envelope.is_ethereum(raw):
            continue
        try:
            out.append(hexdata(keccak(envelope.unwrap(raw))))
        except Exception:  # noqa: BLE001 - a tx that is not an Ethereum one after all
            continue
    return out


class Session:
    """One websocket connection: its subscriptions and its queue of outgoing messages."""

    def __init__(self, hub: Hub, ws: WebSocket) -> None:
        self.hub = hub
        self.ws = ws
        self.out: asyncio.Queue[str] = asyncio.Queue()
        self.subs: dict[str, Sub] = {}
        self.closing: str | None = None
        self._sender: asyncio.Task[None] | None = None

    async def run(self) -> None:
        await self.ws.accept()
        self.hub.sessions.add(self)
        self._sender = asyncio.create_task(self._send_loop())
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                if self.closing is not None:
                    continue  # read on, so that the client's sends do not stall, until it goes
                text: str | bytes | None = msg.get("text")
                if text is None:
                    text = msg.get("bytes")
                if text is None:
                    continue
                await in_flight.acquire()
                t = asyncio.create_task(self._handle(text))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                t.add_done_callback(lambda _: in_flight.release())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.hub.sessions.discard(self)
            self.subs.clear()
            for t in list(tasks):
                t.cancel()
            if self._sender is not None and self.closing is None:
                self._sender.cancel()

    def push(self, text: str) -> None:
        """Queue a message; a client that has ``MAX_QUEUED`` waiting is cut off."""
        if self.closing is not None:
            return
        if self.out.qsize() >= MAX_QUEUED:
            self.close_slow()
            return
        self.out.put_nowait(text)

    def notify(self, sid: str, result: Any) -> None:
        if sid not in self.subs:
            return
        msg = {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": sid, "result": result},
        }
        self.push(jsonbody.dumps(msg).decode())

    def close_slow(self) -> None:
        self.closing = f"client is not reading its messages: over {MAX_QUEUED} waiting; read faster"
        self.subs.clear()
        log.warning("closing a slow ethrpc websocket client (%d messages queued)", MAX_QUEUED)
        if self._sender is not None:
            self._sender.cancel()
        asyncio.create_task(self._close(CLOSE_SLOW, self.closing))

    async def _close(self, code: int, reason: str) -> None:
        # the close frame goes after what the client has not read yet: this waits
        # until it reads that (the keep-alive ping drops a client that never does)
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason[:120])

    async def _send_loop(self) -> None:
        while True:
            text = await self.out.get()
            try:
                await self.ws.send_text(text)
            except Exception:
                return  # the socket is gone; run() cleans up

    async def _handle(self, text: str | bytes) -> None:
        try:
            out = await self._answer(text)
        except Exception:
            rid = secrets.token_hex(6)
            log.exception("websocket request failed (request id %s)", rid)
            err = RpcError(
                hexio.INTERNAL_ERROR,
                f"internal error (request id {rid}): a bug in the node, logged with this id",
            )
            out = jsonbody.dumps(_reply(None, error=err))
        if out:
            self.push(out.decode("utf-8", "replace"))

    async def _answer(self, text: str | bytes) -> bytes:
        svc = self.hub.svc
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        most = svc.limits.max_body_bytes
        if len(raw) > most:
            err = RpcError(
                hexio.INVALID_REQUEST,
                f"the message is over this server's limit of {most} bytes "
                "(jsonrpc_max_body_bytes); send less",
            )
            return jsonbody.dumps(_reply(None, error=err))
        try:
            req = jsonbody.loads(raw, max_items=svc.limits.max_batch_requests)
        except jsonbody.JsonError:
            req = None  # answer() words the error
        if isinstance(req, dict) and req.get("method") in SUB_METHODS:
            out = await self._subscription_call(req)
            return b"" if out is None else jsonbody.dumps(out)
        if isinstance(req, list) and any(
            isinstance(x, dict) and x.get("method") in SUB_METHODS for x in req
        ):
            parts: list[bytes] = []
            room = svc.limits.max_response_bytes
            for x in req:
                if isinstance(x, dict) and x.get("method") in SUB_METHODS:
                    r = await self._subscription_call(x)
                else:
                    r = await run_in_threadpool(svc.one, x)
                if r is not None:
                    parts.append(svc.encode(r, room))  # jsonrpc_max_response_bytes
                    room -= len(parts[-1])
            return b"[" + b",".join(parts) + b"]" if parts else b""
        return await run_in_threadpool(svc.answer, raw)

    # -- eth_subscribe / eth_unsubscribe ---------------------------------------------------
    async def _subscription_call(self, req: dict[str, Any]) -> dict[str, Any] | None:
        """The reply to an eth_(un)subscribe request (its envelope checked by ``one``'s
        rules); None for a notification."""
        rid = req.get("id")
        notification = "id" not in req
        if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int | float)):
            err = RpcError(hexio.INVALID_REQUEST, "id must be a string, number or null")
            return _reply(None, error=err)
        if req.get("jsonrpc") != "2.0":
            return _reply(rid, error=RpcError(hexio.INVALID_REQUEST, 'jsonrpc must be "2.0"'))
        params = req.get("params")
        params = [] if params is None else params
        try:
            if not isinstance(params, list):
                raise invalid("params must be an array (positional parameters)")
            if req["method"] == "eth_subscribe":
                result: Any = await self.subscribe(params)
            else:
                result = self.unsubscribe(params)
        except RpcError as e:
            return None if notification else _reply(rid, error=e)
        return None if notification else _reply(rid, result)

    async def subscribe(self, p: list[Any]) -> str:
        if not p or not isinstance(p[0], str):
            raise invalid(
                "eth_subscribe: the first parameter is the subscription: newHeads, logs "
                "or newPendingTransactions"
            )
        kind, rest = p[0], p[1:]
        if len(rest) > 1:
            raise invalid(f"eth_subscribe takes 1 or 2 parameters, got {len(p)}")
        if kind == "newHeads":
            if rest:
                raise invalid("eth_subscribe newHeads takes no options")
            sub = Sub(kind, 0)
        elif kind == "logs":
            crit = rest[0] if rest else {}
            if crit is None:
                crit = {}
            if not isinstance(crit, dict):
                raise invalid("eth_subscribe logs: the filter is an object {address, topics}")
            if crit.get("blockHash") is not None:
                raise invalid("eth_subscribe logs: blockHash is for eth_getLogs")
            sub = Sub(kind, 0, addresses(crit.get("address")), topics(crit.get("topics")))
        elif kind == "newPendingTransactions":
            if rest and rest[0] not in (None, False):
                raise invalid(
                    "eth_subscribe newPendingTransactions: only hashes are sent (the full "
                    "transactions option is not supported)"
                )
            sub = Sub(kind, 0)
        else:
            raise invalid(
                f"eth_subscribe: no subscription {kind[:60]!r}; this node has newHeads, "
                "logs and newPendingTransactions"
            )
        self._check_room()
        sub.after = await run_in_threadpool(self.hub.chain.latest)  # it may wait for a block
        self._check_room()  # again: other calls of this connection ran meanwhile
        sid = "0x" + secrets.token_hex(16)
        self.subs[sid] = sub
        if kind == "newPendingTransactions":
            self.hub.listen()  # from now on, not from the watcher's next round
        self.hub.wake()
        return sid

    def _check_room(self) -> None:
        most = self.hub.max_subscriptions
        if len(self.subs) >= most:
            raise RpcError(
                hexio.LIMIT_EXCEEDED,
                f"this connection holds {most} subscriptions, the limit "
                "(jsonrpc_ws_max_subscriptions): eth_unsubscribe one first",
            )

    def unsubscribe(self, p: list[Any]) -> bool:
        if len(p) != 1 or not isinstance(p[0], str):
            raise invalid("eth_unsubscribe takes 1 parameter: the subscription id (a string)")
        return self.subs.pop(p[0].lower(), None) is not None


def build_ws_app(node: Node, svc: EthRpcService | None = None) -> FastAPI:
    """The websocket server; ``svc`` the HTTP server's service, to share its filters."""
    svc = svc or EthRpcService(node, limits_of(node))
    hub = Hub(node, svc, node.cfg.jsonrpc_ws_max_subscriptions)
    app = FastAPI(
        title="VCoin Ethereum JSON-RPC websocket", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.hub = hub

    @app.websocket("/")
    async def websocket(ws: WebSocket) -> None:
        await Session(hub, ws).run()

    return app
