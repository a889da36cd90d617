"""Tx decoding at its limits, as a wallet meets them: the memo, message count and gas
limit at, just under and just over their bounds; a tx of several messages from one
signer; extension options of either kind; and refusals that name the part at fault.

``cosmos.decode`` is what CheckTx and DeliverTx run first (``chain/execute.py``); it is
called here with a real App's routes and the default auth limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, TxBody, TxRaw
from google.protobuf.any_pb2 import Any as AnyPb

from app.app import App
from chain.errors import (
    ChainError,
    ErrInvalidCoins,
    ErrInvalidGasLimit,
    ErrInvalidRequest,
    ErrMemoTooLarge,
    ErrNotSupported,
    ErrTxDecode,
    ErrUnauthorized,
)
from chain.tx import cosmos
from chain.tx.sign import sign_tx
from modules.auth.params import Params
from tests.support.chain import ALICE, BOB, CHAIN_ID, make_genesis, msg_send, new_app

P = Params()
LIMITS = cosmos.TxLimits(P.max_memo_characters, P.tx_sig_limit, P.max_tx_gas)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    a = new_app(tmp_path_factory.mktemp("decode") / "app", make_genesis())
    yield a
    a.close()


@pytest.fixture
def decode(app: App) -> Callable[..., cosmos.CosmosTx]:
    def run(raw: bytes, **kw: Any) -> cosmos.CosmosTx:
        return cosmos.decode(raw, app.routes, LIMITS, **kw)

    return run


def signed(*msgs: Any, **kw: Any) -> bytes:
    kw.setdefault("gas_limit", 200_000)
    msgs = msgs or (msg_send(ALICE, BOB, 1),)
    return sign_tx(ALICE, list(msgs), chain_id=CHAIN_ID, account_number=0, sequence=0, **kw)


def refused(decode: Callable[..., Any], raw: bytes, **kw: Any) -> ChainError:
    with pytest.raises(ChainError) as e:
        decode(raw, **kw)
    return e.value


@pytest.mark.parametrize(("extra", "ok"), [(-1, True), (0, True), (1, False)])
def test_the_memo_is_taken_up_to_its_limit(
    decode: Callable[..., cosmos.CosmosTx], extra: int, ok: bool
) -> None:
    memo = "m" * (P.max_memo_characters + extra)
    raw = signed(memo=memo)
    if ok:
        assert decode(raw).memo == memo  # the memo the wallet wrote reaches the chain
    else:
        e = refused(decode, raw)
        assert e.kind is ErrMemoTooLarge and f"memo is {len(memo)} characters" in e.message


@pytest.mark.parametrize(("extra", "ok"), [(-1, True), (0, True), (1, False)])
def test_a_tx_holds_up_to_the_message_limit(
    decode: Callable[..., cosmos.CosmosTx], extra: int, ok: bool
) -> None:
    n = cosmos.MAX_MSGS + extra
    raw = signed(*[msg_send(ALICE, BOB, i + 1) for i in range(n)], gas_limit=5_000_000)
    if ok:
        assert len(decode(raw).msgs) == n
    else:
        e = refused(decode, raw)
        assert e.kind is ErrInvalidRequest and e.message == f"tx has {n} messages; at most 64"


def test_messages_of_one_signer_decode_and_another_signer_is_named(
    decode: Callable[..., cosmos.CosmosTx],
) -> None:
    tx = decode(signed(msg_send(ALICE, BOB, 1), msg_send(ALICE, BOB, 2)))
    assert tx.signer == ALICE.address and len(tx.msgs) == 2
    e = refused(decode, signed(msg_send(ALICE, BOB, 1), msg_send(BOB, ALICE, 2)))
    assert e.kind is ErrUnauthorized
    assert (
        e.message
        == f"message 1 must be signed by {BOB.bech32}; this tx has one signer {ALICE.bech32}"
    )


@pytest.mark.parametrize(
    ("gas", "simulate", "ok"),
    [
        (0, False, False),
        (1, False, True),
        (2, False, True),
        (0, True, True),  # wallets simulate before they know the gas
        (P.max_tx_gas, False, True),
        (P.max_tx_gas + 1, False, False),
        (P.max_tx_gas + 1, True, False),
    ],
)
def test_the_gas_limit_is_between_1_and_the_ceiling(
    decode: Callable[..., cosmos.CosmosTx], gas: int, simulate: bool, ok: bool
) -> None:
    raw = signed(gas_limit=gas, fee_amount=0)
    if ok:
        assert decode(raw, simulate=simulate).gas_limit == gas
    else:
        e = refused(decode, raw, simulate=simulate)
        assert e.kind is ErrInvalidGasLimit
        assert e.message == f"gas limit {gas} must be between 1 and {P.max_tx_gas}"


def test_a_zero_gas_limit_is_refused_unless_simulating(
    decode: Callable[..., cosmos.CosmosTx],
) -> None:
    """The default is a real tx: only a simulation says otherwise."""
    assert refused(decode, signed(gas_limit=0, fee_amount=0)).kind is ErrInvalidGasLimit


def _with_extension(raw: bytes, field: str) -> bytes:
    txraw = TxRaw.FromString(raw)
    body = TxBody.FromString(txraw.body_bytes)
    getattr(body, field).append(AnyPb(type_url="/some.Extension", value=b""))
    txraw.body_bytes = body.SerializeToString()
    return bytes(txraw.SerializeToString())


@pytest.mark.parametrize("field", ["extension_options", "non_critical_extension_options"])
def test_extension_options_of_either_kind_are_refused(
    decode: Callable[..., cosmos.CosmosTx], field: str
) -> None:
    e = refused(decode, _with_extension(signed(), field))
    assert e.kind is ErrNotSupported and e.message == "tx extension options are not supported"


def test_bytes_that_are_no_tx_are_refused_naming_the_tx_raw(
    decode: Callable[..., cosmos.CosmosTx],
) -> None:
    e = refused(decode, b"\xff\xff\xff")
    assert e.kind is ErrTxDecode and e.message.startswith("TxRaw is not valid protobuf ("), (
        e.message
    )


def test_a_bad_fee_is_refused_naming_the_fee(decode: Callable[..., cosmos.CosmosTx]) -> None:
    txraw = TxRaw.FromString(signed())
    auth = AuthInfo.FromString(txraw.auth_info_bytes)
    auth.fee.amount[0].amount = "0"
    txraw.auth_info_bytes = auth.SerializeToString()
    e = refused(decode, bytes(txraw.SerializeToString()))
    assert e.kind is ErrInvalidCoins and e.message == "fee of avcn is zero; send a positive amount"


def test_the_decoded_tx_carries_what_was_signed(decode: Callable[..., cosmos.CosmosTx]) -> None:
    raw = signed(memo="hello", timeout_height=9)
    a, b = decode(raw), decode(raw)
    assert a == b and (a.memo, a.timeout_height, a.sequence) == ("hello", 9, 0)
