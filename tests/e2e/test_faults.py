"""Faults in a marketplace of real processes (node, workers, oracles).

One of two oracles down. The verification module's rules (modules/verification
/keeper.py), as they play out here:

* with two oracles of equal stake, one attestation (50 % of the oracle stake)
  is short of the quorum (66.66 %), so a job picked for checking waits;
* at its attest deadline (``attest_window_blocks`` after the draw) the window
  rule decides: the oracles that did attest hold at least
  ``window_min_stake_bps`` (33.34 %) of the stake, so their verdict stands —
  an honest result settles, a faked one is rejected and its worker punished;
* if the missing oracle comes back before that deadline, it catches up (it
  lists the chain's checking jobs at start), attests, the quorum forms and the
  job settles at once.

So jobs wait, and then settle by the window rule at the deadline; an oracle
that returns in time makes them settle sooner. (Were every oracle down, a
picked result would lapse at the deadline and settle as passed.)

A worker that vanishes after claiming (kill -9): its jobs come back to the
queue at their result deadline, with a failure on its record (a timeout, not
cheating: no slash, no jail); another worker that can run a job finishes it and
is paid once; a job nobody else can run expires at the end of its new claim
window and is refunded in full.

(An oracle killed and restarted mid-check: tests/oracle/test_cli.py.)
Params shortened for the tests: every result is picked for checking and the
attest window is 60 blocks (the first test); results are due 15 blocks after
a claim (the second). Canaries are off (``--no-canaries``), so the verdicts
here come from re-execution alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.market import (
    ALICE,
    E2E_GENESIS,
    PRICE,
    WORKER_BOND,
    job_msg,
    market_of,
)
from tests.support.genesis import market_genesis
from tests.support.wait import wait_for

ATTEST_WINDOW = 60  # long enough for a restarted oracle to catch up and re-execute


def _verdict(events: list[tuple[int, str, dict[str, str]]]) -> tuple[int, dict[str, str]]:
    (got,) = [(h, a) for h, t, a in events if t == "VerdictReached"]
    return got


@pytest.mark.slow
def test_one_of_two_oracles_down_jobs_settle_by_the_window_rule_or_when_it_returns(
    tmp_path: Path,
) -> None:
    genesis = market_genesis(
        **E2E_GENESIS,
        verification={
            "base_sample_bps": 10_000,
            "max_sample_bps": 10_000,
            "attest_window_blocks": ATTEST_WINDOW,
        },
    )
    with market_of(tmp_path, genesis) as m:
        oracle1 = m.oracle("oracle1", "--no-canaries")
        oracle2 = m.oracle("oracle2", "--no-canaries")
        honest = m.worker("worker1", models="tiny-lm")
        cheat = {"VCOIN_TEST_CHEAT_FRACTION": "1", "VCOIN_TEST_CHEAT_SEED": "3"}
        cheater = m.worker("worker3", cheat=cheat, models="all-minilm-l6-v2")
        for d in (oracle1, oracle2, honest, cheater):
            d.start()
        oracle2.kill()  # down hard, its bond still counts in the oracle stake

        # While it is down: a text job (worker1, honest) and an embedding (worker3, faked).
        resp = m.client.send_tx(ALICE, [job_msg(0), job_msg(10)], gas="auto")
        text_job, embed_job = (int(x) for x in resp.attributes("JobPosted", "job_id"))
        assert m.job(text_job)["task_type"] == "text-generation"
        settled = m.wait_state(text_job, ("settled", "rejected"), 300)
        rejected = m.wait_state(embed_job, ("settled", "rejected"), 300)
        assert settled["state"] == "settled" and settled["worker"] == honest.address
        assert rejected["state"] == "rejected" and rejected["worker"] == cheater.address
        assert int(rejected["refunded"]) == PRICE
        for job_id, verdict in ((text_job, "pass"), (embed_job, "fail")):
            evs = m.job_events(job_id)
            (due,) = [int(a["deadline"]) for _, t, a in evs if t == "VerificationRequested"]
            height, v = _verdict(evs)
            attested = [a["oracle"] for _, t, a in evs if t == "Attested"]
            assert attested == [oracle1.address], evs
            # Not at the first attestation: at the deadline, by the window rule.
            assert (v["verdict"], v["how"], height) == (verdict, "window", due), evs
            assert int(v["pass_stake"]) + int(v["fail_stake"]) < int(v["oracle_stake"])
        punished = [a for _, t, a in m.all_events() if t == "CheatingPunished"]
        assert [a["address"] for a in punished] == [cheater.address]

        # Another text job: oracle1 attests, the job waits; oracle2 comes back in time.
        job_id = int(m.client.send_tx(ALICE, [job_msg(1)], gas="auto").attributes(
            "JobPosted", "job_id")[0])  # fmt: skip

        def attested_by_oracle1() -> bool:
            st = m.client.query("verification", "status", {"job_id": job_id})
            return any(a["oracle"] == oracle1.address for a in st.get("attestations") or [])

        wait_for("oracle1's attestation", attested_by_oracle1, 120, 0.5)
        assert m.job(job_id)["state"] == "checking"  # one of two is no quorum
        oracle2.start()
        job = m.wait_state(job_id, ("settled", "rejected"), 120)
        assert job["state"] == "settled"
        evs = m.job_events(job_id)
        (due,) = [int(a["deadline"]) for _, t, a in evs if t == "VerificationRequested"]
        height, v = _verdict(evs)
        assert (v["verdict"], v["how"]) == ("pass", "quorum") and height < due, evs
        assert sorted(a["oracle"] for _, t, a in evs if t == "Attested") == sorted(
            [oracle1.address, oracle2.address]
        )
        for d in (oracle1, oracle2, honest, cheater):
            assert d.stop() == 0, d.tail()


@pytest.mark.slow
def test_a_worker_that_vanishes_after_claiming(tmp_path: Path) -> None:
    genesis = market_genesis(
        **E2E_GENESIS,
        verification={"base_sample_bps": 0, "max_sample_bps": 0},
        jobs={"default_result_blocks": 15},
    )
    with market_of(tmp_path, genesis) as m:
        vanishing = m.worker("worker1", max_concurrent=2)
        # worker2 runs only tiny-lm: nobody is left who can run the embedding job.
        other = m.worker("worker2", models="tiny-lm")
        vanishing.start()
        lora, embed = job_msg(16), job_msg(10)
        embed.claim_blocks = 10  # a short claim window, also after a requeue
        resp = m.client.send_tx(ALICE, [lora, embed], gas="auto")
        lora_id, embed_id = (int(x) for x in resp.attributes("JobPosted", "job_id"))

        def both_claimed() -> bool:
            return all(m.job(i)["state"] == "claimed" for i in (lora_id, embed_id))

        wait_for("worker1 to claim both jobs", both_claimed, 120, 0.2)
        vanishing.kill()  # kill -9 mid-job: no give-back, no result
        other.start()

        job = m.wait_state(lora_id, ("settled",), 240)
        assert job["worker"] == other.address
        expired = m.wait_state(embed_id, ("expired", "settled", "failed"), 240)
        assert expired["state"] == "expired" and int(expired["refunded"]) == PRICE, expired

        for job_id in (lora_id, embed_id):
            evs = m.job_events(job_id)
            requeued = [a for _, t, a in evs if t == "JobRequeued"]
            assert len(requeued) == 1 and requeued[0]["worker"] == vanishing.address, evs
            assert "no result by the deadline" in requeued[0]["reason"]
            assert not [a for _, t, a in evs if t == "ResultSubmitted"
                        and a["worker"] == vanishing.address]  # fmt: skip
        paid = [a for _, t, a in m.job_events(lora_id) if t == "WorkerPaid"]
        assert [a["worker"] for a in paid] == [other.address]  # paid once, to the finisher

        # The vanished worker: two timeouts on its record, no slash, no jail.
        rep = m.client.query("reputation", "score", {"address": vanishing.address})
        assert (rep["successes"], rep["total"], rep["penalties_bps"]) == ("0", "2", 0), rep
        bond = m.client.query("staking", "bond", {"address": vanishing.address, "role": "worker"})
        assert int(bond["bonded"]) == WORKER_BOND and int(bond["jailed_until"]) == 0, bond
        assert other.stop() == 0, other.tail()
