"""Polling filters: ``eth_newFilter``, ``eth_newBlockFilter``,
``eth_newPendingTransactionFilter``, ``eth_getFilterChanges``, ``eth_getFilterLogs``,
``eth_uninstallFilter``.

A filter lives in this node's memory (a restart forgets it, as geth's do) and
is dropped after ``FILTER_TTL_S`` seconds without a poll; at most
``MAX_FILTERS`` live at once. A poll reports what was committed since the last
one: block hashes, or the logs of those blocks that match (at most
``jsonrpc_logs_max_blocks`` blocks a poll; the rest come at the next). A pending
transaction filter has nothing to report: the mempool's txs are not shown.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from app.ethrpc import hexio
from app.ethrpc.blocks import Chain
from app.ethrpc.hexio import RpcError, hexdata, invalid, q
from app.ethrpc.logs import addresses, find_logs, topics

FILTER_TTL_S = 300.0  # geth's
MAX_FILTERS = 1_000
MAX_BLOCK_HASHES = 1_000  # block hashes one poll reports, the newest


@dataclass
class Filter:
    kind: str  # "block", "logs" or "pending"
    criteria: dict[str, Any]
    next_height: int  # the first height not reported yet
    last_poll: float


class Filters:
    def __init__(self, chain: Chain, max_blocks: int, max_results: int) -> None:
        self.chain = chain
        self.max_blocks = max_blocks
        self.max_results = max_results
        self._lock = threading.Lock()
        self._filters: dict[str, Filter] = {}

    def _add(self, kind: str, criteria: dict[str, Any]) -> str:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            if len(self._filters) >= MAX_FILTERS:
                raise RpcError(
                    hexio.LIMIT_EXCEEDED,
                    f"this node holds {MAX_FILTERS} filters: uninstall some, or wait for "
                    f"idle ones to expire ({FILTER_TTL_S:.0f} s without a poll)",
                )
            fid = "0x" + secrets.token_hex(16)
            self._filters[fid] = Filter(kind, criteria, self.chain.latest() + 1, now)
            return fid

    def _expire(self, now: float) -> None:
        for fid in [k for k, f in self._filters.items() if now - f.last_poll > FILTER_TTL_S]:
            del self._filters[fid]

    def _get(self, fid: Any) -> Filter:
        if not isinstance(fid, str) or len(fid) > 100:
            raise invalid("filter id: expected the 0x… string eth_new*Filter returned")
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            f = self._filters.get(fid.lower())
            if f is None:
                raise RpcError(hexio.SERVER_ERROR, "filter not found")
            f.last_poll = now
            return f

    # -- methods ------------------------------------------------------------------------
    def new_block_filter(self, p: list[Any]) -> str:
        return self._add("block", {})

    def new_pending_filter(self, p: list[Any]) -> str:
        return self._add("pending", {})

    def new_filter(self, p: list[Any]) -> str:
        crit = p[0]
        if not isinstance(crit, dict):
            raise invalid("filter: expected an object")
        if crit.get("blockHash") is not None:
            raise invalid("filter: blockHash is for eth_getLogs; a filter takes fromBlock/toBlock")
        addresses(crit.get("address"))  # checked now, not at the first poll
        topics(crit.get("topics"))
        for k in ("fromBlock", "toBlock"):
            hexio.block_tag(crit.get(k), f"filter.{k}")
        return self._add("logs", dict(crit))

    def uninstall(self, p: list[Any]) -> bool:
        if not isinstance(p[0], str):
            raise invalid("filter id: expected a string")
        with self._lock:
            return self._filters.pop(p[0].lower(), None) is not None

    def changes(self, p: list[Any]) -> list[Any]:
        f = self._get(p[0])
        latest = self.chain.latest()
        with self._lock:
            start = f.next_height
        if f.kind == "pending" or start > latest:
            return []
        if f.kind == "block":
            lo = max(start, latest - MAX_BLOCK_HASHES + 1)
            out = []
            for h in range(lo, latest + 1):
                blk = self.chain.block(h)
                if blk is not None:
                    out.append(hexdata(blk.hash))
            self._advance(f, latest + 1)
            return out
        lo, hi = self._bounds(f.criteria, start, latest)
        if lo > hi:
            self._advance(f, latest + 1)
            return []
        hi = min(hi, lo + self.max_blocks - 1)
        crit = {**f.criteria, "fromBlock": q(lo), "toBlock": q(hi)}
        logs = find_logs(self.chain, self.max_blocks, self.max_results, crit)
        self._advance(f, hi + 1)
        return logs

    def filter_logs(self, p: list[Any]) -> list[dict[str, Any]]:
        f = self._get(p[0])
        if f.kind != "logs":
            raise RpcError(hexio.SERVER_ERROR, "filter not found: not a log filter")
        return find_logs(self.chain, self.max_blocks, self.max_results, f.criteria)

    # -- helpers -------------------------------------------------------------------------
    def _advance(self, f: Filter, height: int) -> None:
        with self._lock:
            f.next_height = max(f.next_height, height)

    def _bounds(self, crit: dict[str, Any], start: int, latest: int) -> tuple[int, int]:
        lo, hi = start, latest
        frm = hexio.block_tag(crit.get("fromBlock"), "filter.fromBlock")
        to = hexio.block_tag(crit.get("toBlock"), "filter.toBlock")
        if isinstance(frm, int):
            lo = max(lo, frm)
        if isinstance(to, int):
            hi = min(hi, to)
        return lo, hi
