"""Messages of the drip module: each one's stateless checks parse it once
into what its handler takes."""

from __future__ import annotations

from dataclasses import dataclass

from chain.coins import parse_amount
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress
from chain.proto import type_url
from modules.drip import tx_pb2
from modules.drip.errors import ErrInvalidAmount

# The module's messages, generated from proto/vcoin/drip/v1/tx.proto.
MsgFundPool = tx_pb2.MsgFundPool
MsgClaimDrip = tx_pb2.MsgClaimDrip

FUND_POOL_URL = type_url(MsgFundPool)
CLAIM_DRIP_URL = type_url(MsgClaimDrip)


def check_address(text: str, what: str) -> bytes:
    try:
        return from_bech32(text)
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


@dataclass(frozen=True)
class FundPool:
    depositor: bytes
    amount: int


@dataclass(frozen=True)
class ClaimDrip:
    recipient: bytes


def validate_fund_pool(msg: MsgFundPool) -> FundPool:
    depositor = check_address(msg.depositor, "depositor")
    amount = parse_amount(msg.amount)
    if amount <= 0:
        raise ErrInvalidAmount(f"amount must be positive, got {amount}")
    return FundPool(depositor, amount)


def validate_claim_drip(msg: MsgClaimDrip) -> ClaimDrip:
    return ClaimDrip(check_address(msg.recipient, "recipient"))


__all__ = [
    "CLAIM_DRIP_URL",
    "FUND_POOL_URL",
    "ClaimDrip",
    "FundPool",
    "MsgClaimDrip",
    "MsgFundPool",
    "validate_claim_drip",
    "validate_fund_pool",
]
