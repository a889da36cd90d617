"""``eth_getLogs``: logs by block range or hash, address and topics, within limits.

Candidates come from the block store's event index (``tx_log.address`` for an
address filter, else ``tx_log.index`` = 0, which every tx with a log has), so a
wide range without logs costs index seeks, not block reads. The range is at
most ``jsonrpc_logs_max_blocks`` blocks and the answer at most
``jsonrpc_logs_max_results`` logs; past either, a -32005 error says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.ethrpc import hexio
from app.ethrpc.blocks import Chain, EthBlock, log_json
from app.ethrpc.hexio import RpcError, hexdata, invalid

MAX_LOG_ADDRESSES = 1_000
# blocks read with one take of the block cache's lock (Chain.blocks); a few at a
# time, so that a query stopped by its result limit has not read its whole range
BLOCKS_A_READ = 64


def find_logs(chain: Chain, max_blocks: int, max_results: int, filt: Any) -> list[dict[str, Any]]:
    if not isinstance(filt, dict):
        raise invalid("filter: expected an object")
    lo, hi = log_range(chain, filt, max_blocks)
    addrs = addresses(filt.get("address"))
    want = topics(filt.get("topics"))
    out: list[dict[str, Any]] = []
    found = _candidates(chain, addrs, lo, hi)
    heights = sorted(found)
    for at in range(0, len(heights), BLOCKS_A_READ):
        chunk = heights[at : at + BLOCKS_A_READ]
        for blk in chain.blocks(chunk):
            if blk is not None:
                _match(blk, found[blk.height], addrs, want, max_results, out)
    return out


def _match(
    blk: EthBlock,
    positions: set[int],
    addrs: set[str],
    want: list[set[str] | None],
    max_results: int,
    out: list[dict[str, Any]],
) -> None:
    """Append the logs of ``blk``'s txs at ``positions`` that match to ``out``."""
    for t in blk.txs:
        if t.position not in positions:
            continue
        for i, lg in enumerate(t.logs):
            if addrs and lg.get("address", "").lower() not in addrs:
                continue
            if want and not _topics_match(want, lg.get("topics", "")):
                continue
            if len(out) >= max_results:
                raise RpcError(
                    hexio.LIMIT_EXCEEDED,
                    f"query returned more than {max_results} results: "
                    "narrow the block range or filter by address or topics",
                )
            out.append(log_json(blk, t, i, lg))


def log_range(chain: Chain, f: dict[str, Any], max_blocks: int) -> tuple[int, int]:
    """[lo, hi] of a filter (lo > hi: nothing to read)."""
    if f.get("blockHash") is not None:
        if f.get("fromBlock") is not None or f.get("toBlock") is not None:
            raise invalid("filter: blockHash excludes fromBlock and toBlock")
        h = chain.resolve(hexdata(hexio.hash32(f["blockHash"], "filter.blockHash")))
        if h is None:
            raise RpcError(hexio.SERVER_ERROR, "unknown block")
        return h, h
    latest = chain.latest()
    frm = hexio.block_tag(f.get("fromBlock"), "filter.fromBlock")
    to = hexio.block_tag(f.get("toBlock"), "filter.toBlock")
    # the chain has no block 0 (and a pruned store none below its base): a range from
    # there starts at the first block (ethers' and viem's `fromBlock: 0`); one that
    # ends there holds nothing
    if isinstance(frm, int) or isinstance(to, int):
        first = chain.earliest()
        if isinstance(to, int) and to < first:
            return first, first - 1
        if isinstance(frm, int) and frm < first:
            frm = first
    lo = chain.resolve(frm)
    hi = chain.resolve(to)
    lo = latest + 1 if lo is None else lo  # a block not there yet holds no logs
    hi = latest if hi is None else hi
    if lo > hi and lo <= latest:
        raise invalid(f"filter: fromBlock {lo} is after toBlock {hi}")
    if hi - lo + 1 > max_blocks:
        raise RpcError(
            hexio.LIMIT_EXCEEDED,
            f"block range of {hi - lo + 1} blocks is over the limit of "
            f"{max_blocks}: query a narrower range",
        )
    return lo, hi


def _candidates(chain: Chain, addrs: set[str], lo: int, hi: int) -> dict[int, set[int]]:
    """{height: tx positions} with logs (of ``addrs`` if any) in [lo, hi]."""
    found: dict[int, set[int]] = {}
    if lo > hi:
        return found
    keys = [("tx_log.address", a) for a in sorted(addrs)] or [("tx_log.index", "0")]
    for key, value in keys:
        for h, i in _index(chain.node.blocks, key, value, lo, hi):
            found.setdefault(h, set()).add(i)
    return found


def _index(blocks: Any, key: str, value: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """(height, index) of txs whose event ``key`` has ``value``, heights in [lo, hi].

    Seeks the block store's event index (``b"e" + key 0x00 value 0x00 height index``,
    chain/consensus/blockstore.py) at ``lo`` when it can; else filters ``search``."""
    db = getattr(blocks, "db", None)
    if db is None:
        for h, i in blocks.search(key, value):
            if h > hi:
                return
            if h >= lo:
                yield h, i
        return
    prefix = b"e" + key.encode() + b"\x00" + value.encode() + b"\x00"
    it = db.iter()
    it.seek(prefix + lo.to_bytes(8, "big"))
    while it.valid():
        k = bytes(it.key())
        if not k.startswith(prefix) or len(k) != len(prefix) + 12:
            return
        h = int.from_bytes(k[-12:-4], "big")
        if h > hi:
            return
        yield h, int.from_bytes(k[-4:], "big")
        it.next()


def addresses(v: Any) -> set[str]:
    if v is None:
        return set()
    items = v if isinstance(v, list) else [v]
    if len(items) > MAX_LOG_ADDRESSES:
        raise invalid(f"filter.address: at most {MAX_LOG_ADDRESSES} addresses")
    return {"0x" + hexio.address(a, "filter.address").hex() for a in items}


def topics(v: Any) -> list[set[str] | None]:
    if v is None:
        return []
    if not isinstance(v, list) or len(v) > 4:
        raise invalid("filter.topics: expected an array of at most 4 positions")
    out: list[set[str] | None] = []
    for i, pos in enumerate(v):
        what = f"filter.topics[{i}]"
        if pos is None:
            out.append(None)
        elif isinstance(pos, list):
            if any(x is None for x in pos):
                out.append(None)  # a null among the choices matches anything
            else:
                out.append({hexdata(hexio.hash32(x, what)) for x in pos[:1000]})
        else:
            out.append({hexdata(hexio.hash32(pos, what))})
    return out


def _topics_match(want: list[set[str] | None], topics: str) -> bool:
    have = [t.lower() for t in topics.split(",") if t]
    if len(want) > len(have):
        return False
    return all(w is None or have[i] in w for i, w in enumerate(want))
