"""Ethereum blocks, txs, receipts and logs, read from the node's block store.

The EVM leaves in each tx's stored result an ``ethereum_tx`` event (hash, from,
to, contract, nonce, type, value, gas, price, status) and one ``tx_log`` event
per log (modules/evm/executor.py). A block's Ethereum txs are its txs with an
``ethereum_tx`` event, in block order; ``transactionIndex`` counts them only,
``logIndex`` counts their logs across the block, ``cumulativeGasUsed`` their gas.

The base fee of a block is exact for a block with an EVM tx (its burn over its
gas); the next block's is the state's. A block without EVM gas lowered the
base fee by EIP-1559's rule, which this reverses from the next block's, back to
the nearest block that says (``MAX_FEE_WALK`` blocks at most, then the minimum).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import rlp
from eth.abc import SignedTransactionAPI
from eth.constants import BLANK_ROOT_HASH
from eth.vm.forks.cancun.transactions import CancunTransactionBuilder
from eth_bloom.bloom import BloomFilter
from trie.hexary import HexaryTrie

from app.ethrpc.hexio import checksum as _checksum
from app.ethrpc.hexio import checksum_hex as _checksum_hex
from app.ethrpc.hexio import hexdata, q
from modules.evm import state as evm_state
from modules.evm import txs as evm_txs
from modules.evm.params import Params

if TYPE_CHECKING:
    from app.node import Node

ZERO_ADDRESS = b"\x00" * 20
EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
EMPTY_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
BLOCK_CACHE = 512
HASH_INDEX_MAX = 500_000  # block hashes remembered (about 60 MB)
HASH_SCAN_STEP = 2_048  # blocks read back per miss, at most, before answering "not found"
MAX_FEE_WALK = 1_024

# EIP-55 costs a keccak per address, and the same few addresses (a token, its users)
# fill every log and receipt: eth_getLogs spent most of its time here before
checksum_hex = functools.lru_cache(maxsize=8192)(_checksum_hex)
checksum = functools.lru_cache(maxsize=8192)(_checksum)  # a block's miner, a tx's to


@dataclass(frozen=True)
class EthTx:
    """One Ethereum tx of a committed block, as its stored result describes it."""

    height: int
    position: int  # index among the block's txs (Cosmos ones included)
    index: int  # transactionIndex: among the block's Ethereum txs
    raw: bytes  # the Ethereum encoding
    attrs: dict[str, str]  # the ethereum_tx event
    logs: tuple[dict[str, str], ...]  # the tx_log events
    cumulative_gas: int
    first_log: int  # logIndex of its first log
    # its tx_json and log_json, made once: decoding the raw tx was most of
    # eth_getBlockByNumber's work, the logs' JSON most of eth_getLogs'
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def hash(self) -> str:
        return self.attrs["hash"]

    @property
    def gas_used(self) -> int:
        return int(self.attrs.get("gas_used", "0"))

    def decoded(self) -> SignedTransactionAPI:
        return CancunTransactionBuilder.decode(self.raw)


@dataclass(frozen=True)
class EthBlock:
    height: int
    hash: bytes
    parent_hash: bytes
    time_s: int
    proposer: bytes
    state_root: bytes  # the app hash after this block
    size: int
    txs: tuple[EthTx, ...] = field(default=())
    # what is derived once per block (roots, bloom), kept with the cached block
    memo: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def gas_used(self) -> int:
        return sum(t.gas_used for t in self.txs)

    def own_base_fee(self) -> int | None:
        """The base fee its txs paid (burned gas over gas used); None without one."""
        for t in self.txs:
            if t.gas_used:
                return int(t.attrs.get("base_fee_burned", "0")) // t.gas_used
        return None


def _attrs(event: dict[str, Any]) -> dict[str, str]:
    return {str(a["key"]): str(a["value"]) for a in event.get("attributes") or []}


def eth_txs_of(height: int, raw_txs: list[bytes], results: list[dict[str, Any]]) -> list[EthTx]:
    out: list[EthTx] = []
    cumulative = 0
    logs_before = 0
    for pos, (raw, res) in enumerate(zip(raw_txs, results, strict=False)):
        eth: dict[str, str] | None = None
        logs: list[dict[str, str]] = []
        for e in res.get("events") or []:
            if e.get("type") == "ethereum_tx" and eth is None:
                eth = _attrs(e)
            elif e.get("type") == "tx_log":
                logs.append(_attrs(e))
        if eth is None or "hash" not in eth:
            continue
        try:
            eth_raw = evm_txs.unwrap(raw)
        except Exception:  # noqa: BLE001 - a committed tx the EVM ran always unwraps
            continue
        cumulative += int(eth.get("gas_used", "0"))
        out.append(EthTx(height, pos, len(out), eth_raw, eth, tuple(logs), cumulative, logs_before))
        logs_before += len(logs)
    return out


class Chain:
    """What the Ethereum view of the chain reads, with caches; safe across threads."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._blocks: OrderedDict[int, EthBlock] = OrderedDict()
        self._by_hash: dict[bytes, int] = {}
        # the heights [_lo, _hi) were read for the hash index
        self._lo = 0
        self._hi: int | None = None
        self._fees: OrderedDict[int, int] = OrderedDict()
        # the evm params at a committed height: they change only in a block
        self._params: tuple[int, Params] | None = None

    # -- heights and state --------------------------------------------------------------
    def latest(self) -> int:
        return self.node.app_info().last_block_height

    def earliest(self) -> int:
        return max(self.node.blocks.base(), 1)

    def next_base_fee(self) -> tuple[int, int]:
        """(committed height, base fee of the block after it), read together."""
        with self.node.lock:
            ctx = self.node.app.query_ctx()
            return ctx.block.height, evm_state.base_fee(ctx)

    def params(self) -> Params:
        """The evm params at the last commit (read once a height: ``eth_call`` asks each time)."""
        with self.node.lock:
            height = self.node.app.store.height()
            hit = self._params
            if hit is not None and hit[0] == height:
                return hit[1]
            p = evm_state.get_params(self.node.app.query_ctx())
            self._params = (height, p)
            return p

    # -- blocks ---------------------------------------------------------------------------
    def block(self, height: int) -> EthBlock | None:
        """The committed block at ``height`` (None above the last commit or below the base)."""
        with self._lock:  # only committed blocks are cached
            hit = self._blocks.get(height)
            if hit is not None:
                self._blocks.move_to_end(height)
                return hit
        if height < 1 or height > self.latest():
            return None
        blk = self.node.blocks.block(height)
        res = self.node.blocks.results(height)
        if blk is None or res is None:
            return None
        eb = EthBlock(
            height=height,
            hash=blk.hash,
            parent_hash=blk.header.last_block_hash or b"\x00" * 32,
            time_s=blk.header.time_ns // 1_000_000_000,
            proposer=blk.header.proposer if len(blk.header.proposer) == 20 else ZERO_ADDRESS,
            state_root=bytes.fromhex(str(res.get("app_hash", ""))) or b"\x00" * 32,
            size=500 + sum(len(t) for t in blk.txs),
            txs=tuple(eth_txs_of(height, blk.txs, list(res.get("txs_results") or []))),
        )
        with self._lock:
            self._blocks[height] = eb
            if len(self._blocks) > BLOCK_CACHE:
                self._blocks.popitem(last=False)
            self._remember_hash(eb.hash, height)
        return eb

    def blocks(self, heights: list[int]) -> list[EthBlock | None]:
        """``block`` of each height, in order, taking the cache's lock once for all.

        ``eth_getLogs`` reads hundreds of blocks a request. A lock a block made its
        handler threads queue on one another (each wait a GIL hand-over): 37 % of the
        node's samples under 16 connections, and the CPUs half idle."""
        with self._lock:
            got = [self._blocks.get(h) for h in heights]
            for h, b in zip(heights, got, strict=True):
                if b is not None:
                    self._blocks.move_to_end(h)
        return [self.block(h) if b is None else b for h, b in zip(heights, got, strict=True)]

    def _remember_hash(self, h: bytes, height: int) -> None:
        if len(self._by_hash) >= HASH_INDEX_MAX and h not in self._by_hash:
            return
        self._by_hash[h] = height

    def height_of_hash(self, block_hash: bytes) -> int | None:
        """The height of a committed block by its hash: from memory, else by reading
        headers from the top down (``HASH_SCAN_STEP`` more per miss)."""
        with self._lock:
            known = self._by_hash.get(block_hash)
        if known is not None:
            return known if known <= self.latest() else None
        with self._scan_lock:  # one scan at a time keeps [_lo, _hi) whole
            return self._scan_for(block_hash)

    def _scan_for(self, block_hash: bytes) -> int | None:
        with self._lock:
            known = self._by_hash.get(block_hash)
        if known is not None:
            return known
        top = self.latest()
        base = self.earliest()
        if self._hi is None or top + 1 - self._hi > HASH_SCAN_STEP:
            self._lo = self._hi = top + 1  # (re)start from the top: [lo, hi) was read
        found = self._scan(block_hash, range(top, self._hi - 1, -1))
        self._hi = top + 1
        if found is not None:
            return found
        stop = max(self._lo - HASH_SCAN_STEP, base)
        found = self._scan(block_hash, range(self._lo - 1, stop - 1, -1))
        self._lo = min(self._lo, stop)
        return found

    def _scan(self, block_hash: bytes, heights: range) -> int | None:
        found: int | None = None
        for h in heights:
            blk = self.node.blocks.block(h)
            if blk is None:
                continue
            with self._lock:
                self._remember_hash(blk.hash, h)
            if blk.hash == block_hash:
                found = h
        return found

    def resolve(self, tag: str | int) -> int | None:
        """A block tag or number (or a block hash's hex) as a committed height; None if
        there is none such."""
        latest = self.latest()
        if isinstance(tag, int):
            return tag if 0 < tag <= latest else None  # no block 0: the chain starts at 1
        if tag == "earliest":
            return self.earliest()
        if tag in ("latest", "pending", "safe", "finalized"):
            return latest  # one validator, or CometBFT's instant finality
        return self.height_of_hash(bytes.fromhex(tag[2:]))

    def find_tx(self, tx_hash: bytes) -> tuple[EthBlock, EthTx] | None:
        want = "0x" + tx_hash.hex()
        for height, _ in self.node.blocks.search("ethereum_tx.hash", want):
            blk = self.block(height)
            if blk is None:
                continue
            for t in blk.txs:
                if t.hash == want:
                    return blk, t
        return None

    # -- base fees ------------------------------------------------------------------------------
    def base_fee(self, height: int) -> int:
        """The base fee per gas of block ``height`` (``latest + 1``: the next block's)."""
        with self._lock:
            hit = self._fees.get(height)
        if hit is not None:
            return hit
        top, nxt = self.next_base_fee()
        if height > top:
            return nxt
        p = self.params()
        # up from ``height`` to the first block that tells its fee; then back down
        empties: list[int] = []
        h = height
        while True:
            with self._lock:
                fee = self._fees.get(h)
            if fee is not None:
                break
            if h > top:
                fee = nxt
                break
            blk = self.block(h)
            own = blk.own_base_fee() if blk is not None else None
            if own is not None:
                fee = own
                self._remember_fee(h, own)
                break
            if len(empties) >= MAX_FEE_WALK:
                return p.min_base_fee
            empties.append(h)
            h += 1
        for e in reversed(empties):
            fee = _before_empty_block(fee, p.min_base_fee, p.base_fee_change_denominator)
            self._remember_fee(e, fee)
        return fee

    def _remember_fee(self, height: int, fee: int) -> None:
        with self._lock:
            self._fees[height] = fee
            if len(self._fees) > 4 * BLOCK_CACHE:
                self._fees.popitem(last=False)


def _before_empty_block(after: int, floor: int, denominator: int) -> int:
    """The base fee of a block without EVM gas whose successor's is ``after``
    (EIP-1559: ``after = max(fee − fee // denominator, floor)``)."""
    if after <= floor:
        return floor
    fee = after * denominator // (denominator - 1) if denominator > 1 else after
    while fee - fee // denominator > after:
        fee -= 1
    while fee - fee // denominator < after:
        fee += 1
    return fee


# -- JSON shapes --------------------------------------------------------------------------------
def log_json(blk: EthBlock, t: EthTx, i: int, log: dict[str, str]) -> dict[str, Any]:
    """Log ``i`` of ``t`` (a tx of ``blk``) as JSON-RPC shows it; a fresh dict each call,
    built once per cached block (eth_getLogs answers thousands)."""
    key = f"log{i}"
    hit = t.memo.get(key)
    if hit is None:
        hit = t.memo[key] = _log_json(blk, t, i, log)
    return dict(hit)


def _log_json(blk: EthBlock, t: EthTx, i: int, log: dict[str, str]) -> dict[str, Any]:
    topics = [x for x in log.get("topics", "").split(",") if x]
    return {
        "address": checksum_hex(log.get("address", "")),
        "topics": topics,
        "data": log.get("data", "0x"),
        "blockNumber": q(blk.height),
        "blockHash": hexdata(blk.hash),
        "blockTimestamp": q(blk.time_s),
        "transactionHash": t.hash,
        "transactionIndex": q(t.index),
        "logIndex": q(t.first_log + i),
        "removed": False,
    }


def bloom_of(logs: list[dict[str, str]]) -> BloomFilter:
    bloom = BloomFilter()
    for log in logs:
        bloom.add(bytes.fromhex(log.get("address", "0x")[2:]))
        for topic in log.get("topics", "").split(","):
            if topic:
                bloom.add(bytes.fromhex(topic[2:]))
    return bloom


def bloom_hex(bloom: BloomFilter) -> str:
    return "0x" + int(bloom).to_bytes(256, "big").hex()


def receipt_json(blk: EthBlock, t: EthTx) -> dict[str, Any]:
    a = t.attrs
    return {
        "transactionHash": t.hash,
        "transactionIndex": q(t.index),
        "blockHash": hexdata(blk.hash),
        "blockNumber": q(blk.height),
        "from": checksum_hex(a.get("from", "")),
        "to": checksum_hex(a.get("to", "")),
        "cumulativeGasUsed": q(t.cumulative_gas),
        "gasUsed": q(t.gas_used),
        "contractAddress": checksum_hex(a.get("contract", "")),
        "logs": [log_json(blk, t, i, log) for i, log in enumerate(t.logs)],
        "logsBloom": bloom_hex(bloom_of(list(t.logs))),
        "status": q(int(a.get("status", "0"))),
        "effectiveGasPrice": q(int(a.get("effective_gas_price", "0"))),
        "type": q(int(a.get("type", "0"))),
    }


def tx_json(blk: EthBlock, t: EthTx) -> dict[str, Any]:
    """``t`` (a tx of ``blk``) as JSON-RPC shows it; a fresh dict each call (callers
    edit their copy), built once per cached block."""
    hit = t.memo.get("json")
    if hit is None:
        hit = t.memo["json"] = _tx_json(blk, t)
    return dict(hit)


def _tx_json(blk: EthBlock, t: EthTx) -> dict[str, Any]:
    tx = t.decoded()
    a = t.attrs
    type_id = int(a.get("type", "0"))
    out: dict[str, Any] = {
        "blockHash": hexdata(blk.hash),
        "blockNumber": q(blk.height),
        "transactionIndex": q(t.index),
        "hash": t.hash,
        "type": q(type_id),
        "from": checksum_hex(a.get("from", "")),
        "to": checksum(bytes(tx.to)) if tx.to else None,
        "nonce": q(int(tx.nonce)),
        "gas": q(int(tx.gas)),
        "gasPrice": q(int(a.get("effective_gas_price", "0"))),
        "value": q(int(tx.value)),
        "input": hexdata(bytes(tx.data)),
        "r": q(int(tx.r)),
        "s": q(int(tx.s)),
    }
    if tx.chain_id is not None:
        out["chainId"] = q(int(tx.chain_id))
    if type_id == evm_txs.LEGACY:
        out["v"] = q(int(getattr(tx, "v")))  # noqa: B009 - legacy txs only have it
        return out
    out["v"] = q(int(tx.y_parity))
    out["yParity"] = q(int(tx.y_parity))
    out["accessList"] = [
        {"address": checksum(bytes(addr)), "storageKeys": [f"0x{s:064x}" for s in slots]}
        for addr, slots in tx.access_list
    ]
    if type_id == evm_txs.DYNAMIC_FEE:
        out["maxFeePerGas"] = q(int(tx.max_fee_per_gas))
        out["maxPriorityFeePerGas"] = q(int(tx.max_priority_fee_per_gas))
    return out


def _receipt_rlp(t: EthTx) -> bytes:
    logs = [
        [
            bytes.fromhex(log.get("address", "0x")[2:]),
            [bytes.fromhex(x[2:]) for x in log.get("topics", "").split(",") if x],
            bytes.fromhex(log.get("data", "0x")[2:]),
        ]
        for log in t.logs
    ]
    status = b"\x01" if t.attrs.get("status") == "1" else b""
    bloom = int(bloom_of(list(t.logs))).to_bytes(256, "big")
    body = bytes(rlp.encode([status, t.cumulative_gas, bloom, logs]))
    type_id = int(t.attrs.get("type", "0"))
    return body if type_id == evm_txs.LEGACY else bytes([type_id]) + body


def trie_root(items: list[bytes]) -> str:
    """The root of Ethereum's index-keyed trie of ``items`` (transactionsRoot, receiptsRoot)."""
    store: dict[bytes, bytes] = {}
    t = HexaryTrie(store, BLANK_ROOT_HASH)
    with t.squash_changes() as m:
        for i, item in enumerate(items):
            m[rlp.encode(i)] = item
    return "0x" + bytes(t.root_hash).hex()


def _derived(blk: EthBlock) -> dict[str, str]:
    if not blk.memo:
        bloom = BloomFilter()
        for t in blk.txs:
            bloom |= bloom_of(list(t.logs))
        blk.memo["logsBloom"] = bloom_hex(bloom)
        blk.memo["transactionsRoot"] = trie_root([t.raw for t in blk.txs])
        blk.memo["receiptsRoot"] = trie_root([_receipt_rlp(t) for t in blk.txs])
    return blk.memo


def block_json(blk: EthBlock, base_fee: int, gas_limit: int, full: bool) -> dict[str, Any]:
    d = _derived(blk)
    return {
        "number": q(blk.height),
        "hash": hexdata(blk.hash),
        "parentHash": hexdata(blk.parent_hash),
        "nonce": "0x0000000000000000",
        "mixHash": hexdata(blk.hash),
        "sha3Uncles": EMPTY_UNCLES,
        "logsBloom": d["logsBloom"],
        "transactionsRoot": d["transactionsRoot"],
        "stateRoot": hexdata(blk.state_root),
        "receiptsRoot": d["receiptsRoot"],
        "miner": checksum(blk.proposer),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": "0x",
        "size": q(blk.size),
        "gasLimit": q(gas_limit),
        "gasUsed": q(blk.gas_used),
        "timestamp": q(blk.time_s),
        "transactions": [tx_json(blk, t) if full else t.hash for t in blk.txs],
        "uncles": [],
        "baseFeePerGas": q(base_fee),
    }
