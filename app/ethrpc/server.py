"""The Ethereum JSON-RPC server: JSON-RPC 2.0 over HTTP POST, one request or a batch.

    POST /     a request object, or a batch (an array) of at most
               ``jsonrpc_max_batch_requests``; notifications (no ``id``) get no answer
    GET  /     a JSON-RPC error saying to POST

Answers are HTTP 200 with a JSON-RPC error object for anything a client got
wrong, as geth answers: -32700 not JSON (or nested too deeply), -32600 not a
request (or a batch past the limit), -32601 an unknown method, -32602 a bad
parameter (named), -32000 a refused tx or missing state, -32005 a limit
(``eth_getLogs``' range and results, an answer over ``jsonrpc_max_response_bytes``),
3 a reverted call with its revert data.
A body over ``jsonrpc_max_body_bytes`` is answered 413 before it is read, and a
bug is answered with its request id and no traceback.

The node serves this over ``app/ethrpc/fasthttp.py`` (its own asyncio HTTP/1.1
server: cheap methods on the event loop when the node lock is free, the rest in a
worker thread); ``EthRpcApp`` is the same service as an ASGI app behind
``chain/rpc/guard.py`` and Starlette's CORS, for mounting elsewhere. Both use
``EthRpcService`` (``parse`` then ``respond``, or ``answer``), as the websocket does.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from starlette.middleware.cors import CORSMiddleware

from app.ethrpc import hexio
from app.ethrpc.hexio import RpcError
from app.ethrpc.methods import EthApi, EthRpcLimits
from chain.rpc import jsonbody
from chain.rpc.guard import ASGIApp, Guard, Receive, Scope, Send, request_id

if TYPE_CHECKING:
    from app.node import Node

log = logging.getLogger("vcoin.ethrpc")
_NO_ID = object()


def _reply(rid: Any, result: Any = None, error: RpcError | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
    if error is not None:
        out["error"] = error.to_json()
    else:
        out["result"] = result
    return out


def get_answer() -> bytes:
    """The body of the 405 answered to ``GET /``."""
    err = RpcError(
        hexio.INVALID_REQUEST, "this is the Ethereum JSON-RPC: POST JSON-RPC 2.0 requests here"
    )
    return jsonbody.dumps(_reply(None, error=err))


def guard_body(status: int, message: str) -> bytes:
    """The JSON-RPC error answered with a 413 or a 500."""
    return _guard_body(status, message)


def _guard_body(status: int, message: str) -> bytes:
    code = hexio.INVALID_REQUEST if status == 413 else hexio.INTERNAL_ERROR
    return jsonbody.dumps(_reply(None, error=RpcError(code, message)))


def _valid_id(rid: Any) -> bool:
    return rid is None or (isinstance(rid, str | int | float) and not isinstance(rid, bool))


class EthRpcService:
    def __init__(self, node: Node, limits: EthRpcLimits | None = None) -> None:
        self.api = EthApi(node, limits)
        self.limits = self.api.limits

    def answer(self, body: bytes) -> bytes:
        """The answer to a POST body: a reply, a batch of replies, or b"" for notifications."""
        req = self.parse(body)
        return req if isinstance(req, bytes) else self.respond(req)

    def parse(self, body: bytes) -> Any:
        """The body's JSON, or (as bytes) the error answer when it is not JSON or
        is a batch past the limit."""
        try:
            return jsonbody.loads(body, max_items=self.limits.max_batch_requests)
        except jsonbody.JsonError as e:
            if e.kind == "length":
                err = RpcError(
                    hexio.INVALID_REQUEST,
                    f"a batch holds at most {self.limits.max_batch_requests} requests "
                    "(jsonrpc_max_batch_requests): split it",
                )
            else:
                err = RpcError(hexio.PARSE_ERROR, f"parse error: {e}"[:300])
            return jsonbody.dumps(_reply(None, error=err))

    def respond(self, req: Any) -> bytes:
        """The answer to a parsed body (``parse``)."""
        if isinstance(req, list):
            if not req:
                return jsonbody.dumps(
                    _reply(None, error=RpcError(hexio.INVALID_REQUEST, "empty batch"))
                )
            parts: list[bytes] = []
            room = self.limits.max_response_bytes
            for x in req:
                r = self.one(x)
                if r is not None:
                    parts.append(self.encode(r, room))
                    room -= len(parts[-1])
            return b"[" + b",".join(parts) + b"]" if parts else b""
        out = self.one(req)
        return b"" if out is None else self.encode(out, self.limits.max_response_bytes)

    def encode(self, reply: dict[str, Any], room: int) -> bytes:
        """``reply`` as JSON, or an error in its place when it is over ``room`` bytes
        (what is left of ``jsonrpc_max_response_bytes`` for the answer)."""
        body = jsonbody.dumps(reply)
        if len(body) <= room:
            return body
        err = RpcError(
            hexio.LIMIT_EXCEEDED,
            f"the answer is over this server's limit of {self.limits.max_response_bytes} bytes "
            "(jsonrpc_max_response_bytes): ask for less, or split the batch",
        )
        return jsonbody.dumps(_reply(reply.get("id"), error=err))

    def one(self, req: Any) -> dict[str, Any] | None:
        """One request's reply (None for a notification)."""
        if not isinstance(req, dict):
            return _reply(None, error=RpcError(hexio.INVALID_REQUEST, "a request is a JSON object"))
        rid = req.get("id", _NO_ID)
        notification = rid is _NO_ID
        if notification:
            rid = None
        if not _valid_id(rid):
            return _reply(
                None, error=RpcError(hexio.INVALID_REQUEST, "id must be a string, number or null")
            )
        if req.get("jsonrpc") != "2.0":
            return _reply(rid, error=RpcError(hexio.INVALID_REQUEST, 'jsonrpc must be "2.0"'))
        method = req.get("method")
        if not isinstance(method, str):
            return _reply(rid, error=RpcError(hexio.INVALID_REQUEST, "method must be a string"))
        params = req.get("params")
        if params is None:
            params = []
        if not isinstance(params, list):
            err = RpcError(hexio.INVALID_PARAMS, "params must be an array (positional parameters)")
            # a notification's errors are not answered (JSON-RPC 2.0), as on the websocket
            return None if notification else _reply(rid, error=err)
        try:
            result = self.api.call(method, params)
        except RpcError as e:
            out = _reply(rid, error=e)
        except MemoryError:
            raise
        except Exception:
            rq = request_id()
            log.exception("%s failed (request id %s)", method[:100], rq, extra={"request_id": rq})
            err = RpcError(
                hexio.INTERNAL_ERROR,
                f"internal error (request id {rq}): a bug in the node, logged with this id",
            )
            out = _reply(rid, error=err)
        else:
            out = _reply(rid, result)
        return None if notification else out


class EthRpcApp:
    """The ASGI app: ``POST /`` answered by ``EthRpcService`` in a worker thread (the
    loop's executor, with the request's context, so its id reaches the log), ``GET /``
    a JSON-RPC error saying to POST, 405 for other methods and 404 for other paths.

    A raw ASGI callable: Starlette's routing, request and response objects and anyio's
    thread pool cost about 90 of the 340 CPU-µs an ``eth_blockNumber`` took over HTTP
    (an A/B in one process; scripts/bench/jsonrpc.py measures the node)."""

    def __init__(self, svc: EthRpcService) -> None:
        self.svc = svc
        self.state = SimpleNamespace(ethrpc=svc)
        guarded = Guard(
            self._serve,
            name="jsonrpc",
            max_body_bytes=svc.limits.max_body_bytes,
            error_body=_guard_body,
        )
        # browser dapps and the explorer (served on the REST port) call from other origins
        self._app: ASGIApp = CORSMiddleware(
            guarded, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope.get("path", "/") != "/":
            await _send(send, 404, b"Not Found", b"text/plain; charset=utf-8")
            return
        method = scope.get("method")
        if method in ("GET", "HEAD"):
            body = get_answer()
            await _send(send, 405, b"" if method == "HEAD" else body, length=len(body))
            return
        if method != "POST":
            await _send(send, 405, b"Method Not Allowed", b"text/plain; charset=utf-8", allow=True)
            return
        chunks = []
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(None, ctx.run, self.svc.answer, b"".join(chunks))
        await _send(send, 200, out)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    *,
    length: int | None = None,
    allow: bool = False,
) -> None:
    headers = [(b"content-length", str(len(body) if length is None else length).encode())]
    if body or length:
        headers.append((b"content-type", content_type))
    if allow:
        headers.append((b"allow", b"GET, HEAD, POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_ethrpc_app(node: Node, limits: EthRpcLimits | None = None) -> EthRpcApp:
    """The JSON-RPC app, behind the Guard (body limit, request ids, last-resort errors)
    and CORS; ``.state.ethrpc`` is its ``EthRpcService``."""
    return EthRpcApp(EthRpcService(node, limits or limits_of(node)))


def limits_of(node: Node) -> EthRpcLimits:
    c = node.cfg
    return EthRpcLimits(
        max_body_bytes=c.jsonrpc_max_body_bytes,
        max_batch_requests=c.jsonrpc_max_batch_requests,
        logs_max_blocks=c.jsonrpc_logs_max_blocks,
        logs_max_results=c.jsonrpc_logs_max_results,
        max_response_bytes=c.jsonrpc_max_response_bytes,
        call_gas_cap=c.jsonrpc_call_gas_cap,
        call_cache=c.jsonrpc_call_cache,
    )
