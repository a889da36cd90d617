"""Build and sign Cosmos txs, as a wallet does (used by the CLI, tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
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

from chain.coins import DENOM
from chain.crypto import ETH_SECP256K1, PrivateKey
from chain.tx.ethsecp256k1 import TYPE_URL as ETH_SECP256K1_URL

SECP256K1_URL = "/cosmos.crypto.secp256k1.PubKey"


def pack(msg: Message) -> AnyPb:
    a = AnyPb()
    a.Pack(msg, type_url_prefix="/")
    return a


def sign_tx(
    key: PrivateKey,
    msgs: Sequence[Message],
    *,
    chain_id: str,
    account_number: int,
    sequence: int,
    gas_limit: int = 200_000,
    fee_amount: int | None = None,
    gas_price: int = 1_000_000_000,
    memo: str = "",
    timeout_height: int = 0,
) -> bytes:
    """Sign ``msgs`` with SIGN_MODE_DIRECT and return TxRaw bytes. The public key
    goes in with its type's URL (``/cosmos.crypto.secp256k1.PubKey``, or
    ``/ethermint.crypto.v1.ethsecp256k1.PubKey`` for an eth_secp256k1 key, which
    signs keccak256 of the SignDoc)."""
    body = TxBody(messages=[pack(m) for m in msgs], memo=memo, timeout_height=timeout_height)
    fee = gas_limit * gas_price if fee_amount is None else fee_amount
    pk = AnyPb(
        type_url=ETH_SECP256K1_URL if key.algo == ETH_SECP256K1 else SECP256K1_URL,
        value=PubKey(key=key.public_key).SerializeToString(),
    )
    auth = AuthInfo(
        signer_infos=[
            SignerInfo(
                public_key=pk,
                mode_info=ModeInfo(single=ModeInfo.Single(mode=SignMode.SIGN_MODE_DIRECT)),
                sequence=sequence,
            )
        ],
        fee=Fee(amount=[Coin(denom=DENOM, amount=str(fee))] if fee else [], gas_limit=gas_limit),
    )
    body_bytes = body.SerializeToString()
    auth_bytes = auth.SerializeToString()
    doc = SignDoc(
        body_bytes=body_bytes,
        auth_info_bytes=auth_bytes,
        chain_id=chain_id,
        account_number=account_number,
    )
    sig = key.sign(doc.SerializeToString())
    return bytes(
        TxRaw(
            body_bytes=body_bytes, auth_info_bytes=auth_bytes, signatures=[sig]
        ).SerializeToString()
    )
