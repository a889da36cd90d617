"""The solo driver: one validator, in process, calling the App in CometBFT's order.

    handshake  Info → replay the block the store has but the app did not commit
    each block reap mempool → PrepareProposal → ProcessProposal → FinalizeBlock
               → save block + results → Commit → mempool update → publish events

Block time comes from the proposer's clock (kept strictly increasing) and is
stored with the block, so a replay uses the same time and gets the same state.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chain.baseapp import BaseApp
from chain.consensus.blockstore import BlockStore, Header, StoredBlock, data_hash, tx_result_json
from chain.consensus.eventbus import Attrs, EventBus, Message
from chain.consensus.mempool import Mempool
from chain.context import BlockInfo
from chain.events import Event
from chain.results import BlockResult

log = logging.getLogger("vcoin.solo")

PROPOSER = hashlib.sha256(b"vcoin-solo-validator").digest()[:20]


@dataclass(frozen=True)
class SoloConfig:
    block_time_ms: int = 1000
    instant: bool = False
    create_empty_blocks: bool = True
    max_block_bytes: int = 4 * 1024 * 1024
    max_block_txs: int = 5000


class SoloDriver:
    def __init__(
        self,
        app: BaseApp,
        blocks: BlockStore,
        mempool: Mempool,
        bus: EventBus,
        app_lock: threading.RLock,
        cfg: SoloConfig,
        clock: Callable[[], int] = time.time_ns,
        on_block: Callable[[BlockResult, float], None] | None = None,
    ) -> None:
        self.app = app
        self.blocks = blocks
        self.mempool = mempool
        self.bus = bus
        self.lock = app_lock
        self.cfg = cfg
        self.clock = clock
        self.on_block = on_block
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- start-up ------------------------------------------------------------
    def handshake(self) -> int:
        """Bring the app level with the block store; return the height both are at."""
        with self.lock:
            app_h = self.app.info().last_block_height
            store_h = self.blocks.height()
            if store_h < app_h:
                raise RuntimeError(
                    f"block store is at {store_h} but state at {app_h}: the block store was "
                    "lost or replaced; restore it or start from a fresh home"
                )
            for h in range(app_h + 1, store_h + 1):
                blk = self.blocks.block(h)
                assert blk is not None
                log.info("replaying block %d with %d txs after a restart", h, len(blk.txs))
                res = self.app.finalize_block(self._info(blk.header, blk.hash), blk.txs)
                self.blocks.save(blk, res)
                self.app.commit()
            return store_h

    # -- block production ------------------------------------------------------
    def _info(self, header: Header, block_hash: bytes) -> BlockInfo:
        return BlockInfo(
            header.chain_id, header.height, header.time_ns, block_hash, header.proposer
        )

    def produce_block(self) -> BlockResult:
        t0 = time.perf_counter()
        with self.lock:
            height = self.app.info().last_block_height + 1
            raw = self.mempool.reap(self.cfg.max_block_bytes, self.cfg.max_block_txs)
            txs = self.app.prepare_proposal(raw, self.cfg.max_block_bytes)
            if not self.app.process_proposal(txs, self.cfg.max_block_bytes):
                raise RuntimeError("own proposal rejected")
            prev = self.blocks.block(height - 1)
            last_hash = prev.hash if prev is not None else b""
            last_time = prev.header.time_ns if prev is not None else self.app.last_block_time_ns
            header = Header(
                chain_id=self.app.chain_id,
                height=height,
                time_ns=max(self.clock(), last_time + 1),
                last_block_hash=last_hash,
                data_hash=data_hash(txs),
                app_hash=self.app.info().last_block_app_hash,
                proposer=PROPOSER,
            )
            blk = StoredBlock(header, header.hash(), txs)
            res = self.app.finalize_block(self._info(header, blk.hash), txs)
            self.blocks.save(blk, res)
            self.app.commit()
            # txs the proposal dropped (no longer decodable) leave the mempool too;
            # those it left for a later block (the block's gas was full) stay
            deferred = self.app.deferred
            self.mempool.update([r for r in raw if r not in deferred] if deferred else raw)
        elapsed = time.perf_counter() - t0
        self._publish(blk, res)
        if self.on_block is not None:
            self.on_block(res, elapsed)
        return res

    def _publish(self, blk: StoredBlock, res: BlockResult) -> None:
        h = blk.header.height
        block_attrs: Attrs = {"tm.event": ["NewBlock"], "block.height": [str(h)]}
        _flatten(res.events, block_attrs)
        self.bus.publish(
            Message(
                "NewBlock",
                {"height": h, "hash": blk.hash.hex().upper(), "num_txs": len(blk.txs)},
                block_attrs,
            )
        )
        for i, (tx, r) in enumerate(zip(blk.txs, res.tx_results, strict=True)):
            txh = hashlib.sha256(tx).hexdigest().upper()
            attrs: Attrs = {"tm.event": ["Tx"], "tx.hash": [txh], "tx.height": [str(h)]}
            _flatten(r.events, attrs)
            data = {
                "TxResult": {
                    "height": str(h),
                    "index": i,
                    "tx": base64.b64encode(tx).decode(),
                    "result": tx_result_json(r),
                }
            }
            self.bus.publish(Message("Tx", data, attrs))

    # -- the loop --------------------------------------------------------------
    def run(self) -> None:
        period = self.cfg.block_time_ms / 1000
        next_at = time.monotonic() + period
        while not self._stop.is_set():
            if self.cfg.instant:
                woke = self.mempool.has_txs.wait(timeout=max(0.0, next_at - time.monotonic()))
                if self._stop.is_set():
                    break
                if not woke and not self.cfg.create_empty_blocks:
                    next_at = time.monotonic() + period
                    continue
            else:
                self._stop.wait(max(0.0, next_at - time.monotonic()))
                if self._stop.is_set():
                    break
                if not self.cfg.create_empty_blocks and len(self.mempool) == 0:
                    next_at = time.monotonic() + period
                    continue
            try:
                self.produce_block()
            except Exception:
                log.exception("block production failed; stopping the node")
                self._stop.set()
                raise
            next_at = time.monotonic() + period

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="solo-driver", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the block in progress, then stop."""
        self._stop.set()
        self.mempool.has_txs.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


def _flatten(events: tuple[Event, ...], into: Attrs) -> None:
    for e in events:
        for k, v in e.attributes:
            into.setdefault(f"{e.type}.{k}", []).append(v)
