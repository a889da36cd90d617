"""The Ethereum tx envelope: which txs are Ethereum txs, and MsgEthereumTx wrapping.

Light on purpose (cosmpy's protobufs only, no py-evm): the CLI and the framework's
routing use it, and they must not pay py-evm's import (half a second).
"""

from __future__ import annotations

from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxBody, TxRaw
from google.protobuf.message import DecodeError

from modules.evm.errors import ErrEthTxDecode
from modules.evm.tx_pb2 import MsgEthereumTx

ETH_TX_URL = "/vcoin.evm.v1.MsgEthereumTx"
_URL_BYTES = ETH_TX_URL.encode()
# a tx's bytes at most: 128 KiB, as geth's txpool (EIP-3860's init code limit is 48 KiB)
MAX_ETH_TX_BYTES = 128 * 1024


def is_ethereum(raw: bytes) -> bool:
    """An Ethereum tx, bare (a type byte 0x01–0x03, or an RLP list for a legacy
    one) or in a Cosmos TxRaw whose first message is a MsgEthereumTx."""
    if not raw:
        return False
    first = raw[0]
    if first != 0x0A:
        return first in (0x01, 0x02, 0x03) or first >= 0xC0
    # TxRaw → body_bytes → messages[0] → type_url sits within its first bytes
    return _URL_BYTES in raw[:64]


def unwrap(raw: bytes) -> bytes:
    """The Ethereum encoding inside ``raw``: itself when bare, else the envelope's."""
    if raw[:1] != b"\x0a":
        return raw
    try:
        txr = TxRaw.FromString(raw)
        body = TxBody.FromString(txr.body_bytes)
    except (DecodeError, RuntimeError) as e:
        raise ErrEthTxDecode(f"MsgEthereumTx envelope is not a TxRaw: {e}") from e
    if txr.auth_info_bytes or len(txr.signatures):
        raise ErrEthTxDecode(
            "a MsgEthereumTx envelope carries no auth_info and no Cosmos signature: "
            "the Ethereum signature inside authorises it"
        )
    if (
        len(body.messages) != 1
        or body.memo
        or body.timeout_height
        or len(body.extension_options)
        or len(body.non_critical_extension_options)
    ):
        raise ErrEthTxDecode(
            "a MsgEthereumTx envelope's body holds that one message and nothing else"
        )
    anymsg = body.messages[0]
    if anymsg.type_url != ETH_TX_URL:
        raise ErrEthTxDecode(f"expected {ETH_TX_URL}, got {anymsg.type_url[:80]!r}")
    try:
        msg: MsgEthereumTx = MsgEthereumTx.FromString(anymsg.value)
    except (DecodeError, RuntimeError) as e:
        raise ErrEthTxDecode(f"MsgEthereumTx does not decode: {e}") from e
    # one tx, one encoding: the envelope must be exactly what this message encodes to
    if wrap(msg.raw) != raw:
        raise ErrEthTxDecode("MsgEthereumTx envelope is not canonically encoded")
    return bytes(msg.raw)


def wrap(eth_raw: bytes) -> bytes:
    """``eth_raw`` in its Cosmos envelope (what ``broadcast_tx_*`` may carry)."""
    body = TxBody()
    any_ = body.messages.add()
    any_.type_url = ETH_TX_URL
    any_.value = MsgEthereumTx(raw=eth_raw).SerializeToString(deterministic=True)
    out: bytes = TxRaw(body_bytes=body.SerializeToString(deterministic=True)).SerializeToString(
        deterministic=True
    )
    return out


def intrinsic_gas(data: bytes, create: bool) -> int:
    """What a tx costs before it runs (Cancun: EIP-2028 data, EIP-3860 init code words)."""
    zeros = data.count(0)
    gas = 21_000 + 4 * zeros + 16 * (len(data) - zeros)
    if create:
        gas += 32_000 + 2 * ((len(data) + 31) // 32)
    return gas
