"""Rules that scripts/mutation showed no test held, in the keepers of modules/:

* the rows an oracle re-embeds: ``subset_rows`` pinned to vectors of the documented
  partial Fisher–Yates shuffle, recomputed here with hashlib on a plain list;
* the ``Heartbeat`` event a worker's client reads: its address, height and uptime;
* the reason recorded with an outvoted oracle's penalty (``outvoted``);
* unjail: every refusal names the address, and ``Unjailed`` names the role;
* unbonding entries numbered 0, 1, 2 … in the order they start, as their events say;
* the keepers' reads ``StakingKeeper.params`` and ``MintKeeper.total_minted``;
* the supply may reach exactly 2^256 − 1, not one avcn more;
* a slash cuts each unbonding entry by its own rounded share, and 0 and 10000 bps are
  both valid fractions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from chain.coins import DENOM, MAX_AMOUNT
from chain.crypto import module_address, to_bech32
from chain.errors import ChainError
from modules.bank import state as bank_state
from modules.mint.keeper import MintKeeper
from modules.verification.keeper import subset_rows
from tests.support.chain import ALICE, BOB, KEYS, PLATFORM, events_of
from tests.support.stake import VCN, StakeChain, genesis

W1, W2, O1 = KEYS["worker1"], KEYS["worker2"], KEYS["oracle1"]
MIN_WORKER = 1_000 * VCN
MIN_ORACLE = 10_000 * VCN


# -- the rows of an embedding result an oracle re-embeds ------------------------------
def _reference_rows(block_hash: bytes, job_id: int, n: int, k: int) -> list[int]:
    """The documented draw, written out on a list of rows: step i swaps row i with row
    i + u_i mod (n - i), u_i = uint64(sha256("vcoin/subset/v1" ‖ hash ‖ job id as 8
    bytes ‖ i as 4 bytes)[:8]), all big-endian; the first k rows, sorted."""
    k = max(0, min(k, n))
    rows = list(range(n))
    for i in range(k):
        seed = b"vcoin/subset/v1" + block_hash + job_id.to_bytes(8, "big") + i.to_bytes(4, "big")
        u = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
        j = i + u % (n - i)
        rows[i], rows[j] = rows[j], rows[i]
    return sorted(rows[:k])


# (block hash, job id, rows, rows drawn) -> the rows, computed by _reference_rows
SUBSET_VECTORS = [
    (bytes(32), 1, 8, 3, [0, 1, 4]),
    (bytes(range(32)), 2**40 + 7, 10, 4, [1, 2, 3, 4]),
    (hashlib.sha256(b"block").digest(), 7, 8, 3, [0, 2, 3]),
    (
        bytes(range(32)),
        2**40 + 7,
        384,
        16,
        [18, 33, 54, 71, 82, 172, 189, 216, 221, 261, 263, 268, 363, 370, 372, 375],
    ),
    # every row: a permutation, so each row exactly once (a swap that lost a row
    # would draw one twice)
    (bytes(32), 1, 8, 8, list(range(8))),
]


@pytest.mark.parametrize(("block_hash", "job_id", "n", "k", "rows"), SUBSET_VECTORS)
def test_subset_rows_are_the_documented_shuffle(
    block_hash: bytes, job_id: int, n: int, k: int, rows: list[int]
) -> None:
    assert _reference_rows(block_hash, job_id, n, k) == rows
    assert subset_rows(block_hash, job_id, n, k) == rows


def test_subset_rows_match_the_written_out_shuffle_on_many_blocks() -> None:
    for b in range(200):
        h = hashlib.sha256(b"draw block %d" % b).digest()
        for n, k in ((2, 1), (5, 5), (9, 4), (64, 7)):
            job_id = 1 + b * 7919
            assert subset_rows(h, job_id, n, k) == _reference_rows(h, job_id, n, k), (b, n, k)


# -- heartbeats ------------------------------------------------------------------------
INTERVAL, WINDOW = 2, 4  # slots of 2 blocks, uptime over the last 4 slots


@pytest.fixture
def rep_chain(make_app: Callable[..., App]) -> StakeChain:
    return StakeChain(
        make_app(
            genesis(
                reputation={
                    "heartbeat_interval_blocks": str(INTERVAL),
                    "uptime_window_slots": str(WINDOW),
                }
            )
        )
    )


def test_heartbeat_event_tells_the_worker_its_height_and_uptime(rep_chain: StakeChain) -> None:
    chain = rep_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    h = chain.height + 2 + chain.height % 2  # an even height: the start of a slot
    chain.blocks_until(h - 1)
    r = chain.heartbeat(W1)
    assert r.ok, r.log
    (ev,) = events_of(r, "Heartbeat")
    assert dict(ev.attributes) == {"address": W1.bech32, "height": str(h), "uptime_bps": "10000"}
    chain.blocks_until(h + 6)  # slots h+2 and h+4 passed without a heartbeat
    r = chain.heartbeat(W1)  # at h + 7, up again in this slot
    (ev,) = events_of(r, "Heartbeat")
    # slots h+6 (this one, now up), h+4 and h+2 (missed), h (up): 2 of 4
    assert dict(ev.attributes) == {"address": W1.bech32, "height": str(h + 7), "uptime_bps": "5000"}
    s = chain.app.custom_query("reputation", "score", {"address": W1.bech32})
    assert s["uptime_bps"] == 5_000  # what the event said is what the chain holds


# -- an outvoted oracle's penalty --------------------------------------------------------
def test_outvoted_oracle_penalty_is_recorded_as_outvoted(make_app: Callable[..., App]) -> None:
    chain = StakeChain(make_app(genesis(reputation={"heartbeat_interval_blocks": "100000"})))
    assert chain.bond(O1, "oracle", MIN_ORACLE, bytes(32)).ok
    r = chain.hook("penalise_oracle", O1, 700)
    assert r.ok, r.log
    (ev,) = events_of(r, "ReputationChanged")
    assert dict(ev.attributes) == {
        "address": O1.bech32,
        "old_score_bps": "10000",
        "new_score_bps": "9300",
        "reason": "outvoted",
    }
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    r = chain.hook("cheat", W1)  # another cause, another reason
    assert [e.get("reason") for e in events_of(r, "ReputationChanged")] == ["cheating"]


# -- unjail and unbonding ids ------------------------------------------------------------
@pytest.fixture
def stake_chain(make_app: Callable[..., App]) -> StakeChain:
    return StakeChain(make_app(genesis(staking={"unbonding_blocks": 10, "jail_blocks": 5})))


def test_unjail_refusals_name_the_address_and_unjailed_names_the_role(
    stake_chain: StakeChain,
) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    r = chain.unjail(W1, "worker")
    assert (r.codespace, r.code) == ("staking", 6)
    assert f"{W1.bech32} is not jailed as worker" in r.log
    assert chain.hook("cheat", W1).ok
    until = chain.staking.jailed_until(chain.ctx(), W1.address, "worker")
    r = chain.unjail(W1, "worker")
    assert (r.codespace, r.code) == ("staking", 7)
    assert f"{W1.bech32} is jailed as worker until height {until}" in r.log
    chain.blocks_until(until - 1)
    r = chain.unjail(W1, "worker")
    assert r.ok, r.log
    (ev,) = events_of(r, "Unjailed")
    assert dict(ev.attributes) == {"address": W1.bech32, "role": "worker"}
    assert chain.bond(W2, "worker", MIN_WORKER).ok
    assert chain.hook("tombstone:worker", W2).ok
    r = chain.unjail(W2, "worker")
    assert (r.codespace, r.code) == ("staking", 5)
    assert f"{W2.bech32} is permanently banned as worker" in r.log


def test_unbonding_entries_are_numbered_in_order_and_completed_by_that_number(
    stake_chain: StakeChain,
) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", 2 * MIN_WORKER).ok
    assert chain.bond(W2, "worker", 2 * MIN_WORKER).ok
    started = []
    for key, amount in ((W1, VCN), (W2, 2 * VCN), (W1, 3 * VCN)):
        r = chain.unbond(key, "worker", amount)
        assert r.ok, r.log
        (ev,) = events_of(r, "UnbondingStarted")
        assert dict(ev.attributes) == {
            "address": key.bech32,
            "role": "worker",
            "amount": str(amount),
            "completion_height": str(chain.height + 10),
            "entry_id": str(len(started)),
        }
        started.append((ev.get("entry_id"), ev.get("address"), ev.get("amount")))
    assert started == [
        ("0", W1.bech32, str(VCN)),
        ("1", W2.bech32, str(2 * VCN)),
        ("2", W1.bech32, str(3 * VCN)),
    ]
    assert chain.app.export_genesis()["staking"]["next_unbonding_id"] == "3"
    results = chain.blocks_until(chain.height + 10)
    completed = [
        (e.get("entry_id"), e.get("address"), e.get("amount"))
        for b in results
        for e in b.events
        if e.type == "UnbondingCompleted"
    ]
    assert sorted(completed) == started


# -- the keepers' reads -----------------------------------------------------------------
def test_staking_keeper_params_are_the_ones_in_force(stake_chain: StakeChain) -> None:
    chain = stake_chain
    p = chain.staking.params(chain.ctx())
    assert (p.unbonding_blocks, p.jail_blocks) == (10, 5)
    assert chain.update_params(PLATFORM, "staking", {"jail_blocks": "7"}).ok
    assert (
        chain.staking.params(chain.ctx()).jail_blocks == 7 == chain.staking.jail_blocks(chain.ctx())
    )


def test_mint_keeper_total_minted_counts_every_epoch(make_app: Callable[..., App]) -> None:
    emission = 1_000_003
    chain = StakeChain(
        make_app(genesis(mint={"epoch_blocks": 5, "emission_per_epoch": str(emission)}))
    )
    mint: MintKeeper = chain.app.wiring.keepers["mint"]  # type: ignore[assignment]
    assert mint.total_minted(chain.ctx()) == 0
    assert chain.hook("record_compute", W1, 3).ok
    chain.blocks_until(5)
    assert mint.total_minted(chain.ctx()) == emission
    assert chain.hook("record_compute", W2, 1).ok
    chain.blocks_until(10)
    assert mint.total_minted(chain.ctx()) == 2 * emission
    assert chain.app.custom_query("mint", "minted", {}) == {"total_minted": str(2 * emission)}


# -- the supply's ceiling ---------------------------------------------------------------
def test_supply_may_reach_exactly_2_256_minus_1_and_not_one_avcn_more(app: App) -> None:
    ctx = app.query_ctx()  # a scratch context: nothing here is committed
    supply0 = bank_state.supply(ctx, DENOM)
    app.bank.mint(ctx, "mint", ((DENOM, MAX_AMOUNT - supply0),))
    assert bank_state.supply(ctx, DENOM) == MAX_AMOUNT
    with pytest.raises(ChainError) as e:
        app.bank.mint(ctx, "mint", ((DENOM, 1),))
    assert (e.value.codespace, e.value.code) == ("bank", 5)
    assert bank_state.supply(ctx, DENOM) == MAX_AMOUNT


# -- slashes: every unbonding entry, to the avcn, from 0 % to 100 % -------------------------
def _unbonding(chain: StakeChain, who: Any) -> list[int]:
    q = chain.app.custom_query("staking", "bond", {"address": who.bech32, "role": "worker"})
    return [int(e["amount"]) for e in q["unbonding"]]


def test_a_slash_cuts_each_unbonding_entry_by_its_own_rounded_share(
    stake_chain: StakeChain,
) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    for amount in (5, 10, 400 * VCN):  # 10 % of these: 0, 1 and 40 VCN
        assert chain.unbond(W1, "worker", amount).ok
    bonded = MIN_WORKER - 400 * VCN - 15
    r = chain.hook("slash:worker", W1, 1_000)
    assert r.ok, r.log
    (ev,) = events_of(r, "Slashed")
    assert ev.get("amount") == str(bonded // 10 + 0 + 1 + 40 * VCN)
    assert chain.bonded(W1) == bonded - bonded // 10
    assert _unbonding(chain, W1) == [5, 9, 360 * VCN]


def test_a_slash_of_0_takes_nothing_and_of_10000_bps_takes_everything(
    stake_chain: StakeChain,
) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", MIN_WORKER + 7).ok
    assert chain.unbond(W1, "worker", 7).ok
    r = chain.hook("slash:worker", W1, 0)
    assert r.ok, r.log
    assert events_of(r, "Slashed") == []
    assert (chain.bonded(W1), _unbonding(chain, W1)) == (MIN_WORKER, [7])
    treasury = chain.module_balance("treasury")
    r = chain.hook("slash:worker", W1, 10_000)
    assert r.ok, r.log
    (ev,) = events_of(r, "Slashed")
    assert dict(ev.attributes) == {
        "address": W1.bech32,
        "role": "worker",
        "fraction_bps": "10000",
        "amount": str(MIN_WORKER + 7),
        "to_treasury": str(MIN_WORKER + 7),
        "rewards": "",
    }
    assert (chain.bonded(W1), _unbonding(chain, W1)) == (0, [])
    assert chain.module_balance("treasury") == treasury + MIN_WORKER + 7


def test_a_slash_of_one_avcn_is_still_a_slash(stake_chain: StakeChain) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    assert chain.unbond(W1, "worker", MIN_WORKER - 10).ok  # 10 avcn stay bonded
    chain.blocks_until(chain.height + 10)  # the entry is paid out
    assert (chain.bonded(W1), _unbonding(chain, W1)) == (10, [])
    treasury = chain.module_balance("treasury")
    r = chain.hook("slash:worker", W1, 1_000)  # 10 % of 10 avcn
    assert r.ok, r.log
    (ev,) = events_of(r, "Slashed")
    assert (ev.get("amount"), ev.get("to_treasury")) == ("1", "1")
    assert chain.bonded(W1) == 9
    assert chain.module_balance("treasury") == treasury + 1


def test_a_cheat_with_nothing_left_to_slash_reports_a_slash_of_0(
    stake_chain: StakeChain,
) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    assert chain.unbond(W1, "worker", MIN_WORKER).ok
    chain.blocks_until(chain.height + 10)  # all of it paid out before the cheat is caught
    r = chain.hook("cheat", W1)
    assert r.ok, r.log
    (ev,) = events_of(r, "CheatingPunished")
    assert (ev.get("score_bps"), ev.get("slashed"), ev.get("tombstoned")) == ("0", "0", "true")
    assert events_of(r, "Slashed") == []
    (ev,) = events_of(r, "Tombstoned")
    assert dict(ev.attributes) == {"address": W1.bech32, "role": "worker"}


def test_slash_rewards_go_by_weight_summed_per_address(stake_chain: StakeChain) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    a0, b0 = chain.balance(ALICE), chain.balance(BOB)
    # one address of weight 1: the whole reward share (10 % of the cut) is its
    r = chain.hook("slash:worker", W1, 1_000, [ALICE])
    assert r.ok, r.log
    cut = MIN_WORKER // 10
    assert chain.balance(ALICE) == a0 + cut // 10
    (ev,) = events_of(r, "Slashed")
    assert ev.get("rewards") == f"{ALICE.bech32}:{cut // 10}"
    # the hook weights its addresses 1, 2, 3: ALICE listed twice weighs 1 + 3
    a1 = chain.balance(ALICE)
    have = chain.bonded(W1)
    r = chain.hook("slash:worker", W1, 1_000, [ALICE, BOB, ALICE])
    assert r.ok, r.log
    share = have // 10 // 10
    assert chain.balance(ALICE) == a1 + share * 4 // 6
    assert chain.balance(BOB) == b0 + share * 2 // 6


def test_a_cheat_under_the_slash_line_jails_and_reports_every_field(
    stake_chain: StakeChain,
) -> None:
    chain = stake_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok  # the reference bond: score 100
    r = chain.hook("cheat", W1)  # −20: 80, not under 50, so no slash
    assert r.ok, r.log
    until = chain.height + 5  # jail_blocks
    (ev,) = events_of(r, "CheatingPunished")
    assert dict(ev.attributes) == {
        "address": W1.bech32,
        "score_bps": "8000",
        "jailed_until": str(until),
        "slashed": "0",
        "tombstoned": "false",
    }
    (ev,) = events_of(r, "Jailed")
    assert dict(ev.attributes) == {
        "address": W1.bech32,
        "role": "worker",
        "until_height": str(until),
    }
    assert events_of(r, "Slashed") == [] and events_of(r, "Tombstoned") == []
    assert chain.bonded(W1) == MIN_WORKER


def test_an_oracle_penalty_param_of_0_still_records_the_outvote(stake_chain: StakeChain) -> None:
    chain = stake_chain
    assert chain.update_params(PLATFORM, "slashing", {"oracle_penalty_bps": 0}).ok
    assert chain.bond(O1, "oracle", MIN_ORACLE, bytes(32)).ok
    r = chain.hook("penalise_oracle", O1)  # the param: 0 points
    assert r.ok, r.log
    (ev,) = events_of(r, "ReputationChanged")
    assert (ev.get("old_score_bps"), ev.get("new_score_bps"), ev.get("reason")) == (
        "10000",
        "10000",
        "outvoted",
    )
    (ev,) = events_of(r, "OraclePenalised")
    assert (ev.get("points_bps"), ev.get("score_bps")) == ("0", "10000")


def test_reputation_changes_report_scores_with_uptime_and_the_reason(
    rep_chain: StakeChain,
) -> None:
    chain = rep_chain
    assert chain.bond(W1, "worker", MIN_WORKER).ok  # weight 1
    h = chain.height + 2 + chain.height % 2  # an even height: the start of a slot
    chain.blocks_until(h - 1)
    assert chain.heartbeat(W1).ok
    chain.blocks_until(h + 6)  # slots h+2 and h+4 missed: uptime 50 %
    r = chain.hook("success", W1)
    assert r.ok, r.log
    (ev,) = events_of(r, "ReputationChanged")
    assert dict(ev.attributes) == {
        "address": W1.bech32,
        "old_score_bps": "5000",  # 1/1 × 1 × 0.5, from the record as it stood
        "new_score_bps": "5000",
        "reason": "success",
    }
    r = chain.hook("timeout", W1)  # at h + 8: slot h+6 missed too, uptime 25 %
    (ev,) = events_of(r, "ReputationChanged")
    assert (ev.get("old_score_bps"), ev.get("new_score_bps"), ev.get("reason")) == (
        "2500",
        "1250",  # 1/2 × 1 × 0.25
        "failure",
    )


def test_mint_rewards_skip_only_zero_shares_and_report_each_worker(
    make_app: Callable[..., App],
) -> None:
    chain = StakeChain(make_app(genesis(mint={"epoch_blocks": 10, "emission_per_epoch": "12"})))
    a, b, c = sorted((W1, W2, O1), key=lambda k: k.address)  # the order rewards are paid in
    for key, units in ((a, 1), (b, 10), (c, 100)):  # shares 12·u // 111: 0, 1, 10
        assert chain.hook("record_compute", key, units).ok
    treasury = chain.module_balance("treasury")
    before = {k.bech32: chain.balance(k) for k in (a, b, c)}
    blocks = chain.blocks_until(10)
    evs = [dict(e.attributes) for r in blocks for e in r.events]
    rewards = [e for e in evs if "compute_units" in e and "address" in e]
    assert rewards == [
        {"epoch": "0", "address": b.bech32, "compute_units": "10", "amount": "1"},
        {"epoch": "0", "address": c.bech32, "compute_units": "100", "amount": "10"},
    ]
    minted = [e for e in evs if "workers" in e]
    assert minted == [
        {"epoch": "0", "amount": "12", "compute_units": "111", "workers": "3", "to_treasury": "1"}
    ]
    after = {k.bech32: chain.balance(k) - before[k.bech32] for k in (a, b, c)}
    assert after == {a.bech32: 0, b.bech32: 1, c.bech32: 10}
    assert chain.module_balance("treasury") == treasury + 1
    # an epoch that pays out everything sends nothing to the treasury
    assert chain.hook("record_compute", c, 5).ok
    blocks = chain.blocks_until(20)
    minted = [dict(e.attributes) for r in blocks for e in r.events if e.type == "Minted"]
    assert [(e["epoch"], e["to_treasury"]) for e in minted] == [("1", "0")]
    to_treasury = [
        dict(e.attributes)
        for r in blocks
        for e in r.events
        if e.get("recipient") == to_bech32(module_address("treasury"))
    ]
    assert to_treasury == []  # not even a transfer of nothing
    assert chain.module_balance("treasury") == treasury + 1
    assert chain.module_balance("mint") == 0


def test_bond_events_report_the_new_total_and_refusals_name_the_address(
    stake_chain: StakeChain,
) -> None:
    chain = stake_chain
    r = chain.bond(W1, "worker", MIN_WORKER - 1)
    assert (r.codespace, r.code) == ("staking", 3)
    assert f"{W1.bech32} would have {MIN_WORKER - 1}avcn" in r.log
    r = chain.bond(W1, "worker", MIN_WORKER)
    (ev,) = events_of(r, "Bonded")
    assert dict(ev.attributes) == {
        "address": W1.bech32,
        "role": "worker",
        "amount": str(MIN_WORKER),
        "bonded": str(MIN_WORKER),
    }
    r = chain.bond(W1, "worker", 5)
    (ev,) = events_of(r, "Bonded")
    assert (ev.get("amount"), ev.get("bonded")) == ("5", str(MIN_WORKER + 5))
    assert chain.hook("tombstone:worker", W1).ok
    r = chain.bond(W1, "worker", MIN_WORKER)
    assert (r.codespace, r.code) == ("staking", 5)
    assert f"{W1.bech32} is permanently banned as worker and cannot bond again" in r.log


def test_an_oracle_under_its_reference_bond_has_a_whole_basis_point_weight(
    make_app: Callable[..., App],
) -> None:
    chain = StakeChain(make_app(genesis(reputation={"oracle_reference_bond": str(30_000 * VCN)})))
    assert chain.bond(O1, "oracle", MIN_ORACLE, bytes(32)).ok  # a third of the reference
    s = chain.app.custom_query("reputation", "score", {"address": O1.bech32})
    assert (s["stake_weight_bps"], s["score_bps"]) == (3_333, 3_333)
    assert chain.score(O1) == 3_333 and isinstance(chain.score(O1), int)
