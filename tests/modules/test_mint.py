"""Mint: per-epoch emission to workers by verified compute units, on a real chain."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.app import App
from chain.coins import DENOM
from chain.errors import ChainError
from tests.support.chain import ALICE, KEYS, PLATFORM
from tests.support.stake import StakeChain, genesis, hook_msg

W1, W2, W3 = KEYS["worker1"], KEYS["worker2"], KEYS["worker3"]
EPOCH = 5
EMISSION = 1_000_003  # avcn; not divisible by 6, so there is a remainder


@pytest.fixture
def chain(make_app: Callable[..., App]) -> StakeChain:
    return StakeChain(
        make_app(genesis(mint={"epoch_blocks": EPOCH, "emission_per_epoch": str(EMISSION)}))
    )


def _minted_events(chain: StakeChain, results: list[object]) -> list[dict[str, str]]:
    return [
        dict(e.attributes)
        for r in results
        for e in r.events  # type: ignore[attr-defined]
        if e.type == "Minted"
    ]


def test_emission_is_split_by_compute_units(chain: StakeChain) -> None:
    supply0 = chain.supply()
    balances = {k.bech32: chain.balance(k) for k in (W1, W2, W3)}
    treasury = chain.module_balance("treasury")
    for who, units in ((W1, 1), (W2, 2), (W3, 3)):
        r = chain.hook("record_compute", who, units)
        assert r.ok, r.log
    assert chain.app.custom_query("mint", "epoch", {})["total_units"] == "6"
    results = chain.blocks_until(EPOCH)
    (minted,) = _minted_events(chain, results)
    assert minted["amount"] == str(EMISSION) and minted["compute_units"] == "6"
    shares = {W1.bech32: EMISSION // 6, W2.bech32: EMISSION * 2 // 6, W3.bech32: EMISSION // 2}
    assert {k.bech32: chain.balance(k) - balances[k.bech32] for k in (W1, W2, W3)} == shares
    dust = EMISSION - sum(shares.values())
    assert dust == 1 and minted["to_treasury"] == "1"
    assert chain.module_balance("treasury") == treasury + dust
    assert chain.module_balance("mint") == 0
    # nothing is burned here, so supply = genesis + minted
    assert chain.supply() == supply0 + EMISSION
    assert chain.app.custom_query("mint", "minted", {}) == {"total_minted": str(EMISSION)}
    epoch = chain.app.custom_query("mint", "epoch", {})
    assert (epoch["epoch"], epoch["start_height"], epoch["total_units"]) == ("1", "5", "0")


def test_no_units_no_mint(chain: StakeChain) -> None:
    supply0 = chain.supply()
    results = chain.blocks_until(3 * EPOCH)
    assert _minted_events(chain, results) == []
    assert chain.supply() == supply0
    assert chain.app.custom_query("mint", "epoch", {})["epoch"] == "3"


def test_each_epoch_pays_only_its_own_work(chain: StakeChain) -> None:
    assert chain.hook("record_compute", W1, 10).ok
    chain.blocks_until(EPOCH)
    after_first = chain.balance(W1)
    assert chain.hook("record_compute", W2, 4).ok  # epoch 2
    assert chain.hook("record_compute", W2, 6).ok
    results = chain.blocks_until(2 * EPOCH)
    (minted,) = _minted_events(chain, results)
    assert minted["compute_units"] == "10" and minted["workers"] == "1"
    assert chain.balance(W1) == after_first
    assert chain.app.custom_query("mint", "minted", {})["total_minted"] == str(2 * EMISSION)


def test_tombstoned_worker_forfeits_its_share_to_the_treasury(chain: StakeChain) -> None:
    assert chain.hook("record_compute", W1, 1).ok
    assert chain.hook("record_compute", W2, 1).ok
    assert chain.hook("tombstone:worker", W2).ok
    w2, treasury = chain.balance(W2), chain.module_balance("treasury")
    chain.blocks_until(EPOCH)
    assert chain.balance(W2) == w2
    assert chain.module_balance("treasury") == treasury + EMISSION - EMISSION // 2


def _next_mint_height(chain: StakeChain) -> int:
    return int(chain.app.custom_query("mint", "epoch", {})["mints_at_height"])


def test_only_the_authority_changes_the_emission(chain: StakeChain) -> None:
    r = chain.update_params(ALICE, "mint", {"emission_per_epoch": "1"})
    assert (r.codespace, r.code) == ("auth", 3)
    r = chain.update_params(PLATFORM, "mint", {"epoch_blocks": "0"})
    assert (r.codespace, r.code) == ("mint", 2)
    assert chain.update_params(PLATFORM, "mint", {"emission_per_epoch": "600"}).ok
    chain.blocks_until(_next_mint_height(chain))  # start a fresh epoch
    units = [chain.sign(PLATFORM, [hook_msg("record_compute", W1, 1)])]
    units.append(chain.sign(PLATFORM, [hook_msg("record_compute", W2, 2)]))
    w1 = chain.balance(W1)
    results = [chain.block(units)] + chain.blocks_until(_next_mint_height(chain))
    (minted,) = _minted_events(chain, results)
    assert minted["amount"] == "600"
    assert chain.balance(W1) == w1 + 200
    # emission 0 stops minting; the epoch's work is not carried over
    assert chain.update_params(PLATFORM, "mint", {"emission_per_epoch": "0"}).ok
    supply = chain.supply()
    results = [chain.block([chain.sign(PLATFORM, [hook_msg("record_compute", W1, 5)])])]
    results += chain.blocks_until(_next_mint_height(chain))
    assert _minted_events(chain, results) == []
    assert chain.supply() == supply
    assert chain.app.custom_query("mint", "epoch", {})["total_units"] == "0"


def test_only_the_mint_module_account_may_mint(chain: StakeChain) -> None:
    ctx = chain.ctx()
    for module in ("staking", "treasury", "fee_collector"):
        with pytest.raises(ChainError) as e:
            chain.app.bank.mint(ctx, module, ((DENOM, 1),))
        assert (e.value.codespace, e.value.code) == ("bank", 4)
    perms = chain.app.custom_query("auth", "module_account", {"name": "mint"})["permissions"]
    assert perms == ["minter"]
