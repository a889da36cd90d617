"""The formats on their own: HS256 tokens, EIP-4361 parsing, the ADR-036 sign doc."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from gateway import jwt
from gateway.signin import SignInError, SignInMessage, adr036_sign_doc, parse

MSG = SignInMessage(
    domain="gateway.test",
    kind="Ethereum",
    address="0x71C7656EC7ab88b098defB751B7401B5f6d8976F",
    statement="Sign in to the VCoin gateway.",
    uri="https://gateway.test",
    chain_id="1",
    nonce="32891756",
    issued_at="2026-12-05T10:00:00.000Z",
    expiration_time="2026-12-05T10:05:00.000Z",
)


def test_jwt_round_trip_and_refusals() -> None:
    tok = jwt.encode({"sub": "a", "exp": 200}, b"k")
    assert jwt.decode(tok, b"k", now=199) == {"sub": "a", "exp": 200}
    with pytest.raises(jwt.TokenError, match="expired"):
        jwt.decode(tok, b"k", now=200)
    with pytest.raises(jwt.TokenError, match="bad signature"):
        jwt.decode(tok, b"other", now=0)
    for claims in ({"sub": "a"}, {"sub": "a", "exp": "200"}, {"sub": "a", "exp": True}):
        with pytest.raises(jwt.TokenError, match="no exp"):
            jwt.decode(jwt.encode(claims, b"k"), b"k", now=0)
    # a header other than HS256 is refused even when the HMAC matches
    head = base64.urlsafe_b64encode(json.dumps({"alg": "HS512", "typ": "JWT"}).encode())
    body = tok.split(".")[1]
    h = head.rstrip(b"=").decode()
    sig = hmac.new(b"k", f"{h}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{h}.{body}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    with pytest.raises(jwt.TokenError, match="only HS256"):
        jwt.decode(forged, b"k", now=0)
    for bad in ("", "a.b", "a.b.c.d", tok.replace(".", ".!", 1), "x" * 5000):
        with pytest.raises(jwt.TokenError):
            jwt.decode(bad, b"k", now=0)


def test_eip4361_round_trip_and_strictness() -> None:
    text = MSG.render()
    assert text.splitlines()[:3] == [
        "gateway.test wants you to sign in with your Ethereum account:",
        MSG.address,
        "",
    ]
    assert parse(text) == MSG
    no_statement = SignInMessage(**{**MSG.__dict__, "statement": "", "expiration_time": ""})
    assert parse(no_statement.render()) == no_statement
    for old, new in [
        ("Version: 1", "Version: 2"),
        ("Nonce: 32891756\n", ""),
        ("URI: https://gateway.test\nVersion: 1", "Version: 1\nURI: https://gateway.test"),
        ("Chain ID: 1", "Chain ID: 1\nChain ID: 1"),
        ("wants you to sign in with your Ethereum", "wants you to sign in with your Solana"),
        ("Issued At", "Issued-At"),
    ]:
        with pytest.raises(SignInError):
            parse(text.replace(old, new, 1))
    with pytest.raises(SignInError, match="too long"):
        parse(text + "x" * 5000)


def test_adr036_sign_doc_is_the_amino_json_of_msg_sign_data() -> None:
    doc = adr036_sign_doc("vcoin1abc", b"hello")
    assert doc == (
        b'{"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"",'
        b'"msgs":[{"type":"sign/MsgSignData","value":{"data":"aGVsbG8=","signer":"vcoin1abc"}}],'
        b'"sequence":"0"}'
    )


def test_max_price_is_a_positive_whole_number_of_avcn() -> None:
    from gateway.errors import ApiError
    from gateway.openai_api import max_price

    assert max_price({}, "5") == 5  # the gateway's setting when the request names none
    assert max_price({"max_price": "1"}, "5") == 1  # the least escrow there is
    assert max_price({"max_price": 10**30}, "5") == 10**30
    for bad in ("0", 0, "-1", "1.5", "1e3", "", " 1", "١", True, None):
        with pytest.raises(ApiError) as e:
            max_price({"max_price": bad}, "5")
        assert e.value.status == 400 and e.value.param == "max_price", bad
