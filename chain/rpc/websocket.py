"""JSON-RPC over a websocket, with CometBFT's event subscriptions.

A client sends ``subscribe`` with a query (``tm.event='Tx' AND
transfer.recipient='vcoin1…'``) and then receives, under the id of its
subscribe request, every matching event in CometBFT's shape::

    {"query": "...", "data": {"type": "tendermint/event/Tx", "value": {...}},
     "events": {"tm.event": ["Tx"], "tx.hash": [...], ...}}

Any other method can be called over the same socket. Limits are the node's
``rpc_*`` settings (CometBFT's defaults: 100 subscribing clients, 5
subscriptions each; messages up to 1 MB); a message over the size limit, or
one that is not a request, is answered with an error and the socket stays
open. A client that does not read its events loses the subscription, with an
error saying so; one that does not read its answers stops being read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from chain.consensus.eventbus import Attrs, Message, Subscription
from chain.rpc import encode as enc
from chain.rpc.dispatch import (
    RpcService,
    check_envelope,
    encode_reply,
    handle_request,
    reply,
    wait_message,
)
from chain.rpc.guard import REQUEST_ID
from chain.rpc.jsonbody import describe
from chain.rpc.params import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    SERVER_ERROR,
    Param,
    RPCError,
    bind,
    invalid,
)
from chain.rpc.query import Query, QueryError, parse

log = logging.getLogger("vcoin.rpc.ws")

MAX_PENDING_EVENTS = 10_000  # events queued for one slow client before it is cut off
MAX_IN_FLIGHT = 64  # calls of one connection running at once; the next message waits
_QUERY = (Param("query", "str"),)


def _predicate(q: Query) -> Any:
    def match(attrs: Attrs) -> bool:
        if q.matches(attrs):
            return True
        # every NewBlock is also a NewBlockHeader event
        return attrs.get("tm.event") == ["NewBlock"] and q.matches(_as_header(attrs))

    return match


def _as_header(attrs: Attrs) -> Attrs:
    return {**attrs, "tm.event": ["NewBlockHeader"]}


class Session:
    """One websocket connection: its subscriptions and its outgoing messages."""

    def __init__(self, svc: RpcService, ws: WebSocket) -> None:
        self.svc = svc
        self.ws = ws
        self.out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.subs: dict[str, tuple[Subscription, asyncio.Task[None]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        await self.ws.accept()
        sender = asyncio.create_task(self._send_loop())
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                text = msg.get("text")
                if text is None and msg.get("bytes") is not None:
                    text = msg["bytes"].decode("utf-8", "replace")
                if text is None:
                    continue
                # Back-pressure: a client that sends faster than it reads its
                # answers is not read from until it catches up.
                while self.out.qsize() > MAX_PENDING_EVENTS:
                    await asyncio.sleep(0.05)
                await in_flight.acquire()
                t = asyncio.create_task(self._handle(text))
                self.tasks.add(t)
                t.add_done_callback(self.tasks.discard)
                t.add_done_callback(lambda _: in_flight.release())
        except WebSocketDisconnect:
            pass
        finally:
            self._drop_all()
            for t in list(self.tasks):
                t.cancel()
            sender.cancel()

    async def _send_loop(self) -> None:
        limit = self.svc.limits.max_response_bytes
        while True:
            payload = await self.out.get()
            try:
                await self.ws.send_text(encode_reply(payload, limit).decode())
            except Exception:
                return  # the socket is gone; run() cleans up

    async def _handle(self, text: str) -> None:
        rid = secrets.token_hex(6)
        token = REQUEST_ID.set(rid)
        try:
            self.out.put_nowait(await self._answer(text))
        except Exception:
            log.exception(
                "websocket request failed (request id %s)", rid, extra={"request_id": rid}
            )
            err = RPCError(
                INTERNAL_ERROR,
                f"internal error (request id {rid}): a bug in the node, "
                "logged with this id; please report it",
            )
            self.out.put_nowait(reply(None, error=err))
        finally:
            REQUEST_ID.reset(token)

    async def _answer(self, text: str) -> dict[str, Any]:
        most = self.svc.limits.ws_max_message_bytes
        if len(text) > most or len(text.encode("utf-8", "surrogatepass")) > most:
            err = RPCError(
                INVALID_REQUEST,
                f"the message is over this server's limit of {most} bytes "
                "(rpc_ws_max_message_bytes); send less",
            )
            return reply(None, error=err)
        try:
            req = await self.svc.decode(text)
        except RPCError as e:
            return reply(None, error=e)
        rid, problem = check_envelope(req)
        if problem is not None:
            return reply(rid, error=problem)
        handler = {
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "unsubscribe_all": self.unsubscribe_all,
        }.get(req["method"])
        if handler is None:
            return await handle_request(self.svc, req)
        try:
            return reply(rid, handler(rid, req.get("params")))
        except RPCError as e:
            return reply(rid, error=e)

    # -- subscriptions ----------------------------------------------------------
    def _parse(self, params: Any, method: str) -> tuple[str, Query]:
        text = bind(_QUERY, params, False, method)["query"]
        try:
            return text, parse(text)
        except QueryError as e:
            raise invalid(f"failed to parse query: {e}") from e

    def subscribe(self, rid: Any, params: Any) -> dict[str, Any]:
        text, q = self._parse(params, "subscribe")
        key = str(q)
        if key in self.subs:
            raise invalid(f"already subscribed to {describe(text)}")
        limits = self.svc.limits
        if len(self.subs) >= limits.max_subscriptions_per_client:
            raise RPCError(
                SERVER_ERROR,
                f"max_subscriptions_per_client {limits.max_subscriptions_per_client} reached "
                "(rpc_max_subscriptions_per_client); unsubscribe from a query first",
            )
        if not self.subs and self.svc.ws_subscribers >= limits.max_subscription_clients:
            raise RPCError(
                SERVER_ERROR,
                f"max_subscription_clients {limits.max_subscription_clients} reached "
                "(rpc_max_subscription_clients); try again later",
            )
        if not self.subs:
            self.svc.ws_subscribers += 1
        sub = self.svc.node.bus.subscribe(_predicate(q), maxsize=1000)
        task = asyncio.create_task(self._forward(rid, text, q, sub))
        self.subs[key] = (sub, task)
        return {}

    def unsubscribe(self, rid: Any, params: Any) -> dict[str, Any]:
        text, q = self._parse(params, "unsubscribe")
        if str(q) not in self.subs:
            raise invalid(f"subscription not found: no subscription to {describe(text)}")
        self._drop(str(q))
        return {}

    def unsubscribe_all(self, rid: Any, params: Any) -> dict[str, Any]:
        if not self.subs:
            raise invalid("subscription not found: this connection has no subscriptions")
        self._drop_all()
        return {}

    def _drop(self, key: str) -> None:
        sub, task = self.subs.pop(key)
        self.svc.node.bus.unsubscribe(sub)
        task.cancel()
        if not self.subs:
            self.svc.ws_subscribers -= 1

    def _drop_all(self) -> None:
        for key in list(self.subs):
            self._drop(key)

    async def _forward(self, rid: Any, text: str, q: Query, sub: Subscription) -> None:
        loop = asyncio.get_running_loop()
        node = self.svc.node
        while not node.stopped.is_set():
            msg = await loop.run_in_executor(self.svc.waiters, wait_message, node, sub.queue, 1.0)
            if msg is None:
                continue
            events = await loop.run_in_executor(self.svc.waiters, self._render, msg, q)
            for kind, data, attrs in events:
                payload = {"query": text, "data": {"type": kind, "value": data}, "events": attrs}
                self.out.put_nowait(reply(rid, payload))
            if self.out.qsize() > MAX_PENDING_EVENTS:
                err = RPCError(
                    SERVER_ERROR,
                    "subscription was cancelled (reason: client is not pulling messages "
                    "fast enough); read events faster and subscribe again",
                )
                self.out.put_nowait(reply(rid, error=err))
                with contextlib.suppress(KeyError):
                    self._drop(str(q))
                return

    def _render(self, msg: Message, q: Query) -> list[tuple[str, dict[str, Any], Attrs]]:
        """The CometBFT event(s) a bus message is, for this query."""
        if msg.kind != "NewBlock":
            return [(f"tendermint/event/{msg.kind}", msg.data, msg.attrs)]
        h = int(msg.data["height"])
        blk = self.svc.node.blocks.block(h)
        res = self.svc.node.blocks.results(h)
        if blk is None or res is None:
            return []
        out: list[tuple[str, dict[str, Any], Attrs]] = []
        if q.matches(msg.attrs):
            data = {
                "block": enc.block_json(blk),
                "block_id": enc.block_id(blk.hash),
                "result_finalize_block": enc.finalize_block_json(res),
            }
            out.append(("tendermint/event/NewBlock", data, msg.attrs))
        header_attrs = _as_header(msg.attrs)
        if q.matches(header_attrs):
            data = {"header": enc.header_json(blk.header)}
            out.append(("tendermint/event/NewBlockHeader", data, header_attrs))
        return out


async def serve_websocket(svc: RpcService, ws: WebSocket) -> None:
    await Session(svc, ws).run()
