"""One Ethereum tx, one encoding: every other spelling of a signed tx (trailing
bytes, an integer with a leading zero byte, a length written long, a single byte
as a string) is refused before its signature is looked at, so a tx has one hash."""

from __future__ import annotations

import pytest
import rlp
from eth_account import Account

from chain.errors import ChainError
from modules.evm.errors import ErrEthTxDecode
from modules.evm.params import DEFAULT_CHAIN_ID
from modules.evm.txs import decode

K = Account.from_key(b"\x11" * 32)
TO = "0x" + "22" * 20
RAW = bytes(
    K.sign_transaction(
        {"to": TO, "value": 1, "gas": 21_000, "maxFeePerGas": 10**9,
         "maxPriorityFeePerGas": 1, "nonce": 0, "chainId": DEFAULT_CHAIN_ID, "type": 2}
    ).raw_transaction
)  # fmt: skip
LEGACY = bytes(
    K.sign_transaction(
        {"to": TO, "value": 1, "gas": 21_000, "gasPrice": 10**9, "nonce": 0,
         "chainId": DEFAULT_CHAIN_ID}
    ).raw_transaction
)  # fmt: skip
FIELDS = rlp.decode(RAW[1:])
LFIELDS = rlp.decode(LEGACY)


def _with(fields: list[bytes], i: int, value: bytes) -> list[bytes]:
    f = list(fields)
    f[i] = value
    return f


def _long_list(payload_fields: list[bytes]) -> bytes:
    body = rlp.encode(payload_fields)[2:]  # these lists take f8 + 1 length byte
    return bytes([0xF9]) + len(body).to_bytes(2, "big") + body


def _one_byte_as_string() -> bytes:
    """The max priority fee 1 written 0x81 0x01 instead of 0x01."""
    items = [rlp.encode(x) for x in FIELDS]
    assert items[2] == b"\x01"  # max priority fee 1
    items[2] = b"\x81\x01"
    body = b"".join(items)
    return b"\x02" + bytes([0xF8, len(body)]) + body


VARIANTS = {
    "a byte under 0x80 written as a string": _one_byte_as_string(),
    "trailing byte": RAW + b"\x00",
    "legacy, trailing byte": LEGACY + b"\x00",
    "nonce 0 as 0x00": b"\x02" + rlp.encode(_with(FIELDS, 1, b"\x00")),
    "legacy nonce 0 as 0x00": rlp.encode(_with(LFIELDS, 0, b"\x00")),
    "value with a leading zero": b"\x02" + rlp.encode(_with(FIELDS, 6, b"\x00\x01")),
    "list length written in two bytes": b"\x02" + _long_list(FIELDS),
}


def test_the_canonical_encodings_decode() -> None:
    assert decode(RAW, DEFAULT_CHAIN_ID).sender == bytes.fromhex(K.address[2:])
    assert decode(LEGACY, DEFAULT_CHAIN_ID).sender == bytes.fromhex(K.address[2:])


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_other_spelling_is_refused(name: str) -> None:
    with pytest.raises(ChainError) as e:
        decode(VARIANTS[name], DEFAULT_CHAIN_ID)
    assert (e.value.codespace, e.value.code) == (ErrEthTxDecode.codespace, ErrEthTxDecode.code)
