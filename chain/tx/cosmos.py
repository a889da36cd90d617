"""Cosmos ``TxRaw`` with SIGN_MODE_DIRECT: decode and check everything that needs no state."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from cosmpy.protos.cosmos.tx.signing.v1beta1.signing_pb2 import SignMode
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignDoc, TxBody, TxRaw
from google.protobuf.message import Message

from chain.coins import DENOM, Coins, parse_coins
from chain.crypto import (
    ETH_KEY_TAG,
    AddressError,
    from_bech32,
    key_address,
    key_algo,
    to_bech32,
)
from chain.errors import (
    ChainError,
    ErrInvalidAddress,
    ErrInvalidGasLimit,
    ErrInvalidPubKey,
    ErrInvalidRequest,
    ErrMemoTooLarge,
    ErrNoSignatures,
    ErrNotSupported,
    ErrTooManySignatures,
    ErrTxDecode,
    ErrUnauthorized,
    ErrUnknownRequest,
)
from chain.module import MsgSpec
from chain.tx.canonical import parse as _parse
from chain.tx.ethsecp256k1 import TYPE_URL as ETH_SECP256K1_URL

SECP256K1_URL = "/cosmos.crypto.secp256k1.PubKey"
_ETH_TAG = bytes([ETH_KEY_TAG])
_DIRECT = SignMode.SIGN_MODE_DIRECT
MAX_MSGS = 64


@dataclass(frozen=True)
class TxLimits:
    max_memo_characters: int
    tx_sig_limit: int
    max_tx_gas: int


@dataclass(frozen=True)
class CosmosTx:
    raw: bytes
    hash: bytes
    body_bytes: bytes
    auth_info_bytes: bytes
    signature: bytes
    msgs: tuple[tuple[MsgSpec, Message], ...]  # each message and its route
    signer: bytes
    # the typed key (chain/crypto.py): 33 bytes secp256k1, or ETH_KEY_TAG + 33 eth_secp256k1
    pubkey: bytes | None
    sequence: int
    fee: Coins
    gas_limit: int
    memo: str
    timeout_height: int

    def sign_bytes(self, chain_id: str, account_number: int) -> bytes:
        doc: bytes = SignDoc(
            body_bytes=self.body_bytes,
            auth_info_bytes=self.auth_info_bytes,
            chain_id=chain_id,
            account_number=account_number,
        ).SerializeToString()
        return doc


def _refuse_unhonoured(body: Any, auth: Any) -> None:
    """Refuse fields this chain would otherwise ignore: a wallet that sets them
    expects an effect (another payer, an expiry time, no sequence) that would not happen."""
    if auth.fee.payer or auth.fee.granter:
        raise ErrNotSupported(
            "fee payer and fee granter are not supported; the signer pays the fee, leave them empty"
        )
    if auth.HasField("tip"):
        raise ErrNotSupported("tips are not supported; leave the tip empty")
    if body.unordered:
        raise ErrNotSupported("unordered txs are not supported; sign with the account sequence")
    if body.HasField("timeout_timestamp"):
        raise ErrNotSupported("timeout_timestamp is not supported; use timeout_height")


def decode(
    raw: bytes, routes: Mapping[str, MsgSpec], limits: TxLimits, *, simulate: bool = False
) -> CosmosTx:
    """Decode a TxRaw and check what needs no state and no parsing of message
    content. Raises a ChainError saying what is wrong.

    Every protobuf blob must be the canonical encoding of what it holds
    (``canonical.py``). The messages' own checks (``validate_msgs``) run only
    after the signature and the fee, since they may parse JSON and the like.
    ``simulate`` accepts a gas limit of 0: wallets simulate a tx before they know its gas."""
    txraw = _parse(TxRaw, raw, "TxRaw")
    body_bytes = txraw.body_bytes
    auth_info_bytes = txraw.auth_info_bytes
    if not body_bytes:
        raise ErrTxDecode(
            "a Cosmos TxRaw with an empty body (no body_bytes): the tx carries no "
            "messages; build a TxBody with at least one message and sign it"
        )
    if not auth_info_bytes:
        raise ErrTxDecode("tx has an empty auth info: it names no signer and no fee")
    body = _parse(TxBody, body_bytes, "TxBody")
    auth = _parse(AuthInfo, auth_info_bytes, "AuthInfo")
    if body.extension_options or body.non_critical_extension_options:
        raise ErrNotSupported("tx extension options are not supported")
    _refuse_unhonoured(body, auth)
    memo = body.memo
    if len(memo) > limits.max_memo_characters:
        raise ErrMemoTooLarge(
            f"memo is {len(memo)} characters; at most {limits.max_memo_characters} allowed"
        )
    signatures = txraw.signatures
    signer_infos = auth.signer_infos
    if not signatures or not signer_infos:
        raise ErrNoSignatures("tx is not signed; sign it with SIGN_MODE_DIRECT")
    if len(signatures) > limits.tx_sig_limit or len(signer_infos) > limits.tx_sig_limit:
        raise ErrTooManySignatures(f"at most {limits.tx_sig_limit} signer per tx")
    if len(signatures) != len(signer_infos):
        raise ErrUnauthorized("number of signatures differs from number of signers")
    si = signer_infos[0]
    mode_info = si.mode_info
    if not mode_info.HasField("single") or mode_info.single.mode != _DIRECT:
        raise ErrNotSupported("only SIGN_MODE_DIRECT single signatures are accepted")
    pubkey: bytes | None = None
    if si.HasField("public_key"):
        url = si.public_key.type_url
        if url != SECP256K1_URL and url != ETH_SECP256K1_URL:
            raise ErrInvalidPubKey(
                f"public key type {url!r}; expected {SECP256K1_URL} or {ETH_SECP256K1_URL}"
            )
        # both types have the same shape: bytes key = 1, the compressed key
        pk = _parse(PubKey, si.public_key.value, "PubKey")
        if len(pk.key) != 33 or pk.key[0] not in (2, 3):
            raise ErrInvalidPubKey("public key must be a 33-byte compressed secp256k1 key")
        pubkey = bytes(pk.key) if url == SECP256K1_URL else _ETH_TAG + pk.key
    messages = body.messages
    if not messages:
        raise ErrInvalidRequest("tx has no messages")
    if len(messages) > MAX_MSGS:
        raise ErrInvalidRequest(f"tx has {len(messages)} messages; at most {MAX_MSGS}")
    msgs: list[tuple[MsgSpec, Message]] = []
    signer_b32: str | None = None
    for i, anymsg in enumerate(messages):
        url = anymsg.type_url
        spec = routes.get(url)
        if spec is None:
            raise ErrUnknownRequest(f"message {i} has unknown type {url!r}")
        msg = _parse(spec.cls, anymsg.value, f"message {i} ({url})")
        msgs.append((spec, msg))
        s = spec.signer(msg)
        if signer_b32 is None:
            signer_b32 = s
        elif s != signer_b32:
            raise ErrUnauthorized(
                f"message {i} must be signed by {s}; this tx has one signer {signer_b32}"
            )
    assert signer_b32 is not None
    try:
        signer = from_bech32(signer_b32)
    except AddressError as e:
        raise ErrInvalidAddress(f"signer: {e}") from e
    if pubkey is not None and key_address(pubkey) != signer:
        raise ErrInvalidPubKey(
            f"the tx's public key does not belong to the messages' signer {signer_b32}: "
            f"as a {key_algo(pubkey)} key ({si.public_key.type_url}) it controls "
            f"{to_bech32(key_address(pubkey))}"
        )
    auth_fee = auth.fee
    fee = parse_coins(auth_fee.amount, allow_empty=True, what="fee")
    for d, _ in fee:
        if d != DENOM:
            raise ErrInvalidRequest(f"fees are paid in {DENOM} only")
    gas = int(auth_fee.gas_limit)
    if (gas <= 0 and not simulate) or gas > limits.max_tx_gas:
        raise ErrInvalidGasLimit(f"gas limit {gas} must be between 1 and {limits.max_tx_gas}")
    return CosmosTx(
        raw=raw,
        hash=hashlib.sha256(raw).digest(),
        body_bytes=bytes(body_bytes),
        auth_info_bytes=bytes(auth_info_bytes),
        signature=bytes(signatures[0]),
        msgs=tuple(msgs),
        signer=signer,
        pubkey=pubkey,
        sequence=int(si.sequence),
        fee=fee,
        gas_limit=gas,
        memo=memo,
        timeout_height=int(body.timeout_height),
    )


def validate_msgs(tx: CosmosTx) -> tuple[Any, ...]:
    """Each message's stateless checks, which parse it: the parsed messages in
    order, for their handlers, or a ChainError naming the message that failed."""
    parsed = []
    for i, (spec, msg) in enumerate(tx.msgs):
        try:
            parsed.append(spec.validate(msg))
        except ChainError as e:
            raise type(e)(e.kind, f"message {i}: {e.message}") from e
    return tuple(parsed)
