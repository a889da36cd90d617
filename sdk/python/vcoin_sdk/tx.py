"""Cosmos txs as VCoin takes them: one signer, SIGN_MODE_DIRECT, fee in avcn.

The bytes are canonical protobuf (fields ascending, no defaults), which the node
requires (ADR-027); ``sdk/vectors`` pins them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin as CoinPb
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.signing.v1beta1.signing_pb2 import SignMode
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import (
    AuthInfo,
    Fee,
    ModeInfo,
    SignDoc,
    SignerInfo,
    TxBody,
    TxRaw,
)
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.message import Message

from vcoin_sdk.amounts import DENOM
from vcoin_sdk.keys import Key

SECP256K1_PUBKEY_URL = "/cosmos.crypto.secp256k1.PubKey"
ETH_SECP256K1_PUBKEY_URL = "/ethermint.crypto.v1.ethsecp256k1.PubKey"


def type_url(msg: Message) -> str:
    return "/" + msg.DESCRIPTOR.full_name


def pack(msg: Message) -> AnyPb:
    return AnyPb(type_url=type_url(msg), value=msg.SerializeToString())


@dataclass(frozen=True)
class SignedTx:
    """A signed tx: what was signed, the signature, the bytes to broadcast and their hash."""

    body_bytes: bytes
    auth_info_bytes: bytes
    sign_doc: bytes
    signature: bytes
    tx_raw: bytes

    @property
    def hash(self) -> str:
        """sha256 of the TxRaw bytes, upper-case hex (what the node indexes it by)."""
        return tx_hash(self.tx_raw)

    @property
    def base64(self) -> str:
        return base64.b64encode(self.tx_raw).decode()


def tx_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest().upper()


def sign_tx(
    key: Key,
    msgs: Sequence[Message],
    *,
    chain_id: str,
    account_number: int,
    sequence: int,
    gas_limit: int,
    fee: int,
    memo: str = "",
    timeout_height: int = 0,
) -> SignedTx:
    """Build and sign (SIGN_MODE_DIRECT) a tx of ``msgs``; ``fee`` in avcn. ``key`` is a
    ``Key`` (secp256k1, sha256) or an ``EthKey`` (eth_secp256k1, keccak256)."""
    body = TxBody(messages=[pack(m) for m in msgs], memo=memo, timeout_height=timeout_height)
    # an EthKey's pubkey goes under Ethermint's type URL (same PubKey{key} encoding)
    pk = AnyPb(type_url=key.pubkey_type_url, value=PubKey(key=key.public_key).SerializeToString())
    auth = AuthInfo(
        signer_infos=[
            SignerInfo(
                public_key=pk,
                mode_info=ModeInfo(single=ModeInfo.Single(mode=SignMode.SIGN_MODE_DIRECT)),
                sequence=sequence,
            )
        ],
        fee=Fee(amount=[CoinPb(denom=DENOM, amount=str(fee))] if fee else [], gas_limit=gas_limit),
    )
    body_bytes = body.SerializeToString()
    auth_bytes = auth.SerializeToString()
    doc = SignDoc(
        body_bytes=body_bytes,
        auth_info_bytes=auth_bytes,
        chain_id=chain_id,
        account_number=account_number,
    ).SerializeToString()
    sig = key.sign(doc)
    raw = TxRaw(body_bytes=body_bytes, auth_info_bytes=auth_bytes, signatures=[sig])
    return SignedTx(body_bytes, auth_bytes, doc, sig, raw.SerializeToString())


@dataclass(frozen=True)
class DecodedTx:
    msgs: list[AnyPb]
    memo: str
    public_key: bytes
    sequence: int
    fee: list[tuple[str, int]]
    gas_limit: int
    signature: bytes
    body_bytes: bytes
    auth_info_bytes: bytes

    def sign_doc(self, chain_id: str, account_number: int) -> bytes:
        return bytes(
            SignDoc(
                body_bytes=self.body_bytes,
                auth_info_bytes=self.auth_info_bytes,
                chain_id=chain_id,
                account_number=account_number,
            ).SerializeToString()
        )


def decode_tx(raw: bytes) -> DecodedTx:
    """Read a one-signer TxRaw back (no checks beyond the shape)."""
    tx = TxRaw.FromString(raw)
    body = TxBody.FromString(tx.body_bytes)
    auth = AuthInfo.FromString(tx.auth_info_bytes)
    si = auth.signer_infos[0]
    return DecodedTx(
        msgs=list(body.messages),
        memo=body.memo,
        public_key=bytes(PubKey.FromString(si.public_key.value).key),
        sequence=int(si.sequence),
        fee=[(c.denom, int(c.amount)) for c in auth.fee.amount],
        gas_limit=int(auth.fee.gas_limit),
        signature=bytes(tx.signatures[0]),
        body_bytes=bytes(tx.body_bytes),
        auth_info_bytes=bytes(tx.auth_info_bytes),
    )


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """A 64-byte r‖s signature over sha256(message), low-S."""
    import coincurve
    from coincurve.ecdsa import cdata_to_der, deserialize_compact

    if len(signature) != 64 or int.from_bytes(signature[32:], "big") > _HALF_N:
        return False
    try:
        der = cdata_to_der(deserialize_compact(signature))
        return bool(coincurve.PublicKey(public_key).verify(der, message))
    except Exception:  # noqa: BLE001 - a malformed key or signature is a failed check
        return False


_HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
