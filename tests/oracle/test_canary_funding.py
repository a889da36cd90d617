"""A canary's poster is funded through the drip pool, against a real node: the key
claims its own drip (nothing from the oracle names it), waits between its drip and
its post as long as the template's poster did, and gives its leftover back to the
pool (oracle/README.md, "Canaries that cannot be told apart"). A persona posts
several canaries from that one drip, a real poster's gap apart, and gives its
leftover back only after its last, or once it cannot pay the next."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chain.crypto import PrivateKey
from modules.drip.ante import sponsored_claim
from modules.drip.msgs import MsgFundPool
from oracle.canary_flow import POOL_TOP_UP_DRIPS
from oracle.state import OracleState
from tests.oracle._node import VCN, Net, bond_oracle, market_node, post_job
from tests.oracle.conftest import Models
from tests.oracle.test_canary_restart import (
    EXPECTED,
    ORACLE,
    USER,
    Oracle,
    jobs_posted_by,
    only_persona,
    persona_canary,
    step,
)

WAIT = 6  # blocks the template's poster waited between its drip and its post


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Iterator[Net]:
    from nacl.signing import SigningKey

    with market_node(tmp_path_factory.mktemp("canary-funding"), models) as n:
        bond_oracle(n, ORACLE, bytes(SigningKey.generate().verify_key))
        yield n


def dripped_height(net: Net, address: str) -> int:
    d = net.client.query("drip", "dripped", {"address": address})
    assert d["dripped"], address
    return int(d["height"])


def test_a_canary_key_claims_its_own_drip_waits_like_its_template_and_pays_the_pool(
    net: Net,
) -> None:
    drip = int(net.client.query("drip", "params")["drip_amount"])
    net.client.send_tx(USER, [MsgFundPool(depositor=USER.bech32, amount=str(drip))], gas="auto")
    # a real user: a new key claims its drip, waits WAIT blocks, posts
    user = PrivateKey.from_seed(b"canary-funding-user")
    r = net.client.broadcast_tx_commit(sponsored_claim(user, net.client.chain_id()))
    assert int((r.get("tx_result") or {}).get("code") or 0) == 0, r
    user_drip = dripped_height(net, user.bech32)
    net.wait_for(lambda: net.client.latest_height() >= user_drip + WAIT - 1)
    template = post_job(net, user, {"prompts": ["Write a haiku about rain"]}, price=2 * VCN)
    waited = int(net.job(template)["posted_height"]) - user_drip
    assert WAIT <= waited <= WAIT + 2

    o = Oracle(net, OracleState(chain_id=net.client.chain_id(), job_mix=[template]))
    rec = o.driver.plan()
    assert rec is not None
    o.driver.prepared(rec.local_id, EXPECTED, None)
    o.state.max_job_id = template
    oracle_seq = o.sequence()
    o.driver.act()
    assert rec.stage == "funded"  # claimed; now waiting as the template's poster did
    assert net.client.balance(rec.poster) == drip
    # the oracle sent one tx (the pool's bulk top-up: it held less than a drip), none to the key
    assert o.sequence() == oracle_seq + 1
    pool = net.client.query("drip", "pool")
    assert int(pool["balance"]) == (POOL_TOP_UP_DRIPS - 1) * drip  # the top-up, less the drip
    net.wait_for(lambda: rec.stage == "committed", timeout=60, step=o.driver.act)
    canary_wait = rec.posted_height - dripped_height(net, rec.poster)
    assert waited <= canary_wait <= waited + 2

    # the job is over: the key's leftover goes into the pool, not to the oracle
    rec.stage = "final"
    held, before, oracle_bal = (
        net.client.balance(rec.poster),
        int(net.client.query("drip", "pool")["balance"]),
        net.client.balance(ORACLE.bech32),
    )
    o.driver.act()
    assert rec.stage == "done"
    fee = 120_000 * net.client.min_gas_price()
    assert int(net.client.query("drip", "pool")["balance"]) - before == held - fee
    assert net.client.balance(ORACLE.bech32) == oracle_bal
    assert json.dumps(o.state.to_json())  # the state file still serialises


def pool_balance(net: Net) -> int:
    return int(net.client.query("drip", "pool")["balance"])


def test_a_persona_posts_its_canaries_from_one_drip_a_real_gap_apart_and_sweeps_after_the_last(
    net: Net,
) -> None:
    gap = 5
    o = persona_canary(net, jobs=3, gaps=[gap])
    persona = only_persona(o)
    oracle_seq = o.sequence()
    net.wait_for(
        lambda: (
            persona.posted == 3 and all(c.stage == "committed" for c in o.state.canaries.values())
        ),
        timeout=90,
        step=lambda: step(o),
    )
    canaries = o.state.canaries_of(persona.persona_id)
    assert [c.index for c in canaries] == [0, 1, 2]
    assert {c.poster for c in canaries} == {persona.poster}
    ids = [c.job_id for c in canaries]
    assert [int(j["id"]) for j in jobs_posted_by(net, persona.poster)] == ids
    heights = [c.posted_height for c in canaries]
    gaps = [b - a for a, b in zip(heights, heights[1:], strict=False)]
    assert all(gap <= g <= gap + 2 for g in gaps), heights
    # one drip paid all three: the oracle sent the pool's top-up (if any) and precommits only
    drip = int(net.client.query("drip", "params")["drip_amount"])
    assert net.client.balance(persona.poster) < drip - 3 * 2 * VCN
    assert o.sequence() - oracle_seq <= 1 + 3
    assert (persona.ended, persona.swept) == ("posted all", False)

    # the first two jobs are over: the persona keeps its coin until its last one is
    held = net.client.balance(persona.poster)
    canaries[0].stage = canaries[1].stage = "final"
    o.driver.act()
    assert [c.stage for c in canaries] == ["done", "done", "committed"] and not persona.swept
    assert net.client.balance(persona.poster) == held
    canaries[2].stage = "final"
    before = pool_balance(net)
    o.driver.act()
    assert persona.swept and canaries[2].stage == "done"
    fee = 120_000 * net.client.min_gas_price()
    assert pool_balance(net) - before == held - fee


def test_a_persona_that_cannot_pay_its_next_canary_ends_and_sweeps_after_its_last_job(
    net: Net,
) -> None:
    drip = int(net.client.query("drip", "params")["drip_amount"])
    price = drip * 6 // 10  # the drip pays one such canary, not two
    o = persona_canary(net, jobs=3, gaps=[2], price=price)
    persona = only_persona(o)
    net.wait_for(lambda: persona.ended != "", timeout=90, step=lambda: step(o))
    first, second = o.state.canaries_of(persona.persona_id)
    assert persona.ended == "spent" and (persona.planned, persona.posted) == (2, 1)
    assert (second.stage, second.outcome) == ("done", "not posted: its persona cannot pay it")
    assert [int(j["id"]) for j in jobs_posted_by(net, persona.poster)] == [first.job_id]
    o.driver.act()
    assert not persona.swept and len(o.state.canaries) == 2  # its job is still open
    first.stage = "final"
    o.driver.act()
    assert persona.swept
    assert net.client.balance(persona.poster) <= 120_000 * net.client.min_gas_price()
