"""The outermost layer of the RPC and REST servers: body limit, request ids, last-resort errors.

Every HTTP request gets an id (the ``x-request-id`` header of its answer, and
``request_id`` in the log lines it causes). A body over the server's limit is
answered 413 before it is read when its length is declared, or as soon as
the running count passes the limit when it is chunked. An exception that no
handler turned into an answer is a node bug: it is logged with the request id
and answered 500 with that id and no traceback.

Starlette's own last-resort handler re-raises after answering, and uvicorn
then closes the client's keep-alive connection; this layer answers and
returns, so the connection stays usable after every error.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("vcoin.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (HTTP status, what to tell the client) -> the JSON body in the server's error shape
ErrorBody = Callable[[int, str], bytes]

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def request_id() -> str:
    """The id of the request being served (``-`` outside one)."""
    return REQUEST_ID.get()


class BodyTooLarge(Exception):
    pass


class Guard:
    """ASGI middleware; ``exempt`` path prefixes stream their own bodies under their own limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str,
        max_body_bytes: int,
        error_body: ErrorBody,
        exempt: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.name = name
        self.max_body = max_body_bytes
        self.error_body = error_body
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(6)
        token = REQUEST_ID.set(rid)
        try:
            await self._serve(scope, receive, send, rid)
        finally:
            REQUEST_ID.reset(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        path = str(scope.get("path", ""))
        limited = not path.startswith(self.exempt) if self.exempt else True
        too_large = (
            f"the request body is over this server's limit of {self.max_body} bytes "
            f"({self.name}_max_body_bytes); send less, or split a batch"
        )
        if limited and _declared_length(scope) > self.max_body:
            await self._answer(send, rid, 413, too_large)
            return
        started = False
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if limited and msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return msg

        async def tagged(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                msg["headers"] = [*msg.get("headers", []), (b"x-request-id", rid.encode())]
            await send(msg)

        try:
            await self.app(scope, counted, tagged)
        except BodyTooLarge:
            if started:
                raise
            await self._answer(send, rid, 413, too_large)
        except Exception:
            log.exception(
                "%s request %s %s failed (request id %s)",
                self.name,
                scope.get("method"),
                path,
                rid,
                extra={"request_id": rid},
            )
            if started:
                raise  # half an answer is out: only closing the connection ends it
            await self._answer(
                send,
                rid,
                500,
                f"internal error (request id {rid}): a bug in the node, "
                "logged with this id; please report it",
            )

    async def _answer(self, send: Send, rid: str, status: int, message: str) -> None:
        body = self.error_body(status, message)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", rid.encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int:
    for k, v in scope.get("headers", []):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return 0  # h11 refuses a malformed length before the app sees it
    return 0
