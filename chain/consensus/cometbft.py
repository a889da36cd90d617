"""CometBFT mode: the app under a real CometBFT node, over the ABCI socket.

CometBFT (its own process, started by the operator with
``proxy_app = "tcp://127.0.0.1:26658"``) runs consensus, the mempool, the P2P
network and the node RPC on its own :26657. This process serves:

* ABCI on ``abci_laddr`` (chain/abci/server.py), CometBFT's four connections;
* the Cosmos REST API and the artifact store on ``rest_laddr``, as in solo mode.

So that REST reads the same things as in solo mode, the node keeps its own copy
of each block, its txs and its results (the solo driver's ``BlockStore``),
written from FinalizeBlock before the app commits, as the solo driver does;
after a crash CometBFT replays the blocks the app did not commit and the copy is
rewritten with the same bytes. The block hash kept is CometBFT's own.

A transaction sent to REST goes to CometBFT's ``broadcast_tx_sync``
(``CometMempool``), which runs CheckTx on this app through the mempool
connection and gossips it to the other validators.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from cosmpy.protos.tendermint.abci import types_pb2 as abci

from chain.abci.server import AbciApp, _time_ns, serve_handler
from chain.baseapp import BaseApp
from chain.consensus.blockstore import BlockStore, Header, StoredBlock, data_hash
from chain.errors import ErrMempoolIsFull, ErrTxInMempool
from chain.events import Event
from chain.execute import ErrInternal
from chain.results import BlockResult, TxResult

log = logging.getLogger("vcoin.cometbft")


class CometRpcError(RuntimeError):
    """CometBFT's RPC could not be reached or answered with an error."""


def comet_call(url: str, method: str, params: dict[str, Any], timeout: float = 10.0) -> Any:
    """One JSON-RPC call to a CometBFT node's RPC; its ``result``."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise CometRpcError(f"CometBFT RPC at {url} ({method}): {e}") from e
    if answer.get("error"):
        err = answer["error"]
        raise CometRpcError(str(err.get("data") or err.get("message") or err))
    return answer.get("result")


def _event(e: abci.Event) -> Event:
    return Event(e.type, tuple((a.key, a.value) for a in e.attributes))


def _tx_result(r: abci.ExecTxResult) -> TxResult:
    return TxResult(
        code=r.code,
        codespace=r.codespace,
        log=r.log,
        data=bytes(r.data),
        gas_wanted=r.gas_wanted,
        gas_used=r.gas_used,
        events=tuple(_event(e) for e in r.events),
    )


class CometMempool:
    """The mempool as REST sees it, in CometBFT mode: CometBFT's own, over its RPC.

    A refusal CometBFT gives before CheckTx (the tx is already in its cache,
    the mempool is full) comes back with the code the solo mempool uses for it.
    """

    def __init__(self, rpc_url: str, timeout: float = 10.0) -> None:
        self.rpc_url = rpc_url
        self.timeout = timeout

    def _unconfirmed(self) -> dict[str, Any]:
        try:
            r = comet_call(self.rpc_url, "num_unconfirmed_txs", {}, timeout=2.0)
        except CometRpcError:
            return {}
        return r if isinstance(r, dict) else {}

    def __len__(self) -> int:
        return int(self._unconfirmed().get("n_txs", 0))

    @property
    def size_bytes(self) -> int:
        return int(self._unconfirmed().get("total_bytes", 0))

    def check_and_add(self, raw: bytes) -> TxResult:
        try:
            r = comet_call(
                self.rpc_url,
                "broadcast_tx_sync",
                {"tx": base64.b64encode(raw).decode()},
                self.timeout,
            )
        except CometRpcError as e:
            text = str(e)
            if "already exists in cache" in text:
                return TxResult.fail(ErrTxInMempool(f"the tx is already in the mempool ({text})"))
            if "mempool is full" in text:
                return TxResult.fail(ErrMempoolIsFull(text))
            return TxResult.fail(ErrInternal(f"the CometBFT node refused the tx: {text}"))
        return TxResult(
            code=int(r.get("code", 0)),
            codespace=str(r.get("codespace", "")),
            log=str(r.get("log", "")),
            data=base64.b64decode(r.get("data") or ""),
        )

    def reap(self, max_bytes: int, max_txs: int) -> list[bytes]:
        """CometBFT's proposer reaps its own mempool; nothing here proposes."""
        return []


class CometAbciApp(AbciApp):
    """The ABCI handler that also keeps the node's copy of each block and its results."""

    def __init__(
        self,
        app: BaseApp,
        blocks: BlockStore,
        lock: threading.RLock,
        on_block: Callable[[BlockResult, float], None] | None = None,
    ) -> None:
        super().__init__(app, lock)
        self.blocks = blocks
        self.on_block = on_block
        self._started = 0.0
        self._last: BlockResult | None = None

    def _finalize_block(self, r: Any) -> abci.Response:
        self._started = time.perf_counter()
        height = int(r.height)
        prev_app_hash = self.app.info().last_block_app_hash
        resp = super()._finalize_block(r)
        fb = resp.finalize_block
        txs = [bytes(t) for t in r.txs]
        prev = self.blocks.block(height - 1)
        header = Header(
            chain_id=self.app.chain_id,
            height=height,
            time_ns=_time_ns(r.time),
            last_block_hash=prev.hash if prev is not None else b"",
            data_hash=data_hash(txs),
            app_hash=prev_app_hash,
            proposer=bytes(r.proposer_address),
        )
        res = BlockResult(
            height=height,
            tx_results=tuple(_tx_result(t) for t in fb.tx_results),
            events=tuple(_event(e) for e in fb.events),
            app_hash=bytes(fb.app_hash),
        )
        self.blocks.save(StoredBlock(header, bytes(r.hash), txs), res)
        self._last = res
        return resp

    def _commit(self, r: Any) -> abci.Response:
        resp = super()._commit(r)
        if self._last is not None and self.on_block is not None:
            self.on_block(self._last, time.perf_counter() - self._started)
        self._last = None
        return resp


class AbciServerThread:
    """The ABCI socket server on its own event loop thread."""

    def __init__(self, handler: AbciApp, laddr: str) -> None:
        self.handler = handler
        host, _, port = laddr.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="abci", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._server = self.loop.run_until_complete(
                serve_handler(self.handler, self.host, self.port)
            )
        except BaseException as e:  # reported by start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self._server.close()
        self.loop.run_until_complete(self._server.wait_closed())
        self.loop.close()

    def start(self) -> None:
        self.thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise OSError(
                f"abci: cannot listen on {self.host}:{self.port} ({self._error}); pick another "
                "address with --abci-laddr or abci_laddr in config.toml"
            ) from self._error

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
