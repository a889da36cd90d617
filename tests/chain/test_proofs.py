"""Merkle proofs served by Query(prove=True), checked as a light client would."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from app.app import App
from chain.crypto import PrivateKey
from chain.smt import Proof
from chain.store import StoreProof, verify_proof
from modules.auth import keys as auth_keys
from modules.bank import keys as bank_keys
from tests.support.chain import ALICE, BOB, VCN, Chain, assert_ok, test_key


def _proved(chain: Chain, module: str, key: bytes) -> tuple[bytes | None, StoreProof]:
    """Query with prove=True and parse the answer through JSON, as a client receives it."""
    q = chain.app.query(f"/store/{module}/key", key, prove=True)
    assert q.code == 0, q.log
    assert q.height == chain.height
    assert q.proof is not None
    proof = StoreProof.from_json(json.loads(json.dumps(q.proof)))
    return (q.value or None), proof


def _bal_key(who: PrivateKey) -> bytes:
    return bank_keys.balance(who.address, "avcn")


def test_balance_proof_verifies_against_info_app_hash(chain: Chain) -> None:
    chain.block([chain.send(ALICE, BOB, 3 * VCN), chain.send(test_key(0), BOB, 1)])
    chain.block([chain.send(BOB, ALICE, 2)])
    app_hash = chain.app.info().last_block_app_hash
    value, proof = _proved(chain, "bank", _bal_key(BOB))
    assert value is not None and int.from_bytes(value, "big") == chain.balance(BOB)
    assert verify_proof(app_hash, proof, _bal_key(BOB), value)
    # an account proves just as well, from another module's tree
    acc_key = auth_keys.account(ALICE.address)
    acc_value, acc_proof = _proved(chain, "auth", acc_key)
    assert acc_value is not None
    assert verify_proof(app_hash, acc_proof, acc_key, acc_value)


def test_tampered_proofs_fail(chain: Chain) -> None:
    chain.block([chain.send(ALICE, BOB, 5), chain.send(test_key(1), test_key(2), 9)])
    app_hash = chain.app_hash
    key = _bal_key(BOB)
    value, proof = _proved(chain, "bank", key)
    assert value is not None
    assert verify_proof(app_hash, proof, key, value)
    inner = proof.inner
    assert inner.siblings, "a tree of this size has siblings on every path"

    for i in range(len(inner.siblings)):
        sib = list(inner.siblings)
        sib[i] = bytes(b ^ 0xFF for b in sib[i])
        bad = replace(proof, inner=Proof(inner.key, sib, inner.leaf))
        assert not verify_proof(app_hash, bad, key, value), f"changed sibling {i}"

    more = (int.from_bytes(value, "big") + 1).to_bytes(len(value) + 1, "big")
    assert not verify_proof(app_hash, proof, key, more), "changed value"
    assert not verify_proof(app_hash, proof, key, None), "claimed absent"
    assert inner.leaf is not None
    forged_leaf = Proof(inner.key, inner.siblings, (inner.leaf[0], bytes(32)))
    assert not verify_proof(app_hash, replace(proof, inner=forged_leaf), key, value)

    alice_key = _bal_key(ALICE)
    assert not verify_proof(app_hash, proof, alice_key, value), "wrong key"
    moved = replace(proof, inner=Proof(alice_key, inner.siblings, inner.leaf))
    assert not verify_proof(app_hash, moved, alice_key, value), "proof moved to another key"

    roots = dict(proof.roots)
    roots["bank"] = bytes(32)
    assert not verify_proof(app_hash, replace(proof, roots=roots), key, value), "bank root"
    roots = dict(proof.roots)
    roots["auth"] = bytes(a ^ 1 for a in roots["auth"])
    assert not verify_proof(app_hash, replace(proof, roots=roots), key, value), "other root"
    assert not verify_proof(app_hash, replace(proof, module="auth"), key, value), "module"
    assert not verify_proof(app_hash, replace(proof, module="nope"), key, value), "no module"

    # a proof from an older state does not verify against the new app hash
    chain.block([chain.send(ALICE, BOB, 1)])
    assert not verify_proof(chain.app_hash, proof, key, value)
    new_value, new_proof = _proved(chain, "bank", key)
    assert verify_proof(chain.app_hash, new_proof, key, new_value)


def test_absence_proof_for_a_never_used_key(chain: Chain) -> None:
    chain.block([chain.send(ALICE, BOB, 5)])
    stranger = PrivateKey.from_seed(b"never seen on chain")
    key = _bal_key(stranger)
    value, proof = _proved(chain, "bank", key)
    assert value is None
    assert verify_proof(chain.app_hash, proof, key, None)
    assert not verify_proof(chain.app_hash, proof, key, b"\x01"), "absent key claimed present"
    # an absence proof says nothing about another, present key
    present = _bal_key(BOB)
    assert not verify_proof(chain.app_hash, proof, present, None)
    moved = replace(proof, inner=Proof(present, proof.inner.siblings, proof.inner.leaf))
    assert not verify_proof(chain.app_hash, moved, present, None)


def test_proof_of_a_deleted_balance_shows_absence(chain: Chain) -> None:
    # send test_key(3)'s whole balance away (less the fee): its balance key is removed
    k = test_key(3)
    fee = 200_000 * 1_000_000_000
    everything = chain.balance(k) - fee
    assert_ok(chain.deliver_one(chain.send(k, BOB, everything)))
    assert chain.balance(k) == 0
    value, proof = _proved(chain, "bank", _bal_key(k))
    assert value is None
    assert verify_proof(chain.app_hash, proof, _bal_key(k), None)


def reference_app_hash(app: App) -> bytes:
    """The app hash recomputed from scratch over everything the store holds."""
    import hashlib

    from tests.chain.test_smt import reference_root

    h = hashlib.sha256(b"\x03")
    for name in app.module_names():
        state = dict(app.store.module_kv(name).iterate())
        n = name.encode()
        h.update(len(n).to_bytes(1, "big") + n + reference_root(state))
    return h.digest()


def test_app_hash_commits_to_exactly_the_stored_state(chain: Chain) -> None:
    assert chain.app_hash == reference_app_hash(chain.app)  # genesis
    for i in range(5):
        chain.block(
            [chain.send(test_key(i), test_key(i + 10), 1 + i), chain.send(ALICE, BOB, i + 1)]
        )
        assert chain.app_hash == reference_app_hash(chain.app)
    # a spent-out account's balance key goes away and the hash follows
    k = test_key(20)
    assert_ok(chain.deliver_one(chain.send(k, BOB, chain.balance(k) - 200_000 * 10**9)))
    assert chain.app_hash == reference_app_hash(chain.app)


def test_a_malformed_proof_is_refused_with_a_value_error(chain: Chain) -> None:
    """Proof JSON comes from an untrusted node: every malformation is a ValueError
    that says what is wrong (not an assert, which ``python -O`` removes)."""
    _, proof = _proved(chain, "bank", _bal_key(BOB))
    good = proof.to_json()
    inner = dict(good["inner"])  # type: ignore[call-overload]
    cases: list[tuple[object, str]] = [
        ([], "not a JSON object"),
        ({**good, "roots": ["bank"]}, "roots"),
        ({**good, "roots": {"bank": 7}}, "roots"),
        ({**good, "module": None}, "module"),
        ({**good, "inner": "x"}, "not a JSON object"),
        ({**good, "inner": {**inner, "siblings": "ab"}}, "siblings"),
        ({**good, "inner": {**inner, "siblings": [1]}}, "siblings"),
        ({**good, "inner": {**inner, "key": 5}}, "key"),
        ({**good, "inner": {**inner, "leaf": ["aa"]}}, "leaf"),
        ({**good, "inner": {**inner, "key": "zz"}}, "hex"),
    ]
    for doc, says in cases:
        with pytest.raises(ValueError, match=says):
            StoreProof.from_json(doc)
    assert StoreProof.from_json(good) == proof
