"""Store keys of the staking module.

Bonds, jails and tombstones are keyed by (role, address), so one address may
hold independent bonds as worker, oracle and validator. An unbonding entry is
stored twice: by owner (to slash it) and by completion height (to release it
in end_block without scanning every entry).
"""

from __future__ import annotations

NAME = "staking"
# The module account that holds every bonded and unbonding coin.
POOL = "staking"

ROLES = ("worker", "oracle", "validator")
_ROLE_BYTE = {"worker": b"\x01", "oracle": b"\x02", "validator": b"\x03"}
_BYTE_ROLE = {v[0]: k for k, v in _ROLE_BYTE.items()}

PARAMS = b"\x00"
BOND_PREFIX = b"\x01"
UNBONDING_PREFIX = b"\x02"  # role ‖ addr ‖ id → amount ‖ completion height
QUEUE_PREFIX = b"\x03"  # completion height ‖ id → role ‖ addr
JAIL_PREFIX = b"\x04"  # role ‖ addr → until height
TOMBSTONE_PREFIX = b"\x05"  # role ‖ addr → b"\x01"
ORACLE_KEY_PREFIX = b"\x06"  # addr → ed25519 public key
TOTAL_PREFIX = b"\x07"  # role → total bonded (not counting unbonding)
NEXT_UNBONDING_ID = b"\x08"
CONS_KEY_PREFIX = b"\x09"  # addr → the validator's ed25519 consensus key
CONS_ADDR_PREFIX = b"\x0a"  # consensus address (20 bytes) → addr
LAST_POWER_PREFIX = b"\x0b"  # consensus key → the power CometBFT was last told


def role_byte(role: str) -> bytes:
    return _ROLE_BYTE[role]


def role_of(b: int) -> str:
    return _BYTE_ROLE[b]


def bond(role: str, addr: bytes) -> bytes:
    return BOND_PREFIX + role_byte(role) + addr


def bonds_of_role(role: str) -> bytes:
    return BOND_PREFIX + role_byte(role)


def unbonding(role: str, addr: bytes, entry_id: int) -> bytes:
    return UNBONDING_PREFIX + role_byte(role) + addr + entry_id.to_bytes(8, "big")


def unbondings_of(role: str, addr: bytes) -> bytes:
    return UNBONDING_PREFIX + role_byte(role) + addr


def queue(completion_height: int, entry_id: int) -> bytes:
    return QUEUE_PREFIX + completion_height.to_bytes(8, "big") + entry_id.to_bytes(8, "big")


def queue_until(height: int) -> bytes:
    """The first queue key after every entry that completes at or before ``height``."""
    return QUEUE_PREFIX + (height + 1).to_bytes(8, "big")


def jail(role: str, addr: bytes) -> bytes:
    return JAIL_PREFIX + role_byte(role) + addr


def tombstone(role: str, addr: bytes) -> bytes:
    return TOMBSTONE_PREFIX + role_byte(role) + addr


def oracle_key(addr: bytes) -> bytes:
    return ORACLE_KEY_PREFIX + addr


def cons_key(addr: bytes) -> bytes:
    return CONS_KEY_PREFIX + addr


def cons_addr(consensus_address: bytes) -> bytes:
    return CONS_ADDR_PREFIX + consensus_address


def last_power(pubkey: bytes) -> bytes:
    return LAST_POWER_PREFIX + pubkey


def total(role: str) -> bytes:
    return TOTAL_PREFIX + role_byte(role)


def split_role_addr(key: bytes) -> tuple[str, bytes]:
    """(role, address) from a key laid out as prefix ‖ role ‖ addr[20] ‖ …"""
    return role_of(key[1]), key[2:22]
