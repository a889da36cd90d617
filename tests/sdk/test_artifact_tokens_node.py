"""The Python SDK's artifact tokens against a real node (in process) that requires them: a
signed upload and read work for a secp256k1 and an eth_secp256k1 account; an unsigned
upload, a wrong-blob, wrong-op, expired or too-long token is a 401, another account's
read a 403; a ``?token=`` link works."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from vcoin_sdk import Client, EthKey, Key, NodeError
from vcoin_sdk.artifacts import AUTH_SCHEME, artifact_token, artifact_token_at

from app.node import Node
from genesis.devnet import DEV_BALANCE, dev_key, genesis_doc
from tests.support.nodes import inproc_node

ALICE = Key(dev_key("alice").secret)
BOB = Key(dev_key("bob").secret)
ETH = EthKey(hashlib.sha256(b"vcoin sdk artifact test eth key").digest())


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    doc = genesis_doc(extra_balances={ETH.address: DEV_BALANCE})
    with inproc_node(tmp_path_factory.mktemp("artifact-tokens"), doc) as n:
        yield n


@pytest.fixture(scope="module")
def client(node: Node) -> Iterator[Client]:
    with Client(f"http://{node.cfg.rpc_laddr}", f"http://{node.cfg.rest_laddr}") as c:
        yield c


def _raw(node: Node, method: str, digest: str, token: str | None = None,
         content: bytes | None = None) -> httpx.Response:  # fmt: skip
    headers = {"Authorization": f"{AUTH_SCHEME} {token}"} if token else {}
    url = f"http://{node.cfg.rest_laddr}/artifacts/{digest}"
    return httpx.request(method, url, headers=headers, content=content, timeout=30)


@pytest.mark.parametrize("key", [ALICE, ETH], ids=["secp256k1", "eth_secp256k1"])
def test_a_signed_upload_reads_back_to_its_uploader(client: Client, key: Key) -> None:
    data = f"sdk artifact by {key.address}".encode()
    digest = client.put_artifact(key, data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert client.fetch_artifact(digest, key) == data
    # someone else's account may not read it; without a token nobody may
    with pytest.raises(NodeError) as e:
        client.fetch_artifact(digest, BOB)
    assert e.value.status == 403 and "forbidden" in str(e.value)
    with pytest.raises(NodeError, match="wants a token") as e:
        client.fetch_artifact(digest)
    assert e.value.status == 401


def test_the_node_refuses_bad_tokens(node: Node, client: Client) -> None:
    data = b"refusals"
    digest = hashlib.sha256(data).hexdigest()
    other = hashlib.sha256(b"another blob").hexdigest()
    r = _raw(node, "PUT", digest, content=data)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    now = int(time.time())
    bad = {
        "another blob's": artifact_token(ALICE, "put", other),
        "a get": artifact_token(ALICE, "get", digest),
        "an expired": artifact_token_at(ALICE, "put", digest, now - 5),
        "a too-long": artifact_token_at(ALICE, "put", digest, now + 3600 + 120),
        "a tampered": artifact_token(ALICE, "put", digest)[:-3] + "AAA",
    }
    for what, tok in bad.items():
        r = _raw(node, "PUT", digest, tok, data)
        assert r.status_code == 401, (what, r.status_code, r.text)
        assert set(r.json()) >= {"error", "message"}, what
    assert client.put_artifact(ALICE, data) == digest
    # a browser link: the get token in the query
    assert httpx.get(client.artifact_url(digest, ALICE), timeout=30).content == data
    assert httpx.get(client.artifact_url(digest, BOB), timeout=30).status_code == 403
    assert httpx.get(client.artifact_url(digest), timeout=30).status_code == 401
    # the signer is the account in the token's own key: the payload cannot be re-keyed
    p64, s64 = artifact_token(ALICE, "get", digest).split(".")
    doc = json.loads(base64.urlsafe_b64decode(p64 + "=" * (-len(p64) % 4)))
    doc["pub"] = base64.b64encode(BOB.public_key).decode()
    forged = base64.urlsafe_b64encode(json.dumps(doc, sort_keys=True, separators=(",", ":"))
                                      .encode()).rstrip(b"=").decode() + "." + s64  # fmt: skip
    assert _raw(node, "GET", digest, forged).status_code == 401
