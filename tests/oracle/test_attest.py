"""What the oracle signs is what the chain verifies: attestations through a real App.

The oracle's keys go through their real files (encrypted ed25519 key on disk),
its comparison through ``oracle.similarity``, and its message through
``oracle.attest``; the chain is an App in a temp dir driven block by block.
Refusals (forged signature, another chain id, an oracle that is not bonded)
must leave the job, its tally and the oracle's balance as they were, except
the fee a failed tx pays.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from app.app import App
from chain.keystore import WrongPassphrase
from oracle import attest
from oracle.keys import load_ed25519, save_ed25519
from oracle.similarity import Comparison
from tests.support.chain import test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, code, output_of

WORKER, POSTER, ORACLE, OTHER = test_key(0), test_key(10), test_key(20), test_key(21)
ALWAYS = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}


@pytest.fixture
def signer(tmp_path: Path) -> SigningKey:
    """The oracle's ed25519 key, stored encrypted and loaded back as the daemon does."""
    path = tmp_path / "keys" / "oracle.ed25519.json"
    save_ed25519(path, SigningKey.generate(), "correct horse battery", cost="interactive")
    return load_ed25519(path, "correct horse battery")


def picked_job(m: Market) -> int:
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(WORKER, jid).code == 0
    assert m.submit(WORKER, jid, output=output_of(jid, honest=False)).code == 0
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    return jid


def market(make_app: Callable[..., App], signer: SigningKey, oracles: int = 1) -> Market:
    m = Market(make_app(market_genesis(verification=ALWAYS)))
    assert m.bond(ORACLE, "oracle", 10_000 * VCN, bytes(signer.verify_key)).code == 0
    if oracles > 1:
        other = SigningKey.generate()
        assert m.bond(OTHER, "oracle", 10_000 * VCN, bytes(other.verify_key)).code == 0
    m.setup_worker(WORKER)
    return m


def comparison(verdict: str) -> Comparison:
    sim = 10_000 if verdict == "pass" else 3_141
    return Comparison("text-generation", "exact-sha256", sim, verdict == "pass", {"exact": False})


def test_key_file_is_private_and_needs_its_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "o.ed25519.json"
    key = SigningKey.generate()
    pub = save_ed25519(path, key, "correct horse battery", cost="interactive")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert bytes(key).hex() not in path.read_text()  # the seed is not in clear
    assert json.loads(path.read_text())["public_key"] == pub
    assert bytes(load_ed25519(path, "correct horse battery")) == bytes(key)
    with pytest.raises(WrongPassphrase):
        load_ed25519(path, "wrong horse battery")


def test_signed_attestation_is_accepted_and_decides_the_job(
    make_app: Callable[..., App], signer: SigningKey
) -> None:
    m = market(make_app, signer)
    jid = picked_job(m)
    job = m.q("jobs", "job", id=jid)
    cmp = comparison("fail")
    ev = attest.evidence(m.app.chain_id, job, cmp, ORACLE.bech32)
    msg = attest.attest_for(signer, ORACLE.bech32, m.app.chain_id, jid, cmp, ev)
    r = m.tx(ORACLE, msg)
    assert r.code == 0, r.log
    assert ev.hash == hashlib.sha256(ev.raw).digest()
    att = [dict(e.attributes) for e in r.events if e.type == "Attested"][0]
    assert att["oracle"] == ORACLE.bech32 and att["verdict"] == "fail"
    assert att["similarity_bps"] == "3141"
    assert m.job(jid).state == "rejected"  # the only oracle: its stake is the quorum
    doc = json.loads(ev.raw)
    assert doc["job_id"] == str(jid) and doc["worker_output_hash"] == job["output_hash"]


@pytest.mark.parametrize("case", ["forged", "other_chain", "not_bonded", "pass_below_threshold"])
def test_bad_attestations_are_refused_and_change_nothing(
    make_app: Callable[..., App], signer: SigningKey, case: str
) -> None:
    m = market(make_app, signer, oracles=2)  # two oracles: one vote decides nothing
    jid = picked_job(m)
    job = m.q("jobs", "job", id=jid)
    cmp = comparison("pass")
    ev = attest.evidence(m.app.chain_id, job, cmp, ORACLE.bech32)
    sender, chain_id, key, sim = ORACLE, m.app.chain_id, signer, 10_000
    want = ("verification", 8)  # bad signature
    if case == "forged":
        key = SigningKey.generate()  # not the key registered with the bond
    elif case == "other_chain":
        chain_id = "vcoin-other-1"
    elif case == "not_bonded":
        sender, want = test_key(30), ("verification", 3)
    else:
        sim, want = 9_499, ("verification", 9)
    msg = attest.attest_msg(key, sender.bech32, chain_id, jid, "pass", sim, ev.hash)
    before = (m.q("verification", "status", job_id=jid), m.q("jobs", "job", id=jid))
    r = m.tx(sender, msg)
    assert code(r) == want, r.log
    assert (m.q("verification", "status", job_id=jid), m.q("jobs", "job", id=jid)) == before
    assert m.job(jid).state == "checking"
