"""What a refused canary reveal says, and the end of a commitment nobody opens, where
scripts/mutation showed no test held them: a canary (not a plant) is named as one, with
its poster as the controller; a commitment left unrevealed past ``canary_ttl_blocks``
is dropped at exactly that height with a ``CanaryExpired`` event and can no longer be
opened."""

from __future__ import annotations

from collections.abc import Callable

from app.app import App
from modules.verification import canary
from tests.support.chain import block_events, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, output_of

W1, POSTER, O1 = test_key(0), test_key(11), test_key(20)
NONE = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 20}
SALT = bytes(range(16))
TTL = 6


def market(make_app: Callable[..., App]) -> Market:
    m = Market(make_app(market_genesis(verification={**NONE, "canary_ttl_blocks": TTL})))
    assert m.bond_oracle(O1, "o1").code == 0
    m.setup_worker(W1, price_floor=VCN)
    return m


def test_a_refused_canary_reveal_calls_it_a_canary(make_app: Callable[..., App]) -> None:
    m = market(make_app)
    jid = m.post(POSTER, max_price=2 * VCN)
    expected = output_of(jid)
    # committed, but after the claim
    assert m.claim(W1, jid).code == 0
    assert m.commit_canary(O1, jid, expected, SALT).code == 0
    assert m.submit(W1, jid, output=output_of(jid, honest=False)).code == 0
    r = m.reveal_canary(O1, jid, expected, SALT, POSTER)
    assert "a canary must be committed before the claim" in r.log, r.log
    # no commitment matches (another salt)
    r = m.reveal_canary(O1, jid, expected, bytes(16), POSTER)
    assert f"no canary commitment of {O1.bech32} matches" in r.log, r.log
    # committed in time, but unsigned
    other = m.post(POSTER, max_price=2 * VCN)
    assert m.commit_canary(O1, other, output_of(other), SALT).code == 0
    assert m.claim(W1, other).code == 0
    assert m.submit(W1, other, output=output_of(other, honest=False)).code == 0
    r = m.reveal_canary(O1, other, output_of(other), SALT, None)
    assert "a canary reveal must prove the revealer controls the job's poster" in r.log, r.log
    assert m.job(jid).state == m.job(other).state == "submitted"


def test_an_unopened_commitment_expires_at_its_ttl(make_app: Callable[..., App]) -> None:
    m = market(make_app)
    jid = m.post(POSTER, max_price=2 * VCN)
    expected = output_of(jid)
    assert m.commit_canary(O1, jid, expected, SALT).code == 0
    committed = m.height
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid, output=output_of(jid, honest=False)).code == 0
    blocks = m.blocks_until(committed + TTL)
    assert blocks[-1].height == committed + TTL
    assert block_events(blocks[:-1], "CanaryExpired") == []  # not a block early
    assert block_events(blocks[-1:], "CanaryExpired") == [
        {"commitment": canary.commitment(jid, expected, SALT).hex()}
    ]
    r = m.reveal_canary(O1, jid, expected, SALT, POSTER)
    assert f"no canary commitment of {O1.bech32} matches" in r.log, r.log
    assert m.job(jid).state == "submitted"  # the cheat was not proven in time
