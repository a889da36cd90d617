"""Messages of the bank module: Cosmos' own MsgSend, checked and parsed once
into what its handler takes."""

from __future__ import annotations

from dataclasses import dataclass

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend

from chain.coins import Coins, parse_coins
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress
from chain.proto import type_url

SEND_URL = type_url(MsgSend)


@dataclass(frozen=True)
class Send:
    sender: bytes
    recipient: bytes
    coins: Coins


def _address(msg: MsgSend, what: str) -> bytes:
    try:
        return from_bech32(getattr(msg, what))
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


def validate_send(msg: MsgSend) -> Send:
    sender = _address(msg, "from_address")
    recipient = _address(msg, "to_address")
    return Send(sender, recipient, parse_coins(msg.amount))


__all__ = ["MsgSend", "SEND_URL", "Send", "validate_send"]
