"""The official ``openai`` client against the gateway's inference endpoints, on a devnet-like
marketplace (``vcoind`` with 1 s blocks, a worker serving ``tiny-lm`` and
``all-minilm-l6-v2``, an oracle): what the client gets equals the chain's settled output,
and the spend limits hold: the key's cap at the gateway, the user's authz grant on chain
(a ``MsgExec`` past it is refused; a revoked grant stops the gateway at once).

One marketplace and one gateway (uvicorn on a free port, SQLite store: the store's two
back ends are covered by the other gateway tests) for the whole file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from chain.artifacts import ArtifactClient
from chain.client import NodeClient, TxFailed
from chain.crypto import PrivateKey
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.proto import exec_post_job
from modules.authz.msgs import MsgExec, MsgRevoke
from modules.jobs.msgs import MsgPostJob
from tests.gateway.on_market import create_key, funded_genesis, gateway_on_market, login

VCN = 10**18
POST_JOB = "/vcoin.jobs.v1.MsgPostJob"
USER = PrivateKey(hashlib.sha256(b"vcoin-gateway-test-user").digest())
GATEWAY = PrivateKey(hashlib.sha256(b"vcoin-gateway-test-gateway").digest())
GRANT = 20 * VCN
PRICE = VCN  # each job's escrow (the gateway's max_price setting)


@dataclass
class Env:
    node: NodeClient
    rest: str
    base_url: str
    gw: str  # the gateway's root URL
    key: str  # an API key of USER (cap 10 VCN)
    market: Any
    cfg: GatewayConfig


def _genesis() -> dict[str, Any]:
    return funded_genesis(USER, GATEWAY)


def _login(gw: str, key: PrivateKey) -> str:
    return login(gw, key)


def _new_key(gw: str, token: str, cap: int) -> str:
    return str(create_key(gw, token, name="t", spend_cap=str(cap))["key"])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("gw-openai")
    with gateway_on_market(
        tmp, _genesis(), user=USER, gateway=GATEWAY, grant=GRANT, max_price=PRICE
    ) as s:
        key = _new_key(s.gw, _login(s.gw, USER), 10 * VCN)
        yield Env(s.node, s.rest, s.base_url, s.gw, key, s.market, s.cfg)


def client(env: Env, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=env.base_url, api_key=key or env.key, max_retries=0)


def settled_output(env: Env, vcoin: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The job on chain (settled, posted by USER) and its output, hash-checked."""
    job = env.node.query("jobs", "job", {"id": str(vcoin["job_id"])})
    assert job["state"] == "settled" == vcoin["state"], job
    assert job["poster"] == USER.bech32  # the user's job and escrow, not the gateway's
    out = ArtifactClient(env.rest, USER).download_bytes(job["output_hash"])  # the poster reads
    assert hashlib.sha256(out).hexdigest() == job["output_hash"]
    return job, out


def test_spend_is_counted_per_key_within_its_cap(store_url: str) -> None:
    """Both back ends: ``add_spent`` stops at the cap; ``refund_spent`` gives back."""
    from gateway.store import ApiKeyRow, open_store

    store = open_store(store_url)
    try:
        store.add_key(ApiKeyRow("k1", USER.bech32, "", "h", ("completions",), 10, 0, 60, 0, None))
        assert store.add_spent("k1", 6) and not store.add_spent("k1", 5)
        assert store.add_spent("k1", 4) and not store.add_spent("k1", 1)
        store.refund_spent("k1", 7)
        row = store.get_key("k1")
        assert row is not None and row.spent == 3
        assert not store.add_spent("no-such-key", 1)
    finally:
        store.close()


def test_the_gateway_signs_the_same_bytes_as_the_modules_messages() -> None:
    post: dict[str, Any] = {
        "poster": USER.bech32, "task_type": "text-generation", "model": "tiny-lm",
        "inline_input": b"{}", "spec": "", "max_price": "5", "min_gpu_count": 1,
    }  # fmt: skip
    ref = MsgExec(grantee=GATEWAY.bech32)
    ref.msgs.add().Pack(MsgPostJob(**post), type_url_prefix="/")
    assert exec_post_job(GATEWAY.bech32, **post).SerializeToString() == ref.SerializeToString()


def test_a_completion_equals_the_settled_output(env: Env) -> None:
    r = client(env).completions.create(model="tiny-lm", prompt="The GPU marketplace", max_tokens=8)
    vcoin = r.model_extra["vcoin"] if r.model_extra else {}
    job, out = settled_output(env, vcoin)
    done = json.loads(out)["completions"]
    assert r.choices[0].text == done[0]["completion"] and done[0]["prompt"] == "The GPU marketplace"
    assert r.usage is not None and r.usage.completion_tokens == len(done[0]["token_ids"]) > 0
    assert vcoin["tx_hash"] and json.loads(job["spec"]) == {"params": {"max_new_tokens": 8}}
    # the key's spent is what the chain paid for the job (the rest of the escrow came back)
    keys = httpx.get(
        f"{env.gw}/v1/keys", headers={"Authorization": f"Bearer {_login(env.gw, USER)}"}
    ).json()["data"]
    assert int(keys[0]["spent"]) == int(job["paid"]) > 0


def test_a_streamed_completion_and_a_chat_completion(env: Env) -> None:
    c = client(env)
    chunks = list(c.completions.create(model="tiny-lm", prompt="Hello", max_tokens=6, stream=True))
    text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
    vcoin = next(
        ch.model_extra["vcoin"] for ch in chunks if ch.model_extra and "vcoin" in ch.model_extra
    )
    _, out = settled_output(env, vcoin)
    assert text == json.loads(out)["completions"][0]["completion"]
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")

    msgs: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    r = c.chat.completions.create(model="tiny-lm", messages=msgs, max_tokens=6)
    vcoin = r.model_extra["vcoin"] if r.model_extra else {}
    _, out = settled_output(env, vcoin)
    done = json.loads(out)["completions"][0]
    assert done["prompt"] == "system: Be brief.\nuser: Hi\nassistant:"
    assert r.choices[0].message.content == done["completion"]
    assert r.object == "chat.completion" and r.choices[0].message.role == "assistant"


def test_embeddings_equal_the_settled_tensor(env: Env) -> None:
    from safetensors.numpy import load

    r = client(env).embeddings.create(model="all-minilm-l6-v2", input=["hello", "a GPU market"])
    vcoin = r.model_extra["vcoin"] if r.model_extra else {}
    _, out = settled_output(env, vcoin)
    want = load(out)["embeddings"]
    assert want.shape[0] == 2 == len(r.data)
    for row, d in zip(want, r.data, strict=True):
        assert d.embedding == [float(x) for x in row]


def test_a_streamed_chat_completion_is_chat_completion_chunks(env: Env) -> None:
    msgs: Any = [{"role": "user", "content": "Tell me"}]
    chunks = list(
        client(env).chat.completions.create(
            model="tiny-lm", messages=msgs, max_tokens=4, stream=True
        )
    )
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0].choices[0].delta.role == "assistant"
    vcoin = (chunks[-1].model_extra or {})["vcoin"]
    _, out = settled_output(env, vcoin)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == json.loads(out)["completions"][0]["completion"]
    assert chunks[-1].usage is not None and chunks[-1].choices[0].finish_reason in (
        "stop",
        "length",
    )


def test_a_job_that_does_not_settle_in_time_is_504_naming_it(env: Env) -> None:
    from fastapi.testclient import TestClient

    cfg = env.cfg.with_(job_timeout_s=0.2)  # the same store, key and account
    with TestClient(create_app(cfg)) as c:
        r = c.post(
            "/v1/completions",
            json={"model": "tiny-lm", "prompt": "slow", "max_tokens": 2},
            headers={"Authorization": f"Bearer {env.key}"},
        )
    assert r.status_code == 504, r.text
    err = r.json()["error"]
    assert err["code"] == "job_timeout"
    job_id = int(err["message"].split()[1])
    assert env.node.query("jobs", "job", {"id": str(job_id)})["poster"] == USER.bech32


def test_a_key_over_its_cap_gets_402_and_nothing_is_posted(env: Env) -> None:
    small = _new_key(env.gw, _login(env.gw, USER), VCN // 2)  # under one job's escrow
    before = len(env.node.query("jobs", "jobs", {"poster": USER.bech32})["jobs"])
    with pytest.raises(openai.APIStatusError) as e:
        client(env, small).completions.create(model="tiny-lm", prompt="x", max_tokens=2)
    assert e.value.status_code == 402 and "spend cap" in str(e.value)
    assert len(env.node.query("jobs", "jobs", {"poster": USER.bech32})["jobs"]) == before


def test_bad_requests_get_openai_errors(env: Env) -> None:
    c = client(env)
    with pytest.raises(openai.NotFoundError):
        c.completions.create(model="no-such-model", prompt="x")
    with pytest.raises(openai.BadRequestError):
        c.completions.create(model="tiny-lm", prompt="x", max_tokens=5000)
    with pytest.raises(openai.BadRequestError):  # tiny-lm does no embeddings
        c.embeddings.create(model="tiny-lm", input="x")
    with pytest.raises(openai.AuthenticationError):
        client(env, "vk_not-a-key").completions.create(model="tiny-lm", prompt="x")


def test_a_msg_exec_past_the_grant_is_refused_by_the_chain(env: Env) -> None:
    left = int(
        env.node.query(
            "authz", "grant",
            {"granter": USER.bech32, "grantee": GATEWAY.bech32, "msg_type_url": POST_JOB},
        )["spend_limit"]["amount"]
    )  # fmt: skip
    msg = exec_post_job(GATEWAY.bech32, poster=USER.bech32, task_type="text-generation",
                        model="tiny-lm", inline_input=b'{"prompts":["x"]}',
                        max_price=str(left + 1))  # fmt: skip
    with pytest.raises(TxFailed) as e:
        env.node.send_tx(GATEWAY, [msg], gas=400_000)
    assert e.value.codespace == "authz", e.value


def test_a_revoked_grant_stops_the_gateway_at_once(env: Env) -> None:
    revoke = MsgRevoke(granter=USER.bech32, grantee=GATEWAY.bech32, msg_type_url=POST_JOB)
    assert env.node.send_tx(USER, [revoke], gas="auto").ok
    before = len(env.node.query("jobs", "jobs", {"poster": USER.bech32})["jobs"])
    with pytest.raises(openai.APIStatusError) as e:
        client(env).completions.create(model="tiny-lm", prompt="x", max_tokens=2)
    assert e.value.status_code == 402, e.value
    body: Any = e.value.body
    assert body["code"] == "grant_refused" and "authz" in body["message"], body
    assert len(env.node.query("jobs", "jobs", {"poster": USER.bech32})["jobs"]) == before
