"""The modules' REST routes (app/rest) against a node in this process with real activity.

One node (no empty blocks, so state holds still between reads) serves every test:
worker1 registers and bonds, oracle1 bonds, alice posts five jobs and grants bob,
worker1 runs the first job, oracle1 attests it (every result is sampled here) and it
settles. Each route's answer is compared with what ``abci_query``
(``/custom/<module>/<query>``, through chain.client's NodeClient) answers, addresses
are given in both forms, and list routes are paged at, under and over their length.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from nacl.signing import SigningKey

from app.node import Node
from chain.client import NodeClient
from chain.config import NodeConfig
from chain.crypto import PrivateKey, to_bech32
from genesis.devnet import CHAIN_ID, DEVNET_MODELS, dev_key, genesis_doc
from modules.authz.msgs import MsgGrant
from modules.jobs import msgs as jm
from modules.jobs import receipt
from modules.verification import attestation
from modules.verification import msgs as vm
from tests.support.chain import VCN, msg_send
from tests.support.genesis import h32
from tests.support.market import IMAGE, oracle_key, output_of
from tests.support.nodes import free_port, wait_up, write_genesis
from tests.support.stake import bond_msg
from tests.support.wait import wait_for

ALICE, BOB = dev_key("alice"), dev_key("bob")
WORKER, ORACLE = dev_key("worker1"), dev_key("oracle1")
POSTS = 5
POST_URL = "/vcoin.jobs.v1.MsgPostJob"
OZ = json.loads((Path(__file__).resolve().parents[2] / "contracts/build/OZToken.json").read_text())
TOKEN_SUPPLY = 12_345 * VCN


def hex_of(key: PrivateKey) -> str:
    return "0x" + key.address.hex()


@dataclass
class World:
    node: Node
    client: NodeClient
    rest: httpx.Client
    jobs: list[int]  # alice's, in id order; the first one settled
    oracle: SigningKey
    token: str  # 0x address of an OZ ERC-20 (supply TOKEN_SUPPLY) deployed by an eth key
    openapi: dict[str, Any]

    def check_schema(self, path: str, status: int, body: Any) -> None:
        """The answer has the shape /openapi.json declares for the route and status."""
        for template, item in self.openapi["paths"].items():
            if re.fullmatch(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)), path):
                schema = item["get"]["responses"][str(status)]["content"]["application/json"]
                errors = list(Draft202012Validator(schema["schema"]).iter_errors(body))
                assert not errors, (path, status, [e.message for e in errors][:5])
                return
        raise AssertionError(f"{path} is not in /openapi.json")

    def get(self, path: str, **params: Any) -> Any:
        r = self.rest.get(path, params=params)
        assert r.status_code == 200, (path, r.status_code, r.text)
        self.check_schema(path, 200, r.json())
        return r.json()

    def error(self, path: str, status: int, **params: Any) -> str:
        r = self.rest.get(path, params=params)
        assert r.status_code == status, (path, r.status_code, r.text)
        body = r.json()
        assert set(body) == {"code", "message", "details"}, body
        assert body["code"] == {400: 3, 404: 5}[status]
        self.check_schema(path, status, body)
        return str(body["message"])

    def abci(self, module: str, name: str, **req: Any) -> Any:
        return self.client.query(module, name, req)

    def walk(self, path: str, limit: int, **params: Any) -> tuple[list[Any], int]:
        """Every item of a list route, page by page through next_key; and the pages read."""
        items: list[Any] = []
        key, pages = "", 0
        field = path.rsplit("/", 1)[-1]
        field = {"queue": "jobs"}.get(field, field)
        while True:
            q = dict(params, **{"pagination.limit": str(limit)})
            if key:
                q["pagination.key"] = key
            out = self.get(path, **q)
            pages += 1
            assert len(out[field]) <= limit
            items.extend(out[field])
            key = out["pagination"]["next_key"]
            if key is None:
                return items, pages
            assert out[field], "a next_key after an empty page"
            assert pages < 100


def deploy_token(node: Node, client: NodeClient) -> str:
    """An OZ ERC-20 deployed by a fresh eth key (funded by a bank send) over the
    Ethereum JSON-RPC; its 0x address."""
    from eth_account import Account

    acct = Account.from_key(h32("rest-modules-eth-key"))
    client.send_tx(ALICE, [msg_send(ALICE, to_bech32(bytes.fromhex(acct.address[2:])), 10 * VCN)])
    url = f"http://{node.cfg.jsonrpc_laddr}"

    def call(method: str, *params: Any) -> Any:
        body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        out = body.json()
        assert "error" not in out, out
        return out["result"]

    data = OZ["bytecode"] + TOKEN_SUPPLY.to_bytes(32, "big").hex()
    tx = {
        "chainId": int(call("eth_chainId"), 16),
        "nonce": 0,
        "data": data,
        "value": 0,
        "gas": 3_000_000,
        "maxFeePerGas": 2 * int(call("eth_gasPrice"), 16) + 10**9,
        "maxPriorityFeePerGas": 10**9,
        "type": 2,
    }
    raw = acct.sign_transaction(tx).raw_transaction
    h = call("eth_sendRawTransaction", "0x" + raw.hex())
    rcpt = wait_for("the deploy's receipt", lambda: call("eth_getTransactionReceipt", h), 30)
    assert rcpt["status"] == "0x1", rcpt
    return str(rcpt["contractAddress"])


def _tiny_lm_hash() -> bytes:
    return bytes.fromhex(next(m for m in DEVNET_MODELS if m["id"] == "tiny-lm")["weights_sha256"])


@contextmanager
def quiet_node(home: Path, genesis: dict[str, Any]) -> Iterator[Node]:
    """A node in this process that makes a block only when txs arrive (``inproc_node``
    waits for a first block, which such a node never makes on its own)."""
    write_genesis(home, genesis)
    node = Node(
        NodeConfig(
            home=str(home),
            instant=True,
            create_empty_blocks=False,
            rpc_laddr=f"127.0.0.1:{free_port()}",
            rest_laddr=f"127.0.0.1:{free_port()}",
            jsonrpc_laddr=f"127.0.0.1:{free_port()}",
            log_level="warning",
        )
    )
    node.start()
    try:
        wait_up(f"http://{node.cfg.rpc_laddr}/health")
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    g = genesis_doc()
    g["app_state"]["verification"]["params"].update(
        new_worker_sample_bps=10_000, max_sample_bps=10_000
    )
    with quiet_node(tmp_path_factory.mktemp("rest"), g) as node:
        client = NodeClient(f"http://{node.cfg.rpc_laddr}")
        rest = httpx.Client(base_url=f"http://{node.cfg.rest_laddr}", timeout=30)
        sk = oracle_key("oracle1")
        register = jm.MsgRegisterWorker(
            worker=WORKER.bech32,
            gpu_model="NVIDIA L4",
            memory_mib=24_000,
            gpu_count=1,
            task_types=["text-generation"],
            models=["tiny-lm"],
            price_floor=str(5 * VCN),
            max_concurrent=4,
        )
        client.send_tx(WORKER, [register, bond_msg(WORKER, "worker", 1_000 * VCN)], gas="auto")
        oracle_bond = bond_msg(ORACLE, "oracle", 10_000 * VCN, bytes(sk.verify_key))
        client.send_tx(ORACLE, [oracle_bond], gas="auto")
        posts = [
            jm.MsgPostJob(
                poster=ALICE.bech32,
                task_type="text-generation",
                model="tiny-lm",
                inline_input=f"prompt {i}".encode(),
                max_price=str((10 + i) * VCN),
                priority=i % 3,
            )
            for i in range(POSTS)
        ]
        r = client.send_tx(ALICE, posts, gas="auto")
        ids = [int(x) for x in r.attributes("JobPosted", "job_id")]
        assert len(ids) == POSTS
        grant = MsgGrant(granter=ALICE.bech32, grantee=BOB.bech32, msg_type_url=POST_URL)
        client.send_tx(ALICE, [grant], gas="auto")

        first = ids[0]
        client.send_tx(WORKER, [jm.MsgClaimJob(worker=WORKER.bech32, job_id=first)], gas="auto")
        job = client.query("jobs", "job", {"id": first})
        out = output_of(first)
        sig = receipt.sign(
            WORKER,
            CHAIN_ID,
            first,
            IMAGE,
            _tiny_lm_hash(),
            bytes.fromhex(job["input_hash"]),
            out,
        )
        submit = jm.MsgSubmitResult(
            worker=WORKER.bech32,
            job_id=first,
            output_hash=out.hex(),
            artifact_ref=f"artifact://{out.hex()}",
            compute_units=100,
            receipt=jm.ExecutionReceipt(
                image_digest=IMAGE,
                model_hash=_tiny_lm_hash().hex(),
                input_hash=job["input_hash"],
                output_hash=out.hex(),
                signature=sig,
            ),
        )
        client.send_tx(WORKER, [submit], gas="auto")
        attested = False
        for _ in range(20):  # one block per bank send: the draw, the attestation, settlement
            status = client.query("verification", "status", {"job_id": first})
            if client.query("jobs", "job", {"id": first})["state"] == "settled":
                break
            pending = status["pending"]
            if not attested and pending is not None and pending["stage"] == "checking":
                evidence = h32(f"evidence:{first}")
                att = vm.MsgAttest(
                    oracle=ORACLE.bech32,
                    job_id=first,
                    verdict="pass",
                    similarity_bps=10_000,
                    evidence_hash=evidence.hex(),
                    signature=attestation.sign(sk, CHAIN_ID, first, "pass", 10_000, evidence),
                )
                client.send_tx(ORACLE, [att], gas="auto")
                attested = True
                continue
            client.send_tx(BOB, [msg_send(BOB, ALICE, 1)])
        assert attested, "the result was never picked for attestation"
        assert client.query("jobs", "job", {"id": first})["state"] == "settled"
        token = deploy_token(node, client)
        try:
            yield World(node, client, rest, ids, sk, token, rest.get("/openapi.json").json())
        finally:
            rest.close()
            client.close()


# -- jobs ---------------------------------------------------------------------------------


def test_job_by_id_is_the_abci_answer_and_an_unknown_id_is_404(world: World) -> None:
    for i in world.jobs:
        assert world.get(f"/vcoin/jobs/v1/jobs/{i}")["job"] == world.abci("jobs", "job", id=i)
    settled = world.get(f"/vcoin/jobs/v1/jobs/{world.jobs[0]}")["job"]
    assert settled["state"] == "settled"
    assert settled["worker"] == WORKER.bech32
    assert int(settled["burned"]) > 0
    assert "no job 999999" in world.error("/vcoin/jobs/v1/jobs/999999", 404)
    assert "id" in world.error("/vcoin/jobs/v1/jobs/abc", 400)
    assert "id" in world.error("/vcoin/jobs/v1/jobs/-1", 400)


def test_jobs_by_poster_in_both_address_forms_and_by_worker_and_state(world: World) -> None:
    want = world.abci("jobs", "jobs", poster=ALICE.bech32, limit=100)["jobs"]
    assert [int(j["id"]) for j in want] == world.jobs
    for who in (ALICE.bech32, hex_of(ALICE), hex_of(ALICE).upper().replace("0X", "0x")):
        out = world.get("/vcoin/jobs/v1/jobs", poster=who)
        assert out["jobs"] == want
        assert out["pagination"] == {"next_key": None, "total": "0"}
    by_worker = world.get("/vcoin/jobs/v1/jobs", worker=hex_of(WORKER))["jobs"]
    assert by_worker == world.abci("jobs", "jobs", worker=WORKER.bech32)["jobs"]
    assert [int(j["id"]) for j in by_worker] == [world.jobs[0]]
    queued = world.get("/vcoin/jobs/v1/jobs", state="queued")["jobs"]
    assert queued == world.abci("jobs", "jobs", state="queued")["jobs"]
    assert sorted(int(j["id"]) for j in queued) == world.jobs[1:]
    settled = world.get("/vcoin/jobs/v1/jobs", state="settled")["jobs"]
    assert [int(j["id"]) for j in settled] == [world.jobs[0]]


def test_jobs_filters_are_checked(world: World) -> None:
    assert "one of state, poster or worker" in world.error("/vcoin/jobs/v1/jobs", 400)
    msg = world.error("/vcoin/jobs/v1/jobs", 400, state="queued", poster=ALICE.bech32)
    assert "state, poster" in msg
    assert "unknown state" in world.error("/vcoin/jobs/v1/jobs", 400, state="nope")
    assert "poster" in world.error("/vcoin/jobs/v1/jobs", 400, poster="vcoin1notanaddress")
    assert "worker" in world.error("/vcoin/jobs/v1/jobs", 400, worker="0x1234")


@pytest.mark.parametrize("params", [{"poster": ALICE.bech32}, {"state": "queued"}])
def test_pagination_under_at_and_over_the_length(world: World, params: dict[str, str]) -> None:
    path = "/vcoin/jobs/v1/jobs"
    everything = world.get(path, **params)["jobs"]
    n = len(everything)
    assert n >= POSTS - 1
    under = world.get(path, **params, **{"pagination.limit": "2"})
    assert under["jobs"] == everything[:2]
    assert under["pagination"]["next_key"]
    at = world.get(path, **params, **{"pagination.limit": str(n)})
    assert at["jobs"] == everything and at["pagination"]["next_key"] is None
    over = world.get(path, **params, **{"pagination.limit": str(n + 5)})
    assert over["jobs"] == everything and over["pagination"]["next_key"] is None
    for limit in (1, 2, 3):
        items, pages = world.walk(path, limit, **params)
        assert items == everything
        assert pages == -(-n // limit)
    counted = world.get(path, **params, **{"pagination.count_total": "true"})
    assert counted["pagination"]["total"] == str(n)
    items, _ = world.walk(path, 2, **params, **{"pagination.count_total": "true"})
    assert items == everything  # count_total on every page still walks the list once
    key = under["pagination"]["next_key"]
    later = {"pagination.key": key, "pagination.limit": "2", "pagination.count_total": "true"}
    assert world.get(path, **params, **later)["jobs"] == everything[2:4]
    rev, _ = world.walk(path, 2, **params, **{"pagination.reverse": "true"})
    assert rev == everything[::-1]
    off = world.get(path, **params, **{"pagination.offset": "2", "pagination.limit": "2"})
    assert off["jobs"] == everything[2:4]


def test_bad_pagination_is_a_400_naming_the_parameter(world: World) -> None:
    path, p = "/vcoin/jobs/v1/jobs", {"poster": ALICE.bech32}
    bad = {
        "pagination.limit": "ten",
        "pagination.offset": "-1",
        "pagination.key": "%%%",
        "pagination.reverse": "maybe",
        "pagination.count_total": "2",
    }
    for name, value in bad.items():
        assert name in world.error(path, 400, **p, **{name: value}), name
    forged = base64.b64encode(b"zz").decode()
    assert "pagination.key" in world.error(path, 400, **p, **{"pagination.key": forged})
    both = {"pagination.key": base64.b64encode(b"a:1").decode(), "pagination.offset": "1"}
    assert "pagination.key or pagination.offset" in world.error(path, 400, **p, **both)
    # a key from a reversed walk cannot silently restart a forward one
    first = world.get(path, **p, **{"pagination.limit": "1", "pagination.reverse": "true"})
    key = first["pagination"]["next_key"]
    again = world.get(path, **p, **{"pagination.key": key, "pagination.reverse": "true"})
    assert again["jobs"] == world.get(path, **p)["jobs"][::-1][1:]


def test_workers_models_queue_params(world: World) -> None:
    workers = world.get("/vcoin/jobs/v1/workers")
    assert workers["workers"] == world.abci("jobs", "workers")["workers"]
    assert [w["address"] for w in workers["workers"]] == [WORKER.bech32]
    for who in (WORKER.bech32, hex_of(WORKER)):
        got = world.get(f"/vcoin/jobs/v1/workers/{who}")["worker"]
        assert got == world.abci("jobs", "worker", address=WORKER.bech32)
    assert "not a registered worker" in world.error(f"/vcoin/jobs/v1/workers/{BOB.bech32}", 404)
    assert "address" in world.error("/vcoin/jobs/v1/workers/vcoin1xyz", 400)

    models = world.get("/vcoin/jobs/v1/models")
    assert models["models"] == world.abci("jobs", "models")["models"]
    assert sorted(m["id"] for m in models["models"]) == ["all-minilm-l6-v2", "tiny-lm"]
    items, pages = world.walk("/vcoin/jobs/v1/models", 1)
    assert items == models["models"] and pages == 2
    assert world.get("/vcoin/jobs/v1/models/tiny-lm")["model"] == world.abci(
        "jobs", "model", id="tiny-lm"
    )
    world.error("/vcoin/jobs/v1/models/no-such-model", 404)

    queue = world.get("/vcoin/jobs/v1/queue")["jobs"]
    assert queue == world.abci("jobs", "queue")["jobs"]
    assert sorted(int(j["id"]) for j in queue) == world.jobs[1:]
    items, _ = world.walk("/vcoin/jobs/v1/queue", 3)
    assert items == queue

    assert world.get("/vcoin/jobs/v1/params")["params"] == world.abci("jobs", "params")


def test_stats_add_up_the_jobs(world: World) -> None:
    stats = world.get("/vcoin/jobs/v1/stats")["stats"]
    jobs = [world.abci("jobs", "job", id=i) for i in world.jobs]
    settled = jobs[0]
    assert stats["jobs_total"] == str(POSTS)
    assert stats["jobs_open"] == str(POSTS - 1)
    assert stats["jobs_by_state"]["settled"] == "1"
    assert stats["jobs_by_state"]["queued"] == str(POSTS - 1)
    assert stats["burned"] == settled["burned"] != "0"
    assert int(stats["to_treasury"]) == int(settled["price"]) - int(settled["burned"])
    assert stats["paid_to_workers"] == settled["paid"]
    assert stats["escrow_balance"] == str(sum(int(j["max_price"]) for j in jobs[1:]))
    assert int(stats["height"]) == world.client.latest_height()
    # a later height: the settled job's figures come from the cache, the rest is read again
    world.client.send_tx(BOB, [msg_send(BOB, ALICE, 1)])
    later = world.get("/vcoin/jobs/v1/stats")["stats"]
    assert int(later.pop("height")) == int(stats.pop("height")) + 1
    assert later == stats


# -- staking, verification, reputation ----------------------------------------------------


def test_staking_routes(world: World) -> None:
    bonds = world.get("/vcoin/staking/v1/bonds")["bonds"]
    assert {(b["role"], b["address"]) for b in bonds} == {
        ("worker", WORKER.bech32),
        ("oracle", ORACLE.bech32),
    }
    for b in bonds:
        assert b == world.abci("staking", "bond", address=b["address"], role=b["role"])
    only = world.get("/vcoin/staking/v1/bonds", role="oracle")["bonds"]
    assert [b["address"] for b in only] == [ORACLE.bech32]
    assert "role" in world.error("/vcoin/staking/v1/bonds", 400, role="miner")
    items, pages = world.walk("/vcoin/staking/v1/bonds", 1)
    assert items == bonds and pages == 2
    for who in (WORKER.bech32, hex_of(WORKER)):
        got = world.get(f"/vcoin/staking/v1/bonds/{who}")
        assert got == world.abci("staking", "bonds", address=WORKER.bech32)
    assert "address" in world.error("/vcoin/staking/v1/bonds/0xnothex", 400)
    vals = world.get("/vcoin/staking/v1/validators")
    assert vals["validators"] == world.abci("staking", "validator_set")["validators"]
    pool = world.get("/vcoin/staking/v1/pool")["pool"]
    assert pool == world.abci("staking", "pool")
    assert pool["bonded"]["oracle"] == str(10_000 * VCN)
    assert world.get("/vcoin/staking/v1/params")["params"] == world.abci("staking", "params")


def test_verification_routes(world: World) -> None:
    first = world.jobs[0]
    att = world.get(f"/vcoin/verification/v1/attestations/{first}")
    assert att == world.abci("verification", "status", job_id=first)
    assert [a["oracle"] for a in att["attestations"]] == [ORACLE.bech32]
    assert att["attestations"][0]["verdict"] == "pass"
    world.error("/vcoin/verification/v1/attestations/424242", 404)
    world.error("/vcoin/verification/v1/attestations/x", 400)
    pending = world.get("/vcoin/verification/v1/pending")
    assert pending["pending"] == world.abci("verification", "checking")["pending"]
    for who in (WORKER.bech32, hex_of(WORKER)):
        risk = world.get(f"/vcoin/verification/v1/risk/{who}", price=str(10 * VCN))
        assert risk == world.abci("verification", "risk", worker=WORKER.bech32, price=10 * VCN)
    assert "price" in world.error(f"/vcoin/verification/v1/risk/{WORKER.bech32}", 400, price="1e3")
    # a task type in the detection floor's list: its rate and its name come back
    path = f"/vcoin/verification/v1/risk/{WORKER.bech32}"
    risk = world.get(path, price=str(10 * VCN), task_type="embedding")
    assert risk["task_type"] == "embedding"
    assert risk == world.abci(
        "verification", "risk", worker=WORKER.bech32, price=10 * VCN, task_type="embedding"
    )
    assert "task_type" in world.error(path, 400, price="1", task_type="x" * 65)
    sampled = world.get(
        path, price="1", task_type="text-generation", spec='{"params": {"temperature": 1}}'
    )
    assert sampled["term"] != "detection" and sampled["task_type"] == "text-generation"
    assert "spec must be a job spec" in world.error(path, 400, price="1", spec="[1]")
    params = world.get("/vcoin/verification/v1/params")["params"]
    assert params == world.abci("verification", "params")


def test_reputation_routes(world: World) -> None:
    for who in (WORKER.bech32, hex_of(WORKER)):
        got = world.get(f"/vcoin/reputation/v1/workers/{who}")["reputation"]
        assert got == world.abci("reputation", "score", address=WORKER.bech32)
        assert got["successes"] == "1"
    assert "address" in world.error("/vcoin/reputation/v1/workers/bob", 400)
    params = world.get("/vcoin/reputation/v1/params")["params"]
    assert params == world.abci("reputation", "params")


# -- mint, slashing, authz, drip, evm ------------------------------------------------------


def test_mint_routes(world: World) -> None:
    epoch = world.get("/vcoin/mint/v1/epochs")["epoch"]
    assert epoch == world.abci("mint", "epoch")
    assert epoch["workers"] == [{"address": WORKER.bech32, "units": "100"}]
    assert world.get("/vcoin/mint/v1/minted") == world.abci("mint", "minted")
    assert world.get("/vcoin/mint/v1/params")["params"] == world.abci("mint", "params")


def test_slashing_routes(world: World) -> None:
    for who in (WORKER.bech32, hex_of(WORKER)):
        got = world.get(f"/vcoin/slashing/v1/missed_blocks/{who}")
        assert got == world.abci("slashing", "missed_blocks", address=WORKER.bech32)
    assert "address" in world.error("/vcoin/slashing/v1/missed_blocks/0x", 400)
    params = world.get("/vcoin/slashing/v1/params")["params"]
    assert params == world.abci("slashing", "params")


def test_authz_routes(world: World) -> None:
    want = world.abci("authz", "grants", granter=ALICE.bech32)["grants"]
    assert [(g["grantee"], g["msg_type_url"]) for g in want] == [(BOB.bech32, POST_URL)]
    assert world.get("/vcoin/authz/v1/grants", granter=hex_of(ALICE))["grants"] == want
    assert world.get("/vcoin/authz/v1/grants", grantee=BOB.bech32)["grants"] == want
    both = world.get("/vcoin/authz/v1/grants", granter=ALICE.bech32, grantee=hex_of(BOB))
    assert both["grants"] == want
    assert world.get("/vcoin/authz/v1/grants", granter=BOB.bech32)["grants"] == []
    assert "granter, grantee" in world.error("/vcoin/authz/v1/grants", 400)
    assert "grantee" in world.error("/vcoin/authz/v1/grants", 400, grantee="0xabc")
    assert world.get("/vcoin/authz/v1/params")["params"] == world.abci("authz", "params")


def test_drip_routes(world: World) -> None:
    assert world.get("/vcoin/drip/v1/pool")["pool"] == world.abci("drip", "pool")
    for who in (BOB.bech32, hex_of(BOB)):
        got = world.get(f"/vcoin/drip/v1/dripped/{who}")
        assert got == world.abci("drip", "dripped", address=BOB.bech32)
        assert got["dripped"] is False
    assert world.get("/vcoin/drip/v1/params")["params"] == world.abci("drip", "params")


def test_evm_routes(world: World) -> None:
    for who in (ALICE.bech32, hex_of(ALICE)):
        acc = world.get(f"/vcoin/evm/v1/accounts/{who}")["account"]
        assert acc == world.abci("evm", "account", address=ALICE.bech32)
        assert int(acc["nonce"]) >= 2 and acc["is_contract"] is False
        assert world.get(f"/vcoin/evm/v1/code/{who}") == world.abci(
            "evm", "code", address=ALICE.bech32
        )
        slot = world.get(f"/vcoin/evm/v1/storage/{who}/0x1")
        assert slot == world.abci("evm", "storage", address=ALICE.bech32, slot="0x1")
    assert "slot" in world.error(f"/vcoin/evm/v1/storage/{ALICE.bech32}/zz", 400)
    token = world.token
    bech = to_bech32(bytes.fromhex(token[2:]))
    for who in (token, bech, token.upper().replace("0X", "0x")):
        acc = world.get(f"/vcoin/evm/v1/accounts/{who}")["account"]
        assert acc == world.abci("evm", "account", address=token)
        assert acc["is_contract"] is True and acc["bech32"] == bech
        code = world.get(f"/vcoin/evm/v1/code/{who}")
        assert code == world.abci("evm", "code", address=token)
        assert len(code["code"]) > 1000
        # OpenZeppelin's ERC20 keeps _totalSupply in slot 2
        for slot in ("2", "0x2", "0x02"):
            got = world.get(f"/vcoin/evm/v1/storage/{who}/{slot}")
            assert got == world.abci("evm", "storage", address=token, slot="2")
            assert int(got["value"], 16) == TOKEN_SUPPLY
    assert world.get("/vcoin/evm/v1/base_fee") == world.abci("evm", "base_fee")
    assert world.get("/vcoin/evm/v1/params")["params"] == world.abci("evm", "params")


# -- what a browser and a hostile client see ------------------------------------------------


def test_cors_lets_other_origins_read(world: World) -> None:
    r = world.rest.get("/vcoin/jobs/v1/params", headers={"Origin": "http://explorer.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    pre = world.rest.options(
        "/vcoin/jobs/v1/jobs",
        headers={"Origin": "http://explorer.example", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "path",
    [
        "/vcoin/jobs/v1/jobs/99999999999999999999999",
        "/vcoin/jobs/v1/jobs?state=" + "q" * 5000,
        "/vcoin/jobs/v1/jobs?poster=%00",
        "/vcoin/jobs/v1/workers?pagination.key=" + "A" * 4000,
        "/vcoin/jobs/v1/workers/" + "1" * 200,
        "/vcoin/staking/v1/bonds/vcoin1" + "q" * 100,
        "/vcoin/verification/v1/risk/" + "0x" + "f" * 40 + "?price=" + "9" * 100,
        "/vcoin/verification/v1/pending?pagination.limit=99999999999999999999",
        "/vcoin/evm/v1/storage/0x" + "0" * 40 + "/0x" + "f" * 65,
        "/vcoin/evm/v1/storage/0x" + "0" * 40 + "/-1",
        "/vcoin/authz/v1/grants?granter=%F0%9F%92%A9",
    ],
)
def test_bad_input_is_a_4xx_never_a_500(world: World, path: str) -> None:
    r = world.rest.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert set(r.json()) == {"code", "message", "details"}
