"""The oracle holds a model's manifest to the chain's record of it before fetching its files.

A node in process with accounts' models registered by ``MsgRegisterOwnModel`` (all on
the tiny LM's manifest, each declaring other things) and its artifact store holding the
blobs; the executor asks the node with a real ``NodeClient``. A record whose kind or
``total_bytes`` disagrees with the manifest, a model past ``max_model_bytes`` (each
size at, just under and just over) and a manifest naming a pickle file are refused:
the check fails as a job that cannot run (an honest worker refuses such a job), the
canary or re-execution run fails as ``bad_model``, and no weight is downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.node import Node
from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from compute.runtime.models import Manifest
from modules.auth.msgs import MsgUpdateParams
from modules.jobs.msgs import MsgRegisterOwnModel
from oracle.executor import Abstain, Checked, Executor
from oracle.expected import RunOutcome
from oracle.similarity import Policy
from tests.support.chain import FAUCET, PLATFORM
from tests.support.nodes import inproc_node
from worker.models.artifact import ModelArtifact, publish
from worker.models.tiny_lm import build_tiny_lm

POLICY = Policy(threshold_bps=9500)


@dataclass
class Net:
    node: Node
    client: NodeClient
    lm: ModelArtifact
    pickled: str  # the digest of a manifest naming pytorch_model.bin
    total: int  # the tiny LM's files in bytes

    @property
    def rest(self) -> str:
        return f"http://{self.node.cfg.rest_laddr}"


def _register(c: NodeClient, digest: str, kind: str, total_bytes: int) -> str:
    model_id = f"lm-{secrets.token_hex(4)}"
    msg = MsgRegisterOwnModel(
        owner=FAUCET.bech32,
        model_id=model_id,
        kind=kind,
        weights_sha256=digest,
        config_sha256=digest,
        total_bytes=total_bytes,
        min_gpu_memory_mib=0,
        description="declared by its owner",
        max_fee=str(10**22),
    )
    assert c.send_tx(FAUCET, [msg], gas="auto").ok
    return model_id


def _set_max_model_bytes(c: NodeClient, n: int) -> None:
    msg = MsgUpdateParams(
        authority=PLATFORM.bech32, module="jobs", params_json=json.dumps({"max_model_bytes": n})
    )
    assert c.send_tx(PLATFORM, [msg], gas="auto").ok


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    lm = build_tiny_lm(tmp_path_factory.mktemp("lm"), 0)
    total = sum(size for _, size in lm.manifest.files.values())
    pickled = Manifest(
        "evil", "causal-lm", {**lm.manifest.files, "pytorch_model.bin": ("e" * 64, 9)}
    )
    raw = pickled.to_json()
    with inproc_node(tmp_path_factory.mktemp("node")) as node:
        rest = f"http://{node.cfg.rest_laddr}"
        with ArtifactClient(rest, FAUCET) as store:
            publish(lm, store)
            store.upload_bytes(raw)
        with NodeClient(f"http://{node.cfg.rpc_laddr}") as c:
            yield Net(node, c, lm, hashlib.sha256(raw).hexdigest(), total)


class Recording:
    """A runner that records what it was asked to run and fails as the oracle's fault."""

    name = "recording"

    def __init__(self) -> None:
        self.runs: list[str] = []

    def run(self, spec: Any, inputs: Path, models: Path, out: Path) -> RunOutcome:
        self.runs.append(str(spec["model"]))
        return RunOutcome(False, None, None, "sandbox_error", "not run here", None, 0.0)


@pytest.fixture
def ex(net: Net, tmp_path: Path) -> Iterator[Executor]:
    """An executor asking the node (the test's own client) with a recording runner."""
    with ArtifactClient(net.rest, FAUCET) as artifacts:
        yield Executor(artifacts, Recording(), tmp_path, chain=net.client)


def _runs(ex: Executor) -> list[str]:
    runner = ex.runner
    assert isinstance(runner, Recording)
    return runner.runs


def _job(model_id: str) -> dict[str, Any]:
    data = json.dumps({"prompts": ["Hello"]}).encode()
    return {
        "id": "3",
        "model": model_id,
        "task_type": "text-generation",
        "input_hash": hashlib.sha256(data).hexdigest(),
        "inline_input": base64.b64encode(data).decode(),
        "spec": json.dumps({"params": {"max_new_tokens": 2}}),
        "output_hash": "0" * 64,
    }


def _fetched(ex: Executor) -> set[str]:
    return {p.name for p in ex.models.iterdir() if not p.name.startswith(".")}


def _weights(net: Net) -> set[str]:
    return {d for d, _ in net.lm.manifest.files.values()}


def _refused(ex: Executor, job: dict[str, Any], digest: str, why: str) -> None:
    """The check fails as a job that cannot run, the run as bad_model; no weight fetched."""
    got = ex.check(job, digest, POLICY)
    assert isinstance(got, Checked), got
    cmp = got.comparison
    assert cmp.metric == "job-cannot-run" and not cmp.passed and cmp.similarity_bps == 0
    assert cmp.details["error"].startswith("bad_model: ") and why in cmp.details["error"]
    run = ex.run(job, digest, ex.new_run_dir("t"))
    assert not run.ok and run.job_at_fault and run.error_code == "bad_model"
    assert why in run.error_message
    assert _fetched(ex) == {digest}  # the manifest alone


@pytest.mark.parametrize(("delta", "ok"), [(-1, False), (0, True), (+1, False)])
def test_total_bytes_must_be_what_the_files_add_up_to(
    net: Net, ex: Executor, delta: int, ok: bool
) -> None:
    model_id = _register(net.client, net.lm.digest, "causal-lm", net.total + delta)
    job = _job(model_id)
    if not ok:
        why = f"total_bytes {net.total + delta} but its manifest's files add up to {net.total}"
        _refused(ex, job, net.lm.digest, why)
        assert _runs(ex) == []
        return
    assert ex.model_refusal(job, net.lm.digest) is None
    run = ex.run(job, net.lm.digest, ex.new_run_dir("t"))
    assert run.error_code == "sandbox_error" and _runs(ex) == [net.lm.digest]
    assert _fetched(ex) == {net.lm.digest} | _weights(net)


def test_the_kind_must_be_the_manifests(net: Net, ex: Executor) -> None:
    model_id = _register(net.client, net.lm.digest, "sentence-embedding", net.total)
    why = "is registered as sentence-embedding but its manifest says causal-lm"
    _refused(ex, _job(model_id), net.lm.digest, why)


def test_a_manifest_naming_a_pickle_file_is_refused(net: Net, ex: Executor) -> None:
    model_id = _register(net.client, net.pickled, "causal-lm", net.total + 9)
    _refused(ex, _job(model_id), net.pickled, "'pytorch_model.bin' is pickle-format weights")


def test_an_accounts_model_past_max_model_bytes_is_refused(net: Net, ex: Executor) -> None:
    """The param lowered after registration: the oracle reads it when it checks."""
    model_id = _register(net.client, net.lm.digest, "causal-lm", net.total)
    job = _job(model_id)
    try:
        for limit in (net.total + 1, net.total):
            _set_max_model_bytes(net.client, limit)
            assert ex.model_refusal(job, net.lm.digest) is None
        _set_max_model_bytes(net.client, net.total - 1)
        why = f"{net.total} bytes of files; max_model_bytes is {net.total - 1}"
        _refused(ex, job, net.lm.digest, why)
        # the platform's own model (no owner) is not an account's: no such limit
        tiny = net.client.query("jobs", "model", {"id": "tiny-lm"})
        assert "owner" not in tiny
        assert ex.model_refusal(_job("tiny-lm"), tiny["weights_sha256"]) is None
    finally:
        _set_max_model_bytes(net.client, 16 << 30)


def test_no_record_from_the_node_means_abstain(net: Net, ex: Executor) -> None:
    got = ex.check(_job("no-such-model"), net.lm.digest, POLICY)
    assert isinstance(got, Abstain) and "'no-such-model'" in got.reason
    assert _runs(ex) == [] and _fetched(ex) == set()
