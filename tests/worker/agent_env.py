"""A marketplace for the agent tests: a real node, an artifact store and real worker processes.

* ``market_genesis(models)``: the devnet genesis with models registered and
  short windows (claim 120 blocks, result 60, settlement 2 blocks after a
  result, no re-execution sampling, heartbeats every 5 blocks, 100 VCN bonds).
* ``Market``: posting jobs as alice, reading jobs and events back.
* ``WorkerProc``: a ``vcoin-worker`` home made with the CLI (init with a dev
  key, register, stake) and ``vcoin-worker start`` as a subprocess with
  JSON logs, so a test can SIGTERM it, kill -9 it and read what it said.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain.artifacts import ArtifactClient
from chain.client import NodeClient, TxResponse
from chain.coins import DECIMALS
from genesis.devnet import dev_key, genesis_doc
from modules.jobs.msgs import MsgPostJob
from tests.support.nodes import NodeProc, free_port, running_node, write_genesis
from tests.support.wait import wait_for
from tests.worker.conftest import no_engine
from worker.models.artifact import ModelArtifact, publish
from worker.models.tiny_lm import build_tiny_lm

VCN = 10**DECIMALS
ALICE = dev_key("alice")
WORKER_BIN = str(Path(sys.executable).with_name("vcoin-worker"))
PRICE = 5 * VCN  # what a test job offers
FLOOR = VCN  # what a test worker asks (its price floor): the price a claim fixes


def model_entry(model_id: str, art: ModelArtifact | None, tasks: list[str]) -> dict[str, Any]:
    """A jobs-genesis model record; ``art`` None registers weights nobody has uploaded."""
    weights = art.digest if art else "ee" * 32
    config = art.manifest.files["config.json"][0] if art else "ef" * 32
    return {
        "id": model_id,
        "task_types": tasks,
        "weights_sha256": weights,
        "config_sha256": config,
        "min_gpu_memory_mib": 0,
        "registered_height": 0,
        "description": f"test model {model_id}",
    }


def market_genesis(models: list[dict[str, Any]]) -> dict[str, Any]:
    doc = genesis_doc()
    st = doc["app_state"]
    st["jobs"] = {
        "params": {"default_claim_blocks": 120, "default_result_blocks": 60},
        "models": models,
    }
    st["staking"] = {"params": {"min_bond_worker": str(100 * VCN)}}
    st["verification"] = {
        "params": {"base_sample_bps": 0, "max_sample_bps": 0, "challenge_window_blocks": 2}
    }
    st["reputation"] = {"params": {"heartbeat_interval_blocks": "5"}}
    return doc


@dataclass
class Market:
    node: NodeProc
    artifacts: str
    store_dir: Path
    client: NodeClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = NodeClient(self.node.rpc)

    def post(
        self,
        inline: dict[str, Any] | None = None,
        *,
        model: str = "tiny-lm",
        task: str = "text-generation",
        spec: str = "",
        price: int = PRICE,
        result_blocks: int = 0,
        input_hash: str = "",
    ) -> int:
        """Post a job as alice; its input inline, or the artifact ``input_hash``."""
        doc = inline if inline is not None else {"prompts": ["Hello world"]}
        msg = MsgPostJob(
            poster=ALICE.bech32,
            task_type=task,
            model=model,
            input_hash=input_hash,
            inline_input=b"" if input_hash else json.dumps(doc).encode(),
            spec=spec,
            max_price=str(price),
            result_blocks=result_blocks,
        )
        resp: TxResponse = self.client.send_tx(ALICE, [msg], gas="auto")
        return int(resp.attributes("JobPosted", "job_id")[0])

    def job(self, job_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self.client.query("jobs", "job", {"id": str(job_id)})
        return out

    def wait_state(self, job_id: int, states: tuple[str, ...], timeout: float) -> dict[str, Any]:
        got: dict[str, Any] = wait_for(
            f"job {job_id} to be {'/'.join(states)}",
            lambda: (j := self.job(job_id))["state"] in states and j,
            timeout,
        )
        return got

    def events(self, event_type: str, job_id: int) -> list[dict[str, str]]:
        """Attribute maps of every ``event_type`` event for ``job_id`` in txs and blocks."""
        out: list[dict[str, str]] = []
        top = self.client.latest_height()
        for h in range(1, top + 1):
            r = self.client.block_results(h)
            evs = [e for t in r.get("txs_results") or [] if t["code"] == 0 for e in t["events"]]
            evs += r.get("finalize_block_events") or []
            for e in evs:
                attrs = {a["key"]: a["value"] for a in e["attributes"]}
                if e["type"] == event_type and attrs.get("job_id") == str(job_id):
                    out.append(attrs)
        return out


class WorkerProc:
    """One worker: its home (made by the CLI) and, once started, its agent process."""

    def __init__(self, market: Market, home: Path, dev_name: str, **config: Any) -> None:
        self.market = market
        self.home = home
        self.name = dev_name
        self.address = dev_key(dev_name).bech32
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "agent.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
        settings: dict[str, Any] = {
            "node": market.node.rpc,
            "artifacts": market.artifacts,
            "sandbox": "docker",
            "job_memory_mib": 2048,
            "job_timeout_s": 120,
            "shutdown_grace_s": 5,
            "metrics_laddr": f"127.0.0.1:{self.metrics_port}",
            "log_level": "debug",
            "price_floor": FLOOR,
        }
        settings.update(config)
        for k, v in settings.items():
            self.env["VCOIN_WORKER_" + k.upper()] = str(v)
        self.env["VCOIN_WORKER_HOME"] = str(home)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [WORKER_BIN, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        if check:
            assert r.returncode == 0, f"vcoin-worker {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r

    def setup(self, stake: str = "200VCN") -> WorkerProc:
        self.cli("init", "--dev-key", self.name)
        self.cli("register")
        self.cli("stake", stake)
        return self

    def start(self) -> WorkerProc:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [WORKER_BIN, "start"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_for(f"{self.name} to follow blocks", lambda: self._started(), 60)
        return self

    def _started(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.log_text()}")
        return self.said("msg", "following the chain")

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def said(self, key: str, text: str) -> bool:
        return any(text in str(r.get(key, "")) for r in self.records())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def state(self) -> dict[str, Any]:
        p = self.home / "data" / "state.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        # An agent killed outright leaves its containers (its idle warm one at least),
        # which only its next start would remove.
        import docker

        root = str(self.home.resolve())
        try:
            client = docker.from_env()
            found = client.containers.list(all=True, filters={"label": "vcoin.sandbox=job"})
        except Exception:  # noqa: BLE001 - no engine: no containers either
            return
        for c in found:
            if any(str(m.get("Source", "")).startswith(root) for m in c.attrs["Mounts"]):
                c.remove(force=True)
        client.close()


def inline_of(job: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(job["inline_input"]))
    return doc


# -- fixtures (import them into a test module) -----------------------------------------------


@pytest.fixture(scope="module")
def docker_engine() -> None:
    from compute.sandbox.docker_backend import engine_problem

    problem = engine_problem()
    if problem is not None:
        no_engine(problem)


def _corrupt(store_dir: Path, digest: str) -> None:
    """Flip the bytes of a stored blob: the store now serves bytes that miss their name."""
    path = store_dir / digest[:2] / digest[2:4] / digest
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-4:] = b"\0\0\0\0"
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, tiny_lm: ModelArtifact) -> Any:
    """A node (real ``vcoind start`` process) with tiny-lm, ghost-lm (weights never
    uploaded) and bad-lm (weights corrupted in the store) registered."""
    tmp = tmp_path_factory.mktemp("market")
    bad = build_tiny_lm(tmp / "bad-models", seed=1)
    models = [
        model_entry("tiny-lm", tiny_lm, ["text-generation", "lora-train"]),
        model_entry("ghost-lm", None, ["text-generation"]),
        model_entry("bad-lm", bad, ["text-generation"]),
    ]
    home = tmp / "node"
    write_genesis(home, market_genesis(models))
    with running_node(home) as node:
        # the node's REST port serves the artifact store
        url, store = node.rest, home / "data" / "artifacts"
        with ArtifactClient(url) as ac:
            publish(tiny_lm, ac)
            publish(bad, ac)
        _corrupt(store, bad.manifest.files["model.safetensors"][0])
        m = Market(node, url, store)
        yield m
        m.client.close()


@pytest.fixture
def workers(market: Market, tmp_path: Path) -> Any:
    """Make workers with ``workers(dev_name, **config)``; all are killed at the end."""
    made: list[WorkerProc] = []

    def make(dev_name: str, **config: Any) -> WorkerProc:
        w = WorkerProc(market, tmp_path / dev_name, dev_name, **config)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
