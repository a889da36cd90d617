"""A marketplace for the agent tests: a real node, an artifact store and real worker processes.

* ``AGENT_WINDOWS``: the genesis params of these tests (with
  ``tests.support.genesis.market_genesis``): short windows (claim 120 blocks,
  result 60, settlement 2 blocks after a result), no re-execution sampling,
  heartbeats every 5 blocks, 100 VCN bonds.
* ``market`` (fixture): a ``tests.support.node_market.NodeMarket`` on a real node.
* ``WorkerProc``: a ``vcoin-worker`` home made with the CLI (init with a dev
  key, register, stake) and ``vcoin-worker start`` as a subprocess with
  JSON logs, so a test can SIGTERM it, kill -9 it and read what it said.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain.artifacts import ArtifactClient
from chain.coins import DECIMALS
from genesis.devnet import dev_key
from tests.support.genesis import market_genesis, model_record
from tests.support.node_market import NodeMarket
from tests.support.nodes import clean_env, free_port, running_node, write_genesis
from tests.support.wait import wait_for
from tests.worker.conftest import no_engine
from worker.models.artifact import ModelArtifact, publish
from worker.models.tiny_lm import build_tiny_lm

VCN = 10**DECIMALS
WORKER_BIN = str(Path(sys.executable).with_name("vcoin-worker"))
FLOOR = VCN  # what a test worker asks (its price floor): the price a claim fixes


def model_entry(model_id: str, art: ModelArtifact | None, tasks: list[str]) -> dict[str, Any]:
    """A jobs-genesis model record; ``art`` None registers weights nobody has uploaded."""
    weights = art.digest if art else "ee" * 32
    config = art.manifest.files["config.json"][0] if art else "ef" * 32
    return model_record(model_id, tasks, weights, config, description=f"test model {model_id}")


# The agent tests' genesis: ``market_genesis(0, models=..., defaults=AGENT_WINDOWS)``.
AGENT_WINDOWS: dict[str, dict[str, Any]] = {
    "jobs": {"default_claim_blocks": 120, "default_result_blocks": 60},
    "staking": {"min_bond_worker": str(100 * VCN)},
    "verification": {"base_sample_bps": 0, "max_sample_bps": 0, "challenge_window_blocks": 2},
    "reputation": {"heartbeat_interval_blocks": "5"},
}


class WorkerProc:
    """One worker: its home (made by the CLI) and, once started, its agent process."""

    def __init__(self, market: NodeMarket, home: Path, dev_name: str, **config: Any) -> None:
        self.market = market
        self.home = home
        self.name = dev_name
        self.address = dev_key(dev_name).bech32
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "agent.log"
        self.env = clean_env()
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
    write_genesis(home, market_genesis(0, models=models, defaults=AGENT_WINDOWS))
    with running_node(home) as node:
        # the node's REST port serves the artifact store
        url, store = node.rest, home / "data" / "artifacts"
        with ArtifactClient(url, dev_key("alice")) as ac:
            publish(tiny_lm, ac)
            publish(bad, ac)
        _corrupt(store, bad.manifest.files["model.safetensors"][0])
        m = NodeMarket(node, url, store)
        yield m
        m.client.close()


@pytest.fixture
def workers(market: NodeMarket, tmp_path: Path) -> Any:
    """Make workers with ``workers(dev_name, **config)``; all are killed at the end."""
    made: list[WorkerProc] = []

    def make(dev_name: str, **config: Any) -> WorkerProc:
        w = WorkerProc(market, tmp_path / dev_name, dev_name, **config)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
