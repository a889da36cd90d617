"""A multi-validator VCoin network on one machine: N CometBFT nodes, each with its app.

``python -m app.testnet`` (``scripts/testnet``) runs it in the foreground; the
tests drive the same ``Testnet`` class, which can kill and restart any
validator's app or CometBFT node.

Each validator ``i`` has a folder ``<root>/node<i>`` holding ``cometbft/`` (its
CometBFT home: keys, config, block store), ``vcoin/`` (its VCoin home: state,
blocks copy, artifacts) and the two processes' logs. Ports count up from a base
port (default 36000) in steps of 10 per validator: +0 P2P, +1 CometBFT RPC,
+2 ABCI, +3 REST, +4 Ethereum JSON-RPC.

The genesis: the devnet's (dev accounts funded, the devnet models registered),
chain id ``vcoin-testnet-1``, plus one account per validator (``validator<i>``,
from a public seed like the dev keys: local networks only) bonded as
``validator`` with ``VALIDATOR_BOND`` and the ed25519 key of its CometBFT node.
CometBFT's genesis is made from it (``vcoind genesis cometbft``), so the
validator set comes from staking.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.genesis_cmd import cometbft_genesis
from chain.coins import DECIMALS, DENOM
from chain.crypto import module_address, to_bech32
from genesis.devnet import dev_key, genesis_doc

if TYPE_CHECKING:
    from app.testnet_market import TestnetMarket

CHAIN_ID = "vcoin-testnet-1"
VALIDATOR_BOND = 200_000 * 10**DECIMALS
VALIDATOR_BALANCE = 1_000_000 * 10**DECIMALS
COMETBFT_VERSION = "0.38.26"


class TestnetError(RuntimeError):
    """The testnet cannot be set up or started; the message says what to do."""

    __test__ = False  # not a pytest class


def find_cometbft() -> str:
    """The ``cometbft`` binary: $VCOIN_COMETBFT, the venv's (scripts/setup puts it
    there), then PATH and Go's bin folder."""
    candidates = [
        os.environ.get("VCOIN_COMETBFT", ""),
        str(Path(sys.executable).parent / "cometbft"),
        shutil.which("cometbft") or "",
        str(Path.home() / "go" / "bin" / "cometbft"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise TestnetError(
        "no cometbft binary: run scripts/setup (it installs CometBFT "
        f"v{COMETBFT_VERSION} with go install), or set VCOIN_COMETBFT to its path"
    )


def validator_key_name(i: int) -> str:
    return f"validator{i}"


def set_toml(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``key = value`` in ``[section]`` ("" for the top level);
    the key must already be there (CometBFT's config.toml lists every key)."""
    lines = text.split("\n")
    current = ""
    for n, line in enumerate(lines):
        m = re.match(r"^\[([^\]]+)\]\s*$", line)
        if m:
            current = m.group(1)
            continue
        if current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            lines[n] = f"{key} = {value}"
            return "\n".join(lines)
    raise TestnetError(f"CometBFT's config.toml has no {key} in [{section}]")


def rpc(url: str, method: str, params: dict[str, Any] | None = None, timeout: float = 3.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read())
    if answer.get("error"):
        raise RuntimeError(str(answer["error"]))
    return answer["result"]


@dataclass
class Validator:
    index: int
    root: Path
    base_port: int
    node_id: str = ""
    app_proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    comet_proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def p2p_port(self) -> int:
        return self.base_port

    @property
    def rpc_port(self) -> int:
        return self.base_port + 1

    @property
    def abci_port(self) -> int:
        return self.base_port + 2

    @property
    def rest_port(self) -> int:
        return self.base_port + 3

    @property
    def jsonrpc_port(self) -> int:
        return self.base_port + 4

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def comet_home(self) -> Path:
        return self.root / "cometbft"

    @property
    def vcoin_home(self) -> Path:
        return self.root / "vcoin"

    @property
    def p2p_address(self) -> str:
        return f"{self.node_id}@127.0.0.1:{self.p2p_port}"

    def consensus_pubkey(self) -> str:
        key = json.loads((self.comet_home / "config" / "priv_validator_key.json").read_text())
        return str(key["pub_key"]["value"])

    def status(self) -> dict[str, Any] | None:
        """CometBFT's /status, or None when its RPC does not answer."""
        try:
            return dict(rpc(self.rpc_url, "status", timeout=2.0))
        except (OSError, RuntimeError, ValueError):
            return None

    def height(self) -> int:
        s = self.status()
        return int(s["sync_info"]["latest_block_height"]) if s else -1


class Testnet:
    """N validators on loopback. ``init()`` once, then ``start()``; ``stop()`` at the end."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        root: Path | str,
        n: int = 4,
        base_port: int = 36000,
        timeout_commit: str = "500ms",
        snapshot_interval: int = 0,
        log_level: str = "info",
    ) -> None:
        if n < 1:
            raise TestnetError("a testnet needs at least one validator")
        self.root = Path(root)
        self.n = n
        self.cometbft = find_cometbft()
        self.timeout_commit = timeout_commit
        self.snapshot_interval = snapshot_interval
        self.log_level = log_level
        self.validators = [
            Validator(i, self.root / f"node{i}", base_port + 10 * i) for i in range(n)
        ]
        self.extra: list[Validator] = []  # nodes that joined later (join)

    # -- set-up ---------------------------------------------------------------------
    def _run(self, *args: str) -> str:
        r = subprocess.run(
            [self.cometbft, *args], capture_output=True, text=True, check=False, timeout=60
        )
        if r.returncode != 0:
            raise TestnetError(f"cometbft {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def initialised(self) -> bool:
        return all((v.vcoin_home / "config" / "genesis.json").exists() for v in self.validators)

    def add_validator_home(self, v: Validator) -> None:
        """A CometBFT home with fresh keys and a VCoin home, for validator ``v``."""
        v.root.mkdir(parents=True, exist_ok=True)
        self._run("init", "--home", str(v.comet_home))
        v.node_id = self._run("show-node-id", "--home", str(v.comet_home)).strip()

    def genesis(self) -> dict[str, Any]:
        """The VCoin genesis: the devnet's, plus each validator bonded with its key."""
        extra = {
            to_bech32(dev_key(validator_key_name(v.index)).address): VALIDATOR_BALANCE
            for v in self.validators
        }
        doc = genesis_doc(chain_id=CHAIN_ID, extra_balances=extra)
        bonds = [
            {
                "address": to_bech32(dev_key(validator_key_name(v.index)).address),
                "role": "validator",
                "amount": str(VALIDATOR_BOND),
                "consensus_pubkey": v.consensus_pubkey(),
            }
            for v in self.validators
        ]
        staking = doc["app_state"].setdefault("staking", {})
        staking["bonds"] = sorted(bonds, key=lambda b: str(b["address"]))
        # genesis bonds move no coins: the staking account holds them
        pool = to_bech32(module_address("staking"))
        balances = doc["app_state"]["bank"]["balances"]
        balances.append(
            {"address": pool, "coins": [{"denom": DENOM, "amount": str(VALIDATOR_BOND * self.n)}]}
        )
        balances.sort(key=lambda b: str(b["address"]))
        return doc

    def configure(self, v: Validator, peers: list[Validator]) -> None:
        path = v.comet_home / "config" / "config.toml"
        t = path.read_text()
        t = set_toml(t, "", "moniker", f'"node{v.index}"')
        t = set_toml(t, "", "proxy_app", f'"tcp://127.0.0.1:{v.abci_port}"')
        t = set_toml(t, "", "log_level", '"info"' if self.log_level == "info" else '"debug"')
        t = set_toml(t, "rpc", "laddr", f'"tcp://127.0.0.1:{v.rpc_port}"')
        # the explorer, served on the REST port, reads CometBFT's RPC from the browser
        t = set_toml(t, "rpc", "cors_allowed_origins", '["*"]')
        t = set_toml(t, "p2p", "laddr", f'"tcp://127.0.0.1:{v.p2p_port}"')
        others = ",".join(p.p2p_address for p in peers if p.index != v.index)
        t = set_toml(t, "p2p", "persistent_peers", f'"{others}"')
        t = set_toml(t, "p2p", "addr_book_strict", "false")
        t = set_toml(t, "p2p", "allow_duplicate_ip", "true")
        t = set_toml(t, "consensus", "timeout_commit", f'"{self.timeout_commit}"')
        t = set_toml(t, "consensus", "timeout_propose", '"2s"')
        path.write_text(t)
        vc = v.vcoin_home / "config"
        vc.mkdir(parents=True, exist_ok=True)
        (vc / "config.toml").write_text(
            "\n".join(
                [
                    "# written by app/testnet.py",
                    'consensus = "cometbft"',
                    f'abci_laddr = "127.0.0.1:{v.abci_port}"',
                    f'rest_laddr = "127.0.0.1:{v.rest_port}"',
                    f'jsonrpc_laddr = "127.0.0.1:{v.jsonrpc_port}"',
                    f'jsonrpc_ws_laddr = "127.0.0.1:{v.jsonrpc_port + 1}"',
                    f'comet_rpc = "{v.rpc_url}"',
                    f'log_level = "{self.log_level}"',
                    f"snapshot_interval = {self.snapshot_interval}",
                    "",
                ]
            )
        )

    def init(self) -> None:
        """Make every validator's homes, keys, genesis and config (once)."""
        if self.initialised():
            for v in self.validators:
                v.node_id = self._run("show-node-id", "--home", str(v.comet_home)).strip()
            return
        if self.root.exists() and any(self.root.iterdir()):
            raise TestnetError(f"{self.root} holds a half-made testnet: delete it and run again")
        for v in self.validators:
            self.add_validator_home(v)
        doc = self.genesis()
        comet = cometbft_genesis(doc)
        for v in self.validators:
            (v.vcoin_home / "config").mkdir(parents=True, exist_ok=True)
            (v.vcoin_home / "config" / "genesis.json").write_text(json.dumps(doc, indent=1))
            (v.comet_home / "config" / "genesis.json").write_text(json.dumps(comet, indent=1))
            self.configure(v, self.validators)

    def join(
        self, index: int, *, key_of: Validator | None = None, state_sync: bool = False
    ) -> Validator:
        """A new node for the running network (not a genesis validator), at port slot
        ``index`` (≥ n), started: it block-syncs from height 1, or with
        ``state_sync`` restores a validator's latest snapshot (trusting a recent
        block of node 0) and block-syncs from there. ``key_of``: run it with that
        validator's consensus key (a double signer, for tests only)."""
        base = self.validators[0].base_port + 10 * index
        v = Validator(index, self.root / f"node{index}", base)
        if v.root.exists():
            raise TestnetError(f"{v.root} exists: pick another index")
        self.add_validator_home(v)
        src = self.validators[0]
        for name, home in (("vcoin", v.vcoin_home), ("cometbft", v.comet_home)):
            (home / "config").mkdir(parents=True, exist_ok=True)
            shutil.copy(
                (src.vcoin_home if name == "vcoin" else src.comet_home) / "config" / "genesis.json",
                home / "config" / "genesis.json",
            )
        self.configure(v, self.validators)
        if key_of is not None:
            shutil.copy(
                key_of.comet_home / "config" / "priv_validator_key.json",
                v.comet_home / "config" / "priv_validator_key.json",
            )
        if state_sync:
            path = v.comet_home / "config" / "config.toml"
            top = src.height()
            trust = rpc(src.rpc_url, "block", {"height": str(top)})["block_id"]["hash"]
            t = path.read_text()
            t = set_toml(t, "statesync", "enable", "true")
            servers = ",".join(x.rpc_url for x in self.validators[:2])
            t = set_toml(t, "statesync", "rpc_servers", f'"{servers}"')
            t = set_toml(t, "statesync", "trust_height", str(top))
            t = set_toml(t, "statesync", "trust_hash", f'"{trust}"')
            t = set_toml(t, "statesync", "trust_period", '"168h0m0s"')
            t = set_toml(t, "statesync", "discovery_time", '"5s"')
            path.write_text(t)
        self.start_validator(v)
        self.extra.append(v)
        return v

    # -- processes ------------------------------------------------------------------
    def start_app(self, v: Validator) -> None:
        vcoind = str(Path(sys.executable).parent / "vcoind")
        log = open(v.root / "vcoind.log", "ab")  # noqa: SIM115 - the process owns it
        v.app_proc = subprocess.Popen(
            [vcoind, "--home", str(v.vcoin_home), "start"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait_port(v.abci_port, 60, f"node{v.index}'s app (ABCI)", v.root / "vcoind.log")

    def start_comet(self, v: Validator) -> None:
        log = open(v.root / "cometbft.log", "ab")  # noqa: SIM115 - the process owns it
        v.comet_proc = subprocess.Popen(
            [self.cometbft, "start", "--home", str(v.comet_home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_validator(self, v: Validator) -> None:
        self.start_app(v)
        self.start_comet(v)

    def start(self, wait_height: int = 1, timeout: float = 120.0) -> None:
        self.init()
        for v in self.validators:
            self.start_app(v)
        for v in self.validators:
            self.start_comet(v)
        self.wait_height(wait_height, timeout)

    def node(self, index: int) -> Validator:
        """A genesis validator or a node that joined later, by its index."""
        for v in [*self.validators, *self.extra]:
            if v.index == index:
                return v
        raise KeyError(index)

    def wait_height(
        self, height: int, timeout: float = 120.0, nodes: list[int] | None = None
    ) -> None:
        """Until each of ``nodes`` (default: all running) has committed ``height``."""
        want = (
            nodes
            if nodes is not None
            else [v.index for v in self.validators if v.comet_proc is not None]
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.node(i).height() >= height for i in want):
                return
            time.sleep(0.2)
        got = {i: self.node(i).height() for i in want}
        raise TestnetError(f"height {height} not reached within {timeout:g}s: {got}")

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes] | None, sig: int, wait: float = 20.0) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def kill_app(self, v: Validator, sig: int = signal.SIGKILL) -> None:
        self._signal(v.app_proc, sig)
        v.app_proc = None

    def kill_comet(self, v: Validator, sig: int = signal.SIGKILL) -> None:
        self._signal(v.comet_proc, sig)
        v.comet_proc = None

    def stop_validator(self, v: Validator) -> None:
        self.kill_comet(v, signal.SIGTERM)
        self.kill_app(v, signal.SIGTERM)

    def stop(self) -> None:
        for v in [*self.extra, *self.validators]:
            self.kill_comet(v, signal.SIGTERM)
        for v in [*self.extra, *self.validators]:
            self.kill_app(v, signal.SIGTERM)

    def status_line(self) -> str:
        statuses = [v.status() for v in self.validators]
        up = [s for s in statuses if s is not None]
        if not up:
            return f"validators up 0/{self.n}"
        best = max(up, key=lambda s: int(s["sync_info"]["latest_block_height"]))
        info = best["sync_info"]
        return (
            f"height {info['latest_block_height']}, validators up {len(up)}/{self.n}, "
            f"last block {str(info['latest_block_time']).rstrip('Z')[:23]}Z"
        )


def _wait_port(port: int, timeout: float, what: str, log: Path) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise TestnetError(f"{what} did not listen on port {port} within {timeout:g}s:\n{tail}")


def add_market_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "the marketplace (--with-market)",
        "what scripts/devnet runs on its node: the devnet models published to the "
        "validator's artifact store, worker1 and worker2 registered and bonded, oracle1 "
        "bonded, each daemon started against that validator (homes and logs under "
        "<home>/market; dev keys: local networks only)",
    )
    g.add_argument("--with-market", action="store_true", help="run two workers and an oracle")
    g.add_argument("--market-node", type=int, default=0, help="their validator (default 0)")
    g.add_argument(
        "--market-sandbox",
        choices=("auto", "docker", "process"),
        default="auto",
        help="where jobs run (default auto: docker when the engine answers and the worker "
        "image is built, else process)",
    )
    g.add_argument(
        "--market-device", choices=("cpu", "cuda", "auto"), default="cpu", help="default cpu"
    )
    g.add_argument(
        "--metrics-port",
        type=int,
        help="first of the daemons' metrics ports (default base port + 900)",
    )


def start_market(net: Testnet, args: argparse.Namespace, abort: Any) -> TestnetMarket:
    """``--with-market``: the workers and oracle started; their logs and metrics printed."""
    from app.testnet_market import start_testnet_market

    m = start_testnet_market(
        net,
        args.market_node,
        sandbox=args.market_sandbox,
        device=args.market_device,
        metrics_port=args.metrics_port or net.validators[0].base_port + 900,
        abort=abort,
        say=lambda line: print(line, flush=True),
    )
    other = net.validators[(args.market_node + 1) % net.n]
    print("\n".join(["[testnet] the market is running:", *m.describe()]))
    print(
        "  a job (from a home with the dev keys, through any validator):\n"
        "    vcoind tx jobs post tiny-lm --task-type text-generation --max-price 2VCN \\\n"
        '      --input \'{"prompts": ["The GPU marketplace"]}\' '
        '--spec \'{"params": {"max_new_tokens": 16}}\' \\\n'
        f"      --from alice --yes --node {other.rpc_url}\n"
        f"    vcoind query jobs show N --node {other.rpc_url}   # until settled",
        flush=True,
    )
    return m


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/testnet",
        description="Run N VCoin validators on this machine (loopback): a CometBFT node and "
        "a VCoin app each, with their own homes, ports and logs under --home. The first "
        "run makes keys and the genesis (validators bonded from staking); later runs resume "
        "the same chain. Prints the endpoints and a status line; Ctrl-C or SIGTERM stops "
        "everything. Delete the home to start over.",
    )
    p.add_argument("-n", "--validators", type=int, default=4, help="how many (default 4)")
    p.add_argument(
        "--home",
        default=os.environ.get("VCOIN_TESTNET_HOME", ".vcoin-testnet"),
        help="folder of the validators' homes (env VCOIN_TESTNET_HOME; default ./.vcoin-testnet)",
    )
    p.add_argument(
        "--base-port",
        type=int,
        default=36000,
        help="first port; validator i uses base+10i .. base+10i+3 (default 36000)",
    )
    p.add_argument(
        "--timeout-commit",
        default="500ms",
        help="CometBFT's consensus.timeout_commit (default 500ms)",
    )
    p.add_argument(
        "--status-every",
        type=float,
        default=10.0,
        help="seconds between status lines (default 10; 0: none)",
    )
    add_market_args(p)
    args = p.parse_args(argv)
    try:
        net = Testnet(args.home, args.validators, args.base_port, args.timeout_commit)
        net.init()
    except TestnetError as e:
        print(f"testnet: {e}", file=sys.stderr)
        return 1
    stop = False
    market: TestnetMarket | None = None

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        net.start(wait_height=1)
        print(f"testnet {CHAIN_ID}: {args.validators} validators under {args.home}")
        for v in net.validators:
            print(
                f"  node{v.index}: CometBFT RPC {v.rpc_url}  REST {v.rest_url}  "
                f"P2P {v.p2p_address}  logs {v.root}/{{cometbft,vcoind}}.log"
            )
        print(
            "  dev keys: `vcoind init --dev-keys --home DIR`, then --node "
            f"{net.validators[0].rpc_url}; Ctrl-C stops everything",
            flush=True,
        )
        if args.with_market:
            market = start_market(net, args, lambda: stop)
        last = 0.0
        while not stop:
            time.sleep(0.5)
            for d in market.exited() if market else []:
                print(f"[testnet] {d.name} exited ({d.exit_code}); see {d.log}", flush=True)
            if args.status_every and time.monotonic() - last >= args.status_every:
                print(f"[testnet] {net.status_line()}", flush=True)
                last = time.monotonic()
    except TestnetError as e:
        print(f"testnet: {e}", file=sys.stderr)
        return 1
    finally:
        if market is not None:
            print("[testnet] stopping the workers and oracles", flush=True)
            codes = market.stop()
            print(f"[testnet] stopped: {', '.join(f'{n} (exit {c})' for n, c in codes.items())}")
        print("[testnet] stopping", flush=True)
        net.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
