"""Messages of the bank module: Cosmos' own MsgSend."""

from __future__ import annotations

from typing import Any

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend

from chain.coins import parse_coins
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress
from chain.proto import type_url

SEND_URL = type_url(MsgSend)


def validate_send(msg: Any) -> None:
    for what in ("from_address", "to_address"):
        try:
            from_bech32(getattr(msg, what))
        except AddressError as e:
            raise ErrInvalidAddress(f"{what}: {e}") from e
    parse_coins(msg.amount)


__all__ = ["MsgSend", "SEND_URL", "validate_send"]
