"""Distributed LoRA training end to end, every part a real process: a node (``vcoind start``,
1 s blocks), three workers running their jobs in the Docker sandbox (the process sandbox
when no engine or image is there, unless ``VCOIN_REQUIRE_DOCKER=1``), one oracle.

* A training of 4 shards × 3 rounds posted by alice reaches its final adapter; every
  round's global is the FFA-LoRA mean of that round's accepted updates, recomputed here
  on CPU from the downloaded updates (``compute.training.aggregate.aggregate``) to the
  same sha256; each round's shard workers are paid (``WorkerPaid``, the payout share of
  the price their claim fixed) before the round's aggregate is posted; the escrow comes
  out exact (what alice gets back = the escrow minus the prices of the settled jobs), the
  supply is genesis + minted − burned, the App's invariants hold after the node stops;
  the final adapter, downloaded by alice, loads with ``peft.PeftModel.from_pretrained``.
* A worker killed (kill -9) while it holds a shard: the shard comes back to the queue at
  its result deadline and another worker runs it; the round completes.
* A worker that returns a random adapter for its shard (``tests.e2e.cheater``, one fake,
  shards only) is caught in the round it cheats (round 0: every shard is checked here,
  ``always_check_tasks``), its job is rejected, it loses 20 reputation, its output is in
  no aggregate, the shard is posted again and run honestly, and the honest workers are
  paid in full for every shard they ran.

Short windows (results settle 2 blocks after submission), one local step a shard, a
tiny LoRA (rank 2): the point is the protocol, not the learning (``tests/compute/
training`` measures that). Canaries are off (``--no-canaries``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import ArtifactClient
from compute.training.aggregate import aggregate
from compute.training.manifest import build_manifest
from compute.training.shards import shard_size
from modules.training.msgs import MsgPostTraining
from tests.e2e.market import (
    ALICE,
    E2E_GENESIS,
    VCN,
    WORKER_BOND,
    Daemon,
    Marketplace,
    Worker,
    invariants_after_stop,
    market_of,
    supply_check,
)
from tests.support.genesis import market_genesis
from tests.support.wait import wait_for

DATASET = b"".join(
    json.dumps({"text": f"key {i:02d} maps to value {(i * 7) % 23:02d}"}).encode() + b"\n"
    for i in range(16)
)
SHARD_PRICE, AGG_PRICE = 2 * VCN, VCN
DONE = ("completed", "failed", "cancelled")
WINDOWS = {
    "challenge_window_blocks": 2,
    "base_sample_bps": 0,
    "max_sample_bps": 0,
    "attest_window_blocks": 300,
}
WORKER: dict[str, Any] = {"models": "tiny-lm", "max_concurrent": 1}


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def post_training(m: Marketplace, shards: int, rounds: int, shard_blocks: int) -> int:
    manifest, records = build_manifest(DATASET)
    with ArtifactClient(m.node.rest, ALICE) as c:
        c.upload_bytes(DATASET)
        c.upload_bytes(manifest)
    msg = MsgPostTraining(
        poster=ALICE.bech32,
        model="tiny-lm",
        dataset=sha(DATASET),
        manifest=sha(manifest),
        records=records,
        shards=shards,
        rounds=rounds,
        steps=1,
        rank=2,
        alpha=4,
        target_modules=["q_proj", "v_proj"],
        lr_micro=5000,
        batch_size=2,
        seed=5,
        max_length=16,
        aggregation="ffa-mean",
        price_per_shard=str(SHARD_PRICE),
        aggregate_price=str(AGG_PRICE),
        shard_blocks=shard_blocks,
    )
    resp = m.client.send_tx(ALICE, [msg], gas="auto")
    (tid,) = [int(x) for x in resp.attributes("TrainingPosted", "training_id")]
    return tid


def training(m: Marketplace, tid: int) -> dict[str, Any]:
    t: dict[str, Any] = m.client.query("training", "training", {"id": tid})
    return t


def wait_done(m: Marketplace, tid: int, timeout: float = 900) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        for d in m.daemons:
            if d.proc is not None:
                assert d.alive(), f"{d.name} died:\n{d.tail()}"
        t = training(m, tid)
        return t if t["state"] in DONE else None

    got: dict[str, Any] = wait_for(f"training {tid} to end", done, timeout, 2)
    return got


def inline(job: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(job["inline_input"]))
    return doc


def download(m: Marketplace, digest: str, folder: Path) -> Path:
    path = folder / digest
    with ArtifactClient(m.node.rest, ALICE) as c:  # the training's poster reads them all
        c.download(digest, path)
    return path


def events(m: Marketplace, kind: str) -> list[tuple[int, dict[str, str]]]:
    return [(h, a) for h, t, a in m.all_events() if t == kind]


def payout(m: Marketplace, price: int) -> int:
    bps = int(m.client.query("jobs", "params")["payout_bps"])
    return price * bps // 10_000


def claimed_by(w: Daemon) -> bool:
    return b"claiming job" in w.log.read_bytes()


# -- an honest market: three workers, one oracle -------------------------------------------
@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Marketplace]:
    genesis = market_genesis(**E2E_GENESIS, verification=WINDOWS)
    with market_of(tmp_path_factory.mktemp("training"), genesis) as m:
        m.oracle("oracle1", "--no-canaries")
        for name in ("worker1", "worker2", "worker3"):
            m.worker(name, None, **WORKER)
        for d in m.daemons:
            d.start()
        yield m


@pytest.mark.slow
def test_a_training_of_4_shards_and_3_rounds_reaches_its_adapter(
    market: Marketplace, tmp_path: Path
) -> None:
    m = market
    t0 = time.monotonic()
    tid = post_training(m, shards=4, rounds=3, shard_blocks=120)
    t = wait_done(m, tid)
    elapsed = time.monotonic() - t0
    assert t["state"] == "completed", t
    rounds = t["rounds_detail"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    n = t["records"]

    # -- every round's global is the exact mean of its accepted updates ------------------------
    posted = {int(a["round"]): h for h, a in events(m, "TrainingAggregatePosted")}
    paid = {int(a["job_id"]): (h, a) for h, a in events(m, "WorkerPaid")}
    settled_prices = 0
    workers_paid: set[str] = set()
    for r in rounds:
        shards = r["shards"]
        assert [s["state"] for s in shards] == ["accepted"] * 4, r
        if r["round"]:
            assert r["global_in"] == rounds[r["round"] - 1]["global_out"]
        agg = m.job(r["aggregate_job"])
        assert agg["state"] == "settled" and agg["output_hash"] == r["global_out"]
        ups = inline(agg)["updates"]
        assert ups == [
            {"shard": s["shard"], "sha256": s["output"], "weight": shard_size(n, 4, s["shard"])}
            for s in shards
        ]
        files = [(download(m, u["sha256"], tmp_path), u["weight"]) for u in ups]
        assert sha(aggregate(files)) == r["global_out"], f"round {r['round']}"
        # -- each shard's worker is paid in this round, before its aggregate is posted -------
        for s in shards:
            job = m.job(s["job_id"])
            assert job["state"] == "settled" and job["worker"] == s["worker"]
            h, a = paid[s["job_id"]]
            assert (
                a["worker"] == s["worker"] and a["amount"] == f"{payout(m, int(job['price']))}avcn"
            )
            assert h <= posted[r["round"]], (r["round"], s)
            settled_prices += int(job["price"])
            workers_paid.add(s["worker"])
        settled_prices += int(agg["price"])
    assert t["adapter"] == rounds[-1]["global_out"]
    assert len(workers_paid) >= 2, workers_paid

    # -- the escrow comes out exact; supply holds -----------------------------------------------
    (done,) = [a for _, a in events(m, "TrainingCompleted") if a["training_id"] == str(tid)]
    escrow = 3 * (4 * SHARD_PRICE + AGG_PRICE)
    assert done["refunded"] == f"{escrow - settled_prices}avcn"
    assert t["escrow_left"] == "0"
    supply = supply_check(m)
    assert supply["supply"] == supply["genesis"] + supply["minted"] - supply["burned"], supply
    assert supply["burned"] > 0

    # -- the final adapter loads with peft ------------------------------------------------------
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from compute.runtime.models import materialize
    from compute.training.adapter import write_peft_dir
    from genesis.devnet import DEVNET_MODEL_BUILDS
    from worker.models.__main__ import build

    name, seed = DEVNET_MODEL_BUILDS["tiny-lm"]
    art = build(name, tmp_path / "models", seed)
    base_dir = materialize(art.folder, art.digest, tmp_path / "scratch")[1]
    peft_dir = write_peft_dir(download(m, t["adapter"], tmp_path), tmp_path / "peft")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), peft_dir)
    b = [p for k, p in model.named_parameters() if "lora_B" in k]
    assert b and any(bool(torch.any(p != 0)) for p in b)  # trained: B moved off zero
    with torch.no_grad():
        out = model(input_ids=torch.tensor([[1, 2, 3]]))
    assert torch.isfinite(out.logits).all()
    print(f"\n4 shards x 3 rounds in {elapsed:.0f}s ({m.sandbox} sandbox)")


@pytest.mark.slow
def test_a_worker_killed_mid_round_its_shard_is_run_elsewhere(market: Marketplace) -> None:
    m = market
    tid = post_training(m, shards=3, rounds=1, shard_blocks=25)
    workers = {d.address: d for d in m.daemons if isinstance(d, Worker)}

    def a_claim() -> tuple[int, Worker] | None:
        for s in training(m, tid)["rounds_detail"][0]["shards"]:
            j = m.job(s["job_id"])
            if j["state"] == "claimed":
                return s["job_id"], workers[j["worker"]]
        return None

    victim_job, victim = wait_for("a shard to be claimed", a_claim, 120, 0.2)
    victim.kill()
    t = wait_done(m, tid)
    assert t["state"] == "completed", t
    (s,) = [s for s in t["rounds_detail"][0]["shards"] if s["job_id"] == victim_job]
    job = m.job(victim_job)
    if job["worker"] != victim.address:  # it came back to the queue at its deadline
        requeued = [a for _, a in events(m, "JobRequeued") if a["job_id"] == str(victim_job)]
        assert requeued and requeued[0]["worker"] == victim.address, requeued
        assert s["state"] == "accepted" and s["worker"] == job["worker"] != victim.address
    else:  # it had submitted before the kill: nothing to re-run (rare on two cores)
        pytest.skip("the killed worker had already submitted its shard")
    assert [x["state"] for x in t["rounds_detail"][0]["shards"]] == ["accepted"] * 3
    paid_to = {a["worker"] for _, a in events(m, "WorkerPaid") if a["job_id"] == str(victim_job)}
    assert paid_to == {job["worker"]}

    for d in m.daemons:
        if d.alive():
            assert d.stop() == 0, d.tail()
    assert m.node.stop() == 0
    assert invariants_after_stop(m.node.home) == []


# -- a cheater: every shard checked ----------------------------------------------------------
@pytest.mark.slow
def test_a_worker_returning_a_random_adapter_is_caught_excluded_and_penalised(
    tmp_path: Path,
) -> None:
    cheat_log = tmp_path / "cheats.jsonl"
    cheat = {
        "VCOIN_TEST_CHEAT_FRACTION": "1",
        "VCOIN_TEST_CHEAT_MAX": "1",
        "VCOIN_TEST_CHEAT_TASKS": "lora-shard",
        "VCOIN_TEST_CHEAT_KINDS": "random",
        "VCOIN_TEST_CHEAT_LOG": str(cheat_log),
    }
    always = {**WINDOWS, "always_check_tasks": ["lora-aggregate", "lora-shard"]}
    genesis = market_genesis(**E2E_GENESIS, verification=always)
    with market_of(tmp_path, genesis) as m:
        oracle = m.oracle("oracle1", "--no-canaries")
        cheater = m.worker("worker3", cheat=cheat, **WORKER)
        honest = [m.worker("worker1", None, **WORKER), m.worker("worker2", None, **WORKER)]
        oracle.start(), cheater.start()
        tid = post_training(m, shards=3, rounds=2, shard_blocks=120)
        wait_for("the cheater to claim a shard", lambda: claimed_by(cheater), 60, 0.2)
        for w in honest:
            w.start()
        t = wait_done(m, tid)
        assert t["state"] == "completed", t

        (fake,) = [json.loads(x) for x in cheat_log.read_text().splitlines()]
        bad = int(fake["job_id"])
        job = m.job(bad)
        assert job["state"] == "rejected" and job["worker"] == cheater.address
        assert job["output_hash"] == fake["fake"]
        where = m.client.query("training", "by_job", {"job_id": bad})
        # caught in the round it cheated: the verdict comes before that round's aggregate
        verdicts = [(h, a) for h, a in events(m, "VerdictReached") if a["job_id"] == str(bad)]
        assert [a["verdict"] for _, a in verdicts] == ["fail"]
        posted = {int(a["round"]): h for h, a in events(m, "TrainingAggregatePosted")}
        assert verdicts[0][0] < posted[where["round"]]
        punished = [a for _, a in events(m, "CheatingPunished")]
        assert [a["address"] for a in punished] == [cheater.address]
        score = m.client.query("reputation", "score", {"address": cheater.address})
        assert score["penalties_bps"] == 2000, score
        # excluded: the shard was posted again and run honestly; the fake is in no aggregate
        rd = t["rounds_detail"][where["round"]]
        (s,) = [s for s in rd["shards"] if s["shard"] == where["shard"]]
        assert s["state"] == "accepted" and s["job_id"] != bad and s["output"] != fake["fake"]
        requeued = [a for _, a in events(m, "TrainingShardRequeued") if a["old_job"] == str(bad)]
        assert [int(a["job_id"]) for a in requeued] == [s["job_id"]]
        for r in t["rounds_detail"]:
            ups = inline(m.job(r["aggregate_job"]))["updates"]
            assert fake["fake"] not in {u["sha256"] for u in ups}
        # the honest workers: paid in full for every shard they ran, never punished
        paid = {int(a["job_id"]): a for _, a in events(m, "WorkerPaid")}
        for w in honest:
            mine = [j for j in m.all_jobs() if j["worker"] == w.address]
            for j in mine:
                assert j["state"] == "settled", j
                assert paid[int(j["id"])]["amount"] == f"{payout(m, int(j['price']))}avcn"
            sc = m.client.query("reputation", "score", {"address": w.address})
            bond = m.client.query("staking", "bond", {"address": w.address, "role": "worker"})
            assert sc["penalties_bps"] == 0 and int(bond["bonded"]) == WORKER_BOND, (sc, bond)
        assert any(j["worker"] in {w.address for w in honest} for j in m.all_jobs())
