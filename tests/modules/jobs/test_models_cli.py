"""``vcoind tx models register --from-dir DIR`` against a real node: a tiny causal LM
made with ``transformers`` from a config and a seed (``save_pretrained(...,
safe_serialization=True)``, nothing downloaded) is uploaded and registered through the
CLI, then a real worker runs a text-generation job on it, an oracle re-executes and
agrees, and the gateway's ``/v1/models`` lists it. Pickle weights and every refusal
are answered before anything is uploaded.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli.models_cmd import artifact_client
from compute.runtime.__main__ import run_job
from genesis.devnet import dev_key
from tests.e2e.market import Oracle, Worker, sandbox_kind
from tests.support.genesis import market_genesis
from tests.support.nodes import VCOIND, NodeProc, clean_env, start_vcoind, vcoind, write_genesis
from tests.support.wait import wait_for
from worker.models.artifact import write_model
from worker.models.tiny_lm import CONFIG, tokenizer_config, tokenizer_json

pytestmark = pytest.mark.slow

VCN = 10**18
FEE = 10 * VCN  # the devnet's model_registration_fee
ALICE, BOB = dev_key("alice"), dev_key("bob")
PARAMS: dict[str, dict[str, Any]] = {
    "staking": {"min_bond_worker": str(100 * VCN)},
    "verification": {  # every result re-executed by the oracle; no canaries
        "base_sample_bps": 10_000,
        "max_sample_bps": 10_000,
        "new_worker_sample_bps": 10_000,
        "canary_rate_bps": 0,
        "plant_rate_bps": 0,
        "challenge_window_blocks": 2,
        "attest_window_blocks": 300,
    },
    "jobs": {"default_claim_blocks": 300, "default_result_blocks": 300},
}


def hf_model(folder: Path, seed: int) -> Path:
    """A Hugging Face folder of a 2-layer LLaMA drawn from ``seed``, as a user has one."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    LlamaForCausalLM(LlamaConfig(**CONFIG)).save_pretrained(folder, safe_serialization=True)
    (folder / "tokenizer.json").write_bytes(tokenizer_json())
    (folder / "tokenizer_config.json").write_bytes(tokenizer_config())
    return folder


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    home = tmp_path_factory.mktemp("byom-node")
    assert vcoind("init", "--dev-keys", home=home).returncode == 0
    write_genesis(home, market_genesis(0, models=None, defaults={}, merge=True, **PARAMS))
    n = start_vcoind(home, instant=False, extra=["--block-time", "300ms"])
    try:
        yield n
    finally:
        n.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hf_model(tmp_path_factory.mktemp("hf") / "bring-lm", seed=7)


def register(node: NodeProc, *args: str, key: str = "alice") -> subprocess.CompletedProcess[str]:
    return node.cli("tx", "models", "register", *args, "--from", key, "-y",
                    "--artifacts", node.rest)  # fmt: skip


def stored(node: NodeProc) -> set[str]:
    """The blobs in the node's artifact store (named by their sha256)."""
    root = node.home / "data" / "artifacts"
    return {p.name for p in root.rglob("*") if p.is_file() and len(p.name) == 64}


def test_a_folder_with_pickle_weights_is_refused_before_anything_is_uploaded(
    node: NodeProc, folder: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "pickled-lm"
    shutil.copytree(folder, bad)
    (bad / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    (bad / "training_args.ckpt").write_bytes(b"\x80\x04pickle")
    before = stored(node)
    r = register(node, "--from-dir", str(bad))
    assert r.returncode == 1
    assert "pickle" in r.stderr and "pytorch_model.bin, training_args.ckpt" in r.stderr
    assert "safe_serialization=True" in r.stderr and "nothing was uploaded" in r.stderr
    assert stored(node) == before
    assert "pickled-lm" not in node.ok("query", "jobs", "models")


def test_refusals_are_answered_before_any_upload(node: NodeProc, folder: Path) -> None:
    before = stored(node)
    r = register(node, "--from-dir", str(folder), "--max-fee", "9.999VCN")
    assert r.returncode == 1 and "costs 10 VCN; --max-fee is 9.999 VCN" in r.stderr
    # an account short of the fee
    node.ok("keys", "add", "poor", "--keyring-backend", "test")
    poor = json.loads(node.ok("-o", "json", "keys", "show", "poor"))["address"]
    node.ok("tx", "bank", "send", "alice", poor, "9VCN", "-y")
    r = register(node, "--from-dir", str(folder), key="poor")
    assert r.returncode == 1 and f"{poor} has 9 VCN; nothing was uploaded" in r.stderr
    # a model over max_model_bytes
    total = sum(p.stat().st_size for p in folder.iterdir())
    node.ok("tx", "params", "update", "jobs", json.dumps({"max_model_bytes": total - 1}),
            "--from", "platform", "-y")  # fmt: skip
    r = register(node, "--from-dir", str(folder))
    assert r.returncode == 1
    assert f"{total} bytes" in r.stderr and f"max_model_bytes is {total - 1}" in r.stderr
    node.ok("tx", "params", "update", "jobs", json.dumps({"max_model_bytes": total}),
            "--from", "platform", "-y")  # fmt: skip
    # the id of a platform model
    r = register(node, "--from-dir", str(folder), "--id", "tiny-lm")
    assert r.returncode == 1 and "'tiny-lm' belongs to the platform" in r.stderr
    assert stored(node) == before


def test_register_from_a_folder_then_a_worker_runs_it_and_an_oracle_agrees(
    node: NodeProc, folder: Path, tmp_path: Path
) -> None:
    alice_before = int(node.query("balance", "alice")["amount"])
    r = register(node, "--from-dir", str(folder))
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "uploading" not in r.stderr  # not a terminal: no progress
    assert "model: bring-lm" in r.stdout
    # the manifest on chain is the folder's, built the same way here
    art = write_model("bring-lm", "causal-lm", {p.name: p for p in folder.iterdir()}, tmp_path)
    m = node.query("jobs", "model", "bring-lm")
    assert m["owner"] == ALICE.bech32 and m["kind"] == "causal-lm"
    assert m["weights_sha256"] == art.digest
    assert m["task_types"] == ["lora-train", "text-generation"]
    assert {b.name for b in art.blobs()} <= stored(node)
    listed = [ln for ln in node.ok("query", "jobs", "models").splitlines() if "bring-lm" in ln]
    assert len(listed) == 1 and listed[0].endswith(f"owner {ALICE.bech32}")
    spent = alice_before - int(node.query("balance", "alice")["amount"])
    assert FEE < spent < FEE + VCN  # the fee and the tx's gas fee
    # another account cannot take the id
    r = register(node, "--from-dir", str(folder), key="bob")
    assert r.returncode == 1 and f"'bring-lm' belongs to {ALICE.bech32}" in r.stderr

    sandbox = sandbox_kind()
    worker = Worker(node, tmp_path / "worker1", "worker1", sandbox)
    oracle = Oracle(node, tmp_path / "oracle1", "oracle1", sandbox)
    try:
        worker.start()
        oracle.start()
        assert "bring-lm" in node.query("jobs", "worker", "worker1")["models"]
        prompts = {"prompts": ["Bring your own model", "A GPU market"]}
        spec = {"params": {"max_new_tokens": 8}}
        out = node.ok("tx", "jobs", "post", "bring-lm", "--task-type", "text-generation",
                      "--max-price", "2VCN", "--input", json.dumps(prompts),
                      "--spec", json.dumps(spec), "--from", "alice", "-y")  # fmt: skip
        job_id = next(ln.split(":")[1].strip() for ln in out.splitlines() if "job_id" in ln)

        def settled() -> dict[str, Any] | None:
            job = node.query("jobs", "show", job_id)
            assert job["state"] not in ("failed", "rejected", "expired"), (
                job,
                worker.tail(),
                oracle.tail(),
            )
            return job if job["state"] == "settled" else None

        job = wait_for(f"job {job_id} settled", settled, 240, poll=1)
    finally:
        worker.close()
        oracle.close()
    assert job["worker"] == worker.address
    assert job["receipt"]["model_hash"] == art.digest
    # an oracle re-ran it and agreed
    status = node.query("verification", "status", job_id)
    assert [a["oracle"] for a in status["attestations"]] == [oracle.address], status
    # the output is the model's: the same job run here gives the same hash
    with artifact_client(node.rest, ALICE) as ac:  # the poster may read its output
        output = json.loads(ac.download_bytes(job["artifact_ref"]))
    assert [c["prompt"] for c in output["completions"]] == prompts["prompts"]
    job_file = tmp_path / "job.json"
    job_file.write_text(
        json.dumps(
            {
                "version": 1,
                "task": "text-generation",
                "model": art.digest,
                "input": {"inline": prompts},
                "params": spec["params"],
            }
        )
    )
    local = run_job(job_file, tmp_path, tmp_path, tmp_path / "local")
    assert local["output_hash"] == job["output_hash"]


def test_progress_shows_on_a_terminal_and_not_with_quiet(node: NodeProc, tmp_path: Path) -> None:
    def on_tty(*args: str) -> tuple[int, str]:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [VCOIND, "--home", str(node.home), "--node", node.rpc, "tx", "models", "register",
             *args, "--from", "bob", "-y", "--artifacts", node.rest],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=clean_env(),
        )  # fmt: skip
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        return proc.wait(120), b"".join(chunks).decode(errors="replace")

    code, text = on_tty("--from-dir", str(hf_model(tmp_path / "bobs-lm", seed=8)))
    assert code == 0, text
    assert "\ruploading bobs-lm: " in text and "(100 %)" in text
    code, text = on_tty("--from-dir", str(tmp_path / "bobs-lm"), "--id", "bobs-lm-2", "--quiet")
    assert code == 0, text
    assert "uploading" not in text
    assert node.query("jobs", "model", "bobs-lm-2")["owner"] == BOB.bech32


def test_the_gateway_lists_a_model_an_account_registered(node: NodeProc, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.config import GatewayConfig
    from tests.gateway.conftest import (
        DOMAIN,
        GATEWAY_ACCOUNT,
        SECRET,
        URI,
        bearer,
        login_eth,
        new_key,
    )

    cfg = GatewayConfig(
        home=str(tmp_path / "gw"),
        rpc=node.rpc,
        database=f"sqlite:///{tmp_path / 'gw.sqlite3'}",
        domain=DOMAIN,
        uri=URI,
        account=GATEWAY_ACCOUNT.bech32,
        jwt_secret=SECRET,
    )
    cfg.validate()
    with TestClient(create_app(cfg), base_url=URI) as c:
        key = new_key(c, login_eth(c), scopes=["models"])["key"]
        r = c.get("/v1/models", headers=bearer(key))
    assert r.status_code == 200, r.text
    listed = {m["id"]: m for m in r.json()["data"]}
    assert listed["bring-lm"]["task_types"] == ["lora-train", "text-generation"]
    assert listed["bobs-lm"]["object"] == "model"
