"""The framework runs an app it knows nothing of: a toy module (one message, one
query, a begin- and end-block hook) behind a toy ante handler, on the real
store, tx decoder and block transition. Nothing from modules/ or app/ is used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

from chain.ante import TxRules
from chain.baseapp import BaseApp
from chain.context import BlockInfo, Ctx
from chain.crypto import PrivateKey
from chain.errors import ChainError, ErrInvalidRequest, ErrUnauthorized
from chain.module import Module, MsgSpec
from chain.tx.cosmos import CosmosTx, TxLimits
from chain.tx.sign import sign_tx

CHAIN = "toy-1"
KEY = PrivateKey.from_seed(b"toy")


def _count(ctx: Ctx, name: bytes) -> int:
    raw = ctx.kv("toy").get(name)
    return int.from_bytes(raw, "big") if raw else 0


def _bump(ctx: Ctx, name: bytes, by: int) -> None:
    ctx.kv("toy").set(name, (_count(ctx, name) + by).to_bytes(8, "big"))


def _validate(msg: MsgSend) -> int:
    """Parse once: the amount the handler adds."""
    if len(msg.amount) != 1 or not msg.amount[0].amount.isdigit():
        raise ErrInvalidRequest("one whole amount, please")
    return int(msg.amount[0].amount)


def _handle(ctx: Ctx, amount: int) -> None:
    if amount == 13:
        raise ErrInvalidRequest("unlucky")
    _bump(ctx, b"sum", amount)


def toy_module() -> Module:
    spec: MsgSpec[MsgSend, int] = MsgSpec(
        "/cosmos.bank.v1beta1.MsgSend", MsgSend, lambda m: m.from_address, _validate, _handle
    )
    return Module(
        "toy",
        msgs=[spec],
        queries={"sum": lambda ctx, req: {"sum": _count(ctx, b"sum")}},
        begin_block=lambda ctx: _bump(ctx, b"begun", 1),
        end_block=lambda ctx: _bump(ctx, b"ended", 1),
    )


class ToyAnte:
    """Charges one 'fee' per tx in its own counter; refuses a sequence it has seen."""

    def rules(self, ctx: Ctx) -> TxRules:
        return TxRules(4096, TxLimits(64, 1, 1_000_000))

    def signing_key(self, ctx: Ctx, tx: CosmosTx) -> tuple[bytes, int] | None:
        return None

    def run(self, ctx: Ctx, tx: CosmosTx, rules: TxRules, **_: object) -> None:
        if tx.sequence != _count(ctx, b"fees"):
            raise ErrUnauthorized(f"sequence {tx.sequence} is not {_count(ctx, b'fees')}")
        _bump(ctx, b"fees", 1)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[BaseApp]:
    a = BaseApp(tmp_path / "state", [toy_module()], ToyAnte())
    a.init_chain(CHAIN, {"toy": {}})
    yield a
    a.close()


def _tx(amount: str, sequence: int) -> bytes:
    msg = MsgSend(
        from_address=KEY.bech32, to_address=KEY.bech32, amount=[Coin(denom="x", amount=amount)]
    )
    return sign_tx(KEY, [msg], chain_id=CHAIN, account_number=0, sequence=sequence)


def test_a_block_runs_hooks_ante_and_handlers_in_order(app: BaseApp) -> None:
    txs = [_tx("5", 0), _tx("13", 1), _tx("7", 1), _tx("abc", 2), _tx("2", 2)]
    res = app.finalize_block(BlockInfo(CHAIN, 1, 10**9, b"\x01" * 32), txs)
    codes = [r.code for r in res.tx_results]
    # 5 added; 13 fails in its handler but pays; 7 reuses a paid sequence;
    # "abc" fails validation after the ante (no fee, no trace); 2 added
    assert [c == 0 for c in codes] == [True, False, False, False, True]
    app.commit()
    ctx = app.query_ctx()
    assert _count(ctx, b"sum") == 7
    assert _count(ctx, b"fees") == 3
    assert (_count(ctx, b"begun"), _count(ctx, b"ended")) == (1, 1)
    assert app.custom_query("toy", "sum", {}) == {"sum": 7}


def test_the_same_block_gives_the_same_app_hash_on_another_node(
    app: BaseApp, tmp_path: Path
) -> None:
    other = BaseApp(tmp_path / "other", [toy_module()], ToyAnte())
    try:
        other.init_chain(CHAIN, {"toy": {}})
        txs = [_tx("5", 0), _tx("9", 1)]
        block = BlockInfo(CHAIN, 1, 10**9, b"\x01" * 32)
        assert app.finalize_block(block, txs).app_hash == other.finalize_block(block, txs).app_hash
    finally:
        other.close()


def test_proposals_are_checked_by_the_toy_rules(app: BaseApp) -> None:
    good = _tx("5", 0)
    assert app.process_proposal([good]) is True
    assert app.process_proposal([good, b"\x0a\x00junk"]) is False
    assert app.prepare_proposal([good, b"\x0a\x00junk"], 1 << 20) == [good]
    with pytest.raises(ChainError):
        app.validate_genesis({"bank": {}})  # a module this app does not run
