"""The block store: blocks, their txs, execution results and an event index.

A block and its results are written in one batch after FinalizeBlock and
*before* the app's Commit. So after a crash the store holds at most one block
more than the app committed, and the driver replays it (execution is
deterministic, so the replay rewrites the same results).

Keys (raw bytes, its own RocksDB):

    b"b" + height      block header (JSON)
    b"t" + height + i  raw tx i of that block
    b"r" + height      results: tx results, block events, app hash (JSON)
    b"x" + tx hash     height + index of a tx
    b"e" + "type.attr" 0x00 value 0x00 height index   event index for tx_search
    b"mheight"         latest stored height
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rocksdict import Options, Rdict, WriteBatch, WriteOptions

from chain.events import Event
from chain.kv import prefix_end
from chain.results import BlockResult, TxResult

_HEIGHT = b"mheight"


def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


@dataclass(frozen=True)
class Header:
    chain_id: str
    height: int
    time_ns: int
    last_block_hash: bytes
    data_hash: bytes
    app_hash: bytes  # state after the previous block, as in CometBFT
    proposer: bytes

    def hash(self) -> bytes:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).digest()

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "time_ns": self.time_ns,
            "last_block_hash": self.last_block_hash.hex(),
            "data_hash": self.data_hash.hex(),
            "app_hash": self.app_hash.hex(),
            "proposer": self.proposer.hex(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Header:
        return cls(
            chain_id=d["chain_id"],
            height=int(d["height"]),
            time_ns=int(d["time_ns"]),
            last_block_hash=bytes.fromhex(d["last_block_hash"]),
            data_hash=bytes.fromhex(d["data_hash"]),
            app_hash=bytes.fromhex(d["app_hash"]),
            proposer=bytes.fromhex(d["proposer"]),
        )


def data_hash(txs: list[bytes]) -> bytes:
    h = hashlib.sha256(b"txs")
    for t in txs:
        h.update(hashlib.sha256(t).digest())
    return h.digest()


@dataclass
class StoredBlock:
    header: Header
    hash: bytes
    txs: list[bytes] = field(default_factory=list)


def tx_result_json(r: TxResult) -> dict[str, Any]:
    return {
        "code": r.code,
        "codespace": r.codespace,
        "log": r.log,
        "data": base64.b64encode(r.data).decode(),
        "gas_wanted": str(r.gas_wanted),
        "gas_used": str(r.gas_used),
        "events": [e.to_json() for e in r.events],
        "info": "",
    }


def events_from_json(items: list[dict[str, Any]]) -> tuple[Event, ...]:
    return tuple(
        Event(e["type"], tuple((a["key"], a["value"]) for a in e["attributes"])) for e in items
    )


class BlockStore:
    def __init__(self, path: str | Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        self.db = Rdict(str(path), opts)
        self._sync = WriteOptions()
        self._sync.sync = True

    def close(self) -> None:
        self.db.close()

    def height(self) -> int:
        v = self.db.get(_HEIGHT)
        return 0 if v is None else int.from_bytes(v, "big")

    def base(self) -> int:
        it = self.db.iter()
        it.seek(b"b")
        if it.valid() and it.key()[:1] == b"b":
            return int.from_bytes(it.key()[1:9], "big")
        return 0

    def save(self, block: StoredBlock, result: BlockResult) -> None:
        """Block, txs, results and index in one synced batch."""
        h = block.header.height
        wb = WriteBatch(raw_mode=True)
        wb.put(
            b"b" + _h(h),
            json.dumps(
                {
                    "header": block.header.to_json(),
                    "hash": block.hash.hex(),
                    "num_txs": len(block.txs),
                }
            ).encode(),
        )
        for i, tx in enumerate(block.txs):
            wb.put(b"t" + _h(h) + i.to_bytes(4, "big"), tx)
            wb.put(b"x" + hashlib.sha256(tx).digest(), _h(h) + i.to_bytes(4, "big"))
        for i, r in enumerate(result.tx_results):
            pos = _h(h) + i.to_bytes(4, "big")
            for e in r.events:
                for k, v in e.attributes:
                    wb.put(
                        b"e" + f"{e.type}.{k}".encode() + b"\x00" + v.encode() + b"\x00" + pos, b""
                    )
        wb.put(
            b"r" + _h(h),
            json.dumps(
                {
                    "height": h,
                    "txs_results": [tx_result_json(r) for r in result.tx_results],
                    "finalize_block_events": [e.to_json() for e in result.events],
                    "app_hash": result.app_hash.hex(),
                }
            ).encode(),
        )
        wb.put(_HEIGHT, _h(h))
        self.db.write(wb, self._sync)

    def block(self, height: int) -> StoredBlock | None:
        raw = self.db.get(b"b" + _h(height))
        if raw is None:
            return None
        d = json.loads(raw)
        txs = [v for _, v in self._range(b"t" + _h(height))]
        return StoredBlock(Header.from_json(d["header"]), bytes.fromhex(d["hash"]), txs)

    def results(self, height: int) -> dict[str, Any] | None:
        raw = self.db.get(b"r" + _h(height))
        return None if raw is None else dict(json.loads(raw))

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        v = self.db.get(b"x" + tx_hash)
        if v is None:
            return None
        return int.from_bytes(v[:8], "big"), int.from_bytes(v[8:12], "big")

    def tx(self, height: int, index: int) -> bytes | None:
        v: bytes | None = self.db.get(b"t" + _h(height) + index.to_bytes(4, "big"))
        return v

    def search(self, key: str, value: str | None = None) -> Iterator[tuple[int, int]]:
        """(height, index) of txs with event attribute ``key`` (``type.attr``) equal to ``value``
        (any value when None), in chain order for a fixed value."""
        p = b"e" + key.encode() + b"\x00"
        if value is not None:
            p += value.encode() + b"\x00"
        for k, _ in self._range(p):
            pos = k[-12:]
            yield int.from_bytes(pos[:8], "big"), int.from_bytes(pos[8:], "big")

    def _range(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        end = prefix_end(prefix)
        it = self.db.iter()
        it.seek(prefix)
        while it.valid():
            k = it.key()
            if end is not None and k >= end:
                break
            yield k, it.value()
            it.next()
