"""The training module's REST routes (``app/rest/training.py``) with a real HTTP client
against a node in this process: alice posts three distributed trainings (no worker: their
round-0 shard jobs stay queued), bob none. Each answer equals what ``abci_query``
(``/custom/training/…`` through chain.client's NodeClient) answers; the poster's list is
paged the Cosmos SDK way at, under and over its length; an unknown training or job is a
404 that says what is missing; the routes are in /openapi.json and the answers have the
shapes it declares."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from chain.client import NodeClient
from genesis.devnet import dev_key
from modules.training import msgs as tm
from tests.support.nodes import inproc_node

ALICE, BOB = dev_key("alice"), dev_key("bob")
VCN = 10**18
BASE = "/vcoin/training/v1"
ROUTES = {
    f"{BASE}/trainings/{{id}}",
    f"{BASE}/trainings",
    f"{BASE}/by_job/{{job_id}}",
    f"{BASE}/params",
}


@dataclass
class World:
    client: NodeClient
    http: httpx.Client
    ids: list[int]  # alice's trainings
    openapi: dict[str, Any]

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def ok(self, path: str, **params: Any) -> Any:
        r = self.get(path, **params)
        assert r.status_code == 200, r.text
        self.check_schema(path, 200, r.json())
        return r.json()

    def check_schema(self, path: str, status: int, body: Any) -> None:
        for template, item in self.openapi["paths"].items():
            if re.fullmatch(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)), path):
                content = item["get"]["responses"][str(status)]["content"]
                Draft202012Validator(content["application/json"]["schema"]).validate(body)
                return
        raise AssertionError(f"{path} is not in /openapi.json")


def post(shards: int, rounds: int, seed: int) -> tm.MsgPostTraining:
    return tm.MsgPostTraining(
        poster=ALICE.bech32, model="tiny-lm", dataset="d" * 64, manifest="e" * 64, records=8,
        shards=shards, rounds=rounds, steps=2, rank=4, alpha=8, target_modules=["q_proj"],
        lr_micro=1000, batch_size=2, seed=seed, max_length=32, aggregation="ffa-mean",
        price_per_shard=str(VCN), aggregate_price=str(VCN // 10),
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with inproc_node(tmp_path_factory.mktemp("rest-training"), block_time_ms=100) as n:
        client = NodeClient(f"http://{n.cfg.rpc_laddr}", timeout=30.0)
        ids = []
        for i, (shards, rounds) in enumerate(((2, 1), (3, 2), (1, 1))):
            resp = client.send_tx(ALICE, [post(shards, rounds, i)], gas="auto")
            assert resp.ok, resp.log
            ids.append(int(resp.attributes("TrainingPosted", "training_id")[-1]))
        with httpx.Client(base_url=f"http://{n.cfg.rest_laddr}", timeout=30.0) as http:
            openapi = http.get("/openapi.json").json()
            yield World(client, http, ids, openapi)
        client.close()


def test_a_training_by_id_is_the_chains_record_with_its_rounds(world: World) -> None:
    for tid in world.ids:
        got = world.ok(f"{BASE}/trainings/{tid}")["training"]
        assert got == world.client.query("training", "training", {"id": tid})
    t = world.ok(f"{BASE}/trainings/{world.ids[1]}")["training"]
    assert (t["poster"], t["state"], t["shards"], t["rounds"]) == (ALICE.bech32, "running", 3, 2)
    assert t["escrow_left"] == str(2 * (3 * VCN + VCN // 10) - 3 * VCN)  # round 0's posted
    (rd,) = t["rounds_detail"]
    assert [s["shard"] for s in rd["shards"]] == [0, 1, 2]
    assert all(s["state"] == "open" and s["job_id"] for s in rd["shards"])


def test_an_unknown_training_or_job_is_a_404_that_says_what_is_missing(world: World) -> None:
    r = world.get(f"{BASE}/trainings/999")
    assert r.status_code == 404 and "no training 999" in r.json()["message"], r.text
    world.check_schema(f"{BASE}/trainings/999", 404, r.json())
    r = world.get(f"{BASE}/by_job/999999")
    assert r.status_code == 404, r.text
    assert "job 999999 is not a training's job" in r.json()["message"]
    for path, name in ((f"{BASE}/trainings/x1", "id"), (f"{BASE}/by_job/-3", "job_id")):
        r = world.get(path)
        assert r.status_code == 400 and name in r.json()["message"], r.text


def test_by_job_names_the_training_round_and_shard(world: World) -> None:
    t = world.client.query("training", "training", {"id": world.ids[1]})
    for s in t["rounds_detail"][0]["shards"]:
        ref = world.ok(f"{BASE}/by_job/{s['job_id']}")["ref"]
        assert ref == {"training": world.ids[1], "round": 0, "shard": s["shard"]}
        assert ref == world.client.query("training", "by_job", {"job_id": s["job_id"]})


def test_a_posters_trainings_page_the_cosmos_way(world: World) -> None:
    url = f"{BASE}/trainings"
    whole = world.ok(url, poster=ALICE.bech32)
    assert [t["id"] for t in whole["trainings"]] == world.ids
    assert whole["pagination"] == {"next_key": None, "total": "0"}
    assert (
        whole["trainings"]
        == world.client.query("training", "trainings", {"poster": ALICE.bech32})["trainings"]
    )
    hex_addr = "0x" + ALICE.address.hex()
    assert world.ok(url, poster=hex_addr)["trainings"] == whole["trainings"]
    # under the length: two pages by next_key
    p1 = world.ok(url, poster=ALICE.bech32, **{"pagination.limit": 2})
    assert [t["id"] for t in p1["trainings"]] == world.ids[:2]
    key = p1["pagination"]["next_key"]
    assert key and base64.b64decode(key)
    p2 = world.ok(url, poster=ALICE.bech32, **{"pagination.limit": 2, "pagination.key": key})
    assert [t["id"] for t in p2["trainings"]] == world.ids[2:]
    assert p2["pagination"]["next_key"] is None
    # at the length: one page, no next key; over it: the same
    for limit in (3, 4):
        pg = world.ok(url, poster=ALICE.bech32, **{"pagination.limit": limit})
        assert [t["id"] for t in pg["trainings"]] == world.ids
        assert pg["pagination"]["next_key"] is None
    rev = world.ok(url, poster=ALICE.bech32, **{"pagination.reverse": "true",
                                                "pagination.count_total": "true"})  # fmt: skip
    assert [t["id"] for t in rev["trainings"]] == world.ids[::-1]
    assert rev["pagination"]["total"] == "3"
    off = world.ok(url, poster=ALICE.bech32, **{"pagination.offset": 1})
    assert [t["id"] for t in off["trainings"]] == world.ids[1:]
    assert world.ok(url, poster=BOB.bech32) == {
        "trainings": [],
        "pagination": {"next_key": None, "total": "0"},
    }
    for params, name in (({}, "poster"), ({"poster": "vcoin1nope"}, "poster")):
        r = world.get(url, **params)
        assert r.status_code == 400 and name in r.json()["message"], r.text


def test_params_and_the_openapi_document(world: World) -> None:
    assert world.ok(f"{BASE}/params")["params"] == world.client.query("training", "params", {})
    paths = world.openapi["paths"]
    assert ROUTES <= set(paths)
    for path in ROUTES:
        assert paths[path]["get"]["tags"] == ["training"]
    params = {p["name"] for p in paths[f"{BASE}/trainings"]["get"]["parameters"]}
    assert {"poster", "pagination.key", "pagination.limit"} <= params
    assert "404" in paths[f"{BASE}/trainings/{{id}}"]["get"]["responses"]
