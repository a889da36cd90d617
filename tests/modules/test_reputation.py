"""Reputation: the score formula on worked examples, and its inputs on a real chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from modules.reputation.keeper import score_of, uptime_bps
from modules.reputation.state import Record
from tests.support.chain import ALICE, KEYS, PLATFORM, events_of
from tests.support.stake import VCN, StakeChain, genesis

W1, W2, O1 = KEYS["worker1"], KEYS["worker2"], KEYS["oracle1"]
MIN_WORKER = 1_000 * VCN
INTERVAL, WINDOW = 2, 4  # heartbeat slots of 2 blocks, uptime over the last 4 slots


@pytest.fixture
def chain(make_app: Callable[..., App]) -> StakeChain:
    return StakeChain(
        make_app(
            genesis(
                reputation={
                    "heartbeat_interval_blocks": INTERVAL,
                    "uptime_window_slots": WINDOW,
                    "worker_reference_bond": str(2 * MIN_WORKER),
                }
            )
        )
    )


def _score(chain: StakeChain, who: Any) -> dict[str, Any]:
    out: dict[str, Any] = chain.app.custom_query("reputation", "score", {"address": who.bech32})
    return out


@pytest.mark.parametrize(
    ("successes", "total", "weight", "uptime", "penalties", "score"),
    [
        (9, 10, 10_000, 10_000, 0, 9_000),  # 100 × 0.9 = 90.00
        (3, 4, 5_000, 10_000, 0, 3_750),  # 100 × 0.75 × 0.5 = 37.50
        (3, 4, 5_000, 8_000, 0, 3_000),  # … × 0.8 uptime = 30.00
        (2, 3, 10_000, 10_000, 0, 6_666),  # 66.66…, floored once at the end
        (1, 1, 10_000, 10_000, 2_000, 8_000),  # 100 − 20 points
        (1, 2, 10_000, 10_000, 6_000, 0),  # 50 − 60 clamps at 0
        (0, 0, 7_500, 10_000, 0, 7_500),  # no results yet: a perfect ratio
        (0, 0, 20_000, 10_000, 0, 10_000),  # never above 100
    ],
)
def test_score_formula_worked_examples(
    successes: int, total: int, weight: int, uptime: int, penalties: int, score: int
) -> None:
    assert score_of(successes, total, weight, uptime, penalties) == score


def test_uptime_counts_heartbeat_slots_in_the_rolling_window() -> None:
    # heartbeats in slots 2, 4 and 5; bit i of the mask is slot last_slot - i
    r = Record(since_slot=0, last_slot=5, mask=0b1011)
    assert uptime_bps(r, 5, WINDOW) == 7_500  # slots 5, 4, 3, 2: three of four
    assert uptime_bps(r, 6, WINDOW) == 7_500  # slot 6 is in progress: still 5..2
    assert uptime_bps(r, 7, WINDOW) == 5_000  # 6, 5, 4, 3
    assert uptime_bps(r, 9, WINDOW) == 2_500  # 8, 7, 6, 5
    assert uptime_bps(r, 10, WINDOW) == 0
    # slots before a record began count as up
    fresh = Record(since_slot=10, last_slot=10)
    assert uptime_bps(fresh, 10, WINDOW) == 10_000
    assert uptime_bps(fresh, 11, WINDOW) == 7_500  # slot 10 passed without a heartbeat
    assert uptime_bps(None, 99, WINDOW) == 10_000  # no record at all


def test_new_worker_starts_at_100_times_its_stake_weight(chain: StakeChain) -> None:
    assert _score(chain, W1)["score_bps"] == 0  # no bond, no weight
    assert chain.bond(W1, "worker", MIN_WORKER).ok  # half the reference bond
    s = _score(chain, W1)
    assert (s["score"], s["stake_weight_bps"], s["uptime_bps"]) == ("50.00", 5_000, 10_000)
    assert s["has_history"] is False
    assert chain.bond(W1, "worker", MIN_WORKER // 2).ok
    assert _score(chain, W1)["score_bps"] == 7_500
    assert chain.bond(W1, "worker", MIN_WORKER).ok  # past the reference: weight stays 1
    assert _score(chain, W1)["score_bps"] == 10_000
    # unbonding coins do not count
    assert chain.unbond(W1, "worker", MIN_WORKER + MIN_WORKER // 2).ok
    assert _score(chain, W1)["score_bps"] == 5_000


def test_results_move_the_success_ratio(chain: StakeChain) -> None:
    # long slots, so uptime stays full without heartbeats during the test
    assert chain.update_params(PLATFORM, "reputation", {"heartbeat_interval_blocks": "1000"}).ok
    assert chain.bond(W1, "worker", 2 * MIN_WORKER).ok
    for _ in range(3):
        r = chain.hook("success", W1)
        assert r.ok, r.log
    r = chain.hook("timeout", W1)
    (ev,) = events_of(r, "ReputationChanged")
    assert (ev.get("old_score_bps"), ev.get("new_score_bps")) == ("10000", "7500")
    assert ev.get("reason") == "failure"
    s = _score(chain, W1)
    assert (s["successes"], s["total"], s["penalties_bps"]) == ("3", "4", 0)
    assert s["score"] == "75.00"


def test_heartbeats_keep_uptime_and_missed_slots_lower_it(chain: StakeChain) -> None:
    assert chain.bond(W1, "worker", 2 * MIN_WORKER).ok  # full stake weight
    h = chain.height + 2 + chain.height % 2  # an even height: the start of a slot
    chain.blocks_until(h - 1)
    assert chain.heartbeat(W1).ok
    assert chain.height == h

    def uptime() -> int:
        s = _score(chain, W1)
        assert s["score_bps"] == s["uptime_bps"]  # weight and ratio are 1
        return int(s["uptime_bps"])

    assert uptime() == 10_000
    chain.blocks_until(h + 2)  # the next slot, no heartbeat yet: not held against it
    assert uptime() == 10_000
    chain.blocks_until(h + 4)  # one slot missed
    assert uptime() == 7_500
    chain.blocks_until(h + 6)  # two missed
    assert uptime() == 5_000
    assert chain.heartbeat(W1).ok  # at h + 7, back up in this slot
    assert uptime() == 5_000  # up in this slot and the first, down in the two between
    chain.blocks_until(h + 10)  # two slots on, only the second heartbeat is in the window
    assert uptime() == 2_500


def test_heartbeat_from_a_non_worker_is_refused(chain: StakeChain) -> None:
    r = chain.heartbeat(ALICE)
    assert (r.codespace, r.code) == ("reputation", 2)
    assert "bond first" in r.log
    assert _score(chain, ALICE)["has_history"] is False
    # an oracle's bond is enough, a tombstoned worker's is not
    assert chain.bond(O1, "oracle", 10_000 * VCN, bytes(32)).ok
    assert chain.heartbeat(O1).ok
    assert chain.bond(W2, "worker", MIN_WORKER).ok
    assert chain.hook("tombstone:worker", W2).ok
    assert chain.heartbeat(W2).code == 2


def test_heartbeats_need_a_bond_of_at_least_one_avcn(chain: StakeChain) -> None:
    """A worker that unbonds all but 1 avcn still has a bond and may heartbeat; once it
    unbonds that too, it has none and is refused."""
    assert chain.bond(W2, "worker", MIN_WORKER).ok
    assert chain.unbond(W2, "worker", MIN_WORKER - 1).ok
    assert chain.bonded(W2) == 1
    assert chain.heartbeat(W2).ok
    assert chain.unbond(W2, "worker", 1).ok
    r = chain.heartbeat(W2)
    assert (r.codespace, r.code) == ("reputation", 2) and "no worker or oracle bond" in r.log


def test_params_change_only_by_the_authority(chain: StakeChain) -> None:
    r = chain.update_params(ALICE, "reputation", {"uptime_window_slots": "8"})
    assert (r.codespace, r.code) == ("auth", 3)
    r = chain.update_params(PLATFORM, "reputation", {"uptime_window_slots": "257"})
    assert (r.codespace, r.code) == ("reputation", 3)
    r = chain.update_params(PLATFORM, "reputation", {"worker_reference_bond": str(MIN_WORKER)})
    assert r.ok, r.log
    assert chain.bond(W1, "worker", MIN_WORKER).ok
    assert _score(chain, W1)["score_bps"] == 10_000
