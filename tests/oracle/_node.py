"""A real node in this process with a marketplace genesis, and a scripted worker.

* ``market_node(home, models, **verification)``: the test genesis with the
  tiny LM and MiniLM registered under their real manifest hashes, short
  windows, and the given verification params; the node runs the solo driver
  with its RPC (websocket included) and REST (artifact store) servers on free
  ports; the model blobs are uploaded to its artifact store.
* ``Scripted``: a worker driven by the test, through the node's RPC like the
  real agent: claim, run the job in the runtime (in-process), upload the
  output, submit with a signed receipt; or submit a wrong output on purpose.
  (The real agent is worker/'s; these tests are about the oracle.)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.node import Node
from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from chain.crypto import PrivateKey
from modules.jobs import msgs as jm
from modules.jobs import receipt
from modules.staking.msgs import Coin, MsgBond
from oracle.expected import InProcessRunner, place_inline_input, runtime_spec
from tests.oracle.conftest import Models
from tests.support.chain import test_key
from tests.support.genesis import market_genesis, model_record
from tests.support.nodes import inproc_node
from tests.support.wait import wait_for

VCN = 10**18
IMAGE = "sha256:" + "cd" * 32


# the oracle tests' windows (a test adds the verification params it exercises)
WINDOWS: dict[str, dict[str, Any]] = {
    "jobs": {"default_claim_blocks": 200, "default_result_blocks": 100},
    "verification": {"challenge_window_blocks": 10, "attest_window_blocks": 200},
    "staking": {"jail_blocks": 20, "unbonding_blocks": 10},
}


def genesis(models: Models, **verification: Any) -> dict[str, Any]:
    """16 funded test keys; MiniLM and the tiny LM under their real hashes."""
    return market_genesis(
        16,
        models=[
            model_record("minilm", ["embedding"], models.minilm, sha256_hex("minilm")),
            model_record(
                "tiny-lm", ["lora-train", "text-generation"], models.lm, sha256_hex("tiny-lm")
            ),
        ],
        defaults=WINDOWS,
        verification=verification,
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Net:
    node: Node
    rpc: str
    rest: str
    client: NodeClient
    artifacts: ArtifactClient

    def wait_for(self, cond: Callable[[], Any], timeout: float = 60.0, step: Any = None) -> Any:
        return wait_for("the condition", cond, timeout, poll=0.05, step=step)

    def job(self, job_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self.client.query("jobs", "job", {"id": job_id})
        return out

    def attested_events(self, oracle: str) -> list[dict[str, str]]:
        """Every Attested event this oracle ever produced, from the tx index."""
        res = self.client.tx_search(f"Attested.oracle='{oracle}'", per_page=100)
        out = []
        for t in res.get("txs") or []:
            for e in t["tx_result"].get("events") or []:
                if e["type"] == "Attested":
                    out.append({a["key"]: a["value"] for a in e["attributes"]})
        return out


@contextmanager
def market_node(home: Path, models: Models, **verification: Any) -> Iterator[Net]:
    """The node (its REST port serves the artifact store), the model blobs uploaded."""
    with inproc_node(home, genesis(models, **verification), block_time_ms=200) as node:
        rpc, rest = f"http://{node.cfg.rpc_laddr}", f"http://{node.cfg.rest_laddr}"
        # uploads signed by a funded test key of their own (test_key(15))
        with NodeClient(rpc) as client, ArtifactClient(rest, test_key(15)) as art:
            for blob in sorted(p for p in models.folder.iterdir() if p.is_file()):
                if not blob.name.startswith("."):
                    art.upload_file(blob)
            yield Net(node, rpc, rest, client, art)


def bond_oracle(net: Net, key: PrivateKey, pubkey: bytes, amount: int = 10_000 * VCN) -> None:
    msg = MsgBond(
        address=key.bech32,
        role="oracle",
        amount=Coin(denom="avcn", amount=str(amount)),
        ed25519_pubkey=pubkey,
    )
    net.client.send_tx(key, [msg], gas="auto")


def post_job(
    net: Net,
    poster: PrivateKey,
    inline: dict[str, Any],
    task: str = "text-generation",
    model: str = "tiny-lm",
    spec: str = '{"params": {"max_new_tokens": 8}}',
    price: int = 2 * VCN,
) -> int:
    msg = jm.MsgPostJob(
        poster=poster.bech32,
        task_type=task,
        model=model,
        inline_input=json.dumps(inline).encode(),
        spec=spec,
        max_price=str(price),
    )
    resp = net.client.send_tx(poster, [msg], gas="auto")
    return int(resp.attributes("JobPosted", "job_id")[0])


class Scripted:
    """A worker the test drives step by step (see the module doc)."""

    def __init__(self, net: Net, key: PrivateKey, models: Models, work: Path) -> None:
        self.net, self.key, self.models, self.work = net, key, models, work
        self.runner = InProcessRunner()

    def register(self) -> None:
        reg = jm.MsgRegisterWorker(
            worker=self.key.bech32,
            gpu_model="",
            memory_mib=0,
            gpu_count=0,
            task_types=["embedding", "lora-train", "text-generation"],
            models=["minilm", "tiny-lm"],
            price_floor="0",
            max_concurrent=8,
        )
        bond = MsgBond(
            address=self.key.bech32,
            role="worker",
            amount=Coin(denom="avcn", amount=str(1000 * VCN)),
        )
        self.net.client.send_tx(self.key, [reg, bond], gas="auto")

    def claim(self, job_id: int) -> None:
        self.net.client.send_tx(
            self.key, [jm.MsgClaimJob(worker=self.key.bech32, job_id=job_id)], gas="auto"
        )

    def output(self, job: dict[str, Any], honest: bool) -> Path:
        model_hash = self.net.client.query("jobs", "model", {"id": job["model"]})["weights_sha256"]
        out = self.work / f"job{job['id']}-{time.monotonic_ns()}"
        self.work.mkdir(parents=True, exist_ok=True)
        place_inline_input(job, self.work)
        run = self.runner.run(runtime_spec(job, model_hash), self.work, self.models.folder, out)
        assert run.ok and run.output_path is not None, run.error_message
        if honest:
            return run.output_path
        junk = out / "junk.json"
        junk.write_bytes(
            run.output_path.read_bytes().replace(b'"completion":"', b'"completion":"x')
        )
        return junk

    def submit(self, job_id: int, path: Path) -> str:
        job = self.net.job(job_id)
        digest = self.net.artifacts.upload_file(path)
        model_hash = self.net.client.query("jobs", "model", {"id": job["model"]})["weights_sha256"]
        chain_id = self.net.client.chain_id()
        sig = receipt.sign(
            self.key,
            chain_id,
            job_id,
            IMAGE,
            bytes.fromhex(model_hash),
            bytes.fromhex(job["input_hash"]),
            bytes.fromhex(digest),
        )
        msg = jm.MsgSubmitResult(
            worker=self.key.bech32,
            job_id=job_id,
            output_hash=digest,
            artifact_ref=f"{self.net.rest}/artifacts/{digest}",
            compute_units=100,
            receipt=jm.ExecutionReceipt(
                image_digest=IMAGE,
                model_hash=model_hash,
                input_hash=job["input_hash"],
                output_hash=digest,
                signature=sig,
            ),
        )
        self.net.client.send_tx(self.key, [msg], gas="auto")
        return digest

    def work_on(self, job_id: int, honest: bool = True) -> str:
        self.claim(job_id)
        return self.submit(job_id, self.output(self.net.job(job_id), honest))


WORKER, POSTER, ORACLE1, ORACLE2 = test_key(0), test_key(1), test_key(2), test_key(3)


def driver_deps(
    net: Net,
    account: PrivateKey,
    state: Callable[[], Any],
    save: Callable[[], None],
    metrics: Any,
    *,
    node: Any = None,
    seed: int = 7,
    commit_every: int = 0,
) -> Any:
    """A canary driver's deps on ``net`` for ``account``: inline templates only (no local
    run; the test marks canaries prepared itself), ``node`` the client (``net``'s own by
    default)."""
    import random

    from oracle.canary_flow import CanaryDeps

    return CanaryDeps(
        enabled=True,
        min_observed=0,
        task_types=(),
        address=account.bech32,
        account=account,
        node=net.client if node is None else node,
        artifacts=net.artifacts,
        executor=None,  # type: ignore[arg-type]  # inline templates only; no local run
        rng=random.Random(seed),
        metrics=metrics,
        state=state,
        save=save,
        start_task=lambda kind, key, fn: None,
        model_hash=lambda model_id: "00" * 32,
        commit_every=commit_every,
    )
