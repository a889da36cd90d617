"""Artifact-store tokens (``sdk/vectors/artifact_tokens.json``): the file is what the
node's key code generates, the node's ``artifact_token`` and the Python SDK make every
token byte for byte (the node credits each to its account), the SDK's upload and its
job-output fetch carry the token the node verifies, and bad input is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from vcoin_sdk import EthKey, InputError, Key, NodeError, ops
from vcoin_sdk.artifacts import (
    AUTH_SCHEME,
    artifact_token,
    artifact_token_at,
    token_payload,
    typed_key,
)
from vcoin_sdk.ops import Http, Reply, State

import chain.artifacts
from chain.artifact_auth import artifact_token as node_artifact_token
from chain.artifact_auth import verify_token
from chain.crypto import (
    ETH_SECP256K1,
    SECP256K1,
    PrivateKey,
    key_address,
    to_bech32,
    verify_signature,
)

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "sdk" / "vectors" / "artifact_tokens.py"
FILE: dict[str, Any] = json.loads((REPO / "sdk/vectors/artifact_tokens.json").read_text())
TOKENS = {t["name"]: t for t in FILE["artifact_tokens"]}


def _key(v: dict[str, Any]) -> Key | EthKey:
    secret = bytes.fromhex(v["private_key"])
    return EthKey(secret) if v["algo"] == "eth_secp256k1" else Key(secret)


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify(token: str) -> dict[str, Any]:
    """What the node checks: the signature by ``pub`` over the payload; the payload."""
    p64, s64 = token.split(".")
    assert "=" not in token and "+" not in token and "/" not in token
    payload, sig = _b64url_decode(p64), _b64url_decode(s64)
    obj: dict[str, Any] = json.loads(payload)
    assert verify_signature(base64.b64decode(obj["pub"]), sig, payload)
    return obj


def test_the_file_equals_a_fresh_generation() -> None:
    r = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert FILE["auth_scheme"] == AUTH_SCHEME == "VCoin-Artifact"
    assert {t["algo"] for t in TOKENS.values()} == {"secp256k1", "eth_secp256k1"}
    assert {t["op"] for t in TOKENS.values()} == {"get", "put"}


@pytest.mark.parametrize("v", FILE["artifact_tokens"], ids=lambda v: v["name"])
def test_the_node_makes_each_vector_token_and_credits_its_account(v: dict[str, Any]) -> None:
    algo = {"secp256k1": SECP256K1, "eth_secp256k1": ETH_SECP256K1}[v["algo"]]
    key = PrivateKey(bytes.fromhex(v["private_key"]), algo)
    tok = node_artifact_token(key, v["op"], v["sha256"], ttl_s=600, now=v["exp"] - 600)
    assert tok == v["token"]
    assert vars(chain.artifacts)["artifact_token"] is node_artifact_token  # what the store uses
    account = verify_token(tok, v["op"], v["sha256"], now=v["exp"] - 1)
    assert to_bech32(account) == v["address"] == to_bech32(key_address(key.account_key))


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_the_sdk_makes_each_token_byte_for_byte(name: str) -> None:
    v = TOKENS[name]
    key = _key(v)
    assert typed_key(key).hex() == v["typed_key"]
    assert key.address == v["address"]  # the account the node credits the token to
    assert to_bech32(key_address(typed_key(key))) == v["address"]
    assert token_payload(key, v["op"], v["sha256"], v["exp"]).decode() == v["payload"]
    tok = artifact_token_at(key, v["op"], v["sha256"], v["exp"])
    assert tok == v["token"]
    assert _b64url_decode(tok.split(".")[1]).hex() == v["signature"]
    # the same token from a clock that reads exp - ttl
    assert artifact_token(key, v["op"], v["sha256"], 600, now=v["exp"] - 600 + 0.9) == tok
    assert _verify(tok) == {"exp": v["exp"], "op": v["op"], "pub": json.loads(v["payload"])["pub"],
                            "sha256": v["sha256"], "v": 1}  # fmt: skip


def test_bad_token_input_is_refused() -> None:
    key = _key(TOKENS["put_secp256k1"])
    digest = "ab" * 32
    with pytest.raises(InputError, match="'get' or 'put'"):
        artifact_token(key, "delete", digest)  # type: ignore[arg-type]
    for bad in ("ab" * 31, "zz" * 32, "", "ab" * 32 + "\n"):
        with pytest.raises(InputError, match="64 hex digits"):
            artifact_token(key, "get", bad)
    for ttl in (0, -5, 3601, 1.5, True):
        with pytest.raises(InputError, match="ttl"):
            artifact_token(key, "get", digest, ttl)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="Key or an EthKey"):
        artifact_token(b"\x01" * 32, "get", digest)  # type: ignore[arg-type]
    # upper-case hex names the same blob: the token carries it in lower case
    assert _verify(artifact_token(key, "get", digest.upper()))["sha256"] == digest


def _auth(step: Http) -> str:
    (header,) = [v for k, v in step.headers if k == "Authorization"]
    scheme, token = header.split(" ")
    assert scheme == AUTH_SCHEME
    return token


@pytest.mark.parametrize("name", ["put_secp256k1", "put_eth_secp256k1"])
def test_an_upload_carries_the_uploaders_put_token(name: str) -> None:
    key = _key(TOKENS[name])
    data = b"uploaded bytes"
    digest = hashlib.sha256(data).hexdigest()
    gen = ops.put_artifact(State(), key, data)
    step = next(gen)
    assert isinstance(step, Http) and step.method == "PUT" and step.content == data
    assert step.path == f"/artifacts/{digest}"
    obj = _verify(_auth(step))
    assert obj["op"] == "put" and obj["sha256"] == digest
    assert to_bech32(verify_token(_auth(step), "put", digest)) == key.address  # the node's check
    assert base64.b64decode(obj["pub"]) == typed_key(key)
    with pytest.raises(StopIteration) as done:
        gen.send(Reply(201, b'{"sha256": "%s"}' % digest.encode()))
    assert done.value.value == digest
    # the node's refusals reach the caller with their status and message
    gen = ops.put_artifact(State(), key, data)
    next(gen)
    with pytest.raises(NodeError, match="quota") as e:
        gen.send(Reply(413, b'{"error": "quota_exceeded", "message": "over the quota"}'))
    assert e.value.status == 413


def test_a_job_output_fetch_carries_the_readers_get_token() -> None:
    key = _key(TOKENS["get_eth_secp256k1"])
    out = b'{"texts": ["settled output"]}'
    digest = hashlib.sha256(out).hexdigest()
    gen = ops.job_output(State(), 7, key)
    step = next(gen)  # the job query
    assert isinstance(step, Http) and step.base == "rpc"
    job = {"id": "7", "state": "settled", "output_hash": digest}
    value = base64.b64encode(json.dumps(job).encode()).decode()
    step = gen.send(Reply(200, json.dumps({"jsonrpc": "2.0", "id": 1, "result": {
        "response": {"code": 0, "value": value}}}).encode()))  # fmt: skip
    assert isinstance(step, Http) and step.method == "GET"
    assert step.path == f"/artifacts/{digest}"
    obj = _verify(_auth(step))
    assert obj["op"] == "get" and obj["sha256"] == digest
    assert to_bech32(verify_token(_auth(step), "get", digest)) == key.address
    with pytest.raises(StopIteration) as done:
        gen.send(Reply(200, out))
    assert done.value.value == out
    # without a key no token is sent; the node's 401 says a key is wanted
    gen = ops.fetch_artifact(State(), digest)
    assert next(gen).headers == ()  # type: ignore[union-attr]
    with pytest.raises(NodeError, match="wants a token") as e:
        gen.send(Reply(401, b'{"error": "unauthorized", "message": "no token"}'))
    assert e.value.status == 401
