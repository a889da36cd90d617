"""The marketplace on a testnet: what ``scripts/devnet`` does for the solo node (publish
the devnet models, register and bond workers and oracles, run ``vcoin-worker`` and
``vcoin-oracle``), for ``scripts/testnet --with-market`` and the CometBFT market test.

``TestnetMarket(root, rpc, rest)`` puts each daemon's home and logs under ``root``
(``<root>/<name>/``, ``<root>/logs/<name>.log``) and points every daemon at one
validator: ``rpc`` its CometBFT RPC, ``rest`` its app's REST API, which serves that
node's artifact store (the store is per node, so the models are published there and
the workers' outputs land there, where the oracles read them).

* ``publish_models()``: each devnet model built (``python -m worker.models build``)
  and uploaded unless the store has its manifest already;
* ``setup()``: workers ``vcoin-worker init`` (dev key), ``register`` and ``stake``
  (when not bonded), oracles ``vcoin-oracle init`` and ``register`` (when not bonded),
  all at once, each with its own setup log; a second run finds its homes and bonds;
* ``start()``: every daemon, until its log says it follows the chain;
* ``stop()``: SIGTERM (running jobs finish or go back to the queue), then SIGKILL
  whatever is left after the grace.

The dev keys' seeds are public: local networks only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.testnet import Testnet, TestnetError
from chain.client import NodeClient
from genesis.devnet import DEVNET_MODEL_BUILDS, DEVNET_MODELS, dev_key

BIN = Path(sys.executable).parent
DEFAULT_WORKERS = ("worker1", "worker2")
DEFAULT_ORACLES = ("oracle1",)
WORKER_BOND = "1000VCN"  # the reputation module's reference bond: full stake weight
WORKER_FLOOR = "0.5VCN"  # each worker's ask: what a claim fixes as the job's price
READY = {"worker": "following the chain", "oracle": "oracle running"}


class MarketError(TestnetError):
    """A step of the market's set-up failed; the message names its log."""

    __test__ = False  # not a pytest class


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without worker and oracle settings (each daemon gets
    its own on its command line), plus ``extra``."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VCOIN_WORKER_", "VCOIN_ORACLE_")) and k != "VCOIN_HOME"
    }
    return keep | dict(extra or {})


def _tail(path: Path, n: int = 2000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _cli(argv: Sequence[str], env: Mapping[str, str], log: Path, timeout: float = 300) -> str:
    """Run a CLI once, its output appended to ``log``; its stdout, or MarketError."""
    with log.open("a") as f:
        f.write(f"$ {' '.join(argv)}\n")
        f.flush()
        r = subprocess.run(
            list(argv), env=dict(env), capture_output=True, text=True, timeout=timeout
        )
        f.write(r.stdout + r.stderr)
    if r.returncode != 0:
        raise MarketError(f"{' '.join(argv[:3])} … failed ({r.returncode}); see {log}:\n"
                          f"{_tail(log, 1500)}")  # fmt: skip
    return r.stdout


def pick_sandbox(kind: str = "auto") -> tuple[str, str]:
    """The sandbox the daemons run jobs in, and why: ``docker`` when asked, or under
    ``auto`` when an engine answers and the worker image of this tree is built; else
    ``process`` (less isolated)."""
    if kind == "process":
        return "process", "process (as asked), LESS isolated than docker"
    from compute.sandbox.docker_backend import engine_problem
    from worker.image.build import image_exists, image_tag

    problem = engine_problem()
    tag = image_tag()
    if problem is None and image_exists(tag):
        return "docker", "docker (read-only containers, no network, resource limits)"
    why = problem or f"the worker image {tag} is not built (scripts/build-worker-image)"
    if kind == "docker":
        raise MarketError(f"the docker sandbox was asked for, but {why}")
    return "process", f"process, LESS isolated than docker: {why}"


@dataclass
class MarketDaemon:
    """A ``vcoin-worker start`` or ``vcoin-oracle start`` process and its log."""

    name: str
    role: str  # worker | oracle
    home: Path
    argv: list[str]
    env: dict[str, str]
    log: Path
    metrics: str  # host:port of its /metrics
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    exit_code: int | None = None
    _mark: int = 0

    @property
    def address(self) -> str:
        return dev_key(self.name).bech32

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._mark = self.log.stat().st_size if self.log.exists() else 0
        self.exit_code = None
        with self.log.open("ab") as f:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # a Ctrl-C in the terminal reaches only the testnet
            )

    def ready(self) -> bool:
        """Its log says it follows the chain; MarketError if it exited."""
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise MarketError(f"{self.name} exited ({code}) at start; see {self.log}:\n"
                              f"{_tail(self.log, 1500)}")  # fmt: skip
        with self.log.open("rb") as f:
            f.seek(self._mark)
            return READY[self.role].encode() in f.read()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.proc is not None
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def reap(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for it to end, then SIGKILL it; its exit code."""
        if self.proc is None:
            return self.exit_code
        try:
            self.proc.wait(max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(10)
        self.exit_code = self.proc.returncode
        self.proc = None
        return self.exit_code


class TestnetMarket:
    """Workers and oracles on one validator of a testnet (see the module docstring).

    ``models``: the devnet model ids to publish and have the workers serve (None: all);
    ``worker_settings``: more ``vcoin-worker`` settings, as its env vars
    (``{"job_timeout_s": 120}`` → ``VCOIN_WORKER_JOB_TIMEOUT_S``); ``canaries``: whether
    the oracles post canary jobs; ``grace``: seconds a stopping daemon gets for its
    running job."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        root: Path | str,
        rpc: str,
        rest: str,
        *,
        workers: Sequence[str] = DEFAULT_WORKERS,
        oracles: Sequence[str] = DEFAULT_ORACLES,
        sandbox: str = "process",
        device: str = "cpu",
        metrics_port: int = 9101,
        models: Sequence[str] | None = None,
        worker_settings: Mapping[str, Any] | None = None,
        canaries: bool = True,
        grace: int = 10,
        log_format: str = "text",
    ) -> None:
        self.root = Path(root)
        self.rpc, self.rest = rpc, rest
        self.sandbox, self.device = sandbox, device
        self.models = list(models) if models is not None else [m["id"] for m in DEVNET_MODELS]
        unknown = sorted(set(self.models) - set(DEVNET_MODEL_BUILDS))
        if unknown:
            raise MarketError(f"not devnet models: {unknown}; known: {sorted(DEVNET_MODEL_BUILDS)}")
        self.worker_settings = dict(worker_settings or {})
        self.canaries, self.grace, self.log_format = canaries, grace, log_format
        self.logs = self.root / "logs"
        names = [(n, "worker") for n in workers] + [(n, "oracle") for n in oracles]
        self.daemons = [
            self._daemon(name, role, f"127.0.0.1:{metrics_port + i}")
            for i, (name, role) in enumerate(names)
        ]

    # -- the daemons' command lines ----------------------------------------------------
    def _worker_env(self, home: Path) -> dict[str, str]:
        extra = {f"VCOIN_WORKER_{k.upper()}": str(v) for k, v in self.worker_settings.items()}
        if models := ",".join(self.models):
            extra.setdefault("VCOIN_WORKER_MODELS", models)
        return _env(extra | {"VCOIN_WORKER_HOME": str(home)})

    def _daemon(self, name: str, role: str, metrics: str) -> MarketDaemon:
        home = self.root / name
        log = self.logs / f"{name}.log"
        common = ["--sandbox", self.sandbox, "--device", self.device]
        common += ["--artifacts", self.rest, "--log-format", self.log_format]
        if role == "worker":
            argv = [str(BIN / "vcoin-worker"), "start", "--home", str(home), "--node", self.rpc]
            argv += [*common, "--price-floor", WORKER_FLOOR, "--metrics-laddr", metrics]
            argv += ["--shutdown-grace", str(self.grace)]
            return MarketDaemon(name, role, home, argv, self._worker_env(home), log, metrics)
        argv = [str(BIN / "vcoin-oracle"), "--home", str(home), "start", "--rpc", self.rpc]
        argv += [*common, "--metrics", metrics]
        argv += [] if self.canaries else ["--no-canaries"]
        return MarketDaemon(name, role, home, argv, _env(), log, metrics)

    @property
    def workers(self) -> list[MarketDaemon]:
        return [d for d in self.daemons if d.role == "worker"]

    @property
    def oracles(self) -> list[MarketDaemon]:
        return [d for d in self.daemons if d.role == "oracle"]

    # -- models ------------------------------------------------------------------------
    def publish_models(self, say: Callable[[str], None] = lambda _: None) -> None:
        """Each model's blobs into the validator's artifact store (built only when the
        store lacks its manifest)."""
        import httpx

        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / "models.log"
        for m in DEVNET_MODELS:
            if m["id"] not in self.models:
                continue
            want = str(m["weights_sha256"])
            if httpx.head(f"{self.rest}/artifacts/{want}", timeout=10).status_code == 200:
                say(f"model {m['id']}: in the artifact store")
                continue
            name, seed = DEVNET_MODEL_BUILDS[str(m["id"])]
            say(f"model {m['id']}: building and publishing to {self.rest}/artifacts")
            out = _cli(
                [sys.executable, "-m", "worker.models", "build", name, "--seed", str(seed),
                 "--out", str(self.root / "models"), "--publish", self.rest,
                 "--dev-key", "platform"],
                _env(), log,
            )  # fmt: skip
            got = json.loads(out)["model_hash"]
            if got != want:
                say(
                    f"WARNING: {m['id']} built here hashes to {got}, but the genesis "
                    f"registers {want} (torch other than 2.13.0?): its jobs fail with "
                    "model_not_found"
                )

    # -- registration and bonds ------------------------------------------------------------
    def _bonded(self, name: str, role: str) -> bool:
        with NodeClient(self.rpc, timeout=20) as c:
            b = c.query("staking", "bond", {"address": dev_key(name).bech32, "role": role})
        return int(b["bonded"]) >= int(b["min_bond"])

    def _setup_worker(self, d: MarketDaemon, log: Path) -> None:
        cli = [str(BIN / "vcoin-worker"), "--home", str(d.home), "--node", self.rpc]
        if not (d.home / "config.toml").exists():
            _cli([*cli, "init", "--dev-key", d.name, "--key", d.name, "--artifacts", self.rest,
                  "--sandbox", self.sandbox], d.env, log)  # fmt: skip
        _cli([*cli, "register", "--price-floor", WORKER_FLOOR], d.env, log)
        if not self._bonded(d.name, "worker"):
            _cli([*cli, "stake", WORKER_BOND], d.env, log)

    def _setup_oracle(self, d: MarketDaemon, log: Path) -> None:
        cli = [str(BIN / "vcoin-oracle"), "--home", str(d.home)]
        if not (d.home / "config.toml").exists() and not (d.home / "config.json").exists():
            _cli([*cli, "init", "--keyring-backend", "test", "--dev-key", d.name,
                  "--key-name", d.name, "--rpc", self.rpc, "--artifacts", self.rest,
                  "--sandbox", self.sandbox, "--device", self.device], d.env, log)  # fmt: skip
            # A stopping network should not wait half a minute for a running check.
            _cli([sys.executable, "-c", "import sys\nfrom oracle.config import OracleConfig\n"
                  "OracleConfig.load(sys.argv[1]).with_(shutdown_grace_s=float(sys.argv[2]))"
                  ".save()", str(d.home), str(self.grace)], d.env, log)  # fmt: skip
        if not self._bonded(d.name, "oracle"):
            _cli([*cli, "register", "--rpc", self.rpc], d.env, log)

    def setup(self) -> None:
        """Every daemon's home, registration and bond, all at once (skipped where done)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        errors: dict[str, BaseException] = {}

        def one(d: MarketDaemon) -> None:
            log = self.logs / f"{d.name}.setup.log"
            try:
                if d.role == "worker":
                    self._setup_worker(d, log)
                else:
                    self._setup_oracle(d, log)
            except BaseException as e:  # noqa: BLE001 - reported below, by name
                errors[d.name] = e

        threads = [threading.Thread(target=one, args=(d,)) for d in self.daemons]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            name, e = sorted(errors.items())[0]
            raise MarketError(f"setting up {name} failed: {e}")

    # -- processes ---------------------------------------------------------------------
    def start(self, timeout: float = 180, abort: Callable[[], bool] = lambda: False) -> None:
        """Start every daemon; returns once each follows the chain (MarketError if one
        exits or is not ready within ``timeout`` s, or ``abort()`` turns true)."""
        for d in self.daemons:
            d.start()
        deadline = time.monotonic() + timeout
        waiting = list(self.daemons)
        while waiting:
            if abort():
                raise MarketError("stopped while the workers and oracles were starting")
            waiting = [d for d in waiting if not d.ready()]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(d.name for d in waiting)
                raise MarketError(f"{names} did not start within {timeout:g}s; see {self.logs}")
            time.sleep(0.3)

    def exited(self) -> list[MarketDaemon]:
        """Daemons that exited since the last look (each reported once)."""
        out = []
        for d in self.daemons:
            if d.proc is not None and d.proc.poll() is not None:
                d.exit_code = d.proc.returncode
                d.proc = None
                out.append(d)
        return out

    def stop(self, timeout: float | None = None) -> dict[str, int | None]:
        """SIGTERM to every daemon; SIGKILL after the grace (plus a margin); exit codes."""
        wait = timeout if timeout is not None else self.grace + 35
        for d in self.daemons:
            d.signal(signal.SIGTERM)
        deadline = time.monotonic() + wait
        return {d.name: d.reap(deadline - time.monotonic()) for d in self.daemons}

    def describe(self) -> list[str]:
        """A line per daemon: its log and metrics."""
        return [
            f"  {d.name + ':':9} {d.role}, log {d.log}  metrics http://{d.metrics}/metrics"
            for d in self.daemons
        ]


def start_testnet_market(
    net: Testnet,
    node: int,
    *,
    sandbox: str = "auto",
    device: str = "cpu",
    metrics_port: int,
    abort: Callable[[], bool] = lambda: False,
    say: Callable[[str], None] = print,
) -> TestnetMarket:
    """``scripts/testnet --with-market``: two workers and one oracle on validator
    ``node`` of the running ``net`` (homes and logs under ``<net root>/market``),
    set up as ``scripts/devnet`` does and started; stopped again if a step fails."""
    if not 0 <= node < net.n:
        raise MarketError(f"--market-node {node}: the validators are 0..{net.n - 1}")
    v = net.validators[node]
    kind, why = pick_sandbox(sandbox)
    say(f"[testnet] market on node{v.index} ({v.rpc_url}); sandbox: {why}")
    m = TestnetMarket(
        net.root / "market", v.rpc_url, v.rest_url, sandbox=kind, device=device,
        metrics_port=metrics_port,
    )  # fmt: skip
    try:
        m.publish_models(lambda line: say(f"[testnet] {line}"))
        names = " ".join(d.name for d in m.daemons)
        say(f"[testnet] registering and bonding {names} (skipped where done)")
        m.setup()
        m.start(abort=abort)
    except BaseException:
        m.stop()
        raise
    return m
