"""Staking over a real App: bond, unbond, unjail, slash, tombstone, params, genesis."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from app.app import App
from modules.reputation.msgs import MsgHeartbeat
from modules.staking.msgs import MsgUnbond, MsgUnjail
from tests.support.chain import ALICE, BOB, FEE, KEYS, PLATFORM, events_of, new_app, test_key
from tests.support.nodes import running_node
from tests.support.stake import (
    VCN,
    StakeChain,
    bond_msg,
    coin,
    genesis,
    hook_msg,
    install_hook,
)

W1, W2, O1, O2 = KEYS["worker1"], KEYS["worker2"], KEYS["oracle1"], KEYS["oracle2"]
MIN_WORKER = 1_000 * VCN
MIN_ORACLE = 10_000 * VCN
ED_KEY = bytes(range(32))
PARAMS = {"unbonding_blocks": 10, "jail_blocks": 5}


@pytest.fixture
def chain(make_app: Callable[..., App]) -> StakeChain:
    return StakeChain(make_app(genesis(staking=PARAMS)))


def _code(r: object) -> tuple[str, int]:
    return (r.codespace, r.code)  # type: ignore[attr-defined]


def test_bond_moves_coins_into_the_pool_and_activates(chain: StakeChain) -> None:
    before = chain.balance(W1)
    r = chain.bond(W1, "worker", MIN_WORKER)
    assert r.ok, r.log
    assert chain.balance(W1) == before - MIN_WORKER - FEE
    assert chain.module_balance("staking") == MIN_WORKER
    assert chain.staking.is_active(chain.ctx(), W1.address, "worker")
    (ev,) = events_of(r, "Bonded")
    assert ev.get("amount") == str(MIN_WORKER) and ev.get("role") == "worker"
    q = chain.app.custom_query("staking", "bond", {"address": W1.bech32, "role": "worker"})
    assert q["bonded"] == str(MIN_WORKER) and q["active"] is True
    assert chain.staking.active_set(chain.ctx(), "worker") == [W1.address]
    assert chain.staking.total_bonded(chain.ctx(), "worker") == MIN_WORKER


def test_bond_below_minimum_is_refused_and_changes_nothing(chain: StakeChain) -> None:
    before = chain.balance(W1)
    r = chain.bond(W1, "worker", MIN_WORKER - 1)
    assert _code(r) == ("staking", 3), r.log
    assert "bond at least" in r.log
    assert chain.bonded(W1) == 0
    assert chain.module_balance("staking") == 0
    assert chain.balance(W1) == before - FEE  # only the fee of the failed tx
    # topping up an existing bond may add less than the minimum
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    assert chain.bond(W1, "worker", 1).ok
    assert chain.bonded(W1) == MIN_WORKER + 1


def test_bond_more_than_the_balance_is_refused(chain: StakeChain) -> None:
    r = chain.bond(W1, "worker", chain.balance(W1))  # the fee leaves less than this
    assert _code(r) == ("sdk", 5)
    assert chain.bonded(W1) == 0


def test_wrong_denom_and_unknown_role_are_refused_before_a_block(chain: StakeChain) -> None:
    from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

    from modules.staking.msgs import MsgBond

    bad_denom = MsgBond(address=W1.bech32, role="worker", amount=Coin(denom="uatom", amount="5"))
    r = chain.check(chain.sign(W1, [bad_denom], count=False))
    assert _code(r) == ("staking", 10)
    r = chain.check(chain.sign(W1, [bond_msg(W1, "miner", MIN_WORKER)], count=False))
    assert _code(r) == ("staking", 2)
    r = chain.check(chain.sign(W1, [bond_msg(W1, "worker", MIN_WORKER, ED_KEY)], count=False))
    assert _code(r) == ("staking", 8)  # only oracles register a key
    r = chain.check(chain.sign(O1, [bond_msg(O1, "oracle", MIN_ORACLE, b"x" * 31)], count=False))
    assert _code(r) == ("staking", 8)


def test_oracle_bond_registers_its_ed25519_key(chain: StakeChain) -> None:
    r = chain.bond(O1, "oracle", MIN_ORACLE)
    assert _code(r) == ("staking", 8)  # the first oracle bond must carry a key
    assert chain.bond(O1, "oracle", MIN_ORACLE, ED_KEY).ok
    assert chain.staking.oracle_pubkey(chain.ctx(), O1.address) == ED_KEY
    assert chain.bond(O1, "oracle", VCN).ok  # later bonds keep it
    assert chain.staking.oracle_pubkey(chain.ctx(), O1.address) == ED_KEY
    assert chain.staking.oracle_pubkey(chain.ctx(), O2.address) is None


def test_unbond_waits_the_unbonding_period_then_pays_back(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", 2 * MIN_WORKER).ok
    r = chain.unbond(W1, "worker", MIN_WORKER)
    assert r.ok, r.log
    done = chain.height + PARAMS["unbonding_blocks"]
    (ev,) = events_of(r, "UnbondingStarted")
    assert ev.get("completion_height") == str(done)
    assert chain.bonded(W1) == MIN_WORKER
    assert chain.module_balance("staking") == 2 * MIN_WORKER  # still held, still slashable
    before = chain.balance(W1)
    chain.blocks_until(done - 1)
    assert chain.balance(W1) == before
    last = chain.block([])
    assert chain.height == done
    assert chain.balance(W1) == before + MIN_WORKER
    assert [e.get("amount") for e in last.events if e.type == "UnbondingCompleted"] == [
        str(MIN_WORKER)
    ]
    assert chain.module_balance("staking") == MIN_WORKER


def test_unbond_more_than_bonded_is_refused(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    r = chain.unbond(W1, "worker", MIN_WORKER + 1)
    assert _code(r) == ("staking", 4)
    assert chain.bonded(W1) == MIN_WORKER
    assert chain.app.custom_query("staking", "pool", {})["unbonding"] == "0"
    r = chain.unbond(BOB, "validator", 1)
    assert _code(r) == ("staking", 4)


def test_unbonding_entries_are_capped(chain: StakeChain) -> None:
    assert chain.update_params(PLATFORM, "staking", {"max_unbonding_entries": "2"}).ok
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    assert chain.unbond(W1, "worker", VCN).ok
    assert chain.unbond(W1, "worker", VCN).ok
    r = chain.unbond(W1, "worker", VCN)
    assert _code(r) == ("staking", 9)
    assert chain.bonded(W1) == MIN_WORKER - 2 * VCN


def test_unbonding_entries_are_slashable_until_released(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", 1_000 * VCN).ok
    assert chain.unbond(W1, "worker", 400 * VCN).ok
    done = chain.height + PARAMS["unbonding_blocks"]
    treasury = chain.module_balance("treasury")
    r = chain.hook("slash:worker", W1, 1_000)  # 10 %, no reward addresses
    assert r.ok, r.log
    (ev,) = events_of(r, "Slashed")
    assert ev.get("amount") == str(100 * VCN)  # 60 of the bond + 40 of the entry
    assert chain.bonded(W1) == 540 * VCN
    q = chain.app.custom_query("staking", "bond", {"address": W1.bech32, "role": "worker"})
    assert [e["amount"] for e in q["unbonding"]] == [str(360 * VCN)]
    assert chain.module_balance("treasury") == treasury + 100 * VCN
    before = chain.balance(W1)
    chain.blocks_until(done)
    assert chain.balance(W1) == before + 360 * VCN
    # once released the coins are out of reach: a slash only cuts the bond
    assert chain.hook("slash:worker", W1, 1_000).ok
    assert chain.bonded(W1) == 486 * VCN
    assert chain.balance(W1) == before + 360 * VCN


def test_slash_pays_a_reward_share_by_weight_and_dust_to_the_treasury(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", 1_000 * VCN + 7).ok
    a0, b0, t0 = chain.balance(ALICE), chain.balance(BOB), chain.module_balance("treasury")
    # the hook weights its reward addresses 1, 2, …; the share param is 10 %
    r = chain.hook("slash:worker", W1, 5_000, [ALICE, BOB])
    assert r.ok, r.log
    cut = (1_000 * VCN + 7) * 5_000 // 10_000
    share = cut * 1_000 // 10_000
    alice, bob = share * 1 // 3, share * 2 // 3
    assert chain.balance(ALICE) == a0 + alice
    assert chain.balance(BOB) == b0 + bob
    assert chain.module_balance("treasury") == t0 + cut - alice - bob
    (ev,) = events_of(r, "Slashed")
    assert ev.get("to_treasury") == str(cut - alice - bob)


def test_jail_ends_at_its_height_and_unjail_only_after_it(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    assert chain.unjail(W1, "worker").code == 6  # not jailed
    assert chain.hook("cheat", W1).ok  # jails for jail_blocks
    until = chain.staking.jailed_until(chain.ctx(), W1.address, "worker")
    assert until == chain.height + PARAMS["jail_blocks"]
    assert not chain.staking.is_active(chain.ctx(), W1.address, "worker")
    assert chain.staking.active_set(chain.ctx(), "worker") == []
    r = chain.unjail(W1, "worker")
    assert _code(r) == ("staking", 7)
    assert f"until height {until}" in r.log
    assert chain.staking.jailed_until(chain.ctx(), W1.address, "worker") == until
    chain.blocks_until(until - 1)  # the next tx lands at height ``until``
    assert chain.staking.is_active(chain.ctx(), W1.address, "worker")  # over by itself
    r = chain.unjail(W1, "worker")
    assert r.ok, r.log
    assert events_of(r, "Unjailed")
    assert chain.staking.jailed_until(chain.ctx(), W1.address, "worker") == 0


def test_tombstoned_address_can_never_bond_in_that_role_again(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    r = chain.hook("tombstone:worker", W1)
    assert events_of(r, "Tombstoned")
    assert not chain.staking.is_active(chain.ctx(), W1.address, "worker")
    r = chain.bond(W1, "worker", MIN_WORKER)
    assert _code(r) == ("staking", 5)
    assert chain.unjail(W1, "worker").code == 5
    assert chain.bonded(W1) == MIN_WORKER
    chain.blocks_until(chain.height + 100)
    assert chain.bond(W1, "worker", MIN_WORKER).code == 5  # never
    # its coins can still leave, and other roles are open to it
    assert chain.unbond(W1, "worker", MIN_WORKER).ok
    assert chain.bond(W1, "oracle", MIN_ORACLE, ED_KEY).ok


def test_params_change_only_by_the_authority(chain: StakeChain) -> None:
    r = chain.update_params(ALICE, "staking", {"min_bond_worker": str(5 * VCN)})
    assert _code(r) == ("auth", 3)
    assert chain.app.custom_query("staking", "params", {})["min_bond_worker"] == str(MIN_WORKER)
    r = chain.update_params(PLATFORM, "staking", {"min_bond_worker": str(2 * MIN_WORKER)})
    assert r.ok, r.log
    assert chain.bond(W1, "worker", MIN_WORKER).code == 3
    r = chain.update_params(PLATFORM, "staking", {"slash_reward_share_bps": "10001"})
    assert _code(r) == ("staking", 11)
    r = chain.update_params(PLATFORM, "staking", {"no_such_param": "1"})
    assert _code(r) == ("staking", 11)


def test_genesis_export_and_import_give_the_same_app_hash(
    chain: StakeChain, tmp_path: object
) -> None:
    assert chain.bond(W1, "worker", 2 * MIN_WORKER).ok
    assert chain.bond(W2, "worker", MIN_WORKER).ok
    assert chain.bond(O1, "oracle", MIN_ORACLE, ED_KEY).ok
    assert chain.unbond(W1, "worker", VCN).ok
    assert chain.hook("success", W1).ok
    assert chain.heartbeat(W1).ok
    assert chain.hook("cheat", W2, others=[O1]).ok  # jail, penalty
    assert chain.hook("tombstone:worker", W2).ok
    assert chain.hook("record_compute", W1, 7).ok
    exported = chain.app.export_genesis()
    assert exported["staking"]["jails"] and exported["staking"]["unbonding"]
    assert exported["reputation"]["records"] and exported["mint"]["units"]
    app2 = new_app(
        tmp_path / "imported",
        {  # type: ignore[operator]
            "chain_id": chain.app.chain_id,
            "initial_height": str(chain.height + 1),
            "app_state": exported,
        },
    )
    try:
        assert app2.info().last_block_app_hash == chain.app_hash
        assert app2.export_genesis() == exported
        assert app2.check_invariants() == []
    finally:
        app2.close()


def test_random_blocks_keep_invariants_and_two_apps_agree(
    make_app: Callable[..., App],
) -> None:
    """A seeded mix of bonds, unbonds, unjails, heartbeats, cheats, timeouts and
    compute over 60 blocks: every invariant holds after every block (StakeChain
    checks), supply = genesis + minted (nothing burns here), and a second App fed
    the same blocks reaches the same app hash."""
    rng = random.Random(20260101)
    doc = genesis(
        staking={"unbonding_blocks": 6, "jail_blocks": 3, "max_unbonding_entries": 3},
        reputation={"heartbeat_interval_blocks": 4, "uptime_window_slots": 5},
        mint={"epoch_blocks": 7, "emission_per_epoch": str(1_000 * VCN + 13)},
    )
    chain = StakeChain(make_app(doc))
    supply0 = chain.supply()
    actors = [test_key(i) for i in range(8)]
    refused = 0
    for _ in range(60):
        txs = []
        for key in rng.sample(actors, 4):
            roll = rng.random()
            role = "worker" if rng.random() < 0.8 else "oracle"
            if roll < 0.3:
                amount = rng.randint(
                    MIN_WORKER // 2, 3 * MIN_ORACLE if role == "oracle" else 3 * MIN_WORKER
                )
                msg = bond_msg(
                    key, role, amount, bytes([actors.index(key)]) * 32 if role == "oracle" else b""
                )
            elif roll < 0.45:
                msg = MsgUnbond(
                    address=key.bech32, role=role, amount=coin(rng.randint(1, 2 * MIN_WORKER))
                )
            elif roll < 0.55:
                msg = MsgUnjail(address=key.bech32, role="worker")
            elif roll < 0.7:
                msg = MsgHeartbeat(address=key.bech32)
            else:
                action = rng.choice(
                    ["cheat", "timeout", "success", "record_compute", "penalise_oracle"]
                )
                others = rng.sample(actors, 2) if action == "cheat" else []
                txs.append(
                    chain.sign(PLATFORM, [hook_msg(action, key, rng.randint(1, 50), others)])
                )
                continue
            txs.append(chain.sign(key, [msg]))
        result = chain.block(txs)
        refused += sum(1 for r in result.tx_results if not r.ok)
        assert all(r.ok for r in result.tx_results if r.codespace == "sdk")  # none malformed
    minted = int(chain.app.custom_query("mint", "minted", {})["total_minted"])
    assert minted > 0 and 0 < refused < 60 * 4
    assert chain.supply() == supply0 + minted
    pool = chain.app.custom_query("staking", "pool", {})
    assert int(pool["bonded"]["worker"]) > 0
    other = make_app(doc)
    install_hook(other)
    chain.replay(other)
    assert other.info().last_block_app_hash == chain.app_hash


@pytest.mark.slow
def test_cli_bonds_heartbeats_and_queries_on_a_real_node(tmp_path: Path) -> None:
    with running_node(tmp_path / "home") as node:
        r = node.cli("tx", "staking", "bond", "worker", "999VCN", "--from", "worker1", "-y")
        assert r.returncode == 1 and "minimum bond" in r.stderr
        r = node.cli("tx", "staking", "bond", "worker", "1500VCN", "--from", "worker1", "-y")
        assert r.returncode == 0, r.stderr
        r = node.cli("tx", "staking", "unbond", "worker", "500VCN", "--from", "worker1", "-y")
        assert r.returncode == 0, r.stderr
        r = node.cli("query", "staking", "bond", "worker1", "worker")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("worker: 1000 VCN bonded (active; minimum 1000 VCN)")
        assert "unbonding 500 VCN until height" in r.stdout
        r = node.cli("-o", "json", "query", "staking", "active-set", "worker")
        assert json.loads(r.stdout)["addresses"] == [W1.bech32]
        # the heartbeat just before the score: uptime counts 60-block slots, and a slot
        # that passes without one (a minute of slow CLI calls on a loaded machine) is down
        r = node.cli("tx", "reputation", "heartbeat", "--from", "worker1", "-y")
        assert r.returncode == 0, r.stderr
        r = node.cli("query", "reputation", "score", "worker1")
        assert r.returncode == 0 and r.stdout.startswith("score 100.00 / 100"), r.stdout
        r = node.cli("tx", "staking", "unjail", "worker", "--from", "worker1", "-y")
        assert r.returncode == 1 and "not jailed" in r.stderr
        for what in (("staking", "pool"), ("mint", "epoch"), ("mint", "minted")):
            r = node.cli("query", *what)
            assert r.returncode == 0, (what, r.stderr)


def test_genesis_bonds_need_a_funded_pool_and_bad_entries_are_refused(
    make_app: Callable[..., App],
) -> None:
    from chain.crypto import module_address, to_bech32
    from chain.errors import ChainError

    doc = genesis()
    doc["app_state"]["staking"] = {
        "bonds": [{"address": W1.bech32, "role": "worker", "amount": str(MIN_WORKER)}]
    }
    pool = to_bech32(module_address("staking"))
    doc["app_state"]["bank"]["balances"].append(
        {"address": pool, "coins": [{"denom": "avcn", "amount": str(MIN_WORKER)}]}
    )
    doc["app_state"]["bank"]["balances"].sort(key=lambda b: b["address"])
    app = make_app(doc)
    chain = StakeChain(app)
    assert app.check_invariants() == []
    assert chain.staking.is_active(chain.ctx(), W1.address, "worker")

    unfunded = genesis()
    unfunded["app_state"]["staking"] = doc["app_state"]["staking"]
    assert make_app(unfunded).check_invariants() == [
        f"staking/pool: pool holds 0avcn; bonds {MIN_WORKER} + unbonding 0"
    ]

    bond = {"address": W1.bech32, "role": "worker", "amount": "1"}
    for bad in (
        {"bonds": [bond, bond]},
        {"bonds": [{**bond, "role": "miner"}]},
        {"bonds": [{**bond, "amount": "0"}]},
        {"oracle_keys": [{"address": W1.bech32, "pubkey": "00"}]},
        {"unbonding": [{**bond, "id": "0", "completion_height": "5"}]},  # id ≥ next id
    ):
        with pytest.raises(ChainError) as e:
            app.validate_genesis({"staking": bad})
        assert (e.value.codespace, e.value.code) == ("staking", 12), bad
