"""The JSON-RPC port's HTTP/1.1 server: ``asyncio.Protocol``, stdlib only.

uvicorn's h11 parser, the Guard and CORS ASGI layers and the hop to a worker thread
cost about 260 CPU-µs a request, against handlers of 4-25 µs; this server speaks
the small part of HTTP/1.1 that JSON-RPC clients use and answers exactly as the
ASGI app did (``app/ethrpc/server.py``'s ``EthRpcApp``, still what tests may mount):

- ``POST /`` with a ``Content-Length`` body; keep-alive (HTTP/1.1's default,
  ``Connection: close``, HTTP/1.0 with ``keep-alive``); pipelined requests answered
  in order, one at a time; ``Expect: 100-continue`` answered; a chunked body 411.
- ``GET``/``HEAD /``: 405 with the JSON-RPC error saying to POST; other methods 405
  with ``Allow``; other paths 404 (a query string is ignored, as before).
- What the Guard did: every answer carries ``x-request-id`` (the log lines of a
  failing request carry the same id, and a 500 names it, with no traceback); a body
  over ``jsonrpc_max_body_bytes`` is answered 413 with the JSON-RPC error before it
  is read, and then skipped unread so the connection stays usable.
- CORS as Starlette's ``CORSMiddleware(allow_origins=["*"], allow_methods=["GET",
  "POST"], allow_headers=["*"])`` answered: ``Access-Control-Allow-Origin: *`` when the
  request has an ``Origin``, ``Vary: Origin``, and preflight ``OPTIONS`` answered 200.
- Hostile clients: a header section over ``max_header_bytes`` is 431, a malformed
  request line or header 400, both then closed; a request whose headers or body
  trickle in past ``header_timeout`` / ``body_timeout`` is closed, and so is an idle
  keep-alive connection after ``idle_timeout``; past ``max_connections`` a new client
  gets 503 and is closed; a client that does not read its answers stops being read
  (one answer at a time is made, and only while the socket's send buffer drains).

A request known to be quick (``app/ethrpc/inline.py``: cheap reads, and an ``eth_call``
whose contract and function took under 1 ms last time) runs on the event loop when the
node lock is free; anything else, or while the lock is held (a block being made), runs
in the loop's executor, so the loop never waits on the lock. Measured in
``scripts/bench/README.md`` § jsonrpc.py (45 CPU-µs an ``eth_blockNumber`` inline, 70-83
in the executor).
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import http
import logging
import random
import re
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from app.ethrpc.inline import InlinePolicy
from chain.rpc.guard import REQUEST_ID

if TYPE_CHECKING:
    from app.ethrpc.server import EthRpcService

log = logging.getLogger("vcoin.ethrpc.http")

_REASONS = {x.value: x.phrase.encode() for x in http.HTTPStatus}
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"
_PREFLIGHT_VARY = (
    b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    b"Access-Control-Request-Private-Network"
)


def _timed(svc: EthRpcService, policy: InlinePolicy, parsed: Any) -> bytes:
    """``svc.respond(parsed)``, its time told to ``policy`` (where the next runs)."""
    t0 = time.perf_counter()
    out = svc.respond(parsed)
    if isinstance(parsed, dict):
        policy.ran(parsed, time.perf_counter() - t0)
    return out


class _Date:
    """The ``date`` header, made once a second."""

    at = 0
    value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self.at:
            self.at = now
            self.value = email.utils.formatdate(now, usegmt=True).encode()
        return self.value


def _rid() -> str:
    """A request id: for finding a request's log lines, not a secret."""
    return f"{random.getrandbits(48):012x}"


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Request:
    __slots__ = ("method", "path", "keep_alive", "headers", "length", "expect")

    def __init__(self, method: bytes, path: bytes, keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.keep_alive = keep_alive
        self.headers: dict[bytes, bytes] = {}
        self.length = 0
        self.expect = False


def _parse_head(head: bytes) -> _Request:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise _BadRequest(400, "malformed request line")
    method, target, version = parts
    if version == b"HTTP/1.1":
        keep = True
    elif version == b"HTTP/1.0":
        keep = False
    else:
        raise _BadRequest(400, "unsupported HTTP version")
    if target.startswith(b"http://") or target.startswith(b"https://"):
        slash = target.find(b"/", target.find(b"//") + 2)
        target = target[slash:] if slash >= 0 else b"/"
    req = _Request(method, target.split(b"?", 1)[0], keep)
    h = req.headers
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.fullmatch(name):
            raise _BadRequest(400, "malformed header")
        name = name.lower()
        value = value.strip(b" \t")
        if name in h:
            if name == b"content-length" and h[name] != value:
                raise _BadRequest(400, "conflicting Content-Length")
            h[name] = h[name] + b", " + value if name != b"content-length" else value
        else:
            h[name] = value
    conn = h.get(b"connection", b"").lower()
    if b"close" in conn:
        req.keep_alive = False
    elif b"keep-alive" in conn:
        req.keep_alive = True
    if b"transfer-encoding" in h:
        raise _BadRequest(411, "send the body with a Content-Length")
    cl = h.get(b"content-length")
    if cl is not None:
        if not cl.isdigit() or len(cl) > 18:
            raise _BadRequest(400, "malformed Content-Length")
        req.length = int(cl)
    req.expect = h.get(b"expect", b"").lower() == b"100-continue"
    return req


class FastHttpServer:
    """Serves ``svc`` on ``sock`` from a thread of its own; ``stop()`` (or setting
    ``should_exit``, as the node does to its uvicorn servers) closes it."""

    def __init__(
        self,
        svc: EthRpcService,
        lock: Any,
        *,
        inline: bool = True,
        max_header_bytes: int = 16 * 1024,
        header_timeout: float = 10.0,
        body_timeout: float = 60.0,
        idle_timeout: float = 5.0,
        max_connections: int = 1000,
        shutdown_grace: float = 5.0,
    ) -> None:
        self.svc = svc
        self.lock = lock
        self.inline = inline
        self.policy = InlinePolicy()
        self.max_body = svc.limits.max_body_bytes
        self.max_header = max_header_bytes
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.shutdown_grace = shutdown_grace
        self.date = _Date()
        self.conns: set[_Conn] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._done: asyncio.Event | None = None
        self.too_large = (
            f"the request body is over this server's limit of {self.max_body} bytes "
            "(jsonrpc_max_body_bytes); send less, or split a batch"
        )

    # -- life cycle ---------------------------------------------------------------

    def start(self, sock: socket.socket, name: str = "jsonrpc") -> threading.Thread:
        started = threading.Event()
        t = threading.Thread(target=self._run, args=(sock, started), name=name, daemon=True)
        t.start()
        started.wait(10)
        self._thread = t
        return t

    def _run(self, sock: socket.socket, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._main(sock, started))
        finally:
            loop.close()

    async def _main(self, sock: socket.socket, started: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        sock.setblocking(False)
        self._server = await loop.create_server(lambda: _Conn(self), sock=sock, backlog=2048)
        started.set()
        tick = max(0.05, min(1.0, self.header_timeout, self.body_timeout, self.idle_timeout) / 5)
        while not self._done.is_set():
            try:
                await asyncio.wait_for(self._done.wait(), tick)
            except TimeoutError:
                now = loop.time()
                for c in [c for c in self.conns if c.deadline < now]:
                    c._timed_out()
        self._server.close()
        deadline = loop.time() + self.shutdown_grace
        for c in list(self.conns):
            c.close_when_idle()
        while self.conns and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for c in list(self.conns):
            c.abort()
        await self._server.wait_closed()

    @property
    def should_exit(self) -> bool:
        return self._stopping

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        if value:
            self.stop(wait=False)

    def stop(self, wait: bool = True) -> None:
        """Stop taking connections, finish the answers being made (up to
        ``shutdown_grace``), close every connection."""
        if not self._stopping and self.loop is not None and self._done is not None:
            self._stopping = True
            try:
                self.loop.call_soon_threadsafe(self._done.set)
            except RuntimeError:  # the loop is already closed
                pass
        if wait and self._thread is not None:
            self._thread.join(self.shutdown_grace + 5)


class _Conn(asyncio.Protocol):
    def __init__(self, server: FastHttpServer) -> None:
        self.s = server
        self.loop = asyncio.get_running_loop()
        self.t: asyncio.Transport | None = None
        self.buf = bytearray()
        self.scan = 0  # where to look for the end of the header section next
        self.req: _Request | None = None  # headers read, body not yet
        self.busy = False  # an answer is being made
        self.skip = 0  # body bytes of a refused request still to throw away
        self.write_paused = False
        self.unsent = 0  # bytes not yet taken by the client when last looked at
        self.read_paused = False
        self.closing = False
        self.close_idle = False
        self.deadline = 0.0  # loop time past which the server's sweep closes it (unless busy)

    # -- transport callbacks -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.t = transport
        if len(self.s.conns) >= self.s.max_connections or self.s._stopping:
            body = b"too many connections to this server; try again later"
            transport.write(self._head(503, len(body), _TEXT, False) + body)
            transport.close()
            self.closing = True
            return
        self.s.conns.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self._arm(self.s.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.s.conns.discard(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.unsent = self.t.get_write_buffer_size() if self.t is not None else 0

    def resume_writing(self) -> None:
        self.write_paused = False
        self._next()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self.skip:
            if len(data) <= self.skip:
                self.skip -= len(data)
                if not self.skip:
                    self._arm(self.s.idle_timeout)
                return
            data = data[self.skip :]
            self.skip = 0
        if not self.buf and self.req is None and not self.busy:
            self._arm(self.s.header_timeout)  # a request has begun: its headers have a deadline
        self.buf += data
        self._next()

    # -- the request loop -----------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        # a float per request, not a timer: the server's sweep reads it
        self.deadline = self.loop.time() + seconds

    def _timed_out(self) -> None:
        if self.busy:
            return
        if self.write_paused and self.t is not None:
            # an answer is going out slowly: fine while the client keeps reading it
            left = self.t.get_write_buffer_size()
            if left < self.unsent:
                self.unsent = left
                self._arm(self.s.idle_timeout)
                return
        self.abort()

    def _next(self) -> None:
        """Parse and answer what the buffer holds, one request at a time."""
        while not self.busy and not self.closing and not self.write_paused and not self.skip:
            if self.req is None:
                end = self.buf.find(b"\r\n\r\n", self.scan)
                if end < 0:
                    if len(self.buf) > self.s.max_header:
                        self._fail(431, "the request's header section is over 16 KiB")
                        return
                    self.scan = max(0, len(self.buf) - 3)
                    if not self.buf and self.close_idle:
                        self.abort()
                    break
                if end > self.s.max_header:
                    self._fail(431, "the request's header section is over 16 KiB")
                    return
                head = bytes(self.buf[:end])
                del self.buf[: end + 4]
                self.scan = 0
                try:
                    req = _parse_head(head.lstrip(b"\r\n"))
                except _BadRequest as e:
                    self._fail(e.status, str(e))
                    return
                if self._before_body(req):
                    continue
                self.req = req
                self._arm(self.s.body_timeout)
                if req.expect and len(self.buf) < req.length:
                    self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            req = self.req
            if len(self.buf) < req.length:
                break
            body = bytes(self.buf[: req.length])
            del self.buf[: req.length]
            self.req = None
            try:
                self._post(req, body)
            except Exception as e:  # a bug before the handler ran: a fresh id for it
                self.busy = False
                self._answer(req, rid := _rid(), 500, self._bug(rid, e))
        if self.read_paused and not self.busy and not self.write_paused:
            self.read_paused = False
            assert self.t is not None
            self.t.resume_reading()
        elif (self.busy or self.write_paused) and len(self.buf) > 65536 and not self.read_paused:
            self.read_paused = True
            assert self.t is not None
            self.t.pause_reading()

    def _before_body(self, req: _Request) -> bool:
        """Answer what needs no body; True when it is answered (the loop goes on)."""
        cors = b"origin" in req.headers
        if req.method == b"OPTIONS" and cors and b"access-control-request-method" in req.headers:
            self._preflight(req)
        elif req.path != b"/":
            self._simple(req, 404, b"Not Found", _TEXT, cors)
        elif req.method in (b"GET", b"HEAD"):
            from app.ethrpc.server import get_answer

            body = get_answer()
            self._simple(req, 405, body, _JSON, cors, head_only=req.method == b"HEAD")
        elif req.method != b"POST":
            self._simple(req, 405, b"Method Not Allowed", _TEXT, cors, allow=True)
        elif req.length > self.s.max_body:
            from app.ethrpc.server import guard_body

            self._simple(req, 413, guard_body(413, self.s.too_large), _JSON, cors)
        else:
            return False
        self._skip_body(req)
        return True

    def _skip_body(self, req: _Request) -> None:
        """Throw away the body of a request answered without it."""
        if not req.length or self.closing:
            return
        if len(self.buf) >= req.length:
            del self.buf[: req.length]
            return
        self.skip = req.length - len(self.buf)
        self.buf.clear()
        self._arm(self.s.body_timeout)

    def _post(self, req: _Request, body: bytes) -> None:
        rid = _rid()
        svc = self.s.svc
        parsed = svc.parse(body)
        if isinstance(parsed, bytes):
            self._answer(req, rid, 200, parsed)
            return
        lock, policy = self.s.lock, self.s.policy
        if (
            self.s.inline
            and isinstance(parsed, dict)
            and policy.inline(parsed)
            and lock.acquire(blocking=False)
        ):
            token = REQUEST_ID.set(rid)
            try:
                out = _timed(svc, policy, parsed)
            except Exception as e:
                self._answer(req, rid, 500, self._bug(rid, e))
                return
            finally:
                REQUEST_ID.reset(token)
                lock.release()
            self._answer(req, rid, 200, out)
            return
        self.busy = True
        token = REQUEST_ID.set(rid)
        try:
            ctx = contextvars.copy_context()
        finally:
            REQUEST_ID.reset(token)
        fut = self.loop.run_in_executor(None, ctx.run, _timed, svc, policy, parsed)
        fut.add_done_callback(lambda f: self._done(req, rid, f))

    def _done(self, req: _Request, rid: str, fut: asyncio.Future[bytes]) -> None:
        self.busy = False
        if self.closing:
            return
        try:
            out = fut.result()
        except Exception as e:
            self._answer(req, rid, 500, self._bug(rid, e))
        else:
            self._answer(req, rid, 200, out)
        self._next()

    def _bug(self, rid: str, exc: BaseException) -> bytes:
        """Log a bug with the request id; the 500's body names the id, no traceback."""
        from app.ethrpc.server import guard_body

        token = REQUEST_ID.set(rid)
        try:
            log.error(
                "jsonrpc request POST / failed (request id %s)",
                rid,
                exc_info=exc,
                extra={"request_id": rid},
            )
        finally:
            REQUEST_ID.reset(token)
        return guard_body(
            500,
            f"internal error (request id {rid}): a bug in the node, "
            "logged with this id; please report it",
        )

    # -- answers ------------------------------------------------------------------------

    def _head(
        self,
        status: int,
        length: int,
        ctype: bytes | None,
        keep: bool,
        extra: bytes = b"",
    ) -> bytes:
        return b"".join(
            (
                b"HTTP/1.1 %d %s\r\ndate: %s\r\ncontent-length: %d\r\n"
                % (status, _REASONS[status], self.s.date.get(), length),
                b"content-type: " + ctype + b"\r\n" if ctype else b"",
                extra,
                b"" if keep else b"connection: close\r\n",
                b"\r\n",
            )
        )

    def _answer(self, req: _Request, rid: str, status: int, body: bytes) -> None:
        extra = b"x-request-id: " + rid.encode() + b"\r\n"
        if b"origin" in req.headers:
            extra += b"access-control-allow-origin: *\r\n"
        extra += b"vary: Origin\r\n"
        keep = req.keep_alive and not self.s._stopping
        head = self._head(status, len(body), _JSON if body else None, keep, extra)
        if len(body) < 65536:
            self._write(head + body)
        else:
            self._write(head)
            self._write(body)
        self._finish(keep)

    def _simple(
        self,
        req: _Request,
        status: int,
        body: bytes,
        ctype: bytes,
        cors: bool,
        *,
        head_only: bool = False,
        allow: bool = False,
    ) -> None:
        extra = b"x-request-id: " + _rid().encode() + b"\r\n"
        if allow:
            extra += b"allow: GET, HEAD, POST\r\n"
        if cors:
            extra += b"access-control-allow-origin: *\r\n"
        extra += b"vary: Origin\r\n"
        keep = req.keep_alive and not self.s._stopping
        self._write(self._head(status, len(body), ctype, keep, extra))
        if not head_only:
            self._write(body)
        self._finish(keep)

    def _preflight(self, req: _Request) -> None:
        h = req.headers
        failures = []
        if h[b"access-control-request-method"] not in (b"GET", b"POST"):
            failures.append(b"method")
        if b"access-control-request-private-network" in h:
            failures.append(b"private-network")
        extra = b"vary: " + _PREFLIGHT_VARY + b"\r\naccess-control-allow-origin: *\r\n"
        extra += b"access-control-allow-methods: GET, POST\r\naccess-control-max-age: 600\r\n"
        if b"access-control-request-headers" in h:
            extra += b"access-control-allow-headers: " + h[b"access-control-request-headers"]
            extra += b"\r\n"
        status = 400 if failures else 200
        body = b"Disallowed CORS " + b", ".join(failures) if failures else b"OK"
        keep = req.keep_alive and not self.s._stopping
        self._write(self._head(status, len(body), _TEXT, keep, extra) + body)
        self._finish(keep)

    def _fail(self, status: int, message: str) -> None:
        """A request this server cannot read: answer and close."""
        body = message.encode()
        self._write(self._head(status, len(body), _TEXT, False) + body)
        self._finish(False)

    def _write(self, data: bytes) -> None:
        if self.t is not None and not self.closing:
            self.t.write(data)

    def _finish(self, keep: bool) -> None:
        if not keep or self.close_idle:
            if not keep or not self.buf:
                self.closing = True
                assert self.t is not None
                self.t.close()  # after what is buffered is sent
                return
        self._arm(self.s.idle_timeout if not self.buf else self.s.header_timeout)

    def close_when_idle(self) -> None:
        self.close_idle = True
        if not self.busy and self.req is None and not self.skip:
            self.closing = True
            if self.t is not None:
                self.t.close()

    def abort(self) -> None:
        self.closing = True
        if self.t is not None:
            self.t.abort()
