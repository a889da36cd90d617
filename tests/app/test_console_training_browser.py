"""The web console's datasets and training, and bonding through the wallet, in headless
Chromium (``/explorer/console.html``; the wallet is ``tests/app/browser/eip1193.js``).

One node in this process (the devnet's models and params; nothing sampled, so a result
settles when its challenge window ends) and a real worker: ``vcoin-worker start`` with the
tiny CPU model (built here, published to the node's artifact store), in the process sandbox.
The browser (``tests/app/browser/console_training.mjs``) connects the wallet, is refused a
file that is not JSONL and an upload with only the wallet, imports a dev key, uploads a JSONL
dataset (hashed in the page, PUT with an upload token the dev key signs), starts a
``lora-train`` job on it and watches it settle with the adapter's hash, then bonds the
wallet as a worker through the staking precompile. Screenshots go to
``$VCOIN_TEST_ARTIFACTS/console`` (``console-training-*.png``).

The upload token is checked here against the store's format (``chain.crypto``'s
signature check), so the test holds both before and after the node asks for it.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.node import Node
from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from chain.crypto import PrivateKey, key_address, to_bech32, verify_signature
from genesis.devnet import dev_key
from modules.bank.msgs import MsgSend
from modules.staking.msgs import Coin
from tests.app.test_console_browser import _bundle, artifacts_dir
from tests.app.test_explorer_browser import BROWSER_DIR, ROOT, chromium_path
from tests.app.test_explorer_browser import needs_browser as needs_browser
from tests.support.browser import run_driver
from tests.support.chain import test_key
from tests.support.genesis import h32, market_genesis
from tests.support.nodes import clean_env, free_port, inproc_node
from tests.support.wait import wait_for

VCN = 10**18
BIN = Path(sys.executable).parent
ETH_SECRET = h32("console-training-eth-key")
WORKER = "worker1"  # a devnet dev key, funded by the devnet genesis
NOTHING_SAMPLED = {
    "base_sample_bps": 0,
    "max_sample_bps": 0,
    "new_worker_sample_bps": 0,
    "canary_rate_bps": 0,
    "plant_rate_bps": 0,
    "challenge_window_blocks": 2,
}
TEXTS = [f"The GPU marketplace trains adapter number {i} on this line." for i in range(6)]
EVAL_TEXTS = ["A held-out line about the GPU marketplace."]
DATASET = "\n".join(
    [json.dumps({"text": t}) for t in TEXTS[:3]]
    + [json.dumps(t) for t in TEXTS[3:]]
    + [json.dumps({"text": EVAL_TEXTS[0], "split": "eval"}), ""]
)


@dataclass
class Setup:
    node: Node
    rest: str
    client: NodeClient
    eth_hex: str
    eth_bech32: str
    dev: PrivateKey
    worker: str
    worker_log: Path


def store(rest: str, key: PrivateKey) -> ArtifactClient:
    """A store client that signs its requests once the store asks for tokens (``signer``)."""
    kw: dict[str, Any] = {}
    if "signer" in inspect.signature(ArtifactClient).parameters:
        kw["signer"] = key
    return ArtifactClient(rest, **kw)


def worker_cli(env: dict[str, str], *args: str) -> None:
    r = subprocess.run(
        [str(BIN / "vcoin-worker"), *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert r.returncode == 0, f"vcoin-worker {' '.join(args)}:\n{r.stdout}\n{r.stderr}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    from eth_account import Account

    from worker.models.__main__ import build
    from worker.models.artifact import publish

    tmp = tmp_path_factory.mktemp("console-training")
    doc = market_genesis(
        4,
        models=None,  # the devnet's: tiny-lm takes lora-train
        merge=True,
        defaults={"staking": {"min_bond_worker": str(100 * VCN)}},
        verification=NOTHING_SAMPLED,
    )
    with inproc_node(tmp / "node", doc, block_time_ms=200, instant=False) as node:
        rpc, rest = f"http://{node.cfg.rpc_laddr}", f"http://{node.cfg.rest_laddr}"
        with NodeClient(rpc) as client:
            funder = test_key(0)
            with store(rest, funder) as ac:
                publish(build("tiny-lm", tmp / "models", 0), ac)
            eth_hex = str(Account.from_key(ETH_SECRET).address)
            eth_bech32 = to_bech32(bytes.fromhex(eth_hex[2:]))
            coins = [Coin(denom="avcn", amount=str(200 * VCN))]
            msg = MsgSend(from_address=funder.bech32, to_address=eth_bech32, amount=coins)
            client.send_tx(funder, [msg], gas="auto")

            home = tmp / WORKER
            env = clean_env() | {
                "VCOIN_WORKER_HOME": str(home),
                "VCOIN_WORKER_DEVICE": "cpu",
                "VCOIN_WORKER_MODELS": "tiny-lm",
                "VCOIN_WORKER_TASK_TYPES": "lora-train",
                "VCOIN_WORKER_JOB_MEMORY_MIB": "2048",
                "VCOIN_WORKER_JOB_TIMEOUT_S": "180",
                "VCOIN_WORKER_SHUTDOWN_GRACE_S": "5",
                "VCOIN_WORKER_METRICS_LADDR": f"127.0.0.1:{free_port()}",
            }
            common = ["--node", rpc]
            worker_cli(env, "init", "--dev-key", WORKER, "--key", WORKER, "--artifacts", rest,
                       "--sandbox", "process", *common)  # fmt: skip
            worker_cli(env, "register", "--price-floor", "0.5VCN", *common)
            worker_cli(env, "stake", "200VCN", *common)
            log_path = home / "agent.log"
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    [str(BIN / "vcoin-worker"), "start", *common],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )

            def started() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"the worker exited:\n{log_path.read_text()[-4000:]}")
                return "following the chain" in log_path.read_text(errors="replace")

            try:
                wait_for("the worker to follow the chain", started, 120, poll=0.5)
                yield Setup(
                    node, rest, client, eth_hex, eth_bech32, test_key(3),
                    dev_key(WORKER).bech32, log_path,
                )  # fmt: skip
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def safetensors_metadata(blob: bytes) -> dict[str, str]:
    n = int.from_bytes(blob[:8], "little")
    meta: dict[str, str] = json.loads(blob[8 : 8 + n]).get("__metadata__", {})
    return meta


@needs_browser
def test_console_dataset_training_and_wallet_bond(setup: Setup, tmp_path: Path) -> None:
    s = setup
    _bundle()
    plan = {
        "url": f"{s.rest}/explorer/console.html",
        "chromium": chromium_path(),
        "out": str(artifacts_dir()),
        "eth_key": ETH_SECRET.hex(),
        "eth_bech32": s.eth_bech32,
        "dev_key": s.dev.secret.hex(),
        "bad_file": {"name": "notes.txt", "mime": "text/plain", "text": "just some notes\n"},
        "dataset": {"name": "lines.jsonl", "mime": "application/jsonl", "text": DATASET},
        "steps": "2",
        "bond_amount": "150",
    }
    keep = artifacts_dir() / "console-training.json"
    out = run_driver(BROWSER_DIR / "console_training.mjs", plan, tmp_path, keep, timeout=400)
    assert out["errors"] == [], (out["errors"], s.worker_log.read_text()[-3000:])
    steps = out["steps"]

    # a file that is not JSONL is refused in the page, saying why; nothing is uploaded
    bad = steps["refused"]
    assert bad["bad"] and bad["puts"] == 0 and bad["hash"] == "–", bad
    assert bad["status"].startswith("notes.txt is not a JSONL dataset: line 1 is not JSON"), bad
    # with only the wallet connected: uploads need the dev key (the wallet cannot sign one)
    w = steps["wallet-only"]
    assert w["bad"] and w["puts"] == 0 and "dev key" in w["status"], w

    # the dataset: uploaded as the lora-train input, named by the hash the page computed
    up = steps["uploaded"]
    doc = {"texts": TEXTS, "eval_texts": EVAL_TEXTS}
    body = json.dumps(doc, separators=(",", ":")).encode()
    digest = hashlib.sha256(body).hexdigest()
    assert up["hash"] == digest and not up["bad"], up
    assert up["status"].startswith("uploaded lines.jsonl: 6 training and 1 held-out texts"), up
    assert up["progress"] == 100
    with store(s.rest, s.dev) as ac:
        assert ac.download_bytes(digest) == body
    # with the store's upload token, signed by the dev key (chain/artifacts.py's format)
    [put] = out["puts"]
    assert put["url"] == f"{s.rest}/artifacts/{digest}"
    scheme, token = put["authorization"].split(" ")
    assert scheme == "VCoin-Artifact"
    payload_b64, sig_b64 = token.split(".")
    payload = b64url_decode(payload_b64)
    claims = json.loads(payload)
    assert payload == json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    assert claims["op"] == "put" and claims["sha256"] == digest and claims["v"] == 1
    assert time.time() < claims["exp"] <= time.time() + 3600
    pub = base64.b64decode(claims["pub"])
    assert key_address(pub) == s.dev.address
    assert verify_signature(pub, b64url_decode(sig_b64), payload)

    # a lora-train job on the dataset, posted with the dev key, run by the real worker,
    # watched to settled; the page shows the adapter's hash and links it
    assert "tiny-lm" in steps["models"]
    t = steps["trained"]
    assert t["state"] == "settled", (t, s.worker_log.read_text()[-3000:])
    # each state once, in the job's order (the worker may claim before the page first looks)
    seen = [line.split(" ")[0] for line in t["log"]]
    order = ["queued", "claimed", "submitted", "checking", "settled"]
    assert seen[-1] == "settled" and seen == sorted(set(seen), key=order.index), t["log"]
    assert f"(worker {s.worker})" in t["log"][-1]
    job = s.client.query("jobs", "job", {"id": t["job_id"]})
    assert job["state"] == "settled" and job["task_type"] == "lora-train", job
    assert job["input_hash"] == digest and job["poster"] == s.dev.bech32
    assert job["worker"] == s.worker and t["adapter"] == job["output_hash"]
    adapter = httpx.get(t["adapter_href"], timeout=30)  # the link the page shows
    assert adapter.status_code == 200
    assert hashlib.sha256(adapter.content).hexdigest() == job["output_hash"]
    meta = safetensors_metadata(adapter.content)
    assert meta["task"] == "lora-train" and meta["steps"] == "2" and meta["rank"] == "2", meta
    assert len(json.loads(meta["train_losses"])) == 2 and meta["eval_loss"]

    # bonded as a worker through the wallet: IStaking.bond by eth_sendTransaction
    b = steps["bonded-wallet"]
    assert b["status"].startswith("bonded 150VCN as a worker through the wallet"), b["status"]
    assert "the wallet's worker bond is now 150VCN" in b["status"]
    assert b["calls"].count("eth_sendTransaction") == 1
    row = next(x for x in b["balances"] if x["address"] == s.eth_bech32)
    assert "worker 150VCN" in row["bonds"]
    bond = s.client.query("staking", "bond", {"address": s.eth_bech32, "role": "worker"})
    assert int(bond["bonded"]) == 150 * VCN
