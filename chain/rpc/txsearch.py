"""Finding committed txs: by hash, and by event query (``tx_search``, REST ``GetTxsEvent``).

A query is answered from the block store's event index: one condition picks
the candidates (``tx.hash``, ``tx.height``, an attribute equality, or every
value of an attribute), then every condition is checked on each candidate's
full event map, so the result is exactly what the query language says.
Only blocks the app has committed are visible.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chain.rpc.encode import flat_events
from chain.rpc.query import Condition, Query

if TYPE_CHECKING:
    from chain.nodeview import NodeView

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
_SPECIAL = ("tm.event", "tx.hash", "tx.height")
_HEIGHT = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class FoundTx:
    height: int
    index: int
    tx: bytes
    result: dict[str, Any]  # ExecTxResult JSON
    time_ns: int

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.tx).digest()


def committed_height(node: NodeView) -> int:
    return node.app_info().last_block_height


def tx_attrs(height: int, tx: bytes, result: dict[str, Any]) -> dict[str, list[str]]:
    """The flat event map a Tx event carries (and tx_search matches against)."""
    attrs = {
        "tm.event": ["Tx"],
        "tx.hash": [hashlib.sha256(tx).hexdigest().upper()],
        "tx.height": [str(height)],
    }
    return flat_events(result.get("events") or [], attrs)


class _Loader:
    """Reads txs and results, caching each height's results for one search."""

    def __init__(self, node: NodeView, top: int) -> None:
        self.blocks = node.blocks
        self.top = top
        self._results: dict[int, dict[str, Any] | None] = {}
        self._times: dict[int, int] = {}

    def results(self, h: int) -> dict[str, Any] | None:
        if h not in self._results:
            self._results[h] = self.blocks.results(h)
        return self._results[h]

    def time_ns(self, h: int) -> int:
        if h not in self._times:
            blk = self.blocks.block(h)
            self._times[h] = blk.header.time_ns if blk is not None else 0
        return self._times[h]

    def load(self, h: int, i: int) -> FoundTx | None:
        if h > self.top:
            return None
        tx = self.blocks.tx(h, i)
        res = self.results(h)
        if tx is None or res is None or i >= len(res["txs_results"]):
            return None
        return FoundTx(h, i, tx, res["txs_results"][i], self.time_ns(h))

    def block_txs(self, heights: Iterable[int]) -> Iterator[tuple[int, int]]:
        for h in heights:
            if self.blocks.tx(h, 0) is None:
                continue  # an empty block: no results to decode (most of a quiet chain's)
            res = self.results(h)
            if res is not None:
                for i in range(len(res["txs_results"])):
                    yield h, i


def find_tx(node: NodeView, tx_hash: bytes) -> FoundTx | None:
    loc = node.blocks.tx_location(tx_hash)
    if loc is None:
        return None
    return _Loader(node, committed_height(node)).load(*loc)


def _height_bounds(conds: tuple[Condition, ...], base: int, top: int) -> tuple[int, int]:
    lo, hi = base, top
    for c in conds:
        if c.tag != "tx.height" or c.arg is None:
            continue
        if c.arg.kind == "string":
            # str.isdigit() and int() also take '²' and '٣': a height is ASCII digits
            if not _HEIGHT.fullmatch(c.arg.text):
                return 1, 0  # no height equals a non-number (or one past int64)
            lo, hi = max(lo, int(c.arg.text)), min(hi, int(c.arg.text))
            continue
        if c.arg.kind != "number":
            continue
        n = Decimal(c.arg.text)
        whole = int(n)
        exact = n == whole
        if c.op == "=":
            if not exact:
                return 1, 0
            lo, hi = max(lo, whole), min(hi, whole)
        elif c.op == ">":
            lo = max(lo, whole + 1)
        elif c.op == ">=":
            lo = max(lo, whole if exact else whole + 1)
        elif c.op == "<":
            hi = min(hi, whole - 1 if exact else whole)
        elif c.op == "<=":
            hi = min(hi, whole)
    return lo, hi


def _candidates(node: NodeView, q: Query, loader: _Loader) -> Iterable[tuple[int, int]]:
    conds = q.conditions
    for c in conds:
        if c.tag == "tx.hash" and c.equality is not None:
            try:
                loc = node.blocks.tx_location(bytes.fromhex(c.equality))
            except ValueError:
                return []
            return [] if loc is None else [loc]
    base = max(node.blocks.base(), 1)
    lo, hi = _height_bounds(conds, base, loader.top)
    indexed = [c for c in conds if c.tag not in _SPECIAL]
    for c in indexed:
        if c.equality is not None:
            return node.blocks.search(c.tag, c.equality)
    if indexed and (hi - lo) > 1000:
        return node.blocks.search(indexed[0].tag, None)
    return loader.block_txs(range(lo, hi + 1))


def search(node: NodeView, q: Query) -> list[FoundTx]:
    """Every committed tx matching ``q``, in chain order."""
    loader = _Loader(node, committed_height(node))
    seen: set[tuple[int, int]] = set()
    found: list[FoundTx] = []
    for pos in _candidates(node, q, loader):
        if pos in seen:
            continue
        seen.add(pos)
        ftx = loader.load(*pos)
        if ftx is not None and q.matches(tx_attrs(ftx.height, ftx.tx, ftx.result)):
            found.append(ftx)
    found.sort(key=lambda f: (f.height, f.index))
    return found


def page_bounds(total: int, page: int | None, per_page: int | None) -> tuple[int, int, int]:
    """(start, end, per_page) of a 1-based page, as CometBFT validates them."""
    pp = DEFAULT_PER_PAGE if per_page is None or per_page < 1 else min(per_page, MAX_PER_PAGE)
    pages = max(1, -(-total // pp))
    p = 1 if page is None else page
    if p < 1 or p > pages:
        raise ValueError(f"page should be within [1, {pages}] range, given {p}")
    start = (p - 1) * pp
    return start, min(start + pp, total), pp
