"""Proto messages of the Cosmos SDK's query services, built from the node's records.

The REST routes answer in the gRPC gateway's JSON: every response is a real
protobuf message (cosmpy's types, Cosmos SDK 0.50 / CometBFT 0.38) rendered
by ``to_json`` with proto field names and default values, exactly as the
SDK's gateway does, so a client that parses the JSON back into the proto
(cosmpy does, and refuses unknown fields) gets what it expects.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from cosmpy.protos.cosmos.base.abci.v1beta1.abci_pb2 import TxResponse
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import types_pb2 as sdk_types
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, Tx, TxBody, TxRaw
from cosmpy.protos.tendermint.abci.types_pb2 import Event, EventAttribute
from cosmpy.protos.tendermint.types import block_pb2, evidence_pb2, types_pb2, validator_pb2
from cosmpy.protos.tendermint.version.types_pb2 import Consensus
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from chain.consensus.blockstore import Header, StoredBlock
from chain.crypto import to_bech32
from chain.rpc import encode as rpc_enc

VALCONS_PREFIX = "vcoinvalcons"


def to_json(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(
        msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return out


def timestamp(ns: int) -> Timestamp:
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


def events(items: list[dict[str, Any]]) -> list[Event]:
    return [
        Event(
            type=e["type"],
            attributes=[
                EventAttribute(key=a["key"], value=str(a["value"]), index=bool(a.get("index")))
                for a in e.get("attributes") or []
            ],
        )
        for e in items
    ]


def decode_tx(raw: bytes) -> Tx | None:
    """The Tx a TxRaw carries, or None when the bytes are not a Cosmos tx."""
    try:
        txraw = TxRaw.FromString(raw)
        return Tx(
            body=TxBody.FromString(txraw.body_bytes),
            auth_info=AuthInfo.FromString(txraw.auth_info_bytes),
            signatures=list(txraw.signatures),
        )
    except (DecodeError, ValueError, RuntimeError):
        return None


def tx_json(tx: Tx) -> dict[str, Any]:
    """A Tx as JSON; messages of a type this node cannot render stay packed."""
    try:
        return to_json(tx)
    except (TypeError, KeyError):
        body = to_json(TxBody(memo=tx.body.memo, timeout_height=tx.body.timeout_height))
        body["messages"] = [
            {"@type": m.type_url, "value": base64.b64encode(m.value).decode()}
            for m in tx.body.messages
        ]
        out = to_json(Tx(auth_info=tx.auth_info, signatures=tx.signatures))
        out["body"] = body
        return out


def tx_response_json(
    height: int, tx_hash: bytes, result: dict[str, Any], tx: Tx | None, time_ns: int
) -> dict[str, Any]:
    """``cosmos.base.abci.v1beta1.TxResponse`` of a tx (SDK 0.50: no per-message logs);
    ``tx`` None and ``time_ns`` 0 for a tx not yet in a block."""
    resp = TxResponse(
        height=height,
        txhash=tx_hash.hex().upper(),
        codespace=result.get("codespace") or "",
        code=int(result.get("code") or 0),
        data=base64.b64decode(result.get("data") or "").hex().upper(),
        raw_log=result.get("log") or "",
        info=result.get("info") or "",
        gas_wanted=int(result.get("gas_wanted") or 0),
        gas_used=int(result.get("gas_used") or 0),
        timestamp=rpc_enc.rfc3339(time_ns, nanos=False) if time_ns else "",
        events=events(result.get("events") or []),
    )
    out = to_json(resp)
    out["tx"] = None if tx is None else {"@type": "/cosmos.tx.v1beta1.Tx", **tx_json(tx)}
    return out


# -- blocks ------------------------------------------------------------------------


def block_id(block_hash: bytes) -> types_pb2.BlockID:
    if not block_hash:
        return types_pb2.BlockID()
    return types_pb2.BlockID(
        hash=block_hash, part_set_header=types_pb2.PartSetHeader(total=1, hash=block_hash)
    )


def _header_fields(h: Header) -> dict[str, Any]:
    return {
        "version": Consensus(block=int(rpc_enc.BLOCK_PROTOCOL), app=1),
        "chain_id": h.chain_id,
        "height": h.height,
        "time": timestamp(h.time_ns),
        "last_block_id": block_id(h.last_block_hash),
        "data_hash": h.data_hash,
        "validators_hash": rpc_enc.validators_hash(),
        "next_validators_hash": rpc_enc.validators_hash(),
        "app_hash": h.app_hash,
    }


def last_commit(h: Header) -> types_pb2.Commit:
    if h.height <= 1 or not h.last_block_hash:
        return types_pb2.Commit()
    sig = types_pb2.CommitSig(
        block_id_flag=validator_pb2.BLOCK_ID_FLAG_COMMIT,
        validator_address=h.proposer,
        timestamp=timestamp(h.time_ns),
    )
    return types_pb2.Commit(
        height=h.height - 1, round=0, block_id=block_id(h.last_block_hash), signatures=[sig]
    )


def block_response(blk: StoredBlock, response_cls: Callable[..., Message]) -> dict[str, Any]:
    """GetLatestBlockResponse / GetBlockByHeightResponse: block and sdk_block."""
    h = blk.header
    data = types_pb2.Data(txs=blk.txs)
    block = block_pb2.Block(
        header=types_pb2.Header(**_header_fields(h), proposer_address=h.proposer),
        data=data,
        evidence=evidence_pb2.EvidenceList(),
        last_commit=last_commit(h),
    )
    sdk_block = sdk_types.Block(
        header=sdk_types.Header(
            **_header_fields(h), proposer_address=to_bech32(h.proposer, VALCONS_PREFIX)
        ),
        data=data,
        evidence=evidence_pb2.EvidenceList(),
        last_commit=last_commit(h),
    )
    return to_json(response_cls(block_id=block_id(blk.hash), block=block, sdk_block=sdk_block))
