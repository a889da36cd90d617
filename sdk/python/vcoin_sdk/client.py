"""``Client`` (blocking) and ``AsyncClient`` (asyncio): the same methods, the same
behaviour (both run the operations of ``vcoin_sdk.ops``).

A node is two URLs: its RPC (CometBFT JSON-RPC, ``:26657``, with ``/websocket``) and
its REST API (Cosmos REST and the artifact store, ``:1317``). A node that does not
answer is retried a bounded number of times (``retries``, with a growing pause), then
``NodeUnavailable`` is raised; no call waits longer than its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
from google.protobuf.message import Message

from vcoin_sdk import msgs as m
from vcoin_sdk import ops
from vcoin_sdk.amounts import DENOM, Coin
from vcoin_sdk.artifacts import DEFAULT_TTL, Signer, artifact_token
from vcoin_sdk.errors import NodeUnavailable
from vcoin_sdk.keys import Key
from vcoin_sdk.ops import Http, NextBlock, Reply, Sleep, State
from vcoin_sdk.tx import SignedTx
from vcoin_sdk.types import FINAL_STATES, Account, Bond, Job, Reputation, TxResult

T = TypeVar("T")
DEFAULT_RPC = "http://127.0.0.1:26657"
DEFAULT_REST = "http://127.0.0.1:1317"
Gas = int | Literal["auto"]
_RETRYABLE = (httpx.TransportError,)
_HEADER_QUERY = "tm.event='NewBlockHeader'"


def ws_url(rpc_url: str) -> str:
    url = rpc_url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url.removeprefix("https://")
    elif url.startswith("http://"):
        url = "ws://" + url.removeprefix("http://")
    return url + "/websocket"


@dataclass(frozen=True)
class PostedJob:
    job_id: int
    tx: TxResult


class _Base:
    def __init__(
        self,
        rpc_url: str = DEFAULT_RPC,
        rest_url: str = DEFAULT_REST,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        retries: int = 3,
        backoff: float = 0.25,
        poll_interval: float = 1.0,
        use_websocket: bool = True,
    ) -> None:
        self.rpc_url = rpc_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.poll_interval = poll_interval
        self.use_websocket = use_websocket
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._state = State()
        # new-block announcements received over the websocket while waiting (a count
        # that stays 0 when waits fell back to polling)
        self.blocks_heard = 0

    def _url(self, req: Http) -> str:
        return (self.rpc_url if req.base == "rpc" else self.rest_url) + req.path

    def artifact_url(self, digest: str, key: Signer | None = None, ttl: int = DEFAULT_TTL) -> str:
        """A link to an artifact; with ``key`` it carries that account's get token
        (``?token=``), for a browser or any plain HTTP client."""
        url = f"{self.rest_url}/artifacts/{digest.lower()}"
        return url if key is None else f"{url}?token={artifact_token(key, 'get', digest, ttl)}"

    def _unavailable(self, req: Http, e: Exception) -> NodeUnavailable:
        return NodeUnavailable(
            f"the node at {self._url(req)} did not answer after {self.retries + 1} tries "
            f"({type(e).__name__}: {e}); is it running?"
        )


class Client(_Base):
    """A blocking client of one node. Not thread-safe; one per thread."""

    def __init__(self, rpc_url: str = DEFAULT_RPC, rest_url: str = DEFAULT_REST,
                 **kw: Any) -> None:  # fmt: skip
        super().__init__(rpc_url, rest_url, **kw)
        self._http = httpx.Client(timeout=self._timeout)
        self._ws: Any = None
        self._ws_stack = contextlib.ExitStack()
        self._ws_failed = False

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._close_ws()
        self._http.close()

    # -- the driver --------------------------------------------------------------------
    def _run(self, op: ops.Op[T]) -> T:
        try:
            value: Any = None
            while True:
                try:
                    step = op.send(value)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                if isinstance(step, Http):
                    value = self._http_call(step)
                elif isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    value = None
                else:
                    value = self._next_block(step)
        finally:
            op.close()
            self._close_ws()

    def _http_call(self, req: Http) -> Reply:
        for attempt in range(self.retries + 1):
            try:
                r = self._http.request(req.method, self._url(req), json=req.json,
                                       content=req.content, headers=req.headers)  # fmt: skip
                return Reply(r.status_code, r.content)
            except _RETRYABLE as e:
                if attempt == self.retries:
                    raise self._unavailable(req, e) from e
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _next_block(self, step: NextBlock) -> float:
        t0 = time.monotonic()
        if self.use_websocket and self._ws is None and not self._ws_failed:
            try:
                from websockets.sync.client import connect

                self._ws = self._ws_stack.enter_context(
                    connect(ws_url(self.rpc_url), open_timeout=min(5.0, step.timeout))
                )
                self._ws.send(json.dumps({"jsonrpc": "2.0", "id": "sdk-blocks",
                                          "method": "subscribe",
                                          "params": {"query": _HEADER_QUERY}}))  # fmt: skip
                reply = json.loads(self._ws.recv(timeout=5.0))
                if reply.get("error"):
                    raise RuntimeError(str(reply["error"]))
            except Exception:  # noqa: BLE001 - any failure: fall back to polling
                self._close_ws()
                self._ws_failed = True
        if self._ws is not None:
            try:
                while True:
                    left = step.timeout - (time.monotonic() - t0)
                    if left <= 0:
                        break
                    msg = json.loads(self._ws.recv(timeout=left))
                    if (msg.get("result") or {}).get("data"):
                        self.blocks_heard += 1
                        break
            except TimeoutError:
                pass
            except Exception:  # noqa: BLE001 - the socket went away: poll from now on
                self._close_ws()
                self._ws_failed = True
            return time.monotonic() - t0
        time.sleep(min(step.timeout, self.poll_interval))
        return time.monotonic() - t0

    def _close_ws(self) -> None:
        if self._ws is not None:
            try:
                self._ws_stack.close()
            except Exception:  # noqa: BLE001
                pass
            self._ws = None
        self._ws_failed = False

    # -- chain -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return self._run(ops.status(self._state))

    def chain_id(self) -> str:
        return self._run(ops.chain_id(self._state))

    def height(self) -> int:
        return self._run(ops.height(self._state))

    # -- queries -----------------------------------------------------------------------
    def account(self, address: str) -> Account | None:
        return self._run(ops.account(self._state, address))

    def balances(self, address: str) -> list[Coin]:
        return self._run(ops.balances(self._state, address))

    def balance(self, address: str, denom: str = DENOM) -> int:
        return self._run(ops.balance(self._state, address, denom))

    def job(self, job_id: int) -> Job:
        return self._run(ops.job(self._state, job_id))

    def jobs(self, *, poster: str | None = None, worker: str | None = None,
             state: str | None = None, limit: int = 1000) -> list[Job]:  # fmt: skip
        return self._run(ops.jobs(self._state, poster=poster, worker=worker, state=state,
                                  limit=limit))  # fmt: skip

    def bonds(self, address: str) -> list[Bond]:
        return self._run(ops.bonds(self._state, address))

    def reputation(self, address: str) -> Reputation:
        return self._run(ops.reputation(self._state, address))

    def params(self, module: str) -> dict[str, Any]:
        return self._run(ops.params(self._state, module))

    def models(self) -> list[dict[str, Any]]:
        return self._run(ops.models(self._state))

    def worker(self, address: str) -> dict[str, Any]:
        return self._run(ops.worker(self._state, address))

    def query(self, module: str, name: str, req: dict[str, Any] | None = None) -> Any:
        """Any app query ``/custom/<module>/<name>``."""
        return self._run(ops.custom(self._state, module, name, req))

    # -- transactions ------------------------------------------------------------------
    def estimate_gas(self, key: Key, msgs: Sequence[Message], memo: str = "") -> int:
        return self._run(ops.estimate_gas(self._state, key, msgs, memo))

    def sign(self, key: Key, msgs: Sequence[Message], *, gas: int = ops.DEFAULT_GAS,
             fee: int | None = None, memo: str = "") -> SignedTx:  # fmt: skip
        return self._run(ops.build(self._state, key, msgs, gas=gas, fee=fee, memo=memo))

    def broadcast(self, tx: SignedTx) -> TxResult:
        return self._run(ops.broadcast(self._state, tx))

    def wait_tx(self, tx_hash: str, timeout: float = 30.0) -> TxResult:
        return self._run(ops.wait_tx(self._state, tx_hash, timeout))

    def send_tx(self, key: Key, msgs: Sequence[Message], *, gas: Gas = "auto",
                fee: int | None = None, memo: str = "", wait: bool = True,
                timeout: float = 30.0) -> TxResult:  # fmt: skip
        return self._run(ops.send_tx(self._state, key, msgs, gas=gas, fee=fee, memo=memo,
                                     wait=wait, timeout=timeout))  # fmt: skip

    def send(self, key: Key, to: str, amount: str | int, **kw: Any) -> TxResult:
        return self.send_tx(key, [m.send(key.address, to, amount)], **kw)

    def post_job(self, key: Key, *, model: str, task_type: str, max_price: str | int,
                 tx: dict[str, Any] | None = None, **job: Any) -> PostedJob:  # fmt: skip
        """Post a job (fields as ``msgs.post_job``); ``tx``: ``send_tx`` options."""
        msg = m.post_job(key.address, model=model, task_type=task_type, max_price=max_price,
                         **job)  # fmt: skip
        res = self.send_tx(key, [msg], **(tx or {}))
        return PostedJob(ops.job_id_of(res), res)

    def cancel_job(self, key: Key, job_id: int, **kw: Any) -> TxResult:
        return self.send_tx(key, [m.cancel_job(key.address, job_id)], **kw)

    def bond(self, key: Key, role: str, amount: str | int, **kw: Any) -> TxResult:
        return self.send_tx(key, [m.bond(key.address, role, amount)], **kw)

    def unbond(self, key: Key, role: str, amount: str | int, **kw: Any) -> TxResult:
        return self.send_tx(key, [m.unbond(key.address, role, amount)], **kw)

    def register_worker(self, key: Key, *, gpu_model: str, memory_mib: int,
                        tx: dict[str, Any] | None = None, **fields: Any) -> TxResult:  # fmt: skip
        msg = m.register_worker(key.address, gpu_model=gpu_model, memory_mib=memory_mib, **fields)
        return self.send_tx(key, [msg], **(tx or {}))

    def attest(self, key: Key, job_id: int, *, verdict: str, similarity_bps: int,
               tx: dict[str, Any] | None = None, **fields: Any) -> TxResult:  # fmt: skip
        msg = m.attest(key.address, job_id, verdict=verdict, similarity_bps=similarity_bps,
                       **fields)  # fmt: skip
        return self.send_tx(key, [msg], **(tx or {}))

    def heartbeat(self, key: Key, **kw: Any) -> TxResult:
        return self.send_tx(key, [m.heartbeat(key.address)], **kw)

    # -- results -----------------------------------------------------------------------
    def wait_job(self, job_id: int, timeout: float = 300.0,
                 states: Sequence[str] = FINAL_STATES) -> Job:  # fmt: skip
        return self._run(ops.wait_job(self._state, job_id, timeout, states))

    def job_output(self, job_id: int, key: Signer | None = None) -> bytes:
        """The settled output, hash-checked; ``key`` signs the read of a private one."""
        return self._run(ops.job_output(self._state, job_id, key))

    def fetch_artifact(self, digest: str, key: Signer | None = None) -> bytes:
        return self._run(ops.fetch_artifact(self._state, digest, key))

    def put_artifact(self, key: Signer, data: bytes) -> str:
        """Upload ``data`` as ``key``'s account (a signed token); its sha256 hex."""
        return self._run(ops.put_artifact(self._state, key, data))


class AsyncClient(_Base):
    """The asyncio twin of ``Client``: the same methods, awaited."""

    def __init__(self, rpc_url: str = DEFAULT_RPC, rest_url: str = DEFAULT_REST,
                 **kw: Any) -> None:  # fmt: skip
        super().__init__(rpc_url, rest_url, **kw)
        self._http = httpx.AsyncClient(timeout=self._timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- the driver --------------------------------------------------------------------
    async def _run(self, op: ops.Op[T]) -> T:
        blocks = _AsyncBlocks(self)
        try:
            value: Any = None
            while True:
                try:
                    step = op.send(value)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                if isinstance(step, Http):
                    value = await self._http_call(step)
                elif isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    value = None
                else:
                    value = await blocks.next(step)
        finally:
            op.close()
            await blocks.close()

    async def _http_call(self, req: Http) -> Reply:
        for attempt in range(self.retries + 1):
            try:
                r = await self._http.request(req.method, self._url(req), json=req.json,
                                             content=req.content,
                                             headers=req.headers)  # fmt: skip
                return Reply(r.status_code, r.content)
            except _RETRYABLE as e:
                if attempt == self.retries:
                    raise self._unavailable(req, e) from e
                await asyncio.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    # -- chain -------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        return await self._run(ops.status(self._state))

    async def chain_id(self) -> str:
        return await self._run(ops.chain_id(self._state))

    async def height(self) -> int:
        return await self._run(ops.height(self._state))

    # -- queries -----------------------------------------------------------------------
    async def account(self, address: str) -> Account | None:
        return await self._run(ops.account(self._state, address))

    async def balances(self, address: str) -> list[Coin]:
        return await self._run(ops.balances(self._state, address))

    async def balance(self, address: str, denom: str = DENOM) -> int:
        return await self._run(ops.balance(self._state, address, denom))

    async def job(self, job_id: int) -> Job:
        return await self._run(ops.job(self._state, job_id))

    async def jobs(self, *, poster: str | None = None, worker: str | None = None,
                   state: str | None = None, limit: int = 1000) -> list[Job]:  # fmt: skip
        return await self._run(ops.jobs(self._state, poster=poster, worker=worker, state=state,
                                        limit=limit))  # fmt: skip

    async def bonds(self, address: str) -> list[Bond]:
        return await self._run(ops.bonds(self._state, address))

    async def reputation(self, address: str) -> Reputation:
        return await self._run(ops.reputation(self._state, address))

    async def params(self, module: str) -> dict[str, Any]:
        return await self._run(ops.params(self._state, module))

    async def models(self) -> list[dict[str, Any]]:
        return await self._run(ops.models(self._state))

    async def worker(self, address: str) -> dict[str, Any]:
        return await self._run(ops.worker(self._state, address))

    async def query(self, module: str, name: str, req: dict[str, Any] | None = None) -> Any:
        return await self._run(ops.custom(self._state, module, name, req))

    # -- transactions ------------------------------------------------------------------
    async def estimate_gas(self, key: Key, msgs: Sequence[Message], memo: str = "") -> int:
        return await self._run(ops.estimate_gas(self._state, key, msgs, memo))

    async def sign(self, key: Key, msgs: Sequence[Message], *, gas: int = ops.DEFAULT_GAS,
                   fee: int | None = None, memo: str = "") -> SignedTx:  # fmt: skip
        return await self._run(ops.build(self._state, key, msgs, gas=gas, fee=fee, memo=memo))

    async def broadcast(self, tx: SignedTx) -> TxResult:
        return await self._run(ops.broadcast(self._state, tx))

    async def wait_tx(self, tx_hash: str, timeout: float = 30.0) -> TxResult:
        return await self._run(ops.wait_tx(self._state, tx_hash, timeout))

    async def send_tx(self, key: Key, msgs: Sequence[Message], *, gas: Gas = "auto",
                      fee: int | None = None, memo: str = "", wait: bool = True,
                      timeout: float = 30.0) -> TxResult:  # fmt: skip
        return await self._run(ops.send_tx(self._state, key, msgs, gas=gas, fee=fee, memo=memo,
                                           wait=wait, timeout=timeout))  # fmt: skip

    async def send(self, key: Key, to: str, amount: str | int, **kw: Any) -> TxResult:
        return await self.send_tx(key, [m.send(key.address, to, amount)], **kw)

    async def post_job(self, key: Key, *, model: str, task_type: str, max_price: str | int,
                       tx: dict[str, Any] | None = None, **job: Any) -> PostedJob:  # fmt: skip
        msg = m.post_job(key.address, model=model, task_type=task_type, max_price=max_price,
                         **job)  # fmt: skip
        res = await self.send_tx(key, [msg], **(tx or {}))
        return PostedJob(ops.job_id_of(res), res)

    async def cancel_job(self, key: Key, job_id: int, **kw: Any) -> TxResult:
        return await self.send_tx(key, [m.cancel_job(key.address, job_id)], **kw)

    async def bond(self, key: Key, role: str, amount: str | int, **kw: Any) -> TxResult:
        return await self.send_tx(key, [m.bond(key.address, role, amount)], **kw)

    async def unbond(self, key: Key, role: str, amount: str | int, **kw: Any) -> TxResult:
        return await self.send_tx(key, [m.unbond(key.address, role, amount)], **kw)

    async def register_worker(self, key: Key, *, gpu_model: str, memory_mib: int,
                              tx: dict[str, Any] | None = None,
                              **fields: Any) -> TxResult:  # fmt: skip
        msg = m.register_worker(key.address, gpu_model=gpu_model, memory_mib=memory_mib, **fields)
        return await self.send_tx(key, [msg], **(tx or {}))

    async def attest(self, key: Key, job_id: int, *, verdict: str, similarity_bps: int,
                     tx: dict[str, Any] | None = None, **fields: Any) -> TxResult:  # fmt: skip
        msg = m.attest(key.address, job_id, verdict=verdict, similarity_bps=similarity_bps,
                       **fields)  # fmt: skip
        return await self.send_tx(key, [msg], **(tx or {}))

    async def heartbeat(self, key: Key, **kw: Any) -> TxResult:
        return await self.send_tx(key, [m.heartbeat(key.address)], **kw)

    # -- results -----------------------------------------------------------------------
    async def wait_job(self, job_id: int, timeout: float = 300.0,
                       states: Sequence[str] = FINAL_STATES) -> Job:  # fmt: skip
        return await self._run(ops.wait_job(self._state, job_id, timeout, states))

    async def job_output(self, job_id: int, key: Signer | None = None) -> bytes:
        return await self._run(ops.job_output(self._state, job_id, key))

    async def fetch_artifact(self, digest: str, key: Signer | None = None) -> bytes:
        return await self._run(ops.fetch_artifact(self._state, digest, key))

    async def put_artifact(self, key: Signer, data: bytes) -> str:
        return await self._run(ops.put_artifact(self._state, key, data))


class _AsyncBlocks:
    """The websocket block clock of one ``AsyncClient`` operation."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.ws: Any = None
        self.failed = not client.use_websocket

    async def next(self, step: NextBlock) -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        if self.ws is None and not self.failed:
            try:
                from websockets.asyncio.client import connect

                self.ws = await asyncio.wait_for(
                    connect(ws_url(self.client.rpc_url)), min(5.0, step.timeout)
                )
                await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": "sdk-blocks",
                                               "method": "subscribe",
                                               "params": {"query": _HEADER_QUERY}}))  # fmt: skip
                reply = json.loads(await asyncio.wait_for(self.ws.recv(), 5.0))
                if reply.get("error"):
                    raise RuntimeError(str(reply["error"]))
            except Exception:  # noqa: BLE001 - any failure: fall back to polling
                await self.close()
                self.failed = True
        if self.ws is not None:
            try:
                while True:
                    left = step.timeout - (loop.time() - t0)
                    if left <= 0:
                        break
                    msg = json.loads(await asyncio.wait_for(self.ws.recv(), left))
                    if (msg.get("result") or {}).get("data"):
                        self.client.blocks_heard += 1
                        break
            except TimeoutError:
                pass
            except Exception:  # noqa: BLE001 - the socket went away: poll from now on
                await self.close()
                self.failed = True
            return loop.time() - t0
        await asyncio.sleep(min(step.timeout, self.client.poll_interval))
        return loop.time() - t0

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:  # noqa: BLE001
                pass
            self.ws = None
