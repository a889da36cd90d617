"""Who may read a distributed training's blobs, and that garbage collection keeps them.

One node in process (the devnet genesis and dev keys), real tokens and real downloads
(``ArtifactClient``); the training is driven to the end by ``worker1`` and ``oracle1``
in this process (``tests.modules.training.driver``: the runtime trains every shard and
aggregate, the outputs go to the node's store). The rules (``chain.artifact_policy``):

* every blob the training names (dataset, manifest, each round's global, each accepted
  update, the final adapter) is readable by the training's poster, even the ones a
  worker uploaded and after the training ended;
* a bonded worker that uploaded none of them reads them while the training runs (the
  shard and aggregate jobs go to whoever is eligible), and no longer once it ended;
* an oracle reads them; a funded account with no bond and no part in the training
  reads none of them;
* garbage collection an hour past the retention keeps every one of them, and deletes
  an unreferenced blob of the same age.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.cli.main import main
from app.node import Node
from chain.artifact_gc import collect_garbage
from chain.artifact_policy import ChainPolicy
from chain.artifacts import ArtifactClient, ArtifactStore, Forbidden
from chain.client import NodeClient
from chain.crypto import PrivateKey
from compute.training.manifest import build_manifest
from genesis.devnet import dev_key
from modules.staking.msgs import Coin, MsgBond
from modules.training.msgs import MsgPostTraining
from tests.modules.training.driver import Market, publish_devnet_models
from tests.support.nodes import inproc_node

VCN = 10**18
ALICE, WORKER1, WORKER3, ORACLE1 = (dev_key(n) for n in ("alice", "worker1", "worker3", "oracle1"))
STRANGER = dev_key("bob")  # funded, no bond, no part in the training
DATASET = b"".join(b'{"text":"key %02d -> value %02d"}\n' % (i, i * 5 % 17) for i in range(6))


@dataclass
class World:
    node: Node
    client: NodeClient
    rest: str
    market: Market
    training: int
    dataset: str
    manifest: str


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("artifact-training")
    assert main(["--home", str(home), "init", "--dev-keys"]) == 0
    doc = json.loads((home / "config" / "genesis.json").read_text())
    with inproc_node(home, doc, block_time_ms=100) as n:
        rpc, rest = f"http://{n.cfg.rpc_laddr}", f"http://{n.cfg.rest_laddr}"
        publish_devnet_models(rest, home / "models")
        client = NodeClient(rpc)
        market = Market(client, rest, home / "work")
        # worker3: bonded, never registered for a job, uploads nothing
        bond = Coin(denom="avcn", amount=str(1_000 * VCN))
        client.send_tx(WORKER3, [MsgBond(address=WORKER3.bech32, role="worker", amount=bond)])
        manifest, records = build_manifest(DATASET)
        with ArtifactClient(rest, ALICE) as c:
            c.upload_bytes(DATASET)
            c.upload_bytes(manifest)
        msg = MsgPostTraining(
            poster=ALICE.bech32,
            model="tiny-lm",
            dataset=sha(DATASET),
            manifest=sha(manifest),
            records=records,
            shards=2,
            rounds=2,
            steps=1,
            rank=2,
            alpha=4,
            target_modules=["q_proj", "v_proj"],
            lr_micro=1000,
            batch_size=2,
            seed=3,
            max_length=16,
            aggregation="ffa-mean",
            price_per_shard=str(VCN),
            aggregate_price=str(VCN // 10),
        )
        resp = client.send_tx(ALICE, [msg], gas="auto")
        (tid,) = [int(x) for x in resp.attributes("TrainingPosted", "training_id")]
        yield World(n, client, rest, market, tid, sha(DATASET), sha(manifest))
        market.close()
        client.close()


def reads(w: World, key: PrivateKey, digest: str) -> bool:
    with ArtifactClient(w.rest, key) as c:
        try:
            c.download_bytes(digest)
        except Forbidden:
            return False
    return True


def named(t: dict[str, Any]) -> set[str]:
    out = {t["dataset"], t["manifest"], t["adapter"]}
    for r in t["rounds_detail"]:
        out |= {r["global_in"], r["global_out"]}
        out |= {s["output"] for s in r["shards"] if s["state"] == "accepted"}
    return {d for d in out if d}


def test_a_trainings_blobs_are_read_by_its_poster_bonded_workers_and_oracles(world: World) -> None:
    w = world
    for digest in (w.dataset, w.manifest):
        # while it runs: the bonded workers that will train on them, and the oracles
        assert reads(w, WORKER1, digest) and reads(w, WORKER3, digest)
        assert reads(w, ORACLE1, digest)
        assert not reads(w, STRANGER, digest)

    t = w.market.run_training(w.training)
    assert t["state"] == "completed" and t["adapter"]
    blobs = named(t)
    rounds = t["rounds_detail"]
    assert len(blobs) == 2 + 2 * 2 + 2  # dataset, manifest, 2 updates a round, 2 globals
    assert t["adapter"] == rounds[-1]["global_out"] == sha(reads_bytes(w, t["adapter"]))
    for digest in blobs:
        assert reads(w, ALICE, digest), digest  # the updates and globals are worker1's
        assert reads(w, ORACLE1, digest)
        assert not reads(w, STRANGER, digest)
    # it ended: a bonded worker with no upload of its own reads none of them now
    assert not any(reads(w, WORKER3, d) for d in blobs)


def reads_bytes(w: World, digest: str) -> bytes:
    with ArtifactClient(w.rest, ALICE) as c:
        return c.download_bytes(digest)


def test_gc_keeps_every_blob_a_training_names(world: World) -> None:
    w = world
    t = w.client.query("training", "training", {"id": w.training})
    if t["state"] == "running":
        t = w.market.run_training(w.training)
    junk = b"an old upload nothing refers to"
    with ArtifactClient(w.rest, ALICE) as c:
        c.upload_bytes(junk)
    store = ArtifactStore.local(w.node.cfg.artifact_dir)
    policy = ChainPolicy(w.node, store.read_small)
    assert named(t) <= policy.referenced()
    report = collect_garbage(store, policy, retention_s=3600, now=time.time() + 3700)
    assert sha(junk) in report.deleted
    for digest in named(t):
        assert store.has(digest) and digest not in report.deleted
