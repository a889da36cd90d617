"""bank: sends, module accounts, mint and burn by permission, supply, queries, genesis."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from app.app import App
from chain.coins import DENOM, MAX_AMOUNT, parse_coin_str, parse_coins
from chain.context import Ctx
from chain.crypto import PrivateKey, module_address, to_bech32
from chain.errors import ChainError
from modules.auth.msgs import MsgUpdateParams
from modules.bank import state as bank_state
from tests.support.chain import (
    ALICE,
    BOB,
    FEE,
    PLATFORM,
    TEST_ACCOUNTS,
    VCN,
    Chain,
    assert_ok,
    events_of,
    make_genesis,
    msg_send,
)

TREASURY = module_address("treasury")


def _code(e: pytest.ExceptionInfo[ChainError]) -> tuple[str, int]:
    return (e.value.codespace, e.value.code)


def _broken(app: App, ctx: Ctx) -> list[str]:
    """The bank's invariants evaluated on a (scratch) context."""
    out = []
    for m in app.modules:
        if m.name != "bank":
            continue  # e.g. the mint module wants its account empty after a block
        for name, fn in m.invariants.items():
            msg = fn(ctx)
            if msg:
                out.append(f"{m.name}/{name}: {msg}")
    return out


def test_send_moves_coins_and_announces_it(chain: Chain) -> None:
    newbie = PrivateKey.from_seed(b"bank newbie")
    alice0, bob0 = chain.balance(ALICE), chain.balance(BOB)
    res = chain.block([chain.send(ALICE, BOB, 2 * VCN), chain.send(BOB, newbie, 5)])
    r1, r2 = (assert_ok(r) for r in res.tx_results)
    assert chain.balance(ALICE) == alice0 - 2 * VCN - FEE
    assert chain.balance(BOB) == bob0 + 2 * VCN - 5 - FEE
    assert chain.balance(newbie) == 5
    assert chain.account(newbie) is not None
    spent = [e for e in events_of(r1, "coin_spent") if e.get("amount") == f"{2 * VCN}avcn"]
    got = [e for e in events_of(r1, "coin_received") if e.get("receiver") == BOB.bech32]
    assert spent[0].get("spender") == ALICE.bech32
    assert got[0].get("amount") == f"{2 * VCN}avcn"
    [t] = [e for e in events_of(r2, "transfer") if e.get("recipient") == newbie.bech32]
    assert t.get("sender") == BOB.bech32 and t.get("amount") == "5avcn"
    assert chain.app.check_invariants() == []


def test_send_to_self_costs_only_the_fee(chain: Chain) -> None:
    before = chain.balance(ALICE)
    assert_ok(chain.deliver_one(chain.send(ALICE, ALICE, 10 * VCN)))
    assert chain.balance(ALICE) == before - FEE


def test_send_everything_then_nothing_is_left(chain: Chain) -> None:
    k = PrivateKey.from_seed(b"bank spender")
    assert_ok(chain.deliver_one(chain.send(ALICE, k, FEE + 123)))
    assert_ok(chain.deliver_one(chain.send(k, BOB, 123)))
    assert chain.balance(k) == 0
    assert chain.app.custom_query("bank", "all_balances", {"address": k.bech32}) == {"balances": []}
    r = chain.check(chain.send(k, BOB, 1, count=False))
    assert (r.codespace, r.code) == ("sdk", 5) and "cannot pay the fee" in r.log


def test_multi_msg_tx_is_all_or_nothing(chain: Chain) -> None:
    bob0 = chain.balance(BOB)
    big = chain.balance(ALICE)
    tx = chain.sign(ALICE, [msg_send(ALICE, BOB, 7), msg_send(ALICE, BOB, big)])
    r = chain.deliver_one(tx)
    assert (r.codespace, r.code) == ("sdk", 5)
    assert chain.balance(BOB) == bob0  # the first send was undone with the second
    assert chain.sequence(ALICE) == 1  # but the fee is paid and the sequence used


def test_send_disabled_by_params(chain: Chain) -> None:
    def set_send(enabled: bool) -> None:
        msg = MsgUpdateParams(
            authority=PLATFORM.bech32,
            module="bank",
            params_json=json.dumps({"send_enabled": enabled}),
        )
        assert_ok(chain.deliver_one(chain.sign(PLATFORM, [msg])))

    set_send(False)
    r = chain.deliver_one(chain.send(ALICE, BOB, 1))
    assert (r.codespace, r.code) == ("bank", 2) and "disabled" in r.log
    assert chain.app.custom_query("bank", "params", {}) == {"send_enabled": False}
    set_send(True)
    assert_ok(chain.deliver_one(chain.send(ALICE, BOB, 1)))


def test_mint_and_burn_need_the_permission(app: App) -> None:
    ctx = app.query_ctx()  # a scratch overlay: nothing here is committed
    bank = app.bank
    supply0 = bank_state.supply(ctx, DENOM)
    bank.mint(ctx, "mint", ((DENOM, 1000),))
    assert bank_state.supply(ctx, DENOM) == supply0 + 1000
    assert bank_state.balance(ctx, module_address("mint"), DENOM) == 1000
    assert [e.type for e in ctx.events][-1] == "coinbase"
    for module in ("treasury", "burn", "fee_collector", "nope"):
        with pytest.raises(ChainError) as e:
            bank.mint(ctx, module, ((DENOM, 1),))
        assert _code(e) == ("bank", 4) and "minter" in e.value.message

    bank.send_module_to_module(ctx, "mint", "burn", ((DENOM, 400),))
    bank.burn(ctx, "burn", ((DENOM, 300),))
    assert bank_state.supply(ctx, DENOM) == supply0 + 700
    with pytest.raises(ChainError) as e:
        bank.burn(ctx, "mint", ((DENOM, 1),))
    assert _code(e) == ("bank", 4) and "burner" in e.value.message
    with pytest.raises(ChainError) as e:
        bank.burn(ctx, "burn", ((DENOM, 101),))
    assert _code(e) == ("sdk", 5)
    assert _broken(app, ctx) == []
    # the committed state never saw any of it
    assert app.custom_query("bank", "supply_of", {})["amount"]["amount"] == str(supply0)


def test_supply_cannot_pass_2_256(app: App) -> None:
    ctx = app.query_ctx()
    with pytest.raises(ChainError) as e:
        app.bank.mint(ctx, "mint", ((DENOM, MAX_AMOUNT),))
    assert _code(e) == ("bank", 5)


def test_module_account_transfers(app: App) -> None:
    ctx = app.query_ctx()
    bank = app.bank
    t0 = bank_state.balance(ctx, TREASURY, DENOM)
    bank.send_to_module(ctx, ALICE.address, "treasury", ((DENOM, 50),))
    assert bank_state.balance(ctx, TREASURY, DENOM) == t0 + 50
    newbie = PrivateKey.from_seed(b"paid by the treasury")
    bank.send_from_module(ctx, "treasury", newbie.address, ((DENOM, 20),))
    assert bank_state.balance(ctx, newbie.address, DENOM) == 20
    assert app.accounts.get_account(ctx, newbie.address) is not None  # account created
    with pytest.raises(ChainError) as e:
        bank.send_from_module(ctx, "treasury", BOB.address, ((DENOM, 31 + t0),))
    assert _code(e) == ("sdk", 5)
    # plain sends to a module account are refused: only keepers move its coins
    with pytest.raises(ChainError) as e:
        bank.send(ctx, ALICE.address, TREASURY, ((DENOM, 1),))
    assert _code(e) == ("bank", 3)
    assert _broken(app, ctx) == []


def test_invariant_catches_coins_from_nowhere(app: App) -> None:
    ctx = app.query_ctx()
    app.bank.set_genesis_balance(ctx, ALICE.address, ((DENOM, 5),))  # bypasses the supply
    broken = _broken(app, ctx)
    assert len(broken) == 1 and broken[0].startswith("bank/supply")


def test_queries(chain: Chain) -> None:
    q = chain.app.custom_query
    assert q("bank", "balance", {"address": ALICE.bech32}) == {
        "balance": {"denom": DENOM, "amount": str(chain.balance(ALICE))}
    }
    assert q("bank", "balance", {"address": ALICE.bech32, "denom": "uatom"}) == {
        "balance": {"denom": "uatom", "amount": "0"}
    }
    supply = q("bank", "total_supply", {})["supply"]
    assert supply == [
        {"denom": DENOM, "amount": str(bank_state.supply(chain.app.query_ctx(), DENOM))}
    ]
    assert q("bank", "supply_of", {"denom": DENOM})["amount"] == supply[0]
    [meta] = q("bank", "denom_metadata", {})["metadatas"]
    assert meta["base"] == DENOM and meta["display"] == "VCN"
    assert {"denom": "VCN", "exponent": 18, "aliases": []} in meta["denom_units"]
    with pytest.raises(ChainError) as e:
        q("bank", "balance", {"address": "vcoin1zzzz"})
    assert _code(e) == ("sdk", 7)


@pytest.mark.parametrize(
    "text",
    [
        "5\n",  # a trailing newline is not a number
        " 5",
        "+5",
        "-0",
        "0x10",
        "1e3",
        "١٢",  # non-ASCII digits
        "",
        str(MAX_AMOUNT + 1),
    ],
)
def test_amounts_are_plain_decimal_integers(text: str) -> None:
    with pytest.raises(ChainError) as e:
        parse_coins([{"denom": DENOM, "amount": text}])
    assert _code(e) == ("sdk", 10)


@pytest.mark.parametrize("denom", ["avcn\n", "a", "9avcn", "av cn", "", "x" * 200])
def test_denoms_are_checked(denom: str) -> None:
    with pytest.raises(ChainError) as e:
        parse_coins([{"denom": denom, "amount": "1"}])
    assert _code(e) == ("sdk", 10)


def test_coins_must_be_sorted_and_unique() -> None:
    assert parse_coins([{"denom": "avcn", "amount": "1"}, {"denom": "uatom", "amount": "2"}])
    for bad in (
        [{"denom": "uatom", "amount": "1"}, {"denom": "avcn", "amount": "2"}],
        [{"denom": "avcn", "amount": "1"}, {"denom": "avcn", "amount": "2"}],
    ):
        with pytest.raises(ChainError):
            parse_coins(bad)


def test_parse_coin_str_reads_what_users_type() -> None:
    assert parse_coin_str("1.5VCN") == ((DENOM, 15 * 10**17),)
    assert parse_coin_str("2vcn") == ((DENOM, 2 * 10**18),)
    assert parse_coin_str("1000avcn") == ((DENOM, 1000),)
    assert parse_coin_str("0.000000000000000001VCN") == ((DENOM, 1),)
    for bad in ("1.5avcn", "0.0000000000000000001VCN", "abc", "0VCN", ""):
        with pytest.raises(ChainError):
            parse_coin_str(bad)


def test_genesis_validation(make_app: Callable[..., App]) -> None:
    g = make_genesis()
    g["app_state"]["bank"]["supply"] = [{"denom": DENOM, "amount": "1"}]
    with pytest.raises(ChainError) as e:
        make_app(g)
    assert _code(e) == ("bank", 6) and "differs" in e.value.message
    g = make_genesis()
    bals = g["app_state"]["bank"]["balances"]
    bals.append(dict(bals[0]))
    with pytest.raises(ChainError) as e:
        make_app(g)
    assert _code(e) == ("bank", 6) and "duplicate" in e.value.message


def test_genesis_supply_is_the_sum_of_balances(chain: Chain) -> None:
    g = make_genesis(TEST_ACCOUNTS)
    total = sum(int(b["coins"][0]["amount"]) for b in g["app_state"]["bank"]["balances"])
    assert bank_state.supply(chain.app.query_ctx(), DENOM) == total
    assert chain.app.check_invariants() == []
    assert to_bech32(TREASURY) in {
        a["address"] for a in chain.app.export_genesis()["auth"]["accounts"]
    }
