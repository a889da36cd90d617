"""The node RPC server: CometBFT's JSON-RPC 2.0 subset over HTTP and websocket.

    POST /            JSON-RPC (one request or a batch)
    GET  /<method>    the URI form: /block?height=5, /tx_search?query="tx.height=5"
    GET  /websocket   JSON-RPC over a websocket, with subscribe / unsubscribe
    GET  /metrics     Prometheus text

Method bodies read RocksDB and take the node lock, so they run in worker
threads and the event loop stays free for websockets and other requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from chain.consensus.eventbus import Message
from chain.rpc import encode as enc
from chain.rpc.methods import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    METHODS,
    PARSE_ERROR,
    Param,
    RPCError,
    bind,
    check_tx_json,
    internal,
)

if TYPE_CHECKING:
    from chain.node import Node

log = logging.getLogger("vcoin.rpc")

DEFAULT_COMMIT_TIMEOUT = 10.0  # CometBFT's timeout_broadcast_tx_commit
_TX = (Param("tx", "tx"),)
WS_ONLY = ("subscribe", "unsubscribe", "unsubscribe_all")


class RpcService:
    """The methods of one node, callable from HTTP and websocket handlers."""

    def __init__(self, node: Node, commit_timeout: float = DEFAULT_COMMIT_TIMEOUT) -> None:
        self.node = node
        self.commit_timeout = commit_timeout
        # Threads that sit blocked on event queues (tx commits, websocket
        # subscriptions); kept apart from the pool that runs method bodies.
        self.waiters = ThreadPoolExecutor(max_workers=1024, thread_name_prefix="rpc-wait")
        self.ws_subscribers = 0

    def method_names(self) -> list[str]:
        return sorted([*METHODS, "broadcast_tx_async", "broadcast_tx_commit"])

    async def call(self, method: str, params: Any, uri: bool = False) -> Any:
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
                f"no method {method!r}; this node serves {', '.join(self.method_names())}",
            )
        fn, spec = entry
        args = bind(spec, params, uri, method)
        try:
            return await run_in_threadpool(fn, self.node, **args)
        except RPCError:
            raise
        except Exception as e:
            log.exception("rpc method %s failed", method)
            raise internal(f"{method} failed: {type(e).__name__}: {e}") from e

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
                    f"{self.commit_timeout:g}s; it may still be committed: look it up with tx"
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


def wait_message(node: Node, q: queue.Queue[Message], timeout: float) -> Message | None:
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


async def handle_request(svc: RpcService, req: Any) -> dict[str, Any]:
    """One JSON-RPC request object -> its response object."""
    if not isinstance(req, dict):
        return reply(None, error=RPCError(INVALID_REQUEST, "a request must be a JSON object"))
    rid = req.get("id")
    method = req.get("method")
    if not isinstance(method, str) or not method:
        return reply(rid, error=RPCError(INVALID_REQUEST, "the request has no method"))
    try:
        return reply(rid, await svc.call(method, req.get("params")))
    except RPCError as e:
        return reply(rid, error=e)


def _index_html(svc: RpcService, base: str) -> str:
    links = "".join(
        f'<a href="{base}{m}">{base}{m}</a><br>' for m in svc.method_names() if m != "genesis"
    )
    return (
        "<html><body><br>Available endpoints:<br>"
        f'{links}<a href="{base}genesis">{base}genesis</a><br>'
        f"<br>Websocket: {base.replace('http', 'ws', 1)}websocket<br></body></html>"
    )


def build_rpc_app(node: Node, commit_timeout: float = DEFAULT_COMMIT_TIMEOUT) -> FastAPI:
    from chain.rpc.websocket import serve_websocket

    svc = RpcService(node, commit_timeout)
    app = FastAPI(title="VCoin node RPC", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rpc = svc

    @app.post("/")
    async def jsonrpc(request: Request) -> Response:
        body = await request.body()
        try:
            req = json.loads(body)
        except ValueError as e:
            err = RPCError(PARSE_ERROR, f"the request body is not JSON: {e}")
            return JSONResponse(reply(None, error=err), status_code=500)
        if isinstance(req, list):
            if not req:
                err = RPCError(INVALID_REQUEST, "empty batch")
                return JSONResponse(reply(None, error=err), status_code=500)
            return JSONResponse([await handle_request(svc, r) for r in req])
        return JSONResponse(await handle_request(svc, req))

    @app.get("/")
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(_index_html(svc, str(request.base_url)))

    @app.get("/metrics")
    async def metrics() -> Response:
        node.metrics.mempool_txs.set(len(node.mempool))
        node.metrics.mempool_bytes.set(node.mempool.size_bytes)
        return Response(node.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.websocket("/websocket")
    async def websocket(ws: WebSocket) -> None:
        await serve_websocket(svc, ws)

    @app.get("/{method}")
    async def uri(method: str, request: Request) -> Response:
        params = dict(request.query_params)
        try:
            result = await svc.call(method, params, uri=True)
        except RPCError as e:
            status = 404 if e.code == METHOD_NOT_FOUND else 500
            return JSONResponse(reply(-1, error=e), status_code=status)
        return JSONResponse(reply(-1, result))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("rpc request %s failed", request.url.path)
        err = RPCError(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        return JSONResponse(reply(-1, error=err), status_code=500)

    return app
