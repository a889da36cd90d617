"""Store keys of the evm module.

An EVM account's balance is the bank's ``avcn`` balance and its nonce is the
auth account's sequence (one account space); this store holds only what is
the EVM's own: code, contract storage, the base fee and recent block hashes.
"""

from __future__ import annotations

NAME = "evm"

PARAMS = b"\x00"
CODE_PREFIX = b"\x01"  # address (20) → code hash (32) ‖ code; absent: no code
STORAGE_PREFIX = b"\x02"  # address (20) ‖ slot (32) → value, big-endian, no leading zeros
BASE_FEE = b"\x03"  # the base fee per gas of the current block
BLOCK_GAS = b"\x04"  # EVM gas used so far by the current block's txs
BLOCK_HASH_PREFIX = b"\x05"  # height (8) → that block's hash; the last 256 blocks


def code(addr: bytes) -> bytes:
    return CODE_PREFIX + addr


def storage(addr: bytes, slot: int) -> bytes:
    return STORAGE_PREFIX + addr + slot.to_bytes(32, "big")


def storage_of(addr: bytes) -> bytes:
    return STORAGE_PREFIX + addr


def block_hash(height: int) -> bytes:
    return BLOCK_HASH_PREFIX + height.to_bytes(8, "big")
