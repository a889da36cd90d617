"""The official ``openai`` npm package (pinned in ``tests/gateway/js``) pointed at the
gateway with ``baseURL`` and an API key: a completion (plain and streamed), a chat
completion, embeddings (the package's default base64, decoded by it) and a fine-tuning
job (a JSONL file uploaded, run to ``succeeded``, its events listed) on a devnet-like
marketplace (``vcoind`` with 1 s blocks, a worker, an oracle). What the package returns
equals the chain's settled outputs.

``tests/gateway/js/run.mjs`` runs every call at once in one Node.js process and prints
what it got as JSON; each test checks one call. ``scripts/setup-openai-js`` installs
the package first (``npm ci``, skipped while ``node_modules`` matches the lock;
``scripts/test`` runs it). Without Node.js 20+ and npm the tests skip, saying so,
unless ``VCOIN_REQUIRE_NODE`` is set (``scripts/test`` sets it); then they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from tests.gateway.on_market import gateway_on_market
from tests.gateway.test_openai import GATEWAY, USER, VCN, _genesis, _login, _new_key
from tests.support.tools import output_tail, require_tools

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "tests" / "gateway" / "js"
SETUP = REPO / "scripts" / "setup-openai-js"
POST_JOB = "/vcoin.jobs.v1.MsgPostJob"


def _require_node() -> None:
    require_tools(
        ("node", "npm"), "the openai npm test needs Node.js 20+ and npm", "VCOIN_REQUIRE_NODE"
    )


def _tail(r: subprocess.CompletedProcess[str]) -> str:
    return output_tail(r)


@dataclass
class Env:
    node: NodeClient
    rest: str
    gw: str
    out: dict[str, Any]  # what run.mjs got, by step


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    _require_node()
    r = subprocess.run([str(SETUP)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"scripts/setup-openai-js exited {r.returncode}:\n{_tail(r)}"

    tmp = tmp_path_factory.mktemp("gw-openai-npm")
    with gateway_on_market(
        tmp, _genesis(), user=USER, gateway=GATEWAY, grant=20 * VCN, max_price=VCN
    ) as s:
        key = _new_key(s.gw, _login(s.gw, USER), 10 * VCN)
        run = subprocess.run(
            ["node", "run.mjs"],
            cwd=JS,
            env={**os.environ, "GATEWAY_BASE_URL": s.base_url, "GATEWAY_API_KEY": key},
            capture_output=True,
            text=True,
            timeout=420,
        )
        assert run.returncode == 0, f"run.mjs exited {run.returncode}:\n{_tail(run)}"
        out = json.loads(run.stdout.strip().splitlines()[-1])
        print({step: got["seconds"] for step, got in out.items()})  # shown with -s
        yield Env(s.node, s.rest, s.gw, out)


def settled(env: Env, vcoin: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The job on chain (settled, posted by USER) and its output, hash-checked."""
    job = env.node.query("jobs", "job", {"id": str(vcoin["job_id"])})
    assert job["state"] == "settled" == vcoin["state"], job
    assert job["poster"] == USER.bech32  # the user's job and escrow, not the gateway's
    # the poster reads it (a job's output is private); download_bytes checks its hash
    out = ArtifactClient(env.rest, USER).download_bytes(job["output_hash"])
    assert hashlib.sha256(out).hexdigest() == job["output_hash"]
    return job, out


def test_a_completion_equals_the_settled_output(env: Env) -> None:
    got = env.out["completion"]
    job, out = settled(env, got["vcoin"])
    done = json.loads(out)["completions"][0]
    assert got["text"] == done["completion"] and done["prompt"] == "The GPU marketplace"
    assert got["object"] == "text_completion"
    assert got["usage"]["completion_tokens"] == len(done["token_ids"]) > 0
    assert json.loads(job["spec"]) == {"params": {"max_new_tokens": 8}}


def test_a_streamed_completion_equals_the_settled_output(env: Env) -> None:
    got = env.out["stream"]
    _, out = settled(env, got["vcoin"])
    done = json.loads(out)["completions"][0]
    assert got["text"] == done["completion"] and done["prompt"] == "Hello"
    assert got["chunks"] >= 1 and got["finish_reason"] in ("stop", "length")


def test_a_chat_completion_equals_the_settled_output(env: Env) -> None:
    got = env.out["chat"]
    _, out = settled(env, got["vcoin"])
    done = json.loads(out)["completions"][0]
    assert done["prompt"] == "user: Hi\nassistant:"
    assert got["content"] == done["completion"] and got["role"] == "assistant"
    assert got["object"] == "chat.completion"


def test_embeddings_equal_the_settled_tensor(env: Env) -> None:
    from safetensors.numpy import load

    got = env.out["embeddings"]
    _, out = settled(env, got["vcoin"])
    want = load(out)["embeddings"]
    assert want.shape[0] == 2 == len(got["data"])
    for row, vec in zip(want, got["data"], strict=True):
        assert vec == [float(x) for x in row]  # float32s, exactly


def test_a_fine_tuning_job_succeeds_with_the_settled_adapter(env: Env) -> None:
    from gateway.finetune import adapter_losses

    got = env.out["fine_tune"]
    assert got["status"] == "succeeded", got
    assert got["file"]["bytes"] == len(got["jsonl"].encode())
    assert got["file"]["filename"] == "train.jsonl"
    job, out = settled(env, got["vcoin"])
    assert job["task_type"] == "lora-train"
    assert got["fine_tuned_model"] == job["output_hash"] == got["vcoin"]["output_hash"]
    inp = ArtifactClient(env.rest, USER).download_bytes(job["input_hash"])
    assert json.loads(inp) == {"texts": ["GPUs train adapters.", "Workers stake VCN and run jobs."]}
    assert json.loads(job["spec"])["params"]["seed"] == 5
    losses, _ = adapter_losses(out)
    metrics = [e for e in got["events"] if e["type"] == "metrics"]
    assert [e["data"]["train_loss"] for e in reversed(metrics)] == losses and losses
    assert got["events"][-1]["message"].startswith(f"Created fine-tuning job {got['id']}")
