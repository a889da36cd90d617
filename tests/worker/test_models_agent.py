# ruff: noqa: F811 - pytest fixtures imported from agent_env are parameters here
"""Accounts' models whose chain record lies, run by a real ``vcoin-worker`` against a real node.

Genesis sets ``max_model_bytes`` to the tiny LM's size and holds three accounts' models:
``liar-lm`` declares one byte more than its files, ``fat-lm`` (the same files and a
one-byte note) declares its size truly but is one byte past ``max_model_bytes`` (the
agent reads the param from the node), ``true-lm`` is the liar's files declared truly,
exactly at the limit. The liars' jobs fail on chain as ``bad_model`` with the reason,
the poster is refunded, and the worker never downloads their weights; the honest
model's job runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import ArtifactClient
from genesis.devnet import dev_key
from tests.support.genesis import market_genesis
from tests.support.node_market import PRICE, NodeMarket
from tests.support.nodes import running_node, write_genesis
from tests.worker.agent_env import AGENT_WINDOWS, model_entry, workers  # noqa: F401 - fixtures
from tests.worker.conftest import _readable
from worker.models.artifact import ModelArtifact, publish, write_model
from worker.models.tiny_lm import build_tiny_lm

pytestmark = pytest.mark.slow

OWNER = dev_key("faucet")


def _total(art: ModelArtifact) -> int:
    return sum(size for _, size in art.manifest.files.values())


def _own(model_id: str, art: ModelArtifact, total_bytes: int) -> dict[str, Any]:
    entry = model_entry(model_id, art, ["text-generation", "lora-train"])
    return entry | {
        "owner": OWNER.address.hex(),
        "kind": "causal-lm",
        "total_bytes": str(total_bytes),
    }


class Arts:
    liar: ModelArtifact
    fat: ModelArtifact


@pytest.fixture(scope="module")
def arts(tmp_path_factory: pytest.TempPathFactory) -> Arts:
    folder = tmp_path_factory.mktemp("byom")
    a = Arts()
    a.liar = build_tiny_lm(folder, seed=5)
    note = folder / "notes.src"
    note.write_bytes(b"!")
    files = {rel: folder / d for rel, (d, _) in a.liar.manifest.files.items()}
    a.fat = write_model("fat", "causal-lm", files | {"notes.txt": note}, folder)
    return a


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, arts: Arts) -> Iterator[NodeMarket]:
    size = _total(arts.liar)
    assert _total(arts.fat) == size + 1
    models = [
        _own("liar-lm", arts.liar, size + 1),
        _own("fat-lm", arts.fat, size + 1),
        _own("true-lm", arts.liar, size),
    ]
    home = tmp_path_factory.mktemp("market") / "node"
    genesis = market_genesis(
        0, models=models, defaults=AGENT_WINDOWS, jobs={"max_model_bytes": size}
    )
    write_genesis(home, genesis)
    with running_node(home) as node:
        with ArtifactClient(node.rest, dev_key("alice")) as ac:
            publish(arts.liar, ac)
            publish(arts.fat, ac)
        m = NodeMarket(node, node.rest, home / "data" / "artifacts")
        yield m
        m.client.close()


def _cache(home: Path) -> set[str]:
    folder = home / "data" / "work" / "models"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_a_lying_record_fails_the_job_and_its_weights_are_never_fetched(
    market: NodeMarket, workers: Any, arts: Arts, tmp_path: Path
) -> None:
    _readable(tmp_path)  # the process sandbox runs the job as another uid
    w = workers("worker1", sandbox="process").setup().start()
    spec = json.dumps({"params": {"max_new_tokens": 4}})
    size = _total(arts.liar)
    cases = {
        "liar-lm": f"total_bytes {size + 1} but its manifest's files add up to {size}",
        "fat-lm": f"{size + 1} bytes of files; max_model_bytes is {size}",
    }
    for model_id, why in cases.items():
        job_id = market.post(model=model_id, spec=spec)
        job = market.wait_state(job_id, ("failed",), 90)
        assert job["worker"] == w.address
        assert job["last_error"].startswith(f"bad_model: model '{model_id}' "), job["last_error"]
        assert why in job["last_error"]
        assert int(job["refunded"]) == PRICE and int(job["paid"]) == 0
    weights = {d for a in (arts.liar, arts.fat) for d, _ in a.manifest.files.values()}
    assert _cache(w.home) & weights == set()
    assert {arts.liar.digest, arts.fat.digest} <= _cache(w.home)  # the manifests only
    # the same files under a truthful record, at max_model_bytes, run
    ok = market.post(model="true-lm", spec=spec)
    done = market.wait_state(ok, ("submitted", "settled"), 120)
    assert done["worker"] == w.address and done["output_hash"]
    assert {d for d, _ in arts.liar.manifest.files.values()} <= _cache(w.home)
    assert w.alive() and w.stop() == 0
