"""Slashing: caught cheating, timeouts and outvoted oracles on a real chain.

Stake weight is the lever for exact scores here: with a reference bond of
10 000 VCN and no results yet, a worker's score is its bond in VCN (bps).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.app import App
from tests.support.chain import ALICE, KEYS, PLATFORM, events_of
from tests.support.stake import VCN, StakeChain, genesis

W1, O1, O2 = KEYS["worker1"], KEYS["oracle1"], KEYS["oracle2"]
REFERENCE = 10_000 * VCN
JAIL = 5


@pytest.fixture
def chain(make_app: Callable[..., App]) -> StakeChain:
    return StakeChain(
        make_app(
            genesis(
                staking={"jail_blocks": JAIL, "unbonding_blocks": 10},
                reputation={
                    "worker_reference_bond": str(REFERENCE),
                    "heartbeat_interval_blocks": 100_000,  # uptime stays full in these tests
                },
            )
        )
    )


def _jailed(chain: StakeChain) -> int:
    return chain.staking.jailed_until(chain.ctx(), W1.address, "worker")


def _tombstoned(chain: StakeChain) -> bool:
    return chain.staking.is_tombstoned(chain.ctx(), W1.address, "worker")


@pytest.mark.parametrize(
    ("bond_vcn", "after", "slashed", "tombstoned"),
    [
        (7_000, 5_000, False, False),  # exactly 50 after the penalty: not under 50
        (6_999, 4_999, True, False),
        (5_000, 3_000, True, False),  # exactly 30: slashed, not banned
        (4_999, 2_999, True, True),
    ],
)
def test_cheating_thresholds_at_50_and_30(
    chain: StakeChain, bond_vcn: int, after: int, slashed: bool, tombstoned: bool
) -> None:
    bond = bond_vcn * VCN
    assert chain.bond(W1, "worker", bond).ok
    assert chain.score(W1) == bond_vcn
    treasury = chain.module_balance("treasury")
    r = chain.hook("cheat", W1)
    assert r.ok, r.log
    if not slashed:
        assert chain.score(W1) == after
    (ev,) = events_of(r, "CheatingPunished")
    assert ev.get("score_bps") == str(after)
    assert _jailed(chain) == chain.height + JAIL
    assert [e.get("until_height") for e in events_of(r, "Jailed")] == [str(chain.height + JAIL)]
    cut = bond // 10 if slashed else 0
    assert chain.bonded(W1) == bond - cut
    assert chain.module_balance("treasury") == treasury + cut
    assert len(events_of(r, "Slashed")) == int(slashed)
    assert _tombstoned(chain) is tombstoned
    assert len(events_of(r, "Tombstoned")) == int(tombstoned)
    (rep,) = events_of(r, "ReputationChanged")
    assert (rep.get("old_score_bps"), rep.get("new_score_bps")) == (str(bond_vcn), str(after))


def test_repeated_cheating_escalates_from_jail_to_slash_to_ban(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", REFERENCE).ok
    outcomes = []
    for _ in range(4):
        r = chain.hook("cheat", W1)
        assert r.ok, r.log
        (decided,) = events_of(r, "CheatingPunished")
        outcomes.append(
            (
                decided.get("score_bps"),
                [e.get("amount") for e in events_of(r, "Slashed")],
                bool(events_of(r, "Tombstoned")),
            )
        )
    assert outcomes == [
        ("8000", [], False),  # −20: jail only
        ("6000", [], False),
        ("4000", [str(1_000 * VCN)], False),  # under 50: slash 10 %, so the weight is 0.9
        ("1000", [str(900 * VCN)], True),  # 90 − 80 is under 30: slash again and ban
    ]
    assert chain.bonded(W1) == 8_100 * VCN
    assert chain.score(W1) == 100  # weight 0.81: 81 − 80
    assert chain.bond(W1, "worker", REFERENCE).code == 5


def test_slash_reward_goes_to_attesting_oracles_by_oracle_stake(chain: StakeChain) -> None:
    assert chain.bond(O1, "oracle", 10_000 * VCN, bytes(32)).ok
    assert chain.bond(O2, "oracle", 30_000 * VCN, bytes(range(32))).ok
    assert chain.bond(W1, "worker", 4_000 * VCN).ok
    o1, o2, alice = chain.balance(O1), chain.balance(O2), chain.balance(ALICE)
    treasury = chain.module_balance("treasury")
    # ALICE has no oracle bond: she is listed but weighs nothing
    r = chain.hook("cheat", W1, others=[O2, O1, ALICE, O1])
    assert r.ok, r.log
    cut = 400 * VCN
    share = cut // 10  # staking's slash_reward_share_bps, 10 %
    assert chain.balance(O1) == o1 + share // 4
    assert chain.balance(O2) == o2 + share * 3 // 4
    assert chain.balance(ALICE) == alice
    assert chain.module_balance("treasury") == treasury + cut - share


def test_unbonding_does_not_escape_a_slash(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", 4_000 * VCN).ok
    assert chain.unbond(W1, "worker", 3_000 * VCN).ok  # the cheat is found after this
    r = chain.hook("cheat", W1)
    (ev,) = events_of(r, "Slashed")
    assert ev.get("amount") == str(400 * VCN)  # 10 % of bond and entry together
    assert chain.bonded(W1) == 900 * VCN
    before = chain.balance(W1)
    chain.blocks_until(chain.height + 10)
    assert chain.balance(W1) == before + 2_700 * VCN


def test_timeouts_lower_the_ratio_only(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", REFERENCE).ok
    assert chain.hook("success", W1).ok
    for _ in range(3):
        r = chain.hook("timeout", W1)
        assert r.ok, r.log
        assert not events_of(r, "Slashed") and not events_of(r, "Jailed")
    s = chain.app.custom_query("reputation", "score", {"address": W1.bech32})
    assert (s["score"], s["penalties_bps"], s["total"]) == ("25.00", 0, "4")
    assert chain.bonded(W1) == REFERENCE  # under 50 but never slashed without a cheat
    assert _jailed(chain) == 0


def test_outvoted_oracle_loses_reputation_not_stake(chain: StakeChain) -> None:
    assert chain.bond(O1, "oracle", 10_000 * VCN, bytes(32)).ok
    assert chain.score(O1) == 10_000
    r = chain.hook("penalise_oracle", O1)  # the param: 5 points
    assert r.ok, r.log
    (ev,) = events_of(r, "OraclePenalised")
    assert (ev.get("points_bps"), ev.get("score_bps")) == ("500", "9500")
    assert chain.hook("penalise_oracle", O1, 1_200).ok
    assert chain.score(O1) == 8_300
    assert chain.bonded(O1, "oracle") == 10_000 * VCN


def test_params_change_only_by_the_authority(chain: StakeChain) -> None:
    r = chain.update_params(ALICE, "slashing", {"cheat_penalty_bps": 0})
    assert (r.codespace, r.code) == ("auth", 3)
    r = chain.update_params(PLATFORM, "slashing", {"slash_fraction_bps": 10_001})
    assert (r.codespace, r.code) == ("slashing", 2)
    assert chain.update_params(PLATFORM, "slashing", {"cheat_penalty_bps": 6_000}).ok
    assert chain.bond(W1, "worker", REFERENCE).ok
    r = chain.hook("cheat", W1)
    (ev,) = events_of(r, "CheatingPunished")
    assert ev.get("score_bps") == "4000"
    assert chain.bonded(W1) == REFERENCE * 9 // 10
