"""``/v1/fine_tuning/jobs`` as a distributed training (``gateway.training``), with the official
``openai`` client against a gateway served by uvicorn over a node in this process.

``hyperparameters`` with ``n_shards`` and ``n_rounds`` post a ``MsgPostTraining`` for the user
with ``MsgExec`` (alice grants the gateway's account ``post-training``); the training file
becomes the dataset JSONL and its manifest (the bytes ``compute.training.manifest`` makes),
uploaded by the gateway. An in-process worker and oracle (``tests/modules/training/driver``)
run the rounds; the job object follows the training from ``queued`` to ``succeeded``,
``fine_tuned_model`` is the chain's final adapter, ``/events`` has each round's mean training
loss as the shard outputs hold it, and the key's spent and alice's grant count the escrow.
Past the key's cap a training is 402 and nothing is posted; ``/cancel`` needs the
``cancel-training`` grant (403 without it) and hands the escrow back to alice.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

from app.cli.main import main
from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from chain.keystore import Keystore
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.finetune import LORA_EXTRA
from gateway.proto import exec_cancel_training, exec_post_training
from gateway.training import dataset_of, escrow_of, status_of, train_losses, training_params
from genesis.devnet import dev_key
from modules.authz.msgs import MsgExec, MsgGrant
from modules.training import msgs as tm
from tests.gateway.conftest import bearer
from tests.gateway.on_market import create_key, login
from tests.modules.training.driver import Market, publish_devnet_models
from tests.support.nodes import inproc_node

VCN = 10**18
ALICE, GATEWAY = dev_key("alice"), dev_key("bob")  # bob's dev key is the gateway's account
PRICE = VCN  # each shard job's and each aggregate's price (the gateway's max_price)
GRANT = 100 * VCN
CAP = 20 * VCN
EXAMPLES = [{"text": f"key {i:02d} -> value {(i * 7) % 23:02d}"} for i in range(7)] + [
    {"prompt": "GPUs train ", "completion": "adapters."}
]
TEXTS = [str(e.get("text", "GPUs train adapters.")) for e in EXAMPLES]
JSONL = "".join(json.dumps(e) + "\n" for e in EXAMPLES).encode()
HP = {"n_shards": 2, "n_rounds": 2, "rank": 2, "alpha": 4, "max_length": 16}


@dataclass
class Env:
    client: NodeClient
    rest: str
    gw: str
    key: str
    market: Market

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.gw}/v1", api_key=self.key, max_retries=0)

    def trainings(self) -> list[dict[str, Any]]:
        out = self.client.query("training", "trainings", {"poster": ALICE.bech32})
        return list(out["trainings"])


def grant(client: NodeClient, url: str, limit: int = 0) -> None:
    g = MsgGrant(granter=ALICE.bech32, grantee=GATEWAY.bech32, msg_type_url=url)
    if limit:
        g.spend_limit.CopyFrom(Coin(denom="avcn", amount=str(limit)))
    assert client.send_tx(ALICE, [g], gas="auto").ok


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    home = tmp_path_factory.mktemp("gw-training")
    assert main(["--home", str(home), "init", "--dev-keys"]) == 0
    doc = json.loads((home / "config" / "genesis.json").read_text())
    with inproc_node(home, doc, block_time_ms=100) as n:
        rpc, rest = f"http://{n.cfg.rpc_laddr}", f"http://{n.cfg.rest_laddr}"
        publish_devnet_models(rest, home / "published")
        # shard results settle without a re-run; an aggregate is always re-computed
        verification = {"base_sample_bps": 0, "new_worker_sample_bps": 0, "max_sample_bps": 1,
                        "low_rep_factor_bps": 0, "canary_rate_bps": 0, "plant_rate_bps": 0,
                        "challenge_window_blocks": 1}  # fmt: skip
        assert main(["--home", str(home), "--node", rpc, "tx", "params", "update",
                     "verification", json.dumps(verification), "--from", "platform",
                     "-y"]) == 0  # fmt: skip
        client = NodeClient(rpc, timeout=30.0)
        market = Market(client, rest, home / "work", price_floor=VCN // 2)
        grant(client, tm.POST_TRAINING_URL, GRANT)
        gw_home = home / "gateway"
        Keystore(gw_home).import_secret("gateway", GATEWAY.secret.hex(), None, "test")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        cfg = GatewayConfig(home=str(gw_home), listen=f"127.0.0.1:{port}", rpc=rpc, rest=rest,
                            key="gateway", jwt_secret="test-secret", max_price=str(PRICE),
                            log_level="warning")  # fmt: skip
        cfg.validate()
        server = uvicorn.Server(
            uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning")
        )
        t = threading.Thread(target=server.run, args=([sock],), daemon=True)
        t.start()
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.1)
        gw = f"http://127.0.0.1:{port}"
        key = str(create_key(gw, login(gw, ALICE), name="t", spend_cap=str(CAP))["key"])
        try:
            yield Env(client, rest, gw, key, market)
        finally:
            server.should_exit = True
            t.join(10)
            market.close()
            client.close()


def upload(c: openai.OpenAI) -> str:
    return c.files.create(file=("train.jsonl", io.BytesIO(JSONL)), purpose="fine-tune").id


def spent(env: Env) -> int:
    keys = httpx.get(f"{env.gw}/v1/keys", headers=bearer(login(env.gw, ALICE))).json()["data"]
    return int(keys[0]["spent"])


def grant_left(env: Env) -> int:
    req = {"granter": ALICE.bech32, "grantee": GATEWAY.bech32, "msg_type_url": tm.POST_TRAINING_URL}
    return int(env.client.query("authz", "grant", req)["spend_limit"]["amount"])


# -- without a node ------------------------------------------------------------------------
def test_the_dataset_and_manifest_are_the_bytes_compute_makes() -> None:
    from compute.training.manifest import build_manifest, check_dataset, parse_manifest

    jsonl, manifest = dataset_of(TEXTS)
    assert build_manifest(jsonl) == (manifest, len(TEXTS))
    assert check_dataset(parse_manifest(manifest), jsonl) == TEXTS  # the texts train as is


def test_hyperparameters_map_onto_the_post_and_bad_ones_are_named() -> None:
    fields, shown = training_params(
        {**HP, "n_epochs": 3, "learning_rate_multiplier": 2}, 8, LORA_EXTRA
    )
    assert fields == {"shards": 2, "rounds": 2, "steps": 3, "batch_size": 4, "lr_micro": 2000,
                      "target_modules": ["q_proj", "v_proj"], "aggregation": "ffa-mean",
                      "rank": 2, "alpha": 4, "max_length": 16}  # fmt: skip
    assert shown["n_shards"] == 2 and shown["steps"] == 3
    assert escrow_of(2, 2, PRICE) == 6 * PRICE
    bad: list[tuple[dict[str, Any], str]] = [
        ({"n_shards": 9}, "hyperparameters.n_shards"),  # more shards than examples
        ({"n_shards": 0}, "hyperparameters.n_shards"),
        ({"n_rounds": 51}, "hyperparameters.n_rounds"),
        ({"n_rounds": 2, "target_modules": []}, "hyperparameters.target_modules"),
        ({"n_rounds": 2, "n_epochs": 1000}, "hyperparameters.n_epochs"),
        ({"n_rounds": 2, "warmup": 1}, "hyperparameters"),
    ]
    for hp, param in bad:
        with pytest.raises(ApiError) as e:
            training_params(hp, 8, LORA_EXTRA)
        assert e.value.status == 400 and e.value.param == param, (hp, e.value.message)


def test_openais_status_follows_the_trainings_state() -> None:
    def rec(state: str, rnd: int, shards: list[str]) -> dict[str, Any]:
        rows = [{"shard": i, "job_id": i + 1, "state": st} for i, st in enumerate(shards)]
        return {"state": state, "round": rnd, "rounds_detail": [{"round": 0, "shards": rows}]}

    queued = {1: "queued", 2: "queued"}
    assert status_of(rec("running", 0, ["open", "open"]), queued.__getitem__) == "queued"
    claimed = {1: "queued", 2: "claimed"}
    assert status_of(rec("running", 0, ["open", "open"]), claimed.__getitem__) == "running"
    assert status_of(rec("running", 0, ["accepted", "open"]), queued.__getitem__) == "running"
    assert status_of(rec("running", 1, ["accepted", "accepted"]), queued.__getitem__) == "running"
    for state, status in (("completed", "succeeded"), ("failed", "failed"),
                          ("cancelled", "cancelled")):  # fmt: skip
        assert status_of(rec(state, 1, ["accepted", "dropped"]), queued.__getitem__) == status


def test_the_gateways_training_messages_are_the_modules_bytes() -> None:
    post: dict[str, Any] = dict(
                poster=ALICE.bech32, model="tiny-lm", dataset="d" * 64, manifest="e" * 64,
                records=8, shards=2, rounds=3, steps=4, rank=2, alpha=4,
                target_modules=["q_proj", "v_proj"], lr_micro=1000, batch_size=4, seed=7,
                max_length=16, aggregation="ffa-mean", price_per_shard="5",
                aggregate_price="6", shard_blocks=9)  # fmt: skip
    ref = MsgExec(grantee=GATEWAY.bech32)
    ref.msgs.add(type_url=tm.POST_TRAINING_URL,
                 value=tm.MsgPostTraining(**post).SerializeToString())  # fmt: skip
    assert exec_post_training(GATEWAY.bech32, **post).SerializeToString() == ref.SerializeToString()
    cancel = tm.MsgCancelTraining(poster=ALICE.bech32, training_id=12)
    ref = MsgExec(grantee=GATEWAY.bech32)
    ref.msgs.add(type_url=tm.CANCEL_TRAINING_URL, value=cancel.SerializeToString())
    got = exec_cancel_training(GATEWAY.bech32, ALICE.bech32, 12).SerializeToString()
    assert got == ref.SerializeToString()


# -- on the node ---------------------------------------------------------------------------
def test_a_training_runs_to_succeeded_with_a_loss_per_round(env: Env) -> None:
    c = env.openai()
    fid = upload(c)
    spent0, left0 = spent(env), grant_left(env)
    job = c.fine_tuning.jobs.create(model="tiny-lm", training_file=fid, seed=5,
                                    hyperparameters=HP)  # type: ignore[arg-type]  # fmt: skip
    extra = job.model_extra or {}
    tid = extra["training_id"]
    assert job.status == "queued" and extra["vcoin"]["training_id"] == tid
    t = env.client.query("training", "training", {"id": tid})
    assert (t["poster"], t["model"], t["shards"], t["rounds"]) == (ALICE.bech32, "tiny-lm", 2, 2)
    assert (t["records"], t["config"]["seed"], t["config"]["rank"]) == (8, 5, 2)
    escrow = escrow_of(2, 2, PRICE)
    assert grant_left(env) == left0 - escrow  # the grant paid the whole escrow at once
    assert spent(env) == spent0 + escrow  # and the key's spend counts it
    # the dataset and manifest the gateway uploaded are compute's bytes of the file
    jsonl, manifest = dataset_of(TEXTS)
    store = ArtifactClient(env.rest, ALICE)  # the poster may read her training's blobs
    assert store.download_bytes(t["dataset"]) == jsonl
    assert store.download_bytes(t["manifest"]) == manifest
    assert extra["vcoin"]["input_sha256"] == t["manifest"] == hashlib.sha256(manifest).hexdigest()

    seen = set()
    deadline = time.monotonic() + 300
    while True:
        got = c.fine_tuning.jobs.retrieve(job.id)
        seen.add(got.status)
        if got.status not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, got
        if not env.market.step():
            time.sleep(0.05)
    assert got.status == "succeeded", got
    assert "running" in seen
    t = env.client.query("training", "training", {"id": tid})
    assert t["state"] == "completed" and got.fine_tuned_model == t["adapter"]
    assert (got.model_extra or {})["training_id"] == tid and got.finished_at
    (result,) = got.result_files  # the final adapter, downloadable with the API key
    assert c.files.content(result).read() == store.download_bytes(t["adapter"])

    events = c.fine_tuning.jobs.list_events(job.id, limit=50).data
    metrics = [e for e in reversed(events) if e.type == "metrics"]
    assert len(metrics) == 2
    for r, (e, rd) in enumerate(zip(metrics, t["rounds_detail"], strict=True)):
        losses = [x for s in rd["shards"] for x in train_losses(store.download_bytes(s["output"]))]
        data: dict[str, Any] = e.data  # type: ignore[assignment]
        assert data["round"] == r and data["global"] == rd["global_out"]
        assert data["train_loss"] == pytest.approx(sum(losses) / len(losses))
    assert t["adapter"] in events[0].message and "completed" in events[0].message
    assert events[-1].message.startswith(f"Created fine-tuning job {job.id}")
    listed = {j.id: j for j in c.fine_tuning.jobs.list().data}
    assert listed[job.id].status == "succeeded"
    assert (listed[job.id].model_extra or {})["training_id"] == tid
    # final: the key keeps what the settled jobs paid, the rest came back
    paid = sum(int(env.client.query("jobs", "job", {"id": j})["paid"]) for j in [
        *(s["job_id"] for rd in t["rounds_detail"] for s in rd["shards"]),
        *(rd["aggregate_job"] for rd in t["rounds_detail"])])  # fmt: skip
    assert 0 < paid < escrow and spent(env) == spent0 + paid


def test_past_the_keys_cap_a_training_is_402_and_nothing_is_posted(env: Env) -> None:
    c = env.openai()
    fid = upload(c)
    before, spent0 = len(env.trainings()), spent(env)
    big = {"n_shards": 8, "n_rounds": 3}  # 3 × 9 jobs × 1 VCN: past the 20 VCN cap
    with pytest.raises(openai.APIStatusError) as e:
        c.fine_tuning.jobs.create(model="tiny-lm", training_file=fid,
                                  hyperparameters=big)  # type: ignore[arg-type]  # fmt: skip
    assert e.value.status_code == 402 and "spend cap" in e.value.message
    assert len(env.trainings()) == before and spent(env) == spent0


def test_cancel_needs_the_cancel_grant_and_refunds_the_user(env: Env) -> None:
    c = env.openai()
    fid = upload(c)
    job = c.fine_tuning.jobs.create(model="tiny-lm", training_file=fid,
                                    hyperparameters=HP)  # type: ignore[arg-type]  # fmt: skip
    assert job.status == "queued"  # nobody steps the worker: the shards wait
    with pytest.raises(openai.PermissionDeniedError) as e:
        c.fine_tuning.jobs.cancel(job.id)
    assert "cancel-training" in e.value.message
    grant(env.client, tm.CANCEL_TRAINING_URL)
    balance = int(
        env.client.query("bank", "balance", {"address": ALICE.bech32})["balance"]["amount"]
    )
    spent0 = spent(env)
    done = c.fine_tuning.jobs.cancel(job.id)
    assert done.status == "cancelled"
    tid = (done.model_extra or {})["training_id"]
    assert env.client.query("training", "training", {"id": tid})["state"] == "cancelled"
    after = int(env.client.query("bank", "balance", {"address": ALICE.bech32})["balance"]["amount"])
    assert after == balance + escrow_of(2, 2, PRICE)  # every avcn back; the gateway paid fees
    assert spent(env) == spent0 - escrow_of(2, 2, PRICE)
    events = c.fine_tuning.jobs.list_events(job.id).data
    assert "ended cancelled" in events[0].message


def test_without_shards_or_rounds_it_stays_one_lora_job(env: Env) -> None:
    c = env.openai()
    fid = upload(c)
    with pytest.raises(openai.APIStatusError) as e:  # the user granted post-job to nobody
        c.fine_tuning.jobs.create(model="tiny-lm", training_file=fid,
                                  hyperparameters={"rank": 2})  # type: ignore[arg-type]  # fmt: skip
    assert e.value.status_code == 402 and "MsgPostJob" in e.value.message
    assert "training_id" not in str(e.value.body)


def test_the_openapi_document_explains_the_extensions(env: Env) -> None:
    doc = httpx.get(f"{env.gw}/openapi.json").json()
    text = doc["paths"]["/v1/fine_tuning/jobs"]["post"]["description"]
    for word in ("n_shards", "n_rounds", "target_modules", "post-training", "training_id"):
        assert word in text, word
