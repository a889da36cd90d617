"""The CometBFT RPC methods a solo node serves, with CometBFT v0.38's result shapes.

Each method is a plain function of the node and typed arguments. ``METHODS``
names every method's arguments in CometBFT's order (``params.py`` checks them
before the method runs), so a request may pass them by name, by position, or
(URI form) as query-string values.
``broadcast_tx_commit`` waits for its block and so lives in ``server.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chain.consensus.solo import PROPOSER
from chain.results import TxResult
from chain.rpc import encode as enc
from chain.rpc import txsearch
from chain.rpc.jsonbody import JsonError, loads
from chain.rpc.params import Param, internal, invalid
from chain.rpc.query import QueryError, parse
from chain.version import VERSION

if TYPE_CHECKING:
    from chain.nodeview import NodeView

PROOF_OP_TYPE = "vcoin:smt"


# -- helpers ------------------------------------------------------------------


def _committed(node: NodeView) -> tuple[int, bytes]:
    info = node.app_info()
    return info.last_block_height, info.last_block_app_hash


def _height(node: NodeView, height: int | None) -> int:
    latest, _ = _committed(node)
    if height is None or height == 0:
        return latest
    if height < 0:
        raise invalid(f"height must be greater than 0, but got {height}")
    if height > latest:
        raise invalid(
            f"height {height} must be less than or equal to the current blockchain height {latest}"
        )
    base = node.blocks.base()
    if height < base:
        raise invalid(f"height {height} is not available, lowest height is {base}")
    return height


def check_tx_json(r: TxResult) -> dict[str, Any]:
    """ResponseCheckTx."""
    return {
        "code": r.code,
        "data": enc.b64_or_null(r.data),
        "log": r.log,
        "info": "",
        "gas_wanted": str(r.gas_wanted),
        "gas_used": str(r.gas_used),
        "events": [e.to_json() for e in r.events],
        "codespace": r.codespace,
    }


def tx_json(f: txsearch.FoundTx) -> dict[str, Any]:
    return {
        "hash": enc.hexu(f.hash),
        "height": str(f.height),
        "index": f.index,
        "tx_result": f.result,
        "tx": enc.b64(f.tx),
    }


# -- info ---------------------------------------------------------------------


def health(node: NodeView) -> dict[str, Any]:
    if not node.producing:
        raise internal("block production has stopped; see the node's log", 503)
    return {}


def status(node: NodeView) -> dict[str, Any]:
    height, _ = _committed(node)
    latest = node.blocks.block(height) if height else None
    base = node.blocks.base()
    earliest = node.blocks.block(base) if base else None

    def hash_of(b: Any) -> str:
        return enc.hexu(b.hash) if b else ""

    return {
        "node_info": {
            "protocol_version": {"p2p": enc.P2P_PROTOCOL, "block": enc.BLOCK_PROTOCOL, "app": "1"},
            "id": PROPOSER.hex(),
            "listen_addr": "",
            "network": node.chain_id,
            "version": enc.RPC_VERSION,
            "channels": "",
            "moniker": "vcoin-solo",
            "other": {"tx_index": "on", "rpc_address": f"tcp://{node.cfg.rpc_laddr}"},
        },
        "sync_info": {
            "latest_block_hash": hash_of(latest),
            "latest_app_hash": enc.hexu(latest.header.app_hash) if latest else "",
            "latest_block_height": str(height),
            "latest_block_time": enc.rfc3339(latest.header.time_ns if latest else 0),
            "earliest_block_hash": hash_of(earliest),
            "earliest_app_hash": enc.hexu(earliest.header.app_hash) if earliest else "",
            "earliest_block_height": str(base),
            "earliest_block_time": enc.rfc3339(earliest.header.time_ns if earliest else 0),
            "catching_up": False,
        },
        "validator_info": {
            k: v for k, v in enc.validator_json().items() if k != "proposer_priority"
        },
    }


def net_info(node: NodeView) -> dict[str, Any]:
    return {"listening": False, "listeners": [], "n_peers": "0", "peers": []}


def genesis(node: NodeView) -> dict[str, Any]:
    return {"genesis": node.genesis}


def validators(
    node: NodeView, height: int | None, page: int | None, per_page: int | None
) -> dict[str, Any]:
    h = _height(node, height)
    try:
        txsearch.page_bounds(1, page, per_page)
    except ValueError as e:
        raise invalid(str(e)) from e
    return {
        "block_height": str(h),
        "validators": [enc.validator_json()],
        "count": "1",
        "total": "1",
    }


def abci_info(node: NodeView) -> dict[str, Any]:
    height, app_hash = _committed(node)
    return {
        "response": {
            "data": "vcoin",
            "version": VERSION,
            "app_version": "1",
            "last_block_height": str(height),
            "last_block_app_hash": enc.b64(app_hash),
        }
    }


# -- blocks and txs -------------------------------------------------------------


def block(node: NodeView, height: int | None) -> dict[str, Any]:
    h = _height(node, height)
    blk = node.blocks.block(h) if h else None
    if blk is None:
        return {"block_id": enc.block_id(b""), "block": None}
    return enc.block_result_json(blk)


def block_results(node: NodeView, height: int | None) -> dict[str, Any]:
    h = _height(node, height)
    if h == 0:
        raise internal("no block has been committed yet; retry after the first block", 404)
    res = node.blocks.results(h)
    if res is None:
        raise internal(f"could not find results for height #{h}", 404)
    return enc.block_results_json(res)


def tx(node: NodeView, hash: bytes, prove: bool) -> dict[str, Any]:
    if prove:
        raise invalid("tx inclusion proofs are not served by this node; call with prove=false")
    found = txsearch.find_tx(node, hash)
    if found is None:
        raise internal(f"tx ({hash.hex().upper()}) not found", 404)
    return tx_json(found)


def tx_search(
    node: NodeView, query: str, prove: bool, page: int | None, per_page: int | None, order_by: str
) -> dict[str, Any]:
    if prove:
        raise invalid("tx inclusion proofs are not served by this node; call with prove=false")
    if order_by not in ("", "asc", "desc"):
        raise invalid("expected order_by to be either `asc` or `desc` or empty")
    try:
        q = parse(query)
    except QueryError as e:
        raise invalid(f"failed to parse query: {e}") from e
    found = txsearch.search(node, q)
    if order_by == "desc":
        found.reverse()
    try:
        start, end, _ = txsearch.page_bounds(len(found), page, per_page)
    except ValueError as e:
        raise invalid(str(e)) from e
    return {"txs": [tx_json(f) for f in found[start:end]], "total_count": str(len(found))}


# -- mempool ------------------------------------------------------------------


def broadcast_tx_sync(node: NodeView, tx: bytes) -> dict[str, Any]:
    r = node.mempool.check_and_add(tx)
    node.metrics.checktx.labels("ok" if r.ok else "rejected").inc()
    return {
        "code": r.code,
        "data": r.data.hex().upper(),
        "log": r.log,
        "codespace": r.codespace,
        "hash": hashlib.sha256(tx).hexdigest().upper(),
    }


def num_unconfirmed_txs(node: NodeView) -> dict[str, Any]:
    n = str(len(node.mempool))
    return {"n_txs": n, "total": n, "total_bytes": str(node.mempool.size_bytes), "txs": None}


def unconfirmed_txs(node: NodeView, limit: int | None) -> dict[str, Any]:
    n = 30 if limit is None or limit < 1 else min(limit, 100)
    txs = node.mempool.reap(1 << 62, n)
    return {
        "n_txs": str(len(txs)),
        "total": str(len(node.mempool)),
        "total_bytes": str(node.mempool.size_bytes),
        "txs": [enc.b64(t) for t in txs],
    }


# -- queries ------------------------------------------------------------------


def abci_query(node: NodeView, path: str, data: bytes, height: int, prove: bool) -> dict[str, Any]:
    if path.strip("/").startswith("custom/") and data:
        try:
            loads(data)
        except JsonError as e:
            raise invalid(f"argument 'data': a /custom query takes JSON; {e}") from e
    r = node.app_query(path, data, height, prove)
    ops = None
    if r.proof is not None:
        proof = json.dumps(r.proof, sort_keys=True).encode()
        ops = {"ops": [{"type": PROOF_OP_TYPE, "key": enc.b64(r.key), "data": enc.b64(proof)}]}
    return {
        "response": {
            "code": r.code,
            "log": r.log,
            "info": "",
            "index": "0",
            "key": enc.b64_or_null(r.key),
            "value": enc.b64_or_null(r.value),
            "proofOps": ops,
            "height": str(r.height),
            "codespace": r.codespace,
        }
    }


Method = Callable[..., dict[str, Any]]
_HEIGHT = Param("height", "int", None)

METHODS: dict[str, tuple[Method, tuple[Param, ...]]] = {
    "health": (health, ()),
    "status": (status, ()),
    "net_info": (net_info, ()),
    "genesis": (genesis, ()),
    "validators": (
        validators,
        (_HEIGHT, Param("page", "int", None), Param("per_page", "int", None)),
    ),
    "abci_info": (abci_info, ()),
    "abci_query": (
        abci_query,
        (
            Param("path", "str", ""),
            Param("data", "hex", b""),
            Param("height", "int", 0),
            Param("prove", "bool", False),
        ),
    ),
    "block": (block, (_HEIGHT,)),
    "block_results": (block_results, (_HEIGHT,)),
    "tx": (tx, (Param("hash", "hash"), Param("prove", "bool", False))),
    "tx_search": (
        tx_search,
        (
            Param("query", "str"),
            Param("prove", "bool", False),
            Param("page", "int", None),
            Param("per_page", "int", None),
            Param("order_by", "str", ""),
        ),
    ),
    "broadcast_tx_sync": (broadcast_tx_sync, (Param("tx", "tx"),)),
    "num_unconfirmed_txs": (num_unconfirmed_txs, ()),
    "unconfirmed_txs": (unconfirmed_txs, (Param("limit", "int", None),)),
}
