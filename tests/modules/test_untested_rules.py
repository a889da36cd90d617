"""Rules of the marketplace that had no test of their own, checked on a real App.

* Supply in the randomized simulation, block by block: the supply moves by exactly
  what the mint module minted minus 10 % of the price of each job settled in that
  block (the design's burn, computed here from the jobs' prices, not read back from
  the bank's own burn event), and equals the sum of every balance.
* Genesis export after random traffic (jobs in flight, a checking job with a partial
  attestation, unbonding entries, a mint epoch in progress): a fresh App initialised
  from it has the same app hash and exports the same state, module by module, and
  goes on to produce the same blocks.
* Stake that is unbonding is slashed too: a worker that unbonds and is then caught
  cheating (oracle quorum, score under 50) loses 10 % of the bond and of the entry,
  and the supply does not move (the cut goes to the treasury and the oracle).
* Oracles that split without a quorum: the job waits while it is short, and at the
  deadline it lapses to a pass (the window rule) with the worker paid once and no
  oracle penalised: a lapse is no verdict of the oracles, so nobody was outvoted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.app import App
from chain.coins import DENOM
from modules.bank import state as bank_state
from tests.modules.test_simulation import Actor, Sim
from tests.modules.test_simulation import setup as setup_market
from tests.support.chain import block_events, new_app, test_key
from tests.support.genesis import market_genesis
from tests.support.market import Market, output_of
from tests.support.stake import VCN

W1 = test_key(0)
POSTER = test_key(10)
O1, O2, O3 = test_key(20), test_key(21), test_key(22)


def sim_genesis() -> dict[str, Any]:
    """The simulation's genesis, with unbonding entries that outlive the runs here."""
    return market_genesis(
        verification={"attest_window_blocks": 6, "base_sample_bps": 3000, "max_sample_bps": 6000},
        jobs={"default_claim_blocks": 15, "default_result_blocks": 4},
        mint={"epoch_blocks": 10},
        staking={"jail_blocks": 10, "unbonding_blocks": 1_000},
    )


def avcn(text: str) -> int:
    return int(text.removesuffix(DENOM))


def sum_of_balances(m: Market) -> int:
    return sum(n for _, d, n in bank_state.all_balances(m.app.query_ctx()) if d == DENOM)


# -- 1. supply after every block of the simulation --------------------------------------------
def test_supply_moves_by_minted_minus_a_tenth_of_each_settled_price_in_every_block(
    make_app: Callable[..., App],
) -> None:
    m = Market(make_app(sim_genesis()))
    assert int(m.q("jobs", "params")["burn_bps"]) == 1_000  # the design's 10 %
    workers = [Actor(test_key(0)), Actor(test_key(1), cheat_rate=0.4), Actor(test_key(2))]
    oracles = [O1, O2]
    setup_market(m, workers, oracles)
    sim = Sim(m, 31, workers, oracles, [test_key(i) for i in range(10, 15)])
    settled = minted = 0
    for _ in range(80):
        before = m.supply()
        b = sim.step()
        burn = sum(avcn(e["price"]) // 10 for e in block_events([b], "JobSettled"))
        mint = sum(int(e["amount"]) for e in block_events([b], "Minted"))
        assert m.supply() == before + mint - burn, f"block {b.height}: burned or minted wrong"
        assert m.supply() == sum_of_balances(m), f"block {b.height}"
        settled += len(block_events([b], "JobSettled"))
        minted += mint
    assert settled >= 10 and minted > 0  # the run did burn and mint


# -- 2. genesis export and import round trip ---------------------------------------------------
def test_genesis_export_after_random_traffic_reimports_and_produces_the_same_blocks(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    m = Market(make_app(sim_genesis()))
    workers = [Actor(test_key(0)), Actor(test_key(1), cheat_rate=0.4), Actor(test_key(2))]
    oracles = [O1, O2]  # equal stake: one attestation is no quorum, so some wait half-attested
    setup_market(m, workers, oracles)
    assert m.unbond(test_key(2), "worker", 100 * VCN).code == 0  # an entry (the sim tops up)
    sim = Sim(m, 5, workers, oracles, [test_key(i) for i in range(10, 15)])
    for _ in range(12):
        sim.step()
    for _ in range(150):
        exported = m.app.export_genesis()
        if exported["verification"]["attestations"] and exported["mint"]["units"]:
            break
        sim.step()
    else:
        pytest.fail("the run never left a checking job with an attestation")
    assert exported["staking"]["unbonding"] and exported["verification"]["pending"]
    states = {j["state"] for j in exported["jobs"]["jobs"]}
    assert {"queued", "claimed", "checking"} <= states, states
    doc = {"chain_id": m.app.chain_id, "app_state": exported, "initial_height": str(m.height + 1)}
    twin = new_app(tmp_path / "twin", doc)
    try:
        assert twin.info().last_block_app_hash == m.app_hash
        assert twin.info().last_block_height == m.height
        again = twin.export_genesis()
        for module in sorted(set(exported) | set(again)):
            assert again.get(module) == exported.get(module), module
        assert twin.check_invariants() == []
        sim.mirror = twin  # every later block: the same txs, the same app hash (Sim asserts it)
        for _ in range(25):
            sim.step()
        assert twin.info().last_block_app_hash == m.app_hash
    finally:
        twin.close()


# -- 3. slashing reaches stake that is unbonding ------------------------------------------------
def test_stake_unbonding_when_a_cheat_is_caught_is_slashed_too(
    make_app: Callable[..., App],
) -> None:
    always = {"base_sample_bps": 10_000, "max_sample_bps": 10_000, "attest_window_blocks": 5}
    m = Market(make_app(market_genesis(verification=always)))
    assert m.bond_oracle(O1, "o1").code == 0  # the only oracle: its attestation is the quorum
    m.setup_worker(W1, price_floor=VCN)  # 1 000 VCN bond
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid, output=output_of(jid, honest=False)).code == 0
    r = m.unbond(W1, "worker", 350 * VCN)  # after the fake, before anyone looks at it
    assert r.code == 0, r.log
    (entry,) = m.q("staking", "bond", address=W1.bech32, role="worker")["unbonding"]
    done = int(entry["completion_height"])
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    assert m.score(W1) == 6_500  # stake weight 650 / 1 000: the penalty takes it under 50
    supply, treasury, wallet = m.supply(), m.module_balance("treasury"), m.balance(W1)
    b = m.run(O1, m.attest_msg(O1, jid, "fail"))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert m.job(jid).state == "rejected"
    (punished,) = block_events([b], "CheatingPunished")
    assert punished["score_bps"] == "4500"  # 65 − 20: under 50, not under 30
    (slashed,) = block_events([b], "Slashed")
    assert slashed["amount"] == str(100 * VCN)  # 10 % of 650 bonded + 10 % of 350 unbonding
    bond = m.q("staking", "bond", address=W1.bech32, role="worker")
    assert bond["bonded"] == str(585 * VCN)
    assert [e["amount"] for e in bond["unbonding"]] == [str(315 * VCN)]
    assert bond["tombstoned"] is False
    assert m.supply() == supply  # a slash moves coins, it creates or burns none
    assert m.module_balance("treasury") == treasury + 90 * VCN  # the oracle's 10 % aside
    assert m.balance(W1) == wallet
    m.blocks_until(done)
    assert m.balance(W1) == wallet + 315 * VCN  # only what the slash left of the entry


# -- 5. oracles that split without a quorum ----------------------------------------------------
@pytest.mark.parametrize(
    ("stakes", "votes"),
    [
        pytest.param((10_000, 10_000), {O1: "pass", O2: "fail"}, id="two-equal-oracles-tie"),
        pytest.param(
            (10_000, 10_000, 10_000), {O1: "fail", O2: "pass"}, id="one-each-way-third-absent"
        ),
        pytest.param(
            (10_000, 10_000, 40_000), {O1: "fail"}, id="too-little-stake-for-the-window-rule"
        ),
    ],
)
def test_oracles_without_a_quorum_leave_the_job_waiting_then_it_lapses_penalising_nobody(
    make_app: Callable[..., App], stakes: tuple[int, ...], votes: dict[Any, str]
) -> None:
    always = {"base_sample_bps": 10_000, "max_sample_bps": 10_000, "attest_window_blocks": 6}
    m = Market(make_app(market_genesis(verification=always)))
    oracles = (O1, O2, O3)[: len(stakes)]
    for i, (key, stake) in enumerate(zip(oracles, stakes, strict=True)):
        assert m.bond_oracle(key, f"o{i}", stake * VCN).code == 0
    m.setup_worker(W1, price_floor=VCN)
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid).code == 0
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    due = int(m.pending(jid)["due"])
    worker, poster = m.balance(W1), m.balance(POSTER)
    blocks = [m.run(key, m.attest_msg(key, jid, verdict)) for key, verdict in votes.items()]
    for b in blocks:
        assert b.tx_results[0].code == 0, b.tx_results[0].log
    while m.height < due - 1:
        blocks.append(m.block([]))
    # Short of the quorum: it waits, nobody is paid, refunded or penalised yet.
    assert m.job(jid).state == "checking" and m.pending(jid)["stage"] == "checking"
    assert m.balance(W1) == worker and m.balance(POSTER) == poster
    assert m.module_balance("escrow") == 2 * VCN
    blocks += m.blocks_until(due)
    verdicts = block_events(blocks, "VerdictReached")
    assert [(v["verdict"], v["how"]) for v in verdicts] == [("pass", "lapsed")]
    assert m.job(jid).state == "settled"
    for type_ in ("OraclePenalised", "CheatingPunished", "Slashed", "JobRejected"):
        assert block_events(blocks, type_) == [], type_
    for key in oracles:
        assert m.reputation.stats(m.ctx(), key.address).penalties_bps == 0, key.bech32
    paid = block_events(blocks, "WorkerPaid")
    assert [e["amount"] for e in paid] == [f"{8 * VCN // 10}{DENOM}"]  # once: 80 % of 1 VCN
    assert m.balance(W1) == worker + 8 * VCN // 10
    assert m.balance(POSTER) == poster + VCN  # the escrow above the price comes back
    assert m.module_balance("escrow") == 0
