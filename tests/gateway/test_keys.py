"""API keys: created with a session token, listed, revoked; shown once and stored hashed;
scopes, per-key rate limits, spend caps within the user's authz grant to the gateway,
and a burst of bad keys limited per client address. SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from app.node import Node
from chain.client import NodeClient
from chain.coins import DENOM
from gateway.auth import SCOPES, key_hash
from gateway.store import Store
from modules.authz.msgs import MsgGrant
from tests.gateway.conftest import GATEWAY_ACCOUNT, Gw, bearer, login_chain, login_eth, new_key
from tests.support.chain import ALICE, VCN

GRANT = 10 * VCN  # what alice lets the gateway's account spend on her jobs


@pytest.fixture(scope="module")
def alice_grant(node: Node) -> Iterator[int]:
    msg = MsgGrant(
        granter=ALICE.bech32,
        grantee=GATEWAY_ACCOUNT.bech32,
        msg_type_url="/vcoin.jobs.v1.MsgPostJob",
        expiration_height=0,
    )
    msg.spend_limit.denom = DENOM
    msg.spend_limit.amount = str(GRANT)
    with NodeClient(f"http://{node.cfg.rpc_laddr}") as c:
        assert c.send_tx(ALICE, [msg]).ok
    yield GRANT


def models(gw: Gw, key: str) -> httpx.Response:
    return gw.client.get("/v1/models", headers=bearer(key))


def test_create_list_revoke(gw: Gw) -> None:
    token = login_eth(gw.client)
    k = new_key(gw.client, token, name="laptop", scopes=["models", "completions"], rate_limit=30)
    assert k["key"].startswith("vk_") and k["scopes"] == ["models", "completions"]
    assert (k["name"], k["rate_limit"], k["spend_cap"], k["revoked"]) == ("laptop", 30, "0", None)
    k2 = new_key(gw.client, token)
    assert k2["scopes"] == list(SCOPES) and k2["rate_limit"] == gw.cfg.default_rate_limit
    listed = gw.client.get("/v1/keys", headers=bearer(token)).json()["data"]
    assert sorted(x["id"] for x in listed) == sorted([k["id"], k2["id"]])
    assert all("key" not in x for x in listed)  # the secret is shown once
    # stored hashed: no column holds the key
    store: Store = gw.app.state.store
    row = store.get_key(k["id"])
    assert row is not None and row.key_hash == key_hash(k["key"])
    assert k["key"] not in repr(row)
    # another user sees none of them and cannot revoke them
    other = login_eth(gw.client)
    assert gw.client.get("/v1/keys", headers=bearer(other)).json()["data"] == []
    r = gw.client.delete(f"/v1/keys/{k['id']}", headers=bearer(other))
    assert r.status_code == 404 and r.json()["error"]["code"] == "key_not_found"
    assert models(gw, k["key"]).status_code == 200
    r = gw.client.delete(f"/v1/keys/{k['id']}", headers=bearer(token))
    assert r.status_code == 200 and r.json()["deleted"] is True
    listed = gw.client.get("/v1/keys", headers=bearer(token)).json()["data"]
    assert {x["id"]: x["revoked"] is not None for x in listed} == {k["id"]: True, k2["id"]: False}
    assert gw.client.delete(f"/v1/keys/{k['id']}", headers=bearer(token)).status_code == 404


def test_a_revoked_key_is_401_at_once(gw: Gw) -> None:
    token = login_eth(gw.client)
    k = new_key(gw.client, token)
    assert models(gw, k["key"]).status_code == 200
    assert gw.client.delete(f"/v1/keys/{k['id']}", headers=bearer(token)).status_code == 200
    r = models(gw, k["key"])
    assert r.status_code == 401
    assert r.json()["error"] == {
        "message": "this API key has been revoked",
        "type": "authentication_error",
        "code": "invalid_api_key",
        "param": None,
    }
    # a wrong secret under a real id, and garbage, are 401 too
    assert models(gw, k2 := new_key(gw.client, token)["key"]).status_code == 200
    assert models(gw, k2[:-4] + "AAAA").status_code == 401
    assert models(gw, "vk_nope").status_code == 401
    assert gw.client.get("/v1/models").status_code == 401  # no key at all


def test_a_key_without_the_scope_is_403(gw: Gw) -> None:
    token = login_eth(gw.client)
    k = new_key(gw.client, token, scopes=["completions"])
    r = models(gw, k["key"])
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "insufficient_scope"
    r = gw.client.post("/v1/keys", json={"scopes": ["root"]}, headers=bearer(token))
    assert r.status_code == 400 and r.json()["error"]["param"] == "scopes"


def test_a_session_token_is_not_an_api_key(gw: Gw) -> None:
    token = login_eth(gw.client)
    assert models(gw, token).status_code == 401
    k = new_key(gw.client, token)
    assert gw.client.get("/v1/keys", headers=bearer(k["key"])).status_code == 401


def test_rate_limit_at_under_and_over(gw: Gw) -> None:
    token = login_eth(gw.client)
    k = new_key(gw.client, token, rate_limit=3)
    other = new_key(gw.client, token, rate_limit=3)
    assert [models(gw, k["key"]).status_code for _ in range(2)] == [200, 200]  # under
    assert models(gw, k["key"]).status_code == 200  # at: the third of 3 a minute
    r = models(gw, k["key"])  # over
    assert r.status_code == 429
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(r.headers["retry-after"]) >= 1
    # the limit is the key's: another key of the same user still has its three
    assert [models(gw, other["key"]).status_code for _ in range(4)] == [200, 200, 200, 429]
    too_many = {"rate_limit": gw.cfg.max_rate_limit + 1}
    assert gw.client.post("/v1/keys", json=too_many, headers=bearer(token)).status_code == 400


def test_spend_cap_within_the_grant(gw: Gw, alice_grant: int) -> None:
    token = login_chain(gw.client, ALICE)
    k = new_key(gw.client, token, spend_cap=str(alice_grant))
    assert k["spend_cap"] == str(alice_grant) and k["owner"] == ALICE.bech32
    r = gw.client.post("/v1/keys", json={"spend_cap": str(alice_grant + 1)}, headers=bearer(token))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "spend_cap_above_grant" and str(alice_grant) in err["message"]
    # a user with no grant may have keys, but none that can spend
    stranger = login_eth(gw.client)
    assert new_key(gw.client, stranger)["spend_cap"] == "0"
    r = gw.client.post("/v1/keys", json={"spend_cap": "1"}, headers=bearer(stranger))
    assert r.status_code == 400 and r.json()["error"]["code"] == "spend_cap_above_grant"
    r = gw.client.post("/v1/keys", json={"spend_cap": "-5"}, headers=bearer(stranger))
    assert r.status_code == 400 and r.json()["error"]["param"] == "spend_cap"


def test_a_burst_of_bad_keys_is_limited_without_slowing_good_ones(gw: Gw) -> None:
    token = login_eth(gw.client)
    good = new_key(gw.client, token, rate_limit=gw.cfg.max_rate_limit)["key"]
    app = gw.app

    async def run() -> tuple[list[int], list[float], list[float]]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.66", 5000))
        bad_c = httpx.AsyncClient(transport=transport, base_url="https://gateway.test")
        transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 5000))
        good_c = httpx.AsyncClient(transport=transport, base_url="https://gateway.test")
        codes: list[int] = []

        async def timed_good() -> float:
            t0 = time.perf_counter()
            r = await good_c.get("/v1/models", headers=bearer(good))
            assert r.status_code == 200, r.text
            return time.perf_counter() - t0

        async def attack() -> None:
            # 1,000 bad keys, 50 at a time (50 connections of one attacker)
            for start in range(0, 1000, 50):
                batch = [
                    bad_c.get("/v1/models", headers=bearer(f"vk_{i:012x}_forged{i}"))
                    for i in range(start, start + 50)
                ]
                codes.extend(r.status_code for r in await asyncio.gather(*batch))

        async def good_during(task: asyncio.Task[None]) -> list[float]:
            out = []
            while not task.done() or len(out) < 5:
                out.append(await timed_good())
            return out

        quiet = [await timed_good() for _ in range(20)]
        task = asyncio.create_task(attack())
        during = await good_during(task)
        await task
        await bad_c.aclose()
        await good_c.aclose()
        return codes, quiet, during

    codes, quiet, during = asyncio.run(run())
    limit = gw.cfg.bad_key_limit
    assert codes.count(401) == limit and codes.count(429) == 1000 - limit
    # the refused ones cost no lookup: the store saw only the first `limit` bad keys
    m = app.state.metrics
    assert m.auth_failures.labels("unknown")._value.get() == limit
    assert m.rate_limited.labels("client")._value.get() == 1000 - limit
    # and the good client was not held up: every request answered 200 during the burst
    # (the client and the app share one event loop here, so each good request also
    # waits for up to 50 bad ones being answered 429, well under a millisecond each)
    assert len(during) >= 5
    assert statistics.median(during) < max(0.25, 50 * statistics.median(quiet)), (quiet, during)
    # the bad client stays limited; the good one is not
    assert gw.client.get("/v1/models", headers=bearer(good)).status_code == 200
