"""CometBFT v0.38 JSON shapes of blocks, commits, results and the solo validator.

CometBFT's JSON (``libs/json``) writes 64-bit integers as decimal strings,
hashes (``HexBytes``) as upper-case hex, other byte strings as base64, and
times as RFC 3339 with nanoseconds. These helpers build exactly that from
the block store's records.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from chain.consensus.blockstore import Header, StoredBlock
from chain.consensus.solo import PROPOSER

BLOCK_PROTOCOL = "11"  # CometBFT v0.38's block protocol version
P2P_PROTOCOL = "8"
RPC_VERSION = "0.38.0-vcoin-solo"  # clients such as cosmjs pick their dialect by the 0.38 prefix
# The solo driver signs nothing; this is its stable identity (address = PROPOSER).
VALIDATOR_PUBKEY = hashlib.sha256(b"vcoin-solo-validator").digest()
VOTING_POWER = "10"
BLOCK_ID_FLAG_COMMIT = 2

assert VALIDATOR_PUBKEY[:20] == PROPOSER


def hexu(b: bytes) -> str:
    return b.hex().upper()


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def b64_or_null(b: bytes) -> str | None:
    return b64(b) if b else None


def rfc3339(ns: int, nanos: bool = True) -> str:
    """Go's RFC3339Nano (trailing zeros trimmed); seconds only when ``nanos`` is False."""
    secs, frac = divmod(ns, 1_000_000_000)
    t = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos and frac:
        t += "." + f"{frac:09d}".rstrip("0")
    return t + "Z"


def block_id(block_hash: bytes) -> dict[str, Any]:
    """A BlockID; a solo block travels as a single part, so its part set hash is its hash."""
    if not block_hash:
        return {"hash": "", "parts": {"total": 0, "hash": ""}}
    return {"hash": hexu(block_hash), "parts": {"total": 1, "hash": hexu(block_hash)}}


def header_json(h: Header) -> dict[str, Any]:
    return {
        "version": {"block": BLOCK_PROTOCOL, "app": "1"},
        "chain_id": h.chain_id,
        "height": str(h.height),
        "time": rfc3339(h.time_ns),
        "last_block_id": block_id(h.last_block_hash),
        "last_commit_hash": "",
        "data_hash": hexu(h.data_hash),
        "validators_hash": hexu(validators_hash()),
        "next_validators_hash": hexu(validators_hash()),
        "consensus_hash": "",
        "app_hash": hexu(h.app_hash),
        "last_results_hash": "",
        "evidence_hash": "",
        "proposer_address": hexu(h.proposer),
    }


def validators_hash() -> bytes:
    return hashlib.sha256(VALIDATOR_PUBKEY + int(VOTING_POWER).to_bytes(8, "big")).digest()


def last_commit_json(h: Header) -> dict[str, Any]:
    """The commit of the block before ``h``. The solo validator's vote carries no
    signature: there is no one to convince but itself."""
    if h.height <= 1 or not h.last_block_hash:
        return {"height": "0", "round": 0, "block_id": block_id(b""), "signatures": []}
    return {
        "height": str(h.height - 1),
        "round": 0,
        "block_id": block_id(h.last_block_hash),
        "signatures": [
            {
                "block_id_flag": BLOCK_ID_FLAG_COMMIT,
                "validator_address": hexu(PROPOSER),
                "timestamp": rfc3339(h.time_ns),
                "signature": None,
            }
        ],
    }


def block_json(blk: StoredBlock) -> dict[str, Any]:
    return {
        "header": header_json(blk.header),
        "data": {"txs": [b64(t) for t in blk.txs]},
        "evidence": {"evidence": []},
        "last_commit": last_commit_json(blk.header),
    }


def block_result_json(blk: StoredBlock) -> dict[str, Any]:
    """What ``block`` returns."""
    return {"block_id": block_id(blk.hash), "block": block_json(blk)}


def block_results_json(results: dict[str, Any]) -> dict[str, Any]:
    """What ``block_results`` returns, from the block store's results record."""
    return {
        "height": str(results["height"]),
        "txs_results": results["txs_results"] or None,
        "finalize_block_events": results["finalize_block_events"],
        "validator_updates": [],
        "consensus_param_updates": None,
        "app_hash": b64(bytes.fromhex(results["app_hash"])),
    }


def finalize_block_json(results: dict[str, Any]) -> dict[str, Any]:
    """ResponseFinalizeBlock, as the NewBlock event carries it."""
    return {
        "events": results["finalize_block_events"],
        "tx_results": results["txs_results"],
        "validator_updates": [],
        "consensus_param_updates": None,
        "app_hash": b64(bytes.fromhex(results["app_hash"])),
    }


def validator_json() -> dict[str, Any]:
    return {
        "address": hexu(PROPOSER),
        "pub_key": {"type": "tendermint/PubKeyEd25519", "value": b64(VALIDATOR_PUBKEY)},
        "voting_power": VOTING_POWER,
        "proposer_priority": "0",
    }


def empty_exec_result() -> dict[str, Any]:
    """ExecTxResult{} — what broadcast_tx_commit returns when CheckTx refused the tx."""
    return {
        "code": 0,
        "data": None,
        "log": "",
        "info": "",
        "gas_wanted": "0",
        "gas_used": "0",
        "events": [],
        "codespace": "",
    }


def flat_events(events: list[dict[str, Any]], into: dict[str, list[str]]) -> dict[str, list[str]]:
    """CometBFT's flat ``type.key -> [values]`` map of a list of JSON events."""
    for e in events:
        for a in e.get("attributes") or []:
            into.setdefault(f"{e['type']}.{a['key']}", []).append(str(a["value"]))
    return into
