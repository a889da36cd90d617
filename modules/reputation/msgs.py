"""Messages of the reputation module and their stateless checks."""

from __future__ import annotations

from typing import Any

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


def validate_heartbeat(msg: Any) -> None:
    check_address(msg.address)


__all__ = ["HEARTBEAT_URL", "MsgHeartbeat", "validate_heartbeat"]
