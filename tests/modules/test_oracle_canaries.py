"""Plants (oracle canaries) over a real App: a planter commits to a job's right answer
before the claim, its own worker submits a wrong one, and once the result has its
verdict the reveal punishes every oracle that passed it, as a caught cheater in the
oracle role (−20 points, jailed, so it attests nothing more). Oracles that failed it,
or did not attest, are untouched; refused reveals change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from chain.errors import ChainError
from chain.results import BlockResult, TxResult
from modules.verification import canary
from modules.verification import msgs as vm
from modules.verification.params import Params
from tests.support.chain import test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, code, output_of

HONEST_W, PLANT_W = test_key(0), test_key(1)
POSTER = test_key(10)
PLANTER, LAZY, HONEST = test_key(20), test_key(21), test_key(22)
ALL = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}
SALT = bytes(range(16))


def make(make_app: Callable[..., App], lazy_bond: int = 10_000, **verification: Any) -> Market:
    m = Market(make_app(market_genesis(verification=verification)))
    bonds = ((PLANTER, "planter", 10_000), (LAZY, "lazy", lazy_bond), (HONEST, "honest", 10_000))
    for key, name, vcn in bonds:
        assert m.bond_oracle(key, name, vcn * VCN).code == 0
    m.setup_worker(HONEST_W, price_floor=VCN)
    m.setup_worker(PLANT_W, price_floor=VCN)
    return m


def commit_plant(m: Market, jid: int, salt: bytes = SALT) -> Any:
    c = canary.commitment(jid, output_of(jid), salt, planted=True)
    return m.sign(PLANTER, [vm.MsgCommitCanary(oracle=PLANTER.bech32, commitment=c.hex())])


def reveal(m: Market, jid: int, expected: bytes, planted: bool = True, key: Any = PLANTER) -> Any:
    """A reveal signed by the job's controller: the plant's worker (the planter's own
    worker account), or the poster for a canary."""
    controller = PLANT_W if planted else POSTER
    return m.run(key, m.reveal_msg(key, jid, expected, SALT, controller, planted))


def planted_job(m: Market, wrong: bool = True) -> int:
    """A plant: committed, claimed by the planter's worker, a wrong result, picked."""
    jid = m.post(POSTER, max_price=2 * VCN)
    r = m.block([commit_plant(m, jid)])
    assert r.tx_results[0].code == 0, r.tx_results[0].log
    assert m.claim(PLANT_W, jid).code == 0
    assert m.submit(PLANT_W, jid, output=output_of(jid, honest=not wrong)).code == 0
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    return jid


def evs(b: BlockResult, type_: str) -> list[dict[str, str]]:
    all_ = list(b.events) + [e for t in b.tx_results for e in t.events]
    return [dict(e.attributes) for e in all_ if e.type == type_]


def penalties(m: Market, key: Any) -> int:
    return int(m.reputation.stats(m.ctx(), key.address).penalties_bps)


def active(m: Market, key: Any) -> bool:
    return m.staking.is_active(m.ctx(), key.address, "oracle")


def ok(r: TxResult) -> None:
    assert r.code == 0, r.log


def test_an_oracle_that_passes_a_plant_is_punished_and_jailed(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, attest_window_blocks=5, **ALL)
    jid = planted_job(m)
    ok(m.attest(LAZY, jid, "pass"))  # copied the worker's hash: never ran it
    ok(m.attest(HONEST, jid, "fail", similarity=0))  # ran it: the output is wrong
    m.blocks_until(int(m.pending(jid)["due"]))
    assert m.job(jid).state == "settled"  # a tie at the window: lapsed, nobody penalised
    assert penalties(m, LAZY) == penalties(m, HONEST) == 0

    b = reveal(m, jid, output_of(jid))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert evs(b, "PlantRevealed") == [
        {"job_id": str(jid), "oracle": PLANTER.bech32, "caught": "1"}
    ]
    assert [e["oracle"] for e in evs(b, "PlantPassed")] == [LAZY.bech32]
    punished = evs(b, "CheatingPunished")
    assert [p["address"] for p in punished] == [LAZY.bech32]
    assert int(punished[0]["jailed_until"]) > m.height
    assert penalties(m, LAZY) == 2_000  # the slashing module's cheat penalty
    assert not active(m, LAZY)  # jailed as an oracle: its next attestation is refused
    assert penalties(m, HONEST) == 0 and active(m, HONEST)
    assert penalties(m, PLANTER) == 0 and active(m, PLANTER)
    nxt = m.post(POSTER, max_price=2 * VCN)
    ok(m.claim(HONEST_W, nxt))
    ok(m.submit(HONEST_W, nxt, output=output_of(nxt)))
    m.block([])
    assert code(m.attest(LAZY, nxt, "pass")) == ("verification", 3)
    ok(m.attest(HONEST, nxt, "pass"))
    # the commitment is spent: a second reveal finds nothing
    assert code(reveal(m, jid, output_of(jid)).tx_results[0]) == ("verification", 11)


def test_honest_oracles_that_fail_a_plant_are_untouched(make_app: Callable[..., App]) -> None:
    m = make(make_app, **ALL)
    jid = planted_job(m)
    ok(m.attest(LAZY, jid, "fail", similarity=0))  # both ran it this time
    b = m.run(HONEST, m.attest_msg(HONEST, jid, "fail", similarity=0))
    assert m.job(jid).state == "rejected"  # a quorum of 2/3: the plant's worker pays for it
    assert [p["address"] for p in evs(b, "CheatingPunished")] == [PLANT_W.bech32]

    b = reveal(m, jid, output_of(jid))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert evs(b, "PlantRevealed")[0]["caught"] == "0"
    assert evs(b, "CheatingPunished") == [] and evs(b, "OraclePenalised") == []
    for key in (PLANTER, LAZY, HONEST):
        assert penalties(m, key) == 0 and active(m, key)


def test_an_honest_oracle_outvoted_by_a_lazy_quorum_is_made_whole(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, lazy_bond=50_000, **ALL)  # 50 of 70: the lazy stake is a quorum
    jid = planted_job(m)
    ok(m.attest(HONEST, jid, "fail", similarity=0))
    b = m.run(LAZY, m.attest_msg(LAZY, jid, "pass"))
    assert m.job(jid).state == "settled"  # the lazy quorum passed the wrong result
    assert [e["address"] for e in evs(b, "OraclePenalised")] == [HONEST.bech32]
    assert penalties(m, HONEST) == 500  # outvoted for being right, for now
    score_before = m.reputation.score(m.ctx(), HONEST.address)
    atts = m.q("verification", "status", job_id=jid)["attestations"]
    assert {a["oracle"]: a.get("penalty_bps") for a in atts} == {
        HONEST.bech32: 500,  # settlement keeps what the outvote cost, for a reveal to undo
        LAZY.bech32: None,
    }

    b = reveal(m, jid, output_of(jid))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    back = evs(b, "OraclePenaltyWithdrawn")
    assert [(e["address"], e["points_bps"]) for e in back] == [(HONEST.bech32, "500")]
    assert penalties(m, HONEST) == 0 and active(m, HONEST)
    assert m.reputation.score(m.ctx(), HONEST.address) == score_before + 500
    assert penalties(m, LAZY) == 2_000 and not active(m, LAZY)
    # what settlement recorded is spent: the attestation no longer carries the points
    atts = m.q("verification", "status", job_id=jid)["attestations"]
    assert len(atts) == 2 and all("penalty_bps" not in a for a in atts)


def test_an_honest_result_on_a_canary_job_is_never_a_plant(make_app: Callable[..., App]) -> None:
    """A plant whose result turns out right catches nobody: passing it was right."""
    m = make(make_app, **ALL)
    jid = planted_job(m, wrong=False)
    b = m.run(LAZY, m.attest_msg(LAZY, jid, "pass"))
    ok(m.attest(HONEST, jid, "pass"))
    assert m.job(jid).state == "settled", b.tx_results[0].log
    r = reveal(m, jid, output_of(jid))
    assert code(r.tx_results[0]) == ("verification", 15)
    assert penalties(m, LAZY) == 0 and active(m, LAZY)


def test_bad_plant_reveals_are_refused_and_change_nothing(make_app: Callable[..., App]) -> None:
    m = make(make_app, attest_window_blocks=5, **ALL)
    jid = planted_job(m)
    ok(m.attest(LAZY, jid, "pass"))
    # still checking: revealing now would tell the oracles that have not attested
    assert code(reveal(m, jid, output_of(jid)).tx_results[0]) == ("verification", 13)
    m.blocks_until(int(m.pending(jid)["due"]))
    assert m.job(jid).state == "settled"
    cases = [
        (dict(planted=False), ("verification", 13)),  # as a canary it is past its reveal
        (dict(key=HONEST), ("verification", 11)),  # another oracle's commitment
        (dict(key=POSTER), ("verification", 3)),  # not an oracle
        (dict(expected=output_of(jid, False)), ("verification", 11)),  # not what was committed
        (dict(jid=999), ("verification", 5)),
    ]
    for kw, want in cases:
        args: dict[str, Any] = {"jid": jid, "expected": output_of(jid), **kw}
        r = reveal(m, args.pop("jid"), args.pop("expected"), **args)
        assert code(r.tx_results[0]) == want, r.tx_results[0].log
    assert penalties(m, LAZY) == 0 and active(m, LAZY)
    ok(reveal(m, jid, output_of(jid)).tx_results[0])  # the right one still works
    assert penalties(m, LAZY) == 2_000


def test_a_canary_commitment_cannot_be_opened_as_a_plant(make_app: Callable[..., App]) -> None:
    """The domains differ, so a canary whose worker cheated (and was rejected) cannot be
    turned into a plant afterwards to punish the oracles that checked it."""
    m = make(make_app, **ALL)
    jid = m.post(POSTER, max_price=2 * VCN)
    ok(m.commit_canary(PLANTER, jid, output_of(jid), SALT))  # a canary's commitment
    ok(m.claim(PLANT_W, jid))
    ok(m.submit(PLANT_W, jid, output=output_of(jid, honest=False)))
    m.block([])
    ok(m.attest(LAZY, jid, "pass"))
    ok(m.attest(HONEST, jid, "fail", similarity=0))
    ok(m.attest(PLANTER, jid, "fail", similarity=0))
    assert m.job(jid).state == "rejected"
    r = reveal(m, jid, output_of(jid), planted=True)
    assert code(r.tx_results[0]) == ("verification", 11)
    assert penalties(m, LAZY) == 500  # outvoted, no more
    assert active(m, LAZY)


def test_a_plant_is_committed_no_later_than_the_claim(make_app: Callable[..., App]) -> None:
    m = make(make_app, attest_window_blocks=5, **ALL)
    at, after = m.post(POSTER, max_price=2 * VCN), m.post(POSTER, max_price=2 * VCN)
    from modules.jobs import msgs as jm

    claim = m.sign(PLANT_W, [jm.MsgClaimJob(worker=PLANT_W.bech32, job_id=at)])
    r = m.block([commit_plant(m, at), claim])  # the same block as the claim: in time
    assert [t.code for t in r.tx_results] == [0, 0]
    ok(m.claim(PLANT_W, after))
    ok(m.block([commit_plant(m, after)]).tx_results[0])  # one block after: too late
    for jid in (at, after):
        ok(m.submit(PLANT_W, jid, output=output_of(jid, honest=False)))
    m.block([])
    for jid in (at, after):
        ok(m.attest(LAZY, jid, "pass"))
    m.blocks_until(max(int(m.pending(j)["due"]) for j in (at, after)))
    assert code(reveal(m, after, output_of(after)).tx_results[0]) == ("verification", 12)
    assert penalties(m, LAZY) == 0
    ok(reveal(m, at, output_of(at)).tx_results[0])
    assert penalties(m, LAZY) == 2_000


@pytest.mark.parametrize(("rate", "valid"), [(9_999, True), (10_000, True), (10_001, False)])
def test_plant_rate_is_basis_points(rate: int, valid: bool) -> None:
    assert Params().plant_rate_bps == 500  # the genesis default
    p = Params(plant_rate_bps=rate)
    if valid:
        p.validate()
    else:
        with pytest.raises(ChainError, match="plant_rate_bps") as e:
            p.validate()
        assert (e.value.codespace, e.value.code) == ("verification", 2)


def test_a_lazy_oracle_caught_again_and_again_walks_the_slashing_ladder(
    make_app: Callable[..., App],
) -> None:
    """The worker's ladder, in the oracle role: jailed at every catch, 10 % of the oracle
    bond slashed at the catch that leaves it under 50 (the planter takes the reward
    share), banned for good under 30."""
    m = make(make_app, attest_window_blocks=5, **ALL)
    plants = []
    for _ in range(4):
        plants.append(planted_job(m))
        ok(m.attest(LAZY, plants[-1], "pass"))  # all attested before the first reveal
    m.blocks_until(int(m.pending(plants[-1])["due"]))
    assert {m.job(j).state for j in plants} == {"settled"}
    assert m.score(LAZY) == 10_000
    planter_before = m.balance(PLANTER.address)
    seen = []
    for jid in plants:
        b = reveal(m, jid, output_of(jid))
        assert b.tx_results[0].code == 0, b.tx_results[0].log
        (p,) = evs(b, "CheatingPunished")
        seen.append((int(p["score_bps"]), int(p["slashed"]) > 0, p["tombstoned"]))
    assert seen == [
        (8_000, False, "false"),
        (6_000, False, "false"),
        (4_000, True, "false"),  # under 50: slashed
        # under 30: tombstoned as an oracle (the slash cut its stake weight to 0.9 of the
        # reference bond too: 90 − 80 points)
        (1_000, True, "true"),
    ]
    assert m.bonded(LAZY, "oracle") == 10_000 * VCN * 9 // 10 * 9 // 10
    assert m.balance(PLANTER.address) > planter_before  # its reward share
    assert m.staking.is_tombstoned(m.ctx(), LAZY.address, "oracle")
    assert m.score(HONEST) == 10_000 and active(m, HONEST)


def test_a_reveal_encoded_before_plants_existed_is_still_a_canary_reveal() -> None:
    """``planted`` is a new field (5): the bytes of an older client's reveal decode to
    the same message with ``planted`` false, so its canary reveals keep working."""
    old = vm.MsgRevealCanary(
        oracle=PLANTER.bech32, job_id=7, expected_output_hash="ab" * 32, salt=SALT.hex()
    ).SerializeToString()
    parsed = vm.validate_reveal(vm.MsgRevealCanary.FromString(old))
    assert parsed.planted is False and parsed.job_id == 7
    assert parsed.controller_signature == b""  # field 6, newer still: absent, so empty
    planted = vm.MsgRevealCanary.FromString(old + b"\x28\x01")
    assert vm.validate_reveal(planted).planted is True
