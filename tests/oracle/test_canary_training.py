"""Canary trainings (``oracle.canary_training``) on a real node in this process, with the
oracle daemon and a scripted worker that runs shard jobs in the real runtime.

A real training is posted; the oracle, at odds that make it certain here
(``canary_rate_bps`` 50 %, one round, all the oracle stake), posts a canary training of
the same shape from a persona key, with fresh synthetic data, after committing to each
shard's output for the predicted job ids. The worker claims the canary's shards in the
block after the post (the commitments are older: nothing is spoiled), runs shard 0
honestly and fakes shard 1: the oracle reveals both, signed by the persona (the
training's poster); shard 0 passes and is accepted, shard 1 is caught, its worker
punished, and the training re-posts it. The training then runs out as any (its aggregate
is checked) and the persona sweeps its refund into the drip pool."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from chain.artifacts import ArtifactClient
from chain.crypto import PrivateKey
from compute.training.manifest import build_manifest, record_texts
from modules.jobs import msgs as jm
from modules.staking.msgs import Coin, MsgBond
from modules.training.msgs import MsgPostTraining
from oracle import canary_training as ct
from oracle.canary_flow import CanaryDeps
from oracle.daemon import Oracle
from oracle.executor import Executor
from oracle.expected import InProcessRunner
from oracle.metrics import OracleMetrics
from oracle.state import OracleState
from tests.oracle._node import ORACLE1, POSTER, VCN, Net, Scripted, bond_oracle, market_node
from tests.oracle.conftest import Models
from tests.oracle.test_daemon import make_oracle
from tests.support.chain import test_key

WORKER, HONEST = test_key(7), test_key(8)  # HONEST runs what follows the catch
RECORDS: list[dict[str, Any]] = [
    {"text": "the key alpha maps to the value seven"},
    {"prompt": "What does beta map to? ", "completion": "Beta maps to nine."},
    {"messages": [{"role": "user", "content": "gamma?"}, {"role": "assistant", "content": "4"}]},
    {"text": "the key delta maps to the value two, and epsilon to three"},
]
CERTAIN = {"canary_rate_bps": 5_000, "base_sample_bps": 0, "low_rep_factor_bps": 0}


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def test_the_odds_make_canary_shards_the_canary_rate_of_all_shard_jobs() -> None:
    rng = random.Random(3)
    n = 40_000
    # r = 5 %, half the stake, 3 rounds: r/(1−r) · R · s canary trainings per real one
    hits = sum(ct.should_post(500, 5_000, 3, rng) for _ in range(n))
    expected = n * 500 / 9_500 * 3 * 0.5
    assert abs(hits - expected) < 4 * expected**0.5
    # a canary has N shard jobs, a real training N·R: canary shards / all shards ≈ r
    share = hits / (hits + n * 3)
    assert abs(share - 0.05 * 0.5 / (1 - 0.05 + 0.05 * 0.5)) < 0.003
    assert not ct.should_post(0, 10_000, 3, rng) and not ct.should_post(500, 0, 3, rng)


def test_a_canary_dataset_has_the_real_ones_records_formats_and_lengths() -> None:
    real = jsonl(RECORDS * 5)
    fake = ct.synth_dataset(random.Random(1), real)
    build_manifest(fake)  # a dataset the chain and the runtime take
    real_texts, fake_texts = record_texts(real), record_texts(fake)
    assert len(fake_texts) == len(real_texts) == 20
    assert not set(fake_texts) & set(real_texts)
    for a, b in zip(real.splitlines(), fake.splitlines(), strict=True):
        assert sorted(json.loads(a)) == sorted(json.loads(b))  # the same record format
    for a_text, b_text in zip(real_texts, fake_texts, strict=True):
        assert 0.6 * len(a_text) - 10 <= len(b_text) <= 1.4 * len(a_text) + 12


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Iterator[Net]:
    with market_node(tmp_path_factory.mktemp("canary-training"), models, **CERTAIN) as n:
        yield n


def register_worker(net: Net, key: PrivateKey) -> None:
    reg = jm.MsgRegisterWorker(
        worker=key.bech32,
        gpu_model="",
        task_types=["lora-train", "lora-shard", "lora-aggregate"],
        models=["tiny-lm"],
        price_floor="0",
        max_concurrent=8,
    )
    bond = MsgBond(
        address=key.bech32, role="worker", amount=Coin(denom="avcn", amount=str(1000 * VCN))
    )
    net.client.send_tx(key, [reg, bond], gas="auto")


def post_real_training(net: Net, key: PrivateKey, rounds: int = 1) -> int:
    data = jsonl(RECORDS)
    manifest, n = build_manifest(data)
    dataset, mdigest = net.artifacts.upload_bytes(data), net.artifacts.upload_bytes(manifest)
    msg = MsgPostTraining(
        poster=key.bech32,
        model="tiny-lm",
        dataset=dataset,
        manifest=mdigest,
        records=n,
        shards=2,
        rounds=rounds,
        steps=2,
        rank=4,
        alpha=8,
        target_modules=["q_proj", "v_proj"],
        lr_micro=1000,
        batch_size=2,
        seed=7,
        max_length=32,
        aggregation="ffa-mean",
        price_per_shard=str(VCN),
        aggregate_price=str(VCN // 10),
    )
    resp = net.client.send_tx(key, [msg], gas="auto")
    return int(resp.attributes("TrainingPosted", "training_id")[0])


def run_shard(net: Net, executor: Executor, worker: Scripted, job_id: int, honest: bool) -> None:
    """The worker runs ``job_id`` in the real runtime and submits its adapter (``honest``)
    or the same file with one byte of a tensor changed."""
    job = net.job(job_id)
    model_hash = net.client.query("jobs", "model", {"id": job["model"]})["weights_sha256"]
    run = executor.run(job, model_hash, executor.new_run_dir(job_id))
    assert run.ok and run.output_path is not None, run.error_message
    path = run.output_path
    if not honest:
        raw = bytearray(path.read_bytes())
        raw[-3] ^= 0x01  # a tensor byte: a plausible, wrong adapter
        path = path.with_name("faked.safetensors")
        path.write_bytes(bytes(raw))
    worker.submit(job_id, path)


def penalties(net: Net, key: PrivateKey) -> int:
    return int(net.client.query("reputation", "score", {"address": key.bech32})["penalties_bps"])


def test_a_canary_training_is_posted_revealed_and_catches_a_faked_shard(
    net: Net, models: Models, tmp_path: Path
) -> None:
    signer = SigningKey.generate()
    bond_oracle(net, ORACLE1, bytes(signer.verify_key))
    register_worker(net, WORKER)
    register_worker(net, HONEST)
    oracle: Oracle = make_oracle(net, tmp_path / "oracle", ORACLE1, signer, canaries=True)
    oracle.open()
    real = post_real_training(net, POSTER)

    def posted() -> ct.TrainingCanary | None:
        recs = [r for r in oracle.tcanaries.recs.values() if r.stage == "posted"]
        return recs[0] if recs else None

    rec: ct.TrainingCanary = net.wait_for(posted, timeout=120, step=oracle.step)
    assert rec.template == real and rec.poster != POSTER.bech32
    t = net.client.query("training", "training", {"id": rec.training_id})
    mine = net.client.query("training", "training", {"id": real})
    assert t["poster"] == rec.poster and t["rounds"] == 1
    for k in ("model", "shards", "records", "price_per_shard", "aggregate_price", "shard_blocks"):
        assert t[k] == mine[k], k
    assert {**t["config"], "seed": 0} == {**mine["config"], "seed": 0}
    assert t["dataset"] != mine["dataset"]
    # its persona was funded by a drip, not by the oracle
    assert net.client.query("drip", "dripped", {"address": rec.poster})["dripped"]
    # every shard was committed before the post, so a claim in the next block is no spoiler;
    # committed after the post instead, after the local runs, it would come this late:
    print(f"canary training: local runs took {rec.run_blocks} blocks (200 ms each)")
    assert rec.shards == ["committed", "committed"], rec.shards
    jobs = rec.job_ids
    worker = Scripted(net, WORKER, models, tmp_path / "worker")
    store = ArtifactClient(net.rest, WORKER)  # a worker reads the refs of the jobs it claimed
    wexec = Executor(store, InProcessRunner(), tmp_path / "wexec", cheap_checks=False)
    for j in jobs:
        worker.claim(j)
    run_shard(net, wexec, worker, jobs[0], honest=True)
    run_shard(net, wexec, worker, jobs[1], honest=False)

    def revealed() -> bool:
        return all(s in ("matched", "mismatched") for s in rec.shards)

    net.wait_for(revealed, timeout=60, step=oracle.step)
    assert rec.shards == ["matched", "mismatched"]
    net.wait_for(lambda: net.job(jobs[1])["state"] == "rejected", timeout=30, step=oracle.step)
    assert net.job(jobs[0])["state"] == "settled"
    assert penalties(net, WORKER) == 2_000  # caught once: −20 points
    rd = net.client.query("training", "training", {"id": rec.training_id})["rounds_detail"][0]
    assert rd["shards"][0]["state"] == "accepted"
    again = rd["shards"][1]
    assert again["state"] == "open" and again["job_id"] != jobs[1] and again["attempts"] == 2
    # the re-posted shard (no canary) and the aggregate run as in any training (the caught
    # worker is jailed)
    honest = Scripted(net, HONEST, models, tmp_path / "honest")
    hexec = Executor(
        ArtifactClient(net.rest, HONEST), InProcessRunner(), tmp_path / "hexec", cheap_checks=False
    )
    honest.claim(again["job_id"])
    run_shard(net, hexec, honest, again["job_id"], honest=True)

    def aggregate() -> int:
        d = net.client.query("training", "training", {"id": rec.training_id})
        return int(d["rounds_detail"][0]["aggregate_job"])

    agg = net.wait_for(aggregate, timeout=60, step=oracle.step)
    honest.claim(agg)
    run_shard(net, hexec, honest, agg, honest=True)
    pool_before = int(net.client.query("drip", "pool")["balance"])

    def swept() -> bool:
        return rec.stage == "done"

    net.wait_for(swept, timeout=120, step=oracle.step)
    done = net.client.query("training", "training", {"id": rec.training_id})
    assert done["state"] == "completed" and done["escrow_left"] == "0"
    assert net.client.balance(rec.poster) < VCN // 100  # its leftover went to the pool
    assert int(net.client.query("drip", "pool")["balance"]) > pool_before


def test_canary_task_types_without_lora_shard_posts_no_canary_training(
    net: Net, tmp_path: Path
) -> None:
    signer, key = SigningKey.generate(), test_key(9)
    bond_oracle(net, key, bytes(signer.verify_key))
    oracle = make_oracle(
        net,
        tmp_path / "oracle",
        key,
        signer,
        canaries=True,
        canary_task_types=("text-generation",),  # e.g. a device class whose shards vary
    )
    oracle.open()
    # 3 rounds at 50 % and half the stake: P = 1 · 3 · 1/2, certain but for the switch
    post_real_training(net, POSTER, rounds=3)
    top = net.client.latest_height() + 2
    net.wait_for(lambda: oracle.state.last_height >= top, timeout=30, step=oracle.step)
    assert oracle.tcanaries.recs == {}


class Flaky:
    """An executor whose shard 1 comes out different on every run (not bit-stable)."""

    def __init__(self) -> None:
        self.runs = 0

    @contextmanager
    def local_run(self, job: dict[str, Any], model_hash: str, tag: str) -> Iterator[Any]:
        from types import SimpleNamespace

        self.runs += 1
        shard = json.loads(__import__("base64").b64decode(job["inline_input"]))["shard"]
        h = "aa" * 32 if shard == 0 else f"{self.runs:064x}"
        yield SimpleNamespace(ok=True, output_hash=h)


def test_a_shard_whose_two_runs_differ_is_no_canary(tmp_path: Path) -> None:
    from types import SimpleNamespace

    uploads: list[bytes] = []
    deps = SimpleNamespace(
        artifacts=SimpleNamespace(upload_bytes=uploads.append),
        executor=Flaky(),
        model_hash=lambda model: "00" * 32,
    )
    driver = ct.TrainingCanaries(deps, tmp_path)  # type: ignore[arg-type]
    data = jsonl(RECORDS)
    manifest, n = build_manifest(data)
    fields = {
        "model": "tiny-lm",
        "dataset": "d" * 64,
        "manifest": "e" * 64,
        "records": n,
        "shards": 2,
        "rank": 4,
        "alpha": 8,
        "target_modules": ["q_proj"],
        "steps": 2,
        "lr_micro": 1000,
        "batch_size": 2,
        "seed": 1,
        "max_length": 32,
    }
    assert driver.expected(fields, data, 5) == ["aa" * 32, ""]
    assert deps.executor.runs == 4 and uploads == [data, manifest]


def driver(net: Net, home: Path, key: PrivateKey, st: OracleState) -> ct.TrainingCanaries:
    """The canary-training steps alone, on the node; local runs are stubbed by the test
    (``prepared`` with made-up hashes: no reveal is made here)."""
    deps = CanaryDeps(
        enabled=True,
        min_observed=0,
        task_types=(),
        address=key.bech32,
        account=key,
        node=net.client,
        artifacts=net.artifacts,
        executor=None,  # type: ignore[arg-type]
        rng=random.Random(5),
        metrics=OracleMetrics(),
        state=lambda: st,
        save=lambda: None,
        start_task=lambda kind, key, fn: None,
        model_hash=lambda model_id: "00" * 32,
    )
    return ct.TrainingCanaries(deps, home)


def prepared(net: Net, d: ct.TrainingCanaries, template: int) -> ct.TrainingCanary:
    rec = d.plan(template)
    assert rec is not None and d.start_next()  # the predicted id is set here
    d.prepared(rec.local_id, ["ab" * 32, "cd" * 32], None)
    assert rec.stage == "prepared"
    return rec


def test_unpredicted_job_ids_are_committed_late_a_claim_first_spoils_and_a_restart_reposts_nothing(
    net: Net, tmp_path: Path
) -> None:
    oracle, claimer = test_key(11), test_key(12)
    bond_oracle(net, oracle, bytes(SigningKey.generate().verify_key))
    register_worker(net, claimer)
    real = post_real_training(net, POSTER)
    st = OracleState(chain_id=net.client.chain_id(), max_job_id=10_000)  # predicts far ahead
    d = driver(net, tmp_path, oracle, st)
    d.max_training = real
    rec = prepared(net, d, real)
    assert d.fund(rec)
    rec.stage = "funded"
    d.precommit(rec)
    d.save()
    before_post = (tmp_path / ct.STATE_FILE).read_bytes()
    d.post(rec)
    assert rec.training_id == real + 1 and rec.shards == ["late", "late"]
    # a worker claims shard 0 before the oracle's commitment can land
    Scripted(net, claimer, None, tmp_path).claim(rec.job_ids[0])  # type: ignore[arg-type]
    d.act()
    assert rec.shards == ["spoiled", "committed"]
    # an oracle that crashed before it knew of its post finds it: no second training
    (tmp_path / ct.STATE_FILE).write_bytes(before_post)
    again = driver(net, tmp_path, oracle, st)
    rec2 = again.recs[rec.local_id]
    assert rec2.stage == "funded"
    again.act()
    assert (rec2.training_id, rec2.job_ids) == (rec.training_id, rec.job_ids)
    mine = net.client.query("training", "trainings", {"poster": rec.poster})["trainings"]
    assert [int(t["id"]) for t in mine] == [rec.training_id]
    assert rec2.shards == ["spoiled", "committed"]  # the commitment on chain is not resent


def test_a_training_id_taken_first_makes_an_ordinary_training(net: Net, tmp_path: Path) -> None:
    oracle = test_key(13)
    bond_oracle(net, oracle, bytes(SigningKey.generate().verify_key))
    real = post_real_training(net, POSTER)
    st = OracleState(chain_id=net.client.chain_id(), max_job_id=net.client.latest_height())
    d = driver(net, tmp_path, oracle, st)
    d.max_training = real - 1  # it missed the real training: predicts the real one's id
    rec = prepared(net, d, real)
    d.act()
    assert rec.stage == "posted" and rec.training_id > real
    assert rec.outcome.startswith("mispredicted") and rec.shards == ["none", "none"]
    assert d.d.metrics.canaries.labels("spoiled")._value.get() == 1
