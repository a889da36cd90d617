"""The mempool: txs that passed CheckTx, in arrival order, with limits.

Arrival order is also each sender's sequence order, because CheckTx runs on
the pending (CheckTx) state and refuses a sequence that is not the next one.
After each block the committed txs leave and the rest are re-checked against
the new state; those that no longer pass are dropped.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from chain.baseapp import BaseApp
from chain.errors import ErrMempoolIsFull, ErrTxInMempool
from chain.results import TxResult


@dataclass(frozen=True)
class MempoolConfig:
    max_txs: int = 10_000
    max_bytes: int = 64 * 1024 * 1024


class Mempool:
    def __init__(self, app: BaseApp, app_lock: threading.RLock, cfg: MempoolConfig) -> None:
        self.app = app
        self.lock = app_lock
        self.cfg = cfg
        self._txs: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self.has_txs = threading.Event()

    def __len__(self) -> int:
        return len(self._txs)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def check_and_add(self, raw: bytes) -> TxResult:
        """Run CheckTx; keep the tx when it passes. Refusals carry a code and say why."""
        h = hashlib.sha256(raw).digest()
        with self.lock:
            if h in self._txs:
                e = ErrTxInMempool(f"tx {h.hex().upper()} is already in the mempool")
                return TxResult.fail(e)
            if len(self._txs) >= self.cfg.max_txs:
                e = ErrMempoolIsFull(
                    f"mempool holds {len(self._txs)} txs (limit {self.cfg.max_txs}); "
                    "retry after the next block"
                )
                return TxResult.fail(e)
            if self._bytes + len(raw) > self.cfg.max_bytes:
                e = ErrMempoolIsFull(
                    f"mempool holds {self._bytes} bytes (limit {self.cfg.max_bytes}); "
                    "retry after the next block"
                )
                return TxResult.fail(e)
            res = self.app.check_tx(raw)
            if res.ok:
                self._txs[h] = raw
                self._bytes += len(raw)
                self.has_txs.set()
            return res

    def reap(self, max_bytes: int, max_txs: int) -> list[bytes]:
        out: list[bytes] = []
        total = 0
        with self.lock:
            for raw in self._txs.values():
                if len(out) >= max_txs or total + len(raw) > max_bytes:
                    break
                out.append(raw)
                total += len(raw)
        return out

    def update(self, committed: list[bytes]) -> int:
        """Drop committed txs, re-check the rest on the new state; return how many were dropped."""
        dropped = 0
        with self.lock:
            for raw in committed:
                h = hashlib.sha256(raw).digest()
                if self._txs.pop(h, None) is not None:
                    self._bytes -= len(raw)
            keep: OrderedDict[bytes, bytes] = OrderedDict()
            for h, raw in self._txs.items():
                if self.app.check_tx(raw, recheck=True).ok:
                    keep[h] = raw
                else:
                    dropped += 1
                    self._bytes -= len(raw)
            self._txs = keep
            if not self._txs:
                self.has_txs.clear()
        return dropped
