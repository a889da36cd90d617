"""Wallet sign-in: EIP-4361 with a real eth_account key, ADR-036 with a chain key, and
what is refused (another domain, a reused or old nonce, a wrong signature, expired and
forged session tokens). Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json
import time

from eth_account import Account

from chain.crypto import PrivateKey, from_bech32, to_bech32
from gateway import jwt
from gateway.signin import parse
from tests.gateway.conftest import (
    DOMAIN,
    SECRET,
    Gw,
    adr036_sign,
    bearer,
    challenge,
    eth_sign,
    login_chain,
    login_eth,
)


def refused(gw: Gw, body: dict[str, str], why: str) -> None:
    r = gw.client.post("/v1/auth/login", json=body)
    assert r.status_code == 401, r.text
    err = r.json()["error"]
    assert err["type"] == "authentication_error" and err["code"] == "signin_refused"
    assert why in err["message"], err["message"]


def test_siwe_login_gives_a_jwt_for_the_account(gw: Gw) -> None:
    acct = Account.create()
    ch = challenge(gw.client, acct.address)
    m = parse(ch["message"])
    assert (m.domain, m.uri, m.kind, m.address) == (
        DOMAIN,
        "https://gateway.test",
        "Ethereum",
        acct.address,
    )
    assert m.chain_id == ch["chain_id"] and m.chain_id.isdigit() and m.nonce == ch["nonce"]
    r = gw.client.post(
        "/v1/auth/login",
        json={"message": ch["message"], "signature": eth_sign(acct, ch["message"])},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    want = to_bech32(bytes.fromhex(acct.address[2:]))
    assert out["address"] == want and out["eth_address"].lower() == acct.address.lower()
    claims = jwt.decode(out["access_token"], SECRET.encode())
    assert claims["sub"] == want and claims["exp"] - claims["iat"] == gw.cfg.jwt_ttl_s
    assert gw.client.get("/v1/keys", headers=bearer(out["access_token"])).status_code == 200


def test_adr036_login_with_a_chain_key(gw: Gw) -> None:
    key = PrivateKey()
    ch = challenge(gw.client, key.bech32)
    m = parse(ch["message"])
    assert m.kind == "Cosmos" and m.address == key.bech32 and m.chain_id == "vcoin-devnet-1"
    token = login_chain(gw.client, key)
    assert jwt.decode(token, SECRET.encode())["sub"] == key.bech32


def test_a_wrong_signature_is_refused(gw: Gw) -> None:
    acct, other = Account.create(), Account.create()
    msg = challenge(gw.client, acct.address)["message"]
    refused(gw, {"message": msg, "signature": eth_sign(other, msg)}, "not the address's")
    refused(gw, {"message": msg, "signature": "0x" + "11" * 65}, "signature")
    # the same text, signed by the right key after those tries: the nonce was not burned
    ok = gw.client.post("/v1/auth/login", json={"message": msg, "signature": eth_sign(acct, msg)})
    assert ok.status_code == 200
    key, stranger = PrivateKey(), PrivateKey()
    msg = challenge(gw.client, key.bech32)["message"]
    refused(gw, {"message": msg, **adr036_sign(stranger, msg)}, "pub_key is not the key")
    forged = adr036_sign(key, msg.replace("Sign in", "Sign in!"))
    refused(gw, {"message": msg, **forged}, "does not verify")
    # a pub_key that is the address's with another key's signature
    wrong = {**adr036_sign(stranger, msg), "pub_key": adr036_sign(key, msg)["pub_key"]}
    refused(gw, {"message": msg, **wrong}, "does not verify")


def test_a_message_for_another_domain_or_chain_is_refused(gw: Gw) -> None:
    acct = Account.create()
    msg = challenge(gw.client, acct.address)["message"]
    for old, new, why in [
        (f"{DOMAIN} wants", "evil.test wants", "is for 'evil.test'"),
        ("URI: https://gateway.test", "URI: https://evil.test", "URI"),
        ("Chain ID: ", "Chain ID: 9", "chain id"),
    ]:
        bad = msg.replace(old, new, 1)
        assert bad != msg
        refused(gw, {"message": bad, "signature": eth_sign(acct, bad)}, why)


def test_a_nonce_is_single_use_and_expires(gw: Gw) -> None:
    acct = Account.create()
    msg = challenge(gw.client, acct.address)["message"]
    body = {"message": msg, "signature": eth_sign(acct, msg)}
    assert gw.client.post("/v1/auth/login", json=body).status_code == 200
    refused(gw, body, "nonce is unknown, used or expired")
    # an old challenge: the nonce's lifetime has passed
    msg = challenge(gw.client, acct.address)["message"]
    gw.clock.t += gw.cfg.nonce_ttl_s + 1
    refused(gw, {"message": msg, "signature": eth_sign(acct, msg)}, "expired")
    # a nonce issued to another address
    other = Account.create()
    theirs = parse(challenge(gw.client, other.address)["message"]).nonce
    mine = challenge(gw.client, acct.address)["message"]
    stolen = mine.replace(parse(mine).nonce, theirs)
    refused(gw, {"message": stolen, "signature": eth_sign(acct, stolen)}, "nonce")
    # a nonce never issued
    made_up = mine.replace(parse(mine).nonce, "ab" * 16)
    refused(gw, {"message": made_up, "signature": eth_sign(acct, made_up)}, "nonce")


def test_a_message_issued_long_ago_is_refused_even_with_a_live_nonce(gw: Gw) -> None:
    acct = Account.create()
    msg = challenge(gw.client, acct.address)["message"]
    m = parse(msg)
    old = msg.replace(f"Issued At: {m.issued_at}", "Issued At: 2020-01-01T00:00:00Z")
    old = old.replace(
        f"Expiration Time: {m.expiration_time}", "Expiration Time: 2020-01-01T00:05:00Z"
    )
    refused(gw, {"message": old, "signature": eth_sign(acct, old)}, "too old")


def test_expired_and_forged_tokens_are_refused(gw: Gw) -> None:
    token = login_eth(gw.client)
    sub = jwt.decode(token, SECRET.encode())["sub"]

    def status(t: str) -> int:
        r = gw.client.get("/v1/keys", headers=bearer(t))
        if r.status_code == 401:
            assert r.json()["error"]["code"] == "invalid_token"
        return r.status_code

    assert status(token) == 200
    now = int(time.time())
    claims = {"sub": sub, "aud": "vcoin-gateway", "iat": now, "exp": now + 600}
    assert status(jwt.encode(claims, b"another-secret")) == 401  # forged: another key
    head, body, sig = token.split(".")
    other = (
        base64.urlsafe_b64encode(json.dumps({**claims, "sub": to_bech32(b"\x01" * 20)}).encode())
        .rstrip(b"=")
        .decode()
    )
    assert status(f"{head}.{other}.{sig}") == 401  # claims changed under the old signature
    none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    assert status(f"{none}.{body}.") == 401  # alg none
    assert status(token + "x") == 401
    # an expired token: the clock passes its exp
    gw.clock.t += gw.cfg.jwt_ttl_s + 1
    assert status(token) == 401
    assert "expired" in gw.client.get("/v1/keys", headers=bearer(token)).json()["error"]["message"]
    assert from_bech32(sub)  # the subject is a chain account


def test_challenge_refuses_a_bad_address(gw: Gw) -> None:
    r = gw.client.get("/v1/auth/challenge", params={"address": "vcoin1notanaddress"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "address"
