"""Otterscan's ``ots_*`` methods (API level 8) and ``erigon_getHeaderByNumber``.

Shapes follow Otterscan's ``docs/custom-jsonrpc.md``. What they read:

* internal operations, ``ots_traceTransaction``, contract creators: the call
  traces recorded as blocks run (``trace.py``; internal creations are indexed
  for good, the frames kept for the last ``jsonrpc_trace_blocks`` blocks);
* address history (``ots_searchTransactionsBefore/After``), a sender's tx by
  nonce: the block store's event index of the ``ethereum_tx`` event (``from``,
  ``to``, ``contract``), so a tx matches an address that sent it, received it or
  was made by it; and, in the blocks whose traces are kept, a tx with a call
  below its top call from or to the address (the trace store's index);
* ``ots_hasCode``: the latest state at any block (the node keeps no older state);
* a block's issuance is 0 (rewards are not EVM issuance); ``totalFees`` is
  what its Ethereum txs paid (gas used × effective gas price).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from app.ethrpc import hexio
from app.ethrpc.blocks import EthBlock, EthTx, receipt_json, tx_json
from app.ethrpc.hexio import RpcError, checksum, hexdata, invalid, q
from app.ethrpc.trace import Traces

if TYPE_CHECKING:
    from app.ethrpc.methods import EthApi, Method

API_LEVEL = 8
MAX_PAGE = 1_000
ALL = 1 << 62  # no page limit
OP_TRANSFER, OP_SELFDESTRUCT, OP_CREATE, OP_CREATE2 = 0, 1, 2, 3
_ADDRESS_KEYS = ("ethereum_tx.from", "ethereum_tx.to", "ethereum_tx.contract")


def _page_size(v: Any) -> int:
    n = hexio.quantity(v, "pageSize", 32) if isinstance(v, str) else v
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= MAX_PAGE:
        raise invalid(f"pageSize: expected a number in 1..{MAX_PAGE}")
    return n


def _number(v: Any, what: str) -> int:
    n = hexio.quantity(v, what, 64) if isinstance(v, str) else v
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise invalid(f"{what}: expected a block number")
    return n


def _fees(blk: EthBlock) -> int:
    return sum(t.gas_used * int(t.attrs.get("effective_gas_price", "0")) for t in blk.txs)


def _lean_receipt(blk: EthBlock, t: EthTx) -> dict[str, Any]:
    r = receipt_json(blk, t)
    r["logs"] = None
    r["logsBloom"] = None
    return r


def _walk_ok(frame: dict[str, Any], depth: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """The frames that stood (a failed frame's subtree is undone), with their depth."""
    if "error" in frame:
        return []
    out = [(depth, frame)]
    for c in frame.get("calls") or []:
        out.extend(_walk_ok(c, depth + 1))
    return out


class Ots:
    def __init__(self, api: EthApi) -> None:
        self.api = api
        self.chain = api.chain
        self.traces = Traces(api)

    # -- blocks -------------------------------------------------------------------------
    def _block_at(self, v: Any) -> EthBlock | None:
        return self.chain.block(_number(v, "block number"))

    def _details(self, blk: EthBlock | None) -> dict[str, Any] | None:
        body = self.api._block_json(blk, False)
        if blk is None or body is None:
            return None
        body.pop("transactions")
        body["logsBloom"] = None
        body["transactionCount"] = len(blk.txs)
        return {
            "block": body,
            "issuance": {"blockReward": "0x0", "uncleReward": "0x0", "issuance": "0x0"},
            "totalFees": q(_fees(blk)),
        }

    def block_details(self, p: list[Any]) -> dict[str, Any] | None:
        return self._details(self._block_at(p[0]))

    def block_details_by_hash(self, p: list[Any]) -> dict[str, Any] | None:
        return self._details(self.api._block(hexdata(hexio.hash32(p[0], "block hash"))))

    def block_transactions(self, p: list[Any]) -> dict[str, Any] | None:
        """Page ``pageNumber`` of a block's txs, counted from its end as Erigon does."""
        blk = self._block_at(p[0])
        page, size = _number(p[1], "pageNumber"), _page_size(p[2])
        body = self.api._block_json(blk, False)
        if blk is None or body is None:
            return None
        end = max(len(blk.txs) - page * size, 0)
        chosen = blk.txs[max(end - size, 0) : end]
        txs = []
        for t in chosen:
            tx = tx_json(blk, t)
            tx["input"] = tx["input"][:10]  # the 4-byte selector only
            txs.append(tx)
        body["transactions"] = txs
        body["logsBloom"] = None
        body["transactionCount"] = len(blk.txs)
        return {"fullblock": body, "receipts": [_lean_receipt(blk, t) for t in chosen]}

    def header(self, p: list[Any]) -> dict[str, Any] | None:
        blk = self.api._block(p[0])
        body = self.api._block_json(blk, False)
        if body is not None:
            body.pop("transactions")
            body.pop("uncles")
        return body

    # -- txs ----------------------------------------------------------------------------
    def _tx(self, v: Any) -> tuple[EthBlock, EthTx]:
        found = self.chain.find_tx(hexio.hash32(v, "transaction hash"))
        if found is None:
            raise RpcError(hexio.SERVER_ERROR, "transaction not found")
        return found

    def _frame(self, v: Any) -> dict[str, Any]:
        return self.traces.tx_frame(hexio.hash32(v, "transaction hash"))

    def internal_operations(self, p: list[Any]) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        for depth, f in _walk_ok(self._frame(p[0])):
            kind = f["type"]
            value = int(f.get("value") or "0x0", 16)
            if depth == 0:
                continue
            if kind == "CALL" and value:
                op = OP_TRANSFER
            elif kind == "SELFDESTRUCT":
                op = OP_SELFDESTRUCT
            elif kind in ("CREATE", "CREATE2"):
                op = OP_CREATE if kind == "CREATE" else OP_CREATE2
            else:
                continue
            ops.append({"type": op, "from": f["from"], "to": f["to"], "value": q(value)})
        return ops

    def trace_transaction(self, p: list[Any]) -> list[dict[str, Any]]:
        from modules.evm.tracing import walk

        out = []
        for depth, f in walk(self._frame(p[0])):
            kind = f["type"]
            entry: dict[str, Any] = {
                "type": kind,
                "depth": depth,
                "from": f["from"],
                "to": f["to"],
                "value": None if kind in ("STATICCALL", "DELEGATECALL") else f.get("value"),
                "input": f.get("input", "0x"),
            }
            if "output" in f:
                entry["output"] = f["output"]
            out.append(entry)
        return out

    def transaction_error(self, p: list[Any]) -> str:
        blk, t = self._tx(p[0])
        if t.attrs.get("status") == "1":
            return "0x"
        res = self.api.node.blocks.results(blk.height) or {}
        items = list(res.get("txs_results") or [])
        data = items[t.position].get("data", "") if t.position < len(items) else ""
        return hexdata(base64.b64decode(data or ""))

    def by_sender_and_nonce(self, p: list[Any]) -> str | None:
        sender = "0x" + hexio.address(p[0], "sender").hex()
        nonce = _number(p[1], "nonce")
        for height, pos in self.api.node.blocks.search("ethereum_tx.from", sender):
            blk = self.chain.block(height)
            for t in blk.txs if blk is not None else ():
                if t.position == pos and t.attrs.get("nonce") == str(nonce):
                    return t.hash
        return None

    def contract_creator(self, p: list[Any]) -> dict[str, Any] | None:
        addr = hexio.address(p[0])
        if not self.has_code([p[0], "latest"]):
            return None
        store = self.api.keeper.traces
        made = store.creator(addr) if store is not None else None
        if made is not None:
            return {"hash": made["hash"], "creator": checksum(bytes.fromhex(made["creator"][2:]))}
        for height, pos in self.api.node.blocks.search("ethereum_tx.contract", "0x" + addr.hex()):
            blk = self.chain.block(height)
            for t in blk.txs if blk is not None else ():
                if t.position == pos:
                    return {"hash": t.hash, "creator": checksum(bytes.fromhex(t.attrs["from"][2:]))}
        return None  # made at genesis

    def has_code(self, p: list[Any]) -> bool:
        from modules.evm import state as evm_state

        addr = hexio.address(p[0])
        if len(p) > 1 and self.chain.resolve(hexio.block_tag(p[1])) is None:
            raise RpcError(hexio.SERVER_ERROR, "block not found")
        with self.api.node.lock:
            return bool(evm_state.code_of(self.api.node.app.query_ctx(), addr))

    # -- address history ------------------------------------------------------------------
    def _heights(self, addr: bytes) -> dict[int, set[int]]:
        """Block height -> positions of the txs that ``addr`` sent, received or was made
        by (-1: and some whose inner calls touched it, in a block with kept traces)."""
        hits: dict[int, set[int]] = {}
        value = "0x" + addr.hex()
        for key in _ADDRESS_KEYS:
            for height, pos in self.api.node.blocks.search(key, value):
                hits.setdefault(height, set()).add(pos)
        store = self.api.keeper.traces
        for height in store.touched(addr) if store is not None else ():
            hits.setdefault(height, set()).add(-1)
        return hits

    def _page(
        self, addr: bytes, hits: dict[int, set[int]], heights: list[int], size: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        """Txs of ``heights`` (in that order; each block's newest first) until ``size``
        are found (a block's matches are never split); and whether all were taken."""
        txs: list[dict[str, Any]] = []
        receipts: list[dict[str, Any]] = []
        taken = 0
        for h in heights:
            if len(txs) >= size:
                break
            taken += 1
            blk = self.chain.block(h)
            if blk is None:
                continue
            store = self.api.keeper.traces
            inner = store.touching(h, addr) if -1 in hits[h] and store is not None else set()
            for t in reversed(blk.txs):
                if t.position in hits[h] or t.index in inner:
                    txs.append(tx_json(blk, t))
                    r = receipt_json(blk, t)
                    r["timestamp"] = q(blk.time_s)
                    receipts.append(r)
        return txs, receipts, taken == len(heights)

    def search_before(self, p: list[Any]) -> dict[str, Any]:
        addr = hexio.address(p[0])
        start, size = _number(p[1], "blockNumber"), _page_size(p[2])
        hits = self._heights(addr)
        heights = sorted((h for h in hits if start == 0 or h < start), reverse=True)
        txs, receipts, all_taken = self._page(addr, hits, heights, size)
        return {"txs": txs, "receipts": receipts, "firstPage": start == 0, "lastPage": all_taken}

    def search_after(self, p: list[Any]) -> dict[str, Any]:
        addr = hexio.address(p[0])
        start, size = _number(p[1], "blockNumber"), _page_size(p[2])
        hits = self._heights(addr)
        heights = sorted(h for h in hits if h > start)
        # oldest first up to the page, then shown newest first like every page
        chosen: list[int] = []
        count = 0
        for h in heights:
            if count >= size:
                break
            chosen.append(h)
            count += len(hits[h])
        txs, receipts, _ = self._page(addr, hits, sorted(chosen, reverse=True), ALL)
        return {
            "txs": txs,
            "receipts": receipts,
            "firstPage": len(chosen) == len(heights),
            "lastPage": start == 0,
        }


def methods(api: EthApi) -> dict[str, Method]:
    """The ots_* methods of Otterscan's API level 8 and erigon_getHeaderByNumber."""
    from app.ethrpc.methods import Method

    o = Ots(api)
    return {
        "ots_getApiLevel": Method(lambda p: API_LEVEL, 0, 0),
        "ots_hasCode": Method(o.has_code, 1, 2),
        "ots_getInternalOperations": Method(o.internal_operations, 1, 1),
        "ots_getTransactionError": Method(o.transaction_error, 1, 1),
        "ots_traceTransaction": Method(o.trace_transaction, 1, 1),
        "ots_getBlockDetails": Method(o.block_details, 1, 1),
        "ots_getBlockDetailsByHash": Method(o.block_details_by_hash, 1, 1),
        "ots_getBlockTransactions": Method(o.block_transactions, 3, 3),
        "ots_searchTransactionsBefore": Method(o.search_before, 3, 3),
        "ots_searchTransactionsAfter": Method(o.search_after, 3, 3),
        "ots_getTransactionBySenderAndNonce": Method(o.by_sender_and_nonce, 2, 2),
        "ots_getContractCreator": Method(o.contract_creator, 1, 1),
        "erigon_getHeaderByNumber": Method(o.header, 1, 1),
    }
