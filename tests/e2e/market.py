"""A marketplace of real processes for the end-to-end tests.

* ``market_of(tmp, genesis)``: a ``Marketplace``, the node (``vcoind start``, 1 s
  blocks, as the devnet) seen as a ``tests.support.node_market.NodeMarket`` plus the
  workers and oracles a test adds; its REST port serves the artifact store, into which
  the devnet models are published. ``E2E_GENESIS``: the genesis these tests start from.
* ``Worker``: a ``vcoin-worker`` home made with its CLI (init with a dev key,
  register, stake) and ``vcoin-worker start`` as a subprocess; with ``cheat``
  it runs ``python -m tests.e2e.cheater start`` instead (the same agent with a
  test hook that fakes a share of its outputs).
* ``Oracle``: a ``vcoin-oracle`` home (init with a dev key, register) and
  ``vcoin-oracle start``.
* ``post_jobs``: a mix of text-generation, embedding and tiny LoRA jobs (these
  with checkpoints, so checked by an interval replay), each with its own input,
  posted by alice.
* ``supply_check`` and ``invariants_after_stop``: total supply = genesis +
  minted − burned from the node's own events; the App's invariants (escrow =
  open escrows, bonded = bonds, …) on the node's database once it stopped.

Jobs run in the docker sandbox when an engine answers and the worker image is
built (``scripts/test`` does both), else in the process sandbox; under
``VCOIN_REQUIRE_DOCKER=1`` (``scripts/test``) a missing engine or image fails the test
instead (``choose_sandbox``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.app import App
from chain.client import NodeClient
from chain.coins import DECIMALS, DENOM
from genesis.devnet import DEVNET_MODEL_BUILDS, dev_key
from modules.jobs.msgs import MsgPostJob
from tests.support.node_market import NodeMarket
from tests.support.nodes import NodeProc, clean_env, free_port, start_vcoind, write_genesis
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VCN = 10**DECIMALS
ALICE = dev_key("alice")
WORKER_BOND = 1000 * VCN  # the reference bond: full stake weight, a score of 100 to start
FLOOR = VCN // 2  # every worker's ask: the price a claim fixes
PRICE = 2 * VCN  # what every test job offers
TERMINAL = ("settled", "rejected", "cancelled", "expired", "failed")
OPEN = ("queued", "claimed", "submitted", "checking")


def sandbox_kind() -> str:
    """docker when an engine answers and the expected worker image exists, else process;
    under ``VCOIN_REQUIRE_DOCKER=1`` (``scripts/test``) no engine or no image fails."""
    from compute.sandbox.docker_backend import engine_problem
    from worker.image.build import image_exists, image_tag

    problem = engine_problem()
    tag = image_tag()
    present = problem is None and image_exists(tag)
    return choose_sandbox(problem, tag, present, os.environ.get("VCOIN_REQUIRE_DOCKER") == "1")


def choose_sandbox(
    engine_problem: str | None, image: str, image_present: bool, require_docker: bool
) -> str:
    """The sandbox of the marketplace tests: docker when the engine answers
    (``engine_problem`` None) and ``image`` is there; else process, unless Docker is
    required, when the tests fail and say what to run instead of quietly testing less."""
    if engine_problem is None and image_present:
        return "docker"
    if require_docker:
        if engine_problem is not None:
            pytest.fail(f"VCOIN_REQUIRE_DOCKER=1 but {engine_problem}")
        pytest.fail(
            f"VCOIN_REQUIRE_DOCKER=1 but the worker image {image} is missing; "
            "run scripts/build-worker-image"
        )
    return "process"


# The genesis of these tests: ``market_genesis(**E2E_GENESIS, verification={...})``: the
# devnet genesis (models registered, short windows) with a test's params merged in per
# module, and worker bonds from 100 VCN so a slashed 1000 VCN bond stays active.
E2E_GENESIS: dict[str, Any] = {
    "n_accounts": 0,
    "models": None,
    "defaults": {"staking": {"min_bond_worker": str(100 * VCN)}},
    "merge": True,
}


def run_cli(argv: list[str], env: dict[str, str] | None = None) -> str:
    r = subprocess.run(
        argv, env=env or clean_env(), capture_output=True, text=True, timeout=180, cwd=ROOT
    )
    assert r.returncode == 0, f"{' '.join(argv)}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


class Daemon:
    """A worker or oracle process: its home, its log (JSON lines), start/stop/kill."""

    name: str
    home: Path
    argv: list[str]
    env: dict[str, str]

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.home / "daemon.log"
        self.ready_text = ""

    def start(self) -> Daemon:
        self.mark = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
            )
        wait_for(f"{self.name} to start", self._ready, 120, poll=0.5)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.tail()}")
        with self.log.open("rb") as f:
            f.seek(self.mark)
            return self.ready_text.encode() in f.read()

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60) -> int:
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

    def close(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)


class Worker(Daemon):
    def __init__(
        self,
        node: NodeProc,
        home: Path,
        name: str,
        sandbox: str,
        cheat: dict[str, str] | None = None,
        **settings: Any,
    ) -> None:
        """``settings``: vcoin-worker settings (e.g. ``models="tiny-lm"``), as env vars."""
        self.name, self.home = name, home
        self.address = dev_key(name).bech32
        self.env = clean_env() | {"VCOIN_WORKER_HOME": str(home)}
        settings = {"job_memory_mib": 2048, "job_timeout_s": 120, "shutdown_grace_s": 5} | settings
        for k, v in settings.items():
            self.env[f"VCOIN_WORKER_{k.upper()}"] = str(v)
        if cheat is not None:
            self.env |= cheat
        common = ["--node", node.rpc]
        run_cli([str(BIN / "vcoin-worker"), "init", "--dev-key", name, "--key", name,
                 "--artifacts", node.rest, "--sandbox", sandbox, *common], self.env)  # fmt: skip
        run_cli([str(BIN / "vcoin-worker"), "register", "--price-floor", f"{FLOOR}avcn", *common],
                self.env)  # fmt: skip
        run_cli([str(BIN / "vcoin-worker"), "stake", f"{WORKER_BOND}avcn", *common], self.env)
        agent = (
            [sys.executable, "-m", "tests.e2e.cheater"]
            if cheat is not None
            else [str(BIN / "vcoin-worker")]
        )
        self.argv = [*agent, "start", *common, "--metrics-laddr", f"127.0.0.1:{free_port()}"]
        super().__init__()
        self.ready_text = "following the chain"


class Oracle(Daemon):
    def __init__(
        self, node: NodeProc, home: Path, name: str, sandbox: str, start_args: tuple[str, ...] = ()
    ) -> None:
        self.name, self.home = name, home
        self.address = dev_key(name).bech32
        self.env = clean_env()
        oracle = [str(BIN / "vcoin-oracle"), "--home", str(home)]
        run_cli([*oracle, "init", "--keyring-backend", "test", "--dev-key", name,
                 "--key-name", name, "--rpc", node.rpc, "--artifacts", node.rest,
                 "--sandbox", sandbox, "--device", "cpu"], self.env)  # fmt: skip
        run_cli([*oracle, "register", "--rpc", node.rpc], self.env)
        self.argv = [*oracle, "start", "--metrics", f"127.0.0.1:{free_port()}", *start_args]
        super().__init__()
        self.ready_text = "oracle running"


def publish_models(rest: str, folder: Path) -> None:
    """The devnet models' blobs into the node's artifact store (as scripts/devnet does)."""
    from chain.artifacts import ArtifactClient
    from worker.models.__main__ import build
    from worker.models.artifact import publish

    with ArtifactClient(rest, dev_key("platform")) as client:
        for name, seed in sorted(set(DEVNET_MODEL_BUILDS.values())):
            publish(build(name, folder, seed), client)


@dataclass(kw_only=True)
class Marketplace(NodeMarket):
    """The node (``NodeMarket``) and the workers and oracles started on it."""

    tmp: Path
    sandbox: str
    genesis: dict[str, Any]

    def worker(self, name: str, cheat: dict[str, str] | None = None, **settings: Any) -> Worker:
        w = Worker(self.node, self.tmp / name, name, self.sandbox, cheat, **settings)
        self.daemons.append(w)
        return w

    def oracle(self, name: str, *start_args: str) -> Oracle:
        o = Oracle(self.node, self.tmp / name, name, self.sandbox, start_args)
        self.daemons.append(o)
        return o

    def close(self) -> None:
        for d in self.daemons:
            d.close()
        self.node.close()
        if self.sandbox == "docker":
            self._remove_containers()

    def _remove_containers(self) -> None:
        """Job containers left by a worker killed mid-job (its restart would remove them)."""
        import docker

        root = str(self.tmp.resolve())
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": "vcoin.sandbox=job"}):
            mounts = c.attrs.get("Mounts") or []
            if any(str(m.get("Source", "")).startswith(root) for m in mounts):
                c.remove(force=True)


# -- jobs -----------------------------------------------------------------------------------
LORA_INTERVALS = 2  # a LoRA job's steps / checkpoint_every
WORDS = "apple river cloud stone maple orbit amber delta ember frost grove harbor".split()


def job_msg(i: int) -> MsgPostJob:
    """Job number ``i`` of the mix: 9 in 20 text generation, 7 embedding, 4 LoRA (with
    hash-chained checkpoints, ``LORA_INTERVALS`` intervals); every input differs (so no
    two honest outputs are the same)."""
    w = WORDS[i % len(WORDS)]
    k = i % 20
    if k < 9:
        task, model = "text-generation", "tiny-lm"
        doc: dict[str, Any] = {"prompts": [f"Job {i}: a story about the {w}"]}
        params: dict[str, Any] = {"max_new_tokens": 8, "seed": i % 7}
    elif k < 16:
        task, model = "embedding", "all-minilm-l6-v2"
        doc = {"texts": [f"job {i} is about the {w}", f"another {w} sentence, number {i}"]}
        params = {"max_length": 32}
    else:
        task, model = "lora-train", "tiny-lm"
        doc = {
            "texts": [f"the {w} number {i}", f"more text on {w} {i}", f"last line {i}"],
            "eval_texts": [f"held out {w} {i}"],
        }
        # checkpoints after each step (m = 2 intervals): an oracle checks the job by
        # replaying one interval drawn after submission (``oracle.interval``)
        params = {"steps": 2, "batch_size": 2, "rank": 2, "alpha": 4, "max_length": 16,
                  "checkpoint_every": 1}  # fmt: skip
    return MsgPostJob(
        poster=ALICE.bech32,
        task_type=task,
        model=model,
        input_hash="",
        inline_input=json.dumps(doc).encode(),
        spec=json.dumps({"params": params}),
        max_price=str(PRICE),
    )


def post_jobs(client: NodeClient, numbers: list[int]) -> list[int]:
    """Post jobs ``numbers`` of the mix in one tx; returns their chain ids."""
    resp = client.send_tx(ALICE, [job_msg(i) for i in numbers], gas="auto")
    return [int(x) for x in resp.attributes("JobPosted", "job_id")]


# -- money ------------------------------------------------------------------------------------
def genesis_supply(doc: dict[str, Any]) -> int:
    return sum(
        int(c["amount"])
        for b in doc["app_state"]["bank"]["balances"]
        for c in b["coins"]
        if c["denom"] == DENOM
    )


def coin_amount(text: str) -> int:
    return int(text.removesuffix(DENOM)) if text.endswith(DENOM) else 0


def supply_check(market: Marketplace) -> dict[str, int]:
    """Total supply against genesis + minted − burned, all read from the running node."""
    minted = burned = coinbase = 0
    for _, kind, attrs in market.all_events():
        if kind == "burn":
            burned += coin_amount(attrs["amount"])
        elif kind == "coinbase":
            coinbase += coin_amount(attrs["amount"])
    minted = int(market.client.query("mint", "minted")["total_minted"])
    supply = {
        c["denom"]: int(c["amount"]) for c in market.client.query("bank", "total_supply")["supply"]
    }[DENOM]
    return {
        "genesis": genesis_supply(market.genesis),
        "minted": minted,
        "coinbase": coinbase,
        "burned": burned,
        "supply": supply,
    }


def invariants_after_stop(home: Path) -> list[str]:
    """The App's own invariants, on the database a stopped node left."""
    app = App(home / "data" / "state")
    try:
        return app.check_invariants()
    finally:
        app.close()


@contextmanager
def market_of(tmp: Path, genesis: dict[str, Any]) -> Iterator[Marketplace]:
    """``vcoind start`` (1 s blocks, as the devnet), the devnet models published into the
    store its REST port serves; workers and oracles are added by the test."""
    sandbox = sandbox_kind()
    home = tmp / "node"
    write_genesis(home, genesis)
    node = start_vcoind(home, instant=False, log_path=home / "node.log")
    store = home / "data" / "artifacts"
    m = Marketplace(node, node.rest, store, poll=0.5, tmp=tmp, sandbox=sandbox, genesis=genesis)
    try:
        publish_models(node.rest, tmp / "models")
        yield m
    finally:
        m.close()
