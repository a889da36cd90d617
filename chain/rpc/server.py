"""The node RPC server: CometBFT's JSON-RPC 2.0 subset over HTTP and websocket.

    POST /            JSON-RPC (one request or a batch)
    GET  /<method>    the URI form: /block?height=5, /tx_search?query="tx.height=5"
    GET  /websocket   JSON-RPC over a websocket, with subscribe / unsubscribe
    GET  /metrics     Prometheus text

Method bodies read RocksDB and take the node lock, so they run in worker
threads and the event loop stays free for websockets and other requests
(``health`` is answered on the loop itself).

What a client gets wrong is a JSON-RPC error: -32700 for a body that is not
JSON, -32600 for a request that is not one (or past a limit: ``limits.py``),
-32601 for an unknown method, -32602 naming the parameter. Where HTTP carries
the status (a refused body or batch, the URI form) it is 4xx. -32603 is
CometBFT's answer for what is not there (a tx, a block's results) and a bug's,
which ``guard.py`` and ``RpcService.call`` log with a request id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from chain.rpc import jsonbody
from chain.rpc.dispatch import (
    DEFAULT_COMMIT_TIMEOUT,
    RpcService,
    answer_batch,
    encode_reply,
    handle_request,
    reply,
)
from chain.rpc.guard import Guard
from chain.rpc.limits import RpcLimits
from chain.rpc.params import INTERNAL_ERROR, INVALID_REQUEST, RPCError
from chain.rpc.websocket import serve_websocket

if TYPE_CHECKING:
    from chain.nodeview import NodeView


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def error_response(err: RPCError, status: int, rid: Any = None) -> Response:
    return json_response(jsonbody.dumps(reply(rid, error=err)), status)


def _guard_body(status: int, message: str) -> bytes:
    code = INVALID_REQUEST if status == 413 else INTERNAL_ERROR
    return jsonbody.dumps(reply(None, error=RPCError(code, message)))


def _index_html(svc: RpcService, base: str) -> str:
    links = "".join(
        f'<a href="{base}{m}">{base}{m}</a><br>' for m in svc.method_names() if m != "genesis"
    )
    return (
        "<html><body><br>Available endpoints:<br>"
        f'{links}<a href="{base}genesis">{base}genesis</a><br>'
        f"<br>Websocket: {base.replace('http', 'ws', 1)}websocket<br></body></html>"
    )


def build_rpc_app(
    node: NodeView, commit_timeout: float = DEFAULT_COMMIT_TIMEOUT, limits: RpcLimits | None = None
) -> FastAPI:
    svc = RpcService(node, commit_timeout, limits)
    app = FastAPI(title="VCoin node RPC", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rpc = svc
    app.add_middleware(
        Guard,
        name="rpc",
        max_body_bytes=svc.limits.max_body_bytes,
        error_body=_guard_body,
    )
    # public reads from any page (the explorer on the REST port, wallets); no credentials
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"]
    )

    @app.post("/")
    async def jsonrpc(request: Request) -> Response:
        try:
            req = await svc.decode(await request.body())
        except RPCError as e:
            return error_response(e, 400)
        if not isinstance(req, list):
            out = await handle_request(svc, req)
            return json_response(encode_reply(out, svc.limits.max_response_bytes))
        if not req:
            return error_response(RPCError(INVALID_REQUEST, "empty batch"), 400)
        return json_response(await answer_batch(svc, req))

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
            return error_response(e, e.http_status, -1)
        return json_response(encode_reply(reply(-1, result), svc.limits.max_response_bytes))

    return app
