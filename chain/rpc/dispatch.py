"""JSON-RPC dispatch, shared by the HTTP and websocket transports: a request
object -> the method's result or a JSON-RPC error, with the limits on batches
and responses. The transports (``server.py``, ``websocket.py``) only move bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from chain.consensus.eventbus import Message
from chain.rpc import encode as enc
from chain.rpc import jsonbody
from chain.rpc.guard import request_id
from chain.rpc.limits import RpcLimits
from chain.rpc.methods import METHODS, check_tx_json
from chain.rpc.params import (
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    Param,
    RPCError,
    bind,
    internal,
)

if TYPE_CHECKING:
    from chain.nodeview import NodeView

log = logging.getLogger("vcoin.rpc")

DEFAULT_COMMIT_TIMEOUT = 10.0  # CometBFT's timeout_broadcast_tx_commit
_TX = (Param("tx", "tx"),)
WS_ONLY = ("subscribe", "unsubscribe", "unsubscribe_all")
# Answered on the event loop: a load balancer's probe must not queue behind
# method bodies waiting for a worker thread.
INLINE = ("health",)
# Bodies up to this size are parsed on the event loop; larger ones on one
# helper thread, so that several at once do not take turns holding the loop.
_INLINE_DECODE = 64 * 1024


class RpcService:
    """The methods of one node, callable from HTTP and websocket handlers."""

    def __init__(
        self,
        node: NodeView,
        commit_timeout: float = DEFAULT_COMMIT_TIMEOUT,
        limits: RpcLimits | None = None,
    ) -> None:
        self.node = node
        self.commit_timeout = commit_timeout
        self.limits = limits or RpcLimits.from_config(node.cfg)
        self.decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rpc-decode")
        # Threads that sit blocked on event queues (tx commits, websocket
        # subscriptions); kept apart from the pool that runs method bodies.
        self.waiters = ThreadPoolExecutor(max_workers=1024, thread_name_prefix="rpc-wait")
        self.ws_subscribers = 0

    def method_names(self) -> list[str]:
        return sorted([*METHODS, "broadcast_tx_async", "broadcast_tx_commit"])

    async def call(self, method: str, params: Any, uri: bool = False) -> Any:
        """The method's result; RPCError for anything else, a bug included (logged)."""
        try:
            return await self._call(method, params, uri)
        except RPCError:
            raise
        except Exception as e:
            rid = request_id()
            log.exception(
                "rpc method %s failed (request id %s)", method, rid, extra={"request_id": rid}
            )
            raise internal(
                f"internal error in {method} (request id {rid}): a bug in the node, "
                "logged with this id; please report it"
            ) from e

    async def _call(self, method: str, params: Any, uri: bool) -> Any:
        if method == "broadcast_tx_commit":
            return await self.broadcast_tx_commit(bind(_TX, params, uri, method)["tx"])
        if method == "broadcast_tx_async":
            return self.broadcast_tx_async(bind(_TX, params, uri, method)["tx"])
        entry = METHODS.get(method)
        if entry is None:
            if method in WS_ONLY:
                raise RPCError(METHOD_NOT_FOUND, f"{method} is only served over /websocket")
            raise RPCError(
                METHOD_NOT_FOUND,
                f"no method {jsonbody.describe(method)}; "
                f"this node serves {', '.join(self.method_names())}",
            )
        fn, spec = entry
        args = bind(spec, params, uri, method)
        if method in INLINE:
            return fn(self.node, **args)
        return await run_in_threadpool(fn, self.node, **args)

    async def decode(self, raw: bytes | str) -> Any:
        """A request body or websocket message as JSON; RPCError when it is not one
        (a batch longer than the limit is refused before the rest of it is read)."""
        most = self.limits.max_batch_requests
        try:
            if len(raw) <= _INLINE_DECODE:
                return jsonbody.loads(raw, max_items=most)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self.decoder, partial(jsonbody.loads, raw, max_items=most)
            )
        except jsonbody.JsonError as e:
            if e.kind == "length":
                raise RPCError(INVALID_REQUEST, batch_too_long(most)) from None
            raise RPCError(PARSE_ERROR if e.kind == "syntax" else INVALID_REQUEST, str(e)) from None

    def _count_check(self, ok: bool) -> None:
        self.node.metrics.checktx.labels("ok" if ok else "rejected").inc()

    def broadcast_tx_async(self, tx: bytes) -> dict[str, Any]:
        def check() -> None:
            try:
                self._count_check(self.node.mempool.check_and_add(tx).ok)
            except Exception:
                log.exception("CheckTx of an async broadcast failed")

        self.waiters.submit(check)
        h = hashlib.sha256(tx).hexdigest().upper()
        return {"code": 0, "data": "", "log": "", "codespace": "", "hash": h}

    async def broadcast_tx_commit(self, tx: bytes) -> dict[str, Any]:
        """CheckTx, then wait for the tx's Tx event (published after its block is committed)."""
        h = hashlib.sha256(tx).hexdigest().upper()
        # subscribe before CheckTx: an --instant node may commit the tx at once
        sub = self.node.bus.subscribe(lambda attrs: h in attrs.get("tx.hash", ()), maxsize=8)
        try:
            check = await run_in_threadpool(self.node.mempool.check_and_add, tx)
            self._count_check(check.ok)
            if not check.ok:
                return {
                    "check_tx": check_tx_json(check),
                    "tx_result": enc.empty_exec_result(),
                    "hash": h,
                    "height": "0",
                }
            loop = asyncio.get_running_loop()
            get = partial(wait_message, self.node, sub.queue, self.commit_timeout)
            msg = await loop.run_in_executor(self.waiters, get)
            if msg is None:
                raise internal(
                    f"timed out waiting for tx {h} to be included in a block after "
                    f"{self.commit_timeout:g}s; it may still be committed: look it up with tx",
                    504,
                ) from None
            txr = msg.data["TxResult"]
            return {
                "check_tx": check_tx_json(check),
                "tx_result": txr["result"],
                "hash": h,
                "height": txr["height"],
            }
        finally:
            self.node.bus.unsubscribe(sub)

    def close(self) -> None:
        self.waiters.shutdown(wait=False, cancel_futures=True)
        self.decoder.shutdown(wait=False, cancel_futures=True)


def wait_message(node: NodeView, q: queue.Queue[Message], timeout: float) -> Message | None:
    """The next message within ``timeout`` seconds; None on timeout or when the node stops."""
    deadline = time.monotonic() + timeout
    while not node.stopped.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return q.get(True, min(left, 0.5))
        except queue.Empty:
            continue
    return None


def reply(rid: Any, result: Any = None, error: RPCError | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
    if error is not None:
        out["error"] = error.to_json()
    else:
        out["result"] = result
    return out


def _id_problem(rid: Any) -> str | None:
    """Why ``rid`` cannot be a JSON-RPC id (a string, a number or null), or None."""
    if rid is None or isinstance(rid, str):
        return None
    if isinstance(rid, int | float) and not isinstance(rid, bool):
        return None  # a parsed float is finite: 1e999 arrives as Unrepresentable
    if isinstance(rid, jsonbody.Unrepresentable):
        return f"id {rid.text} is out of range; use a string or a whole number"
    return f"id must be a string, a number or null, got {jsonbody.describe(rid)}"


def check_envelope(req: Any) -> tuple[Any, RPCError | None]:
    """The id to answer with, and what is wrong with the request around its params."""
    if not isinstance(req, dict):
        return None, RPCError(
            INVALID_REQUEST, f"a request must be a JSON object, got {jsonbody.describe(req)}"
        )
    rid = req.get("id")
    problem = _id_problem(rid)
    if problem is not None:
        return None, RPCError(INVALID_REQUEST, problem)
    if req.get("jsonrpc", "2.0") != "2.0":
        return rid, RPCError(INVALID_REQUEST, 'jsonrpc must be "2.0"')
    method = req.get("method")
    if not isinstance(method, str) or not method:
        return rid, RPCError(INVALID_REQUEST, "the request has no method (a string)")
    return rid, None


async def handle_request(svc: RpcService, req: Any) -> dict[str, Any]:
    """One JSON-RPC request object -> its response object."""
    rid, problem = check_envelope(req)
    if problem is not None:
        return reply(rid, error=problem)
    try:
        return reply(rid, await svc.call(req["method"], req.get("params")))
    except RPCError as e:
        return reply(rid, error=e)


def batch_too_long(most: int) -> str:
    return f"a batch of more than {most} calls is over the limit (rpc_max_batch_requests); split it"


def too_large(rid: Any, limit: int) -> bytes:
    err = RPCError(
        SERVER_ERROR,
        f"the answer would take the response over {limit} bytes (rpc_max_response_bytes); "
        "ask for less (a smaller page, fewer calls in the batch)",
    )
    return jsonbody.dumps(reply(rid, error=err))


def encode_reply(out: dict[str, Any], limit: int, room: int | None = None) -> bytes:
    """``out`` as JSON, or the response-limit error when it takes more than ``room`` bytes."""
    body = jsonbody.dumps(out)
    return body if len(body) <= (limit if room is None else room) else too_large(out["id"], limit)


async def answer_batch(svc: RpcService, reqs: list[Any]) -> bytes:
    """Each call in turn; past the response limit, the rest are answered with an error."""
    limit = svc.limits.max_response_bytes
    parts: list[bytes] = []
    size = 2
    for r in reqs:
        if size >= limit:
            rid = r.get("id") if isinstance(r, dict) and _id_problem(r.get("id")) is None else None
            part = too_large(rid, limit)
        else:
            part = encode_reply(await handle_request(svc, r), limit, limit - size)
        parts.append(part)
        size += len(part) + 1
    return b"[" + b",".join(parts) + b"]"
