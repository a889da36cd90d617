"""Messages of the staking module: each one's stateless checks parse it once
into what its handler takes."""

from __future__ import annotations

from dataclasses import dataclass

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

from chain.coins import DENOM, parse_amount
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress, ErrInvalidCoins
from chain.proto import type_url
from modules.staking import tx_pb2
from modules.staking.errors import ErrInvalidPubKey, ErrUnknownRole, ErrWrongDenom
from modules.staking.keys import ROLES

# The module's messages, generated from proto/vcoin/staking/v1/tx.proto.
MsgBond = tx_pb2.MsgBond
MsgUnbond = tx_pb2.MsgUnbond
MsgUnjail = tx_pb2.MsgUnjail

BOND_URL = type_url(MsgBond)
UNBOND_URL = type_url(MsgUnbond)
UNJAIL_URL = type_url(MsgUnjail)

ED25519_KEY_LEN = 32


def check_address(text: str, what: str = "address") -> bytes:
    try:
        return from_bech32(text)
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ErrUnknownRole(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class Bond:
    address: bytes
    role: str
    amount: int
    ed25519_pubkey: bytes  # empty, or an oracle's 32-byte key
    consensus_pubkey: bytes = b""  # empty, or a validator's 32-byte CometBFT key


@dataclass(frozen=True)
class Unbond:
    address: bytes
    role: str
    amount: int


@dataclass(frozen=True)
class Unjail:
    address: bytes
    role: str


def bond_amount(coin: Coin) -> int:
    """The avcn amount of a Coin field; refuses other denoms, zero and junk."""
    if coin.denom != DENOM:
        raise ErrWrongDenom(f"bonds are in {DENOM}, got {coin.denom!r}")
    n = parse_amount(coin.amount)
    if n == 0:
        raise ErrInvalidCoins("amount is zero; send a positive amount")
    return n


def validate_bond(msg: MsgBond) -> Bond:
    addr = check_address(msg.address)
    role = check_role(msg.role)
    amount = bond_amount(msg.amount)
    key = bytes(msg.ed25519_pubkey)
    if role != "oracle" and key:
        raise ErrInvalidPubKey(f"only oracles register an ed25519 key, not a {role}")
    if key and len(key) != ED25519_KEY_LEN:
        raise ErrInvalidPubKey(f"ed25519 public key must be 32 bytes, got {len(key)}")
    cons = bytes(msg.consensus_pubkey)
    if role != "validator" and cons:
        raise ErrInvalidPubKey(f"only validators register a consensus_pubkey, not a {role}")
    if cons and len(cons) != ED25519_KEY_LEN:
        raise ErrInvalidPubKey(f"consensus_pubkey must be 32 bytes, got {len(cons)}")
    return Bond(addr, role, amount, key, cons)


def validate_unbond(msg: MsgUnbond) -> Unbond:
    addr = check_address(msg.address)
    role = check_role(msg.role)
    return Unbond(addr, role, bond_amount(msg.amount))


def validate_unjail(msg: MsgUnjail) -> Unjail:
    addr = check_address(msg.address)
    return Unjail(addr, check_role(msg.role))


__all__ = [
    "BOND_URL",
    "Bond",
    "Coin",
    "MsgBond",
    "MsgUnbond",
    "MsgUnjail",
    "UNBOND_URL",
    "UNJAIL_URL",
    "Unbond",
    "Unjail",
    "validate_bond",
    "validate_unbond",
    "validate_unjail",
]
