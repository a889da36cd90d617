"""Messages of the reputation module: each one's stateless checks parse it once
into what its handler takes."""

from __future__ import annotations

from dataclasses import dataclass

from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress
from chain.proto import type_url
from modules.reputation import tx_pb2

# The module's messages, generated from proto/vcoin/reputation/v1/tx.proto.
MsgHeartbeat = tx_pb2.MsgHeartbeat

HEARTBEAT_URL = type_url(MsgHeartbeat)


def check_address(text: str, what: str = "address") -> bytes:
    try:
        return from_bech32(text)
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


@dataclass(frozen=True)
class Heartbeat:
    address: bytes
    sender: str  # the address as the message spells it, for error messages


def validate_heartbeat(msg: MsgHeartbeat) -> Heartbeat:
    return Heartbeat(check_address(msg.address), msg.address)


__all__ = ["HEARTBEAT_URL", "Heartbeat", "MsgHeartbeat", "validate_heartbeat"]
