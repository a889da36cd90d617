"""The Python SDK's gateway client (``vcoin_sdk.gateway``) and its ``eth_secp256k1`` keys.

Without a node: each ``eth_txs`` vector is what ``sign_tx`` makes with an ``EthKey``, byte
for byte, and each ``personal_sign`` vector what ``EthKey.personal_sign`` makes.

Against ``sdk_devnet`` (a node, a worker, an oracle) and a gateway beside it
(``tests/sdk/gateway_env.py``): the SDK account's coin-type-60 key (``EthKey``) is funded
by the Cosmos key, signs txs of its own on the node (a send back, its authz grant to the
gateway), signs in with EIP-4361 (``personal_sign``) while the Cosmos key signs in with
ADR-036; the keys calls work with the session; completions, a streamed chat completion
(SSE) and embeddings (async client) answer what the chain settled; and each refusal is a
``GatewayError`` with the status and OpenAI's code.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from vcoin_sdk import Client, EthKey, Key, sign_tx
from vcoin_sdk.gateway import (
    AsyncGatewayClient,
    GatewayClient,
    GatewayError,
    GatewayUnavailable,
    grant_msg,
    revoke_msg,
)

from tests.sdk.conftest import SdkDevnet
from tests.sdk.gateway_env import SdkGateway, sdk_gateway

REPO = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((REPO / "sdk" / "vectors" / "vectors.json").read_text())
KEYS = {k["name"]: k for k in VECTORS["keys"]}
VCN = 10**18


# -- vectors (no node) ------------------------------------------------------------------
@pytest.mark.parametrize("vec", VECTORS["eth_txs"], ids=lambda v: str(v["name"]))
def test_eth_tx_vectors_byte_for_byte(vec: dict[str, Any]) -> None:
    from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
    from google.protobuf import json_format
    from vcoin_sdk.proto.jobs.tx_pb2 import MsgPostJob
    from vcoin_sdk.tx import decode_tx

    key = EthKey.from_mnemonic(KEYS[vec["signer"]]["mnemonic"])
    assert key.address == KEYS[vec["signer"]]["ethereum"]["address"]
    types = {
        "/cosmos.bank.v1beta1.MsgSend": MsgSend,
        "/vcoin.jobs.v1.MsgPostJob": MsgPostJob,
    }
    msg = json_format.ParseDict(vec["msg"], types[vec["type_url"]]())
    s = sign_tx(
        key, [msg], chain_id=vec["chain_id"], account_number=int(vec["account_number"]),
        sequence=int(vec["sequence"]), gas_limit=int(vec["gas_limit"]),
        fee=int(vec["fee"][0]["amount"]), memo=vec["memo"],
    )  # fmt: skip
    assert s.body_bytes.hex() == vec["body_bytes"]
    assert s.auth_info_bytes.hex() == vec["auth_info_bytes"]
    assert s.sign_doc.hex() == vec["sign_doc"]
    assert s.signature.hex() == vec["signature"]
    assert s.tx_raw.hex() == vec["tx_raw"] and s.hash == vec["tx_hash"]
    assert decode_tx(s.tx_raw).public_key == key.public_key


def test_personal_sign_vectors() -> None:
    for v in VECTORS["personal_sign"]:
        key = EthKey.from_mnemonic(KEYS[v["signer"]]["mnemonic"])
        assert key.personal_sign(v["message"]).hex() == v["signature"]


def test_a_gateway_that_is_down_is_gateway_unavailable() -> None:
    with GatewayClient("http://127.0.0.1:9", api_key="vk_x", timeout=2) as gw:
        with pytest.raises(GatewayUnavailable, match="did not answer"):
            gw.models()


# -- against a node, a worker and a gateway ---------------------------------------------
@dataclass
class Env:
    devnet: SdkDevnet
    gw: SdkGateway
    client: Client
    cosmos: Key
    eth: EthKey
    api_key: str  # the eth key's, cap 10 VCN


@pytest.fixture(scope="module")
def env(sdk_devnet: SdkDevnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    words = sdk_devnet.mnemonics["python"]
    cosmos, eth = Key.from_mnemonic(words), EthKey.from_mnemonic(words)
    with sdk_gateway(sdk_devnet, tmp_path_factory.mktemp("py-gw"), "python") as gw:
        c = gw.client
        assert c.send(cosmos, eth.eip55_address, "100VCN").ok
        # the eth_secp256k1 key signs its own grant; the Cosmos key grants too
        assert c.send_tx(eth, [grant_msg(eth.address, gw.account, "50VCN")]).ok
        assert c.send_tx(cosmos, [grant_msg(cosmos.address, gw.account, "20VCN")]).ok
        with GatewayClient(gw.url) as g:
            g.login(eth)
            key = g.create_key(name="py", spend_cap="10VCN").key
        yield Env(sdk_devnet, gw, c, cosmos, eth, key)


@pytest.mark.slow
def test_an_eth_secp256k1_key_sends_on_the_node(env: Env) -> None:
    c = env.client
    before = c.balance(env.cosmos.address)
    r = c.send(env.eth, env.cosmos.address, "1.5VCN")
    assert r.ok
    assert c.balance(env.cosmos.address) == before + 3 * VCN // 2
    acc = c.account(env.eth.address)
    assert acc is not None and acc.sequence >= 2  # the grant and this send


@pytest.mark.slow
def test_sign_in_both_ways_and_manage_keys(env: Env) -> None:
    with GatewayClient(env.gw.url) as g:
        s = g.login(env.eth)  # EIP-4361, personal_sign
        assert s.address == env.eth.address and s.eth_address == env.eth.eip55_address
        k = g.create_key(name="tmp", scopes=["models"], rate_limit=5)
        assert k.key.startswith("vk_") and k.scopes == ("models",) and k.owner == env.eth.address
        assert k.id in {x.id for x in g.keys()}
        with GatewayClient(env.gw.url, api_key=k.key) as api:
            assert {"tiny-lm", "all-minilm-l6-v2"} <= {m["id"] for m in api.models()}
            with pytest.raises(GatewayError) as e:  # a key without the scope
                api.completions("tiny-lm", "x", max_tokens=2)
            assert e.value.status == 403
            g.revoke_key(k.id)
            with pytest.raises(GatewayError) as e:
                api.models()
            assert e.value.status == 401 and e.value.type == "authentication_error"
        with pytest.raises(GatewayError) as e:
            g.revoke_key(k.id)
        assert e.value.status == 404 and e.value.code == "key_not_found"
    with GatewayClient(env.gw.url) as g:
        s = g.login(env.cosmos)  # ADR-036
        assert s.address == env.cosmos.address
        assert g.keys() == []  # the eth account's keys are not this account's
        with pytest.raises(GatewayError) as e:  # a cap above the grant (20 VCN)
            g.create_key(spend_cap="21VCN")
        assert e.value.status == 400 and e.value.code == "spend_cap_above_grant"
    with GatewayClient(env.gw.url, token="not-a-jwt") as g, pytest.raises(GatewayError) as e:
        g.keys()
    assert e.value.status == 401 and e.value.code == "invalid_token"


def _settled(env: Env, vcoin: dict[str, Any]) -> bytes:
    job = env.client.job(int(vcoin["job_id"]))
    assert job.state == "settled" == vcoin["state"] and job.poster == env.eth.address
    return env.client.job_output(job.id, env.eth)  # hash-checked; read signed by the poster


@pytest.mark.slow
def test_a_completion_and_a_streamed_chat_equal_the_settled_outputs(env: Env) -> None:
    with GatewayClient(env.gw.url, api_key=env.api_key) as api:
        r = api.completions("tiny-lm", "The GPU marketplace", max_tokens=6)
        done = json.loads(_settled(env, r["vcoin"]))["completions"][0]
        assert r["choices"][0]["text"] == done["completion"]
        assert r["usage"]["completion_tokens"] == len(done["token_ids"]) > 0
        chunks = list(api.chat_stream("tiny-lm", [{"role": "user", "content": "Hi"}], max_tokens=4))
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    done = json.loads(_settled(env, chunks[-1]["vcoin"]))["completions"][0]
    assert text == done["completion"] and done["prompt"] == "user: Hi\nassistant:"


@pytest.mark.slow
def test_embeddings_with_the_async_client(env: Env) -> None:
    async def go() -> dict[str, Any]:
        async with AsyncGatewayClient(env.gw.url, api_key=env.api_key) as api:
            assert len(await api.models()) >= 2
            return await api.embeddings("all-minilm-l6-v2", ["hello", "a GPU market"])

    r = asyncio.run(go())
    out = _settled(env, r["vcoin"])
    (n,) = struct.unpack_from("<Q", out, 0)
    t = json.loads(out[8 : 8 + n])["embeddings"]
    rows, dim = t["shape"]
    start, end = t["data_offsets"]
    flat = struct.unpack(f"<{rows * dim}f", out[8 + n + start : 8 + n + end])
    assert rows == 2 == len(r["data"])
    for i, d in enumerate(r["data"]):
        assert d["embedding"] == list(flat[i * dim : (i + 1) * dim])
    assert hashlib.sha256(out).hexdigest() == env.client.job(int(r["vcoin"]["job_id"])).output_hash


@pytest.mark.slow
def test_refusals_are_gateway_errors_with_status_and_code(env: Env) -> None:
    def refused(api: GatewayClient, **kw: Any) -> GatewayError:
        with pytest.raises(GatewayError) as e:
            api.completions(**{"model": "tiny-lm", "prompt": "x", "max_tokens": 2, **kw})
        return e.value

    with GatewayClient(env.gw.url, api_key="vk_nope_nope") as api:
        e = refused(api)
        assert e.status == 401 and e.type == "authentication_error"
    with GatewayClient(env.gw.url, api_key=env.api_key) as api:
        e = refused(api, model="no-such-model")
        assert e.status == 404 and e.type == "not_found_error"
        e = refused(api, max_tokens=0)
        assert e.status == 400 and e.param == "max_tokens"
    with GatewayClient(env.gw.url) as g:
        g.login(env.eth)
        small = g.create_key(spend_cap=VCN // 2).key  # under one job's escrow (1 VCN)
        slow = g.create_key(scopes=["models"], rate_limit=1).key
    posted = len(env.client.jobs(poster=env.eth.address))
    with GatewayClient(env.gw.url, api_key=small) as api:
        e = refused(api)
        assert e.status == 402 and e.type == "insufficient_quota"
    assert len(env.client.jobs(poster=env.eth.address)) == posted  # nothing was posted
    with GatewayClient(env.gw.url, api_key=slow) as api:
        api.models()
        with pytest.raises(GatewayError) as ex:
            api.models()
        assert ex.value.status == 429 and ex.value.type == "rate_limit_error"


@pytest.mark.slow
def test_a_streamed_completion_with_the_async_client(env: Env) -> None:
    async def go() -> list[dict[str, Any]]:
        async with AsyncGatewayClient(env.gw.url, api_key=env.api_key) as api:
            stream = api.completions_stream("tiny-lm", ["Hello", "A GPU"], max_tokens=4)
            return [c async for c in stream]

    chunks = asyncio.run(go())
    assert {c["object"] for c in chunks} == {"text_completion"}
    done = json.loads(_settled(env, chunks[-1]["vcoin"]))["completions"]
    texts = ["", ""]
    for c in chunks:
        ch = c["choices"][0]
        texts[ch["index"]] += ch["text"]
    assert texts == [d["completion"] for d in done]
    assert [d["prompt"] for d in done] == ["Hello", "A GPU"]
    assert chunks[-1]["usage"]["completion_tokens"] == sum(len(d["token_ids"]) for d in done)


@pytest.mark.slow
def test_a_revoked_grant_stops_the_gateway(env: Env) -> None:
    """The Cosmos key's own budget: revoked on chain (``revoke_msg``), the gateway's
    MsgExec for it is refused by the chain and the key gets 402; nothing is posted."""
    with GatewayClient(env.gw.url) as g:
        g.login(env.cosmos)
        key = g.create_key(name="revoked", spend_cap="5VCN").key
    assert env.client.send_tx(env.cosmos, [revoke_msg(env.cosmos.address, env.gw.account)]).ok
    posted = len(env.client.jobs(poster=env.cosmos.address))
    with GatewayClient(env.gw.url, api_key=key) as api, pytest.raises(GatewayError) as e:
        api.completions("tiny-lm", "x", max_tokens=2)
    assert e.value.status == 402 and e.value.type == "insufficient_quota"
    assert len(env.client.jobs(poster=env.cosmos.address)) == posted
