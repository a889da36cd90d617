"""What a reader of events and refusals sees (survivors of scripts/mutation in the
verification and jobs handlers): a canary's reveal and an attestation name their job
and stake; an attestation too late says the job is past its verdict; a model
registered again keeps the height it was first registered at."""

from __future__ import annotations

from collections.abc import Callable

from app.app import App
from modules.jobs import msgs as jm
from tests.modules.test_oracle_canaries import (
    ALL,
    HONEST,
    HONEST_W,
    LAZY,
    PLANTER,
    POSTER,
    SALT,
    evs,
    make,
    ok,
    reveal,
)
from tests.support.chain import PLATFORM, block_events
from tests.support.genesis import h32
from tests.support.market import VCN, Market, output_of


def test_a_canary_reveal_names_its_job(make_app: Callable[..., App]) -> None:
    m = make(make_app, **ALL)
    jid = m.post(POSTER, max_price=2 * VCN)
    ok(m.commit_canary(PLANTER, jid, output_of(jid), SALT))
    ok(m.claim(HONEST_W, jid))
    ok(m.submit(HONEST_W, jid, output=output_of(jid, honest=False)))
    b = reveal(m, jid, output_of(jid), planted=False)
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert evs(b, "CanaryRevealed") == [
        {"job_id": str(jid), "oracle": PLANTER.bech32, "matched": "false"}
    ]


def test_attestations_name_job_and_stake_and_one_after_the_verdict_says_so(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **ALL)
    jid = m.post(POSTER, max_price=2 * VCN)
    ok(m.claim(HONEST_W, jid))
    ok(m.submit(HONEST_W, jid, output=output_of(jid, honest=False)))
    m.block([])  # the draw
    # two thirds of the oracle stake fail it; the third attestation lands in the same
    # block, after the verdict
    b = m.block(
        [
            m.sign(HONEST, [m.attest_msg(HONEST, jid, "fail", similarity=0)]),
            m.sign(PLANTER, [m.attest_msg(PLANTER, jid, "fail", similarity=0)]),
            m.sign(LAZY, [m.attest_msg(LAZY, jid, "pass")]),
        ]
    )
    assert [r.code for r in b.tx_results[:2]] == [0, 0]
    atts = evs(b, "Attested")
    assert [(a["job_id"], a["oracle"]) for a in atts] == [
        (str(jid), HONEST.bech32),
        (str(jid), PLANTER.bech32),
    ]
    assert {a["stake"] for a in atts} == {str(10_000 * VCN)}  # each attester's oracle bond
    late = b.tx_results[2].log
    assert f"job {jid} is past its verdict: only jobs picked" in late, late
    after = m.run(LAZY, m.attest_msg(LAZY, jid, "pass")).tx_results[0].log
    assert f"job {jid} is rejected: only jobs picked" in after, after


def test_an_attestation_on_a_job_never_picked_names_its_state(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app)  # default sampling: a job posted and left alone is never drawn
    jid = m.post(POSTER, max_price=2 * VCN)
    r = m.run(HONEST, m.attest_msg(HONEST, jid, "pass")).tx_results[0]
    assert f"job {jid} is queued: only jobs picked" in r.log, r.log


def test_a_model_registered_again_keeps_its_first_height(make_app: Callable[..., App]) -> None:
    m: Market = make(make_app)

    def register(description: str) -> None:
        msg = jm.MsgRegisterModel(
            authority=PLATFORM.bech32,
            model_id="again-lm",
            task_types=["text-generation"],
            weights_sha256=h32("w").hex(),
            config_sha256=h32("c").hex(),
            min_gpu_memory_mib=2048,
            description=description,
        )
        b = m.run(PLATFORM, msg)
        assert b.tx_results[0].code == 0, b.tx_results[0].log
        assert block_events([b], "ModelRegistered") == [
            {
                "model": "again-lm",
                "task_types": "text-generation",
                "weights_sha256": h32("w").hex(),
                "min_gpu_memory_mib": "2048",
            }
        ]

    register("first")
    first = m.q("jobs", "model", id="again-lm")
    assert first["registered_height"] == m.height  # the block that registered it
    m.block([])
    m.block([])
    register("second")
    again = m.q("jobs", "model", id="again-lm")
    assert again["description"] == "second"
    assert again["registered_height"] == first["registered_height"] < m.height
