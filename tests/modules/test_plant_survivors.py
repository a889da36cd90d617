"""Plants and reveals, the details a planter or an oracle reads (survivors of
scripts/mutation in modules/verification, modules/slashing and modules/reputation):

* an oracle that passed a plant and was also outvoted keeps the outvote's points and
  takes the plant's on top: only oracles that failed the plant are made whole;
* the PlantPassed and OraclePenaltyWithdrawn events and the score change carry the
  job, the score and the reason;
* a refused reveal names the kind of commitment (canary or plant) and the account
  whose key must sign it (poster or worker).
"""

from __future__ import annotations

from collections.abc import Callable

from app.app import App
from modules.verification import msgs as vm
from tests.modules.test_oracle_canaries import (
    ALL,
    HONEST,
    LAZY,
    PLANT_W,
    PLANTER,
    POSTER,
    SALT,
    evs,
    make,
    ok,
    penalties,
    planted_job,
    reveal,
)
from tests.support.market import output_of


def test_a_lazy_oracle_outvoted_on_a_plant_keeps_the_outvote_and_takes_the_plant(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **ALL)
    jid = planted_job(m)
    ok(m.attest(LAZY, jid, "pass"))  # never ran it
    ok(m.attest(HONEST, jid, "fail", similarity=0))
    ok(m.attest(PLANTER, jid, "fail", similarity=0))  # two thirds of the stake: rejected
    assert m.job(jid).state == "rejected"
    assert penalties(m, LAZY) == 500  # outvoted
    b = reveal(m, jid, output_of(jid))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert evs(b, "PlantPassed") == [{"job_id": str(jid), "oracle": LAZY.bech32}]
    assert evs(b, "OraclePenaltyWithdrawn") == []  # the oracles that failed it lost nothing
    assert penalties(m, LAZY) == 500 + 2_000
    assert penalties(m, HONEST) == penalties(m, PLANTER) == 0


def test_a_withdrawn_outvote_says_so_with_the_new_score(make_app: Callable[..., App]) -> None:
    m = make(make_app, lazy_bond=50_000, **ALL)  # the lazy stake is a quorum
    jid = planted_job(m)
    ok(m.attest(HONEST, jid, "fail", similarity=0))
    m.run(LAZY, m.attest_msg(LAZY, jid, "pass"))
    assert m.job(jid).state == "settled" and penalties(m, HONEST) == 500
    before = m.reputation.score(m.ctx(), HONEST.address)
    b = reveal(m, jid, output_of(jid))
    after = m.reputation.score(m.ctx(), HONEST.address)
    assert after == before + 500
    assert evs(b, "OraclePenaltyWithdrawn") == [
        {"address": HONEST.bech32, "points_bps": "500", "score_bps": str(after)}
    ]
    changed = [e for e in evs(b, "ReputationChanged") if e["address"] == HONEST.bech32]
    assert [e["reason"] for e in changed] == ["outvote withdrawn"], changed


def test_a_refused_reveal_names_the_kind_of_commitment(make_app: Callable[..., App]) -> None:
    m = make(make_app, **ALL)
    jid = planted_job(m)
    ok(m.attest(HONEST, jid, "fail", similarity=0))
    ok(m.attest(PLANTER, jid, "fail", similarity=0))
    wrong = output_of(jid, honest=False)
    r = m.run(PLANTER, m.reveal_msg(PLANTER, jid, wrong, SALT, PLANT_W, True)).tx_results[0]
    assert f"no plant commitment of {PLANTER.bech32} matches" in r.log, r.log
    assert "check the salt, the expected output hash and `planted`" in r.log


def test_an_unsigned_plant_reveal_names_the_worker_not_the_poster(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **ALL)
    jid = planted_job(m)
    ok(m.attest(HONEST, jid, "fail", similarity=0))
    ok(m.attest(PLANTER, jid, "fail", similarity=0))
    msg = m.reveal_msg(PLANTER, jid, output_of(jid), SALT, PLANT_W, True)
    unsigned = vm.MsgRevealCanary()
    unsigned.CopyFrom(msg)
    unsigned.controller_signature = b""
    r = m.run(PLANTER, unsigned).tx_results[0]
    assert "a plant reveal must prove the revealer controls the job's worker" in r.log, r.log
    assert f"job {jid}'s worker {PLANT_W.bech32}" in r.log and POSTER.bech32 not in r.log
