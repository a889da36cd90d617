"""``/v1/jobs/stream``: a websocket that pushes the signed-in user's job events.

**Auth.** ``Authorization: Bearer <API key or session JWT>`` on the upgrade request, or,
for browsers (which cannot set headers on a websocket), ``?api_key=vk_…`` or
``?access_token=<JWT>`` in the URL (URLs end up in access logs: prefer the header). An
API key needs one of the scopes that post jobs (``completions``, ``embeddings``,
``fine_tuning``); opening a stream counts as one request against the key's rate limit.
A refusal is an HTTP answer to the upgrade, in OpenAI's error shape: 401 (bad, revoked
or missing key or token), 403 (no job scope), 429 (rate limited).

**Messages** (JSON text, server to client). First ``{"type": "subscribed", "owner":
"vcoin1…", "height": H}``: every event of a later block follows. Then one message per
chain event of a job the owner posted (through the gateway or not), in chain order::

    {"type": "job", "event": "claimed", "job_id": 7, "height": 120, "state": "claimed",
     "tx_hash": "AB12…" (null for events of the block itself), "attributes": {…}}

``event`` is ``posted``, ``claimed``, ``result_submitted``, ``sampled``, ``attested``,
``verdict``, ``refunded``, ``settled``, ``rejected``, ``cancelled``, ``expired``,
``failed`` or ``requeued``; ``state`` is the job's state after it (the chain's names:
``queued``, ``claimed``, ``submitted``, ``checking``, ``settled``, ``rejected``,
``cancelled``, ``expired``, ``failed``); ``attributes`` are the chain event's own. What
the client sends is ignored (a ``"ping"`` text is answered ``{"type": "pong"}``).

**Where events come from.** One hub per gateway follows the node's ``/websocket``
(``tm.event='NewBlock'``, which carries every tx result and the block's own events,
through ``chain.client_ws``), while at least one stream is open; it learns each job's
poster from its ``JobPosted`` event and asks the node (``jobs/job``) once for a job
posted before it started. Nothing polls jobs. After a lost node connection it reads
the missed blocks with ``block_results`` (up to ``MAX_CATCHUP`` blocks; past that the
streams are closed 1013, "reconnect").

**Slow clients.** Each stream holds at most ``max_queue`` (1,000) messages not yet
written to its socket; past that it is closed with code 1008 and a reason saying so,
and a client reconnects and reads the job's state (``GET /v1/…`` or the node) to
catch up. Close codes: 1008 too slow, 1011 the gateway failed, 1013 the node is away.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from chain.client import NodeClient, NodeError
from gateway import errors
from gateway.auth import KEY_PREFIX, Auth
from gateway.errors import ApiError

log = logging.getLogger("vcoin.gateway.stream")

PATH = "/v1/jobs/stream"
JOB_SCOPES = ("completions", "embeddings", "fine_tuning")  # the scopes that post jobs
NEW_BLOCK = "tm.event='NewBlock'"
MAX_QUEUE = 1000  # messages a stream may have unwritten before it is closed
MAX_CATCHUP = 1000  # blocks read back with block_results after a lost node connection
MAX_JOBS_KNOWN = 100_000  # job id -> (poster, state) remembered, least recently used out
CLOSE_SLOW, CLOSE_FAILED, CLOSE_NODE_AWAY = 1008, 1011, 1013
CLOSE_WAIT_S = 15.0  # for a client to take the close frame

# chain event type -> (stream event name, the job's state after it; None: unchanged)
EVENTS: dict[str, tuple[str, str | None]] = {
    "JobPosted": ("posted", "queued"),
    "JobClaimed": ("claimed", "claimed"),
    "ResultSubmitted": ("result_submitted", "submitted"),
    "ResultSampled": ("sampled", None),
    "Attested": ("attested", "checking"),
    "VerdictReached": ("verdict", None),
    "EscrowRefunded": ("refunded", None),
    "JobSettled": ("settled", "settled"),
    "JobRejected": ("rejected", "rejected"),
    "JobCancelled": ("cancelled", "cancelled"),
    "JobExpired": ("expired", "expired"),
    "JobFailed": ("failed", "failed"),
    "JobRequeued": ("requeued", "queued"),
}


@dataclass(eq=False)
class Subscriber:
    """One open stream: its owner and the messages not yet written to its socket."""

    owner: str
    loop: asyncio.AbstractEventLoop
    max_queue: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # set with ``closing``
    queue: deque[str] = field(default_factory=deque)
    closing: tuple[int, str] | None = None  # set once: the close code and reason
    lock: threading.Lock = field(default_factory=threading.Lock)

    def offer(self, msg: str) -> None:
        """From the hub's thread: queue ``msg``, or mark the stream too slow."""
        with self.lock:
            if self.closing is not None:
                return
            if len(self.queue) >= self.max_queue:
                self.queue.clear()  # its memory goes now, not when the socket closes
                self.closing = (
                    CLOSE_SLOW,
                    f"too slow: more than {self.max_queue} job events unread; reconnect",
                )
            else:
                self.queue.append(msg)
        self._wake()

    def end(self, code: int, reason: str) -> None:
        with self.lock:
            if self.closing is None:
                self.closing = (code, reason)
        self._wake()

    def take(self) -> tuple[list[str], tuple[int, str] | None]:
        with self.lock:
            out = list(self.queue)
            self.queue.clear()
            return out, self.closing

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to wake
            self.loop.call_soon_threadsafe(self.wake.set)
            if self.closing is not None:
                self.loop.call_soon_threadsafe(self.ended.set)


class JobEventHub:
    """Follows the node's blocks while any stream is open and fans job events out."""

    def __init__(self, rpc: str, node: NodeClient, *, max_queue: int = MAX_QUEUE) -> None:
        self.rpc = rpc
        self.node = node
        self.max_queue = max_queue
        self._lock = threading.Lock()
        self._subs: set[Subscriber] = set()
        self._jobs: OrderedDict[int, list[str]] = OrderedDict()  # id -> [poster, state]
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()  # following the node, ``height`` is good
        self._wanted = threading.Condition(self._lock)  # notified when a stream opens
        self._error = ""
        self.height = 0  # the last block handled

    # -- streams -----------------------------------------------------------------
    def subscribe(
        self, owner: str, loop: asyncio.AbstractEventLoop, timeout: float = 15.0
    ) -> tuple[Subscriber, int]:
        """A new subscriber for ``owner`` and the height after which its events come;
        starts following the node first if nobody was. Blocking (call it in a thread);
        raises NodeError when the node's event stream cannot be opened."""
        sub = Subscriber(owner, loop, self.max_queue)
        with self._lock:
            self._subs.add(sub)
            self._wanted.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="gateway-job-events", daemon=True
                )
                self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if sub.closing is not None or time.monotonic() > deadline:
                self.unsubscribe(sub)
                raise NodeError(self._error or f"no event stream from the node in {timeout:g}s")
        with self._lock:
            return sub, self.height

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def count(self) -> int:
        with self._lock:
            return len(self._subs)

    def _wanted_now(self) -> bool:
        """True while any stream is open; else the hub goes idle, atomically with the
        check (a stream that opens later waits for the next connection to the node)."""
        with self._lock:
            if self._subs:
                return True
            self._ready.clear()
            self.height = 0
            return False

    # -- following the node ------------------------------------------------------
    def _run(self) -> None:
        from chain.client_ws import EventStream

        backoff = 0.5
        try:
            while True:
                with self._lock:
                    while not self._subs:
                        self._wanted.wait()
                try:
                    with EventStream(self.rpc) as stream:
                        stream.subscribe(NEW_BLOCK)
                        self._catch_up(self.node.latest_height())
                        self._error = ""
                        self._ready.set()
                        backoff = 0.5
                        while self._wanted_now():
                            ev = stream.next(timeout=0.5)
                            if ev is not None and ev.height > self.height:
                                if ev.height > self.height + 1:
                                    self._catch_up(ev.height - 1)
                                self._on_block(ev.height, ev.data)
                except (NodeError, OSError) as e:
                    self._error = f"the node's event stream failed: {e}"
                    log.warning("%s; reconnecting in %.1fs", self._error, backoff)
                    if not self._ready.is_set():  # the streams waiting to start are told
                        for sub in self._snapshot():
                            sub.end(CLOSE_NODE_AWAY, "the node's event stream is unavailable")
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        except Exception:  # noqa: BLE001 - a bug: the streams are closed, not left hanging
            log.exception("the job event hub failed")
            with self._lock:
                self._thread = None
                self._ready.clear()
                self.height = 0
            for sub in self._snapshot():
                sub.end(CLOSE_FAILED, "the gateway's event hub failed")

    def _snapshot(self) -> list[Subscriber]:
        with self._lock:
            return list(self._subs)

    def _catch_up(self, top: int) -> None:
        """Blocks after ``self.height`` up to ``top``: read back after a lost connection."""
        if self.height == 0:  # a fresh start: events from the next block on
            with self._lock:
                self.height = top
            return
        if top - self.height > MAX_CATCHUP:
            for sub in self._snapshot():
                sub.end(CLOSE_NODE_AWAY, f"missed more than {MAX_CATCHUP} blocks; reconnect")
            with self._lock:
                self.height = top
            return
        for h in range(self.height + 1, top + 1):
            r = self.node.block_results(h)
            self._handle(h, r.get("txs_results") or [], r.get("finalize_block_events") or [], [])

    def _on_block(self, height: int, data: dict[str, Any]) -> None:
        txs = ((data.get("block") or {}).get("data") or {}).get("txs") or []
        hashes = [hashlib.sha256(base64.b64decode(t)).hexdigest().upper() for t in txs]
        res = data.get("result_finalize_block") or {}
        self._handle(height, res.get("tx_results") or [], res.get("events") or [], hashes)

    def _handle(
        self,
        height: int,
        tx_results: list[dict[str, Any]],
        block_events: list[dict[str, Any]],
        hashes: list[str],
    ) -> None:
        evs: list[tuple[dict[str, Any], str | None]] = []
        for i, r in enumerate(tx_results):
            if int(r.get("code") or 0) == 0:
                h = hashes[i] if i < len(hashes) else None
                evs += [(e, h) for e in r.get("events") or []]
        evs += [(e, None) for e in block_events]
        for e, tx_hash in evs:
            kind = EVENTS.get(str(e.get("type")))
            if kind is None:
                continue
            attrs = {str(a.get("key")): str(a.get("value")) for a in e.get("attributes") or []}
            try:
                job_id = int(attrs.get("job_id", ""))
            except ValueError:
                continue
            self._deliver(height, tx_hash, kind, job_id, attrs)
        with self._lock:
            self.height = height

    def _deliver(
        self,
        height: int,
        tx_hash: str | None,
        kind: tuple[str, str | None],
        job_id: int,
        attrs: dict[str, str],
    ) -> None:
        name, state = kind
        if name == "posted":
            self._remember(job_id, attrs.get("poster", ""), "queued")
        known = self._known(job_id)
        if known is None:
            return
        if name == "sampled" and attrs.get("picked") == "true":
            state = "checking"
        if state is not None:
            known[1] = state
        subs = [s for s in self._snapshot() if s.owner == known[0]]
        if not subs:
            return
        msg = json.dumps(
            {
                "type": "job",
                "event": name,
                "job_id": job_id,
                "height": height,
                "state": known[1],
                "tx_hash": tx_hash,
                "attributes": attrs,
            },
            separators=(",", ":"),
        )
        for s in subs:
            s.offer(msg)

    def _remember(self, job_id: int, poster: str, state: str) -> list[str]:
        entry = [poster, state]
        self._jobs[job_id] = entry
        self._jobs.move_to_end(job_id)
        while len(self._jobs) > MAX_JOBS_KNOWN:
            self._jobs.popitem(last=False)
        return entry

    def _known(self, job_id: int) -> list[str] | None:
        """[poster, state] of a job; one ``jobs/job`` query for a job posted before the
        hub started (None when the node does not know it)."""
        entry = self._jobs.get(job_id)
        if entry is not None:
            self._jobs.move_to_end(job_id)
            return entry
        try:
            job = self.node.query("jobs", "job", {"id": str(job_id)})
        except NodeError:
            return None
        return self._remember(job_id, str(job.get("poster", "")), str(job.get("state", "")))


# -- the route -------------------------------------------------------------------------
def _credentials(ws: WebSocket) -> str:
    scheme, _, token = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for name in ("api_key", "access_token"):
        if ws.query_params.get(name):
            return str(ws.query_params[name])
    raise ApiError(
        401,
        "no credentials: send Authorization: Bearer <key or token>, or ?api_key=",
        "missing_credentials",
    )


async def _owner(auth: Auth, ws: WebSocket) -> str:
    """The account whose jobs this stream may see, or ApiError (401, 403, 429)."""
    cred = _credentials(ws)
    if not cred.startswith(KEY_PREFIX):
        return auth.session(cred).address
    client = ws.client.host if ws.client else "unknown"
    async with auth.client_gate(client):
        row = await run_in_threadpool(auth.check_key, cred, client)
    scopes = [s for s in JOB_SCOPES if s in row.scopes]
    if not scopes:
        raise ApiError(
            403,
            f"this API key lacks a job scope ({', '.join(JOB_SCOPES)}) for the job stream",
            "insufficient_scope",
        )
    auth.admit(row, scopes[0])  # the key's rate limit
    return row.owner


async def _read(ws: WebSocket) -> None:
    """The client's messages, until it goes: ``ping`` answered, the rest ignored."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") == "ping":
            await ws.send_text('{"type":"pong"}')


async def _write(ws: WebSocket, sub: Subscriber) -> None:
    """Write the subscriber's messages as they come (until cancelled)."""
    while True:
        await sub.wake.wait()
        sub.wake.clear()
        msgs, _ = sub.take()
        for m in msgs:
            await ws.send_text(m)


def install(app: FastAPI, auth: Auth, hub: JobEventHub) -> None:
    app.state.job_events = hub

    @app.websocket(PATH)
    async def jobs_stream(ws: WebSocket) -> None:
        try:
            owner = await _owner(auth, ws)
        except ApiError as e:
            body = errors.body(e.status, e.message, e.code, e.param)
            await ws.send_denial_response(JSONResponse(body, e.status, e.headers))
            return
        await ws.accept()
        loop = asyncio.get_running_loop()
        try:
            sub, height = await run_in_threadpool(hub.subscribe, owner, loop)
        except NodeError as e:
            log.warning("job stream refused: %s", e)
            await ws.close(CLOSE_NODE_AWAY, "the node's event stream is unavailable")
            return
        reader = asyncio.create_task(_read(ws))
        tasks: set[asyncio.Task[None]] = {reader}
        try:
            await ws.send_json({"type": "subscribed", "owner": owner, "height": height})
            tasks.add(writer := asyncio.create_task(_write(ws, sub)))
            tasks.add(ender := asyncio.create_task(_ended(sub)))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if ender in done:  # too slow, or the node went: the writer may be stuck
                hub.unsubscribe(sub)  # let go now, while the close frame waits its turn
                writer.cancel()
                reader.cancel()
                code, reason = sub.closing or (CLOSE_FAILED, "")
                log.info("job stream of %s closed %d: %s", owner, code, reason)
                await asyncio.wait_for(ws.close(code, reason[:120]), CLOSE_WAIT_S)
        except (WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            pass  # the client went, or never read the close
        finally:
            hub.unsubscribe(sub)
            for t in tasks:
                if t.done() and not t.cancelled():
                    t.exception()  # retrieved: a client gone mid-write is no error
                t.cancel()


async def _ended(sub: Subscriber) -> None:
    await sub.ended.wait()
