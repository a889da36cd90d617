"""Builders of the messages a wallet or operator sends; addresses in either form,
amounts as ``1.5VCN``, ``1000avcn`` or an int of avcn."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin as CoinPb
from google.protobuf.message import Message

from vcoin_sdk.amounts import parse_coin, parse_coins
from vcoin_sdk.errors import InputError
from vcoin_sdk.keys import parse_address
from vcoin_sdk.proto.jobs.tx_pb2 import (
    ExecutionReceipt,
    MsgCancelJob,
    MsgClaimJob,
    MsgPostJob,
    MsgRegisterWorker,
    MsgSubmitResult,
)
from vcoin_sdk.proto.reputation.tx_pb2 import MsgHeartbeat
from vcoin_sdk.proto.staking.tx_pb2 import MsgBond, MsgUnbond
from vcoin_sdk.proto.verification.tx_pb2 import MsgAttest

Amount = str | int
ROLES = ("worker", "oracle", "validator")


def _avcn(amount: Amount) -> str:
    c = parse_coin(amount)
    if c.denom != "avcn":
        raise InputError(f"{amount!r}: give VCN or avcn", "bad_amount")
    return str(c.amount)


def _role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}", "bad_role")
    return role


def send(sender: str, recipient: str, amount: Amount | Sequence[Any]) -> MsgSend:
    if isinstance(amount, (str, int)):
        coins = [parse_coin(amount)] if not isinstance(amount, str) else parse_coins(amount)
    else:
        coins = [parse_coin(a) for a in amount]
    if any(c.amount == 0 for c in coins):
        raise InputError("send a positive amount", "bad_amount")
    return MsgSend(
        from_address=parse_address(sender),
        to_address=parse_address(recipient),
        amount=[CoinPb(denom=c.denom, amount=str(c.amount)) for c in coins],
    )


def post_job(
    poster: str,
    *,
    model: str,
    task_type: str,
    max_price: Amount,
    input: bytes | str | dict[str, Any] | None = None,  # noqa: A002 - the job's input
    input_hash: str = "",
    spec: str | dict[str, Any] = "",
    priority: int = 0,
    claim_blocks: int = 0,
    result_blocks: int = 0,
    min_gpu_memory_mib: int = 0,
    min_gpu_count: int = 0,
    gpu_model: str = "",
) -> MsgPostJob:
    """A job; its input inline (``input``: bytes, text or a JSON object) or an artifact
    already in the store (``input_hash``, its sha256 hex)."""
    if (input is None) == (not input_hash):
        raise InputError("give exactly one of input (inline) or input_hash (an artifact)")
    if isinstance(input, dict):
        inline = json.dumps(input).encode()
    elif isinstance(input, str):
        inline = input.encode()
    else:
        inline = input or b""
    return MsgPostJob(
        poster=parse_address(poster),
        task_type=task_type,
        model=model,
        input_hash=input_hash,
        inline_input=inline,
        spec=json.dumps(spec) if isinstance(spec, dict) else spec,
        max_price=_avcn(max_price),
        priority=priority,
        claim_blocks=claim_blocks,
        result_blocks=result_blocks,
        min_gpu_memory_mib=min_gpu_memory_mib,
        min_gpu_count=min_gpu_count,
        gpu_model=gpu_model,
    )


def cancel_job(poster: str, job_id: int) -> MsgCancelJob:
    return MsgCancelJob(poster=parse_address(poster), job_id=job_id)


def bond(address: str, role: str, amount: Amount, consensus_pubkey: bytes = b"") -> MsgBond:
    return MsgBond(
        address=parse_address(address),
        role=_role(role),
        amount=CoinPb(denom="avcn", amount=_avcn(amount)),
        consensus_pubkey=consensus_pubkey,
    )


def unbond(address: str, role: str, amount: Amount) -> MsgUnbond:
    return MsgUnbond(
        address=parse_address(address),
        role=_role(role),
        amount=CoinPb(denom="avcn", amount=_avcn(amount)),
    )


def register_worker(
    worker: str,
    *,
    gpu_model: str,
    memory_mib: int,
    gpu_count: int = 1,
    task_types: Sequence[str] = (),
    models: Sequence[str] = (),
    price_floor: Amount = 0,
    max_concurrent: int = 1,
) -> MsgRegisterWorker:
    return MsgRegisterWorker(
        worker=parse_address(worker),
        gpu_model=gpu_model,
        memory_mib=memory_mib,
        gpu_count=gpu_count,
        task_types=list(task_types),
        models=list(models),
        price_floor=_avcn(price_floor) if price_floor else "",
        max_concurrent=max_concurrent,
    )


def claim_job(worker: str, job_id: int) -> MsgClaimJob:
    return MsgClaimJob(worker=parse_address(worker), job_id=job_id)


def submit_result(
    worker: str,
    job_id: int,
    *,
    output_hash: str,
    compute_units: int,
    receipt: ExecutionReceipt,
    artifact_ref: str = "",
) -> MsgSubmitResult:
    return MsgSubmitResult(
        worker=parse_address(worker),
        job_id=job_id,
        output_hash=output_hash,
        artifact_ref=artifact_ref,
        compute_units=compute_units,
        receipt=receipt,
    )


def heartbeat(address: str) -> MsgHeartbeat:
    return MsgHeartbeat(address=parse_address(address))


def attest(
    oracle: str,
    job_id: int,
    *,
    verdict: str,
    similarity_bps: int,
    evidence_hash: str = "",
    signature: bytes = b"",
) -> MsgAttest:
    if verdict not in ("pass", "fail"):
        raise InputError(f"verdict is pass or fail, got {verdict!r}", "bad_verdict")
    return MsgAttest(
        oracle=parse_address(oracle),
        job_id=job_id,
        verdict=verdict,
        similarity_bps=similarity_bps,
        evidence_hash=evidence_hash,
        signature=signature,
    )


__all__ = [
    "ExecutionReceipt",
    "Message",
    "attest",
    "bond",
    "cancel_job",
    "claim_job",
    "heartbeat",
    "post_job",
    "register_worker",
    "send",
    "submit_result",
    "unbond",
]
