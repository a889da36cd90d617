"""Signed bank sends per second from one process to a devnet node: each SDK next to the CLI.

    .venv/bin/python scripts/bench/sdk_sends.py                     # python SDK and CLI
    .venv/bin/python scripts/bench/sdk_sends.py --sdk python --count 2000
    .venv/bin/python scripts/bench/sdk_sends.py --sdk python,go,js,cli

The script starts one solo node (``vcoind init --dev-keys`` genesis, the SDK test
accounts of ``tests/sdk/conftest.py`` funded, ``--block-time``, default the
devnet's 1 s) and, for each ``--sdk`` in turn, sends ``--count`` signed bank sends of
1 avcn from one sender in one process, each SDK from its own account:

* ``python``: ``vcoin_sdk.Client`` (``sdk/python``): gas simulated once, then
  ``send(..., gas=G, wait=False)`` back to back (broadcast_tx_sync; the client counts
  the sender's sequence itself) and ``wait_tx`` on every hash at the end.
* ``cli``: ``vcoind tx bank send alice … --yes`` run ``--cli-count`` times, one
  process each, as a shell script would; ``--cli-mode`` commit (the CLI's default:
  each waits for its block) or sync (a second send within one block reads the
  committed sequence again and is refused).
* any other name: an external SDK's benchmark command from ``EXTERNAL`` below, run
  with ``VCOIN_SDK_RPC``, ``VCOIN_SDK_REST``, ``VCOIN_SDK_CHAIN_ID``,
  ``VCOIN_SDK_MNEMONIC`` (its own funded account), ``VCOIN_SDK_TO`` and
  ``VCOIN_SDK_COUNT`` in its environment; it sends that many and prints, as its last
  line, ``{"sent": N, "seconds": S}`` (first broadcast to the last one in a block).

The figure is sends that were in a block, divided by the seconds from the first
broadcast until the last one was in a block. Nothing checks a target; the other
SDKs print theirs beside Python's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO, REPO / "sdk" / "python"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from vcoin_sdk import Client, Key, msgs  # noqa: E402

from tests.sdk.conftest import SDK_ADDRESSES, SDK_MNEMONICS  # noqa: E402
from tests.support.nodes import free_port  # noqa: E402

VCOIND = str(Path(sys.executable).with_name("vcoind"))
TO = "vcoin1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqlat08p"  # 20 zero bytes: nobody's key
# External SDK benchmarks: name -> (command, working folder). Each reads the
# VCOIN_SDK_* variables above and prints {"sent": N, "seconds": S} last.
EXTERNAL: dict[str, tuple[list[str], Path]] = {
    "go": (["go", "run", "./cmd/bench-sends"], REPO / "sdk" / "go"),
    "js": (["npm", "run", "--silent", "bench:sends"], REPO / "sdk" / "js"),
}
# which funded account each SDK sends from (tests/sdk/conftest.py)
ACCOUNT = {"python": "bench", "go": "go", "js": "js"}


@dataclass
class Node:
    home: Path
    rpc: str
    rest: str
    proc: subprocess.Popen[bytes]


@dataclass
class Figure:
    sdk: str
    sent: int
    seconds: float
    note: str = ""

    @property
    def per_s(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def say(text: str) -> None:
    print(text, flush=True)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}


def start_node(home: Path, block_time: str) -> Node:
    r = subprocess.run([VCOIND, "--home", str(home), "init", "--dev-keys"], env=_env(),
                       capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"vcoind init failed:\n{r.stderr}")
    gpath = home / "config" / "genesis.json"
    doc = json.loads(gpath.read_text())
    for addr in SDK_ADDRESSES.values():
        doc["app_state"]["bank"]["balances"].append(
            {"address": addr, "coins": [{"denom": "avcn", "amount": str(10**6 * 10**18)}]}
        )
    gpath.write_text(json.dumps(doc))
    rpc, rest = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    argv = [VCOIND, "--home", str(home), "start", "--block-time", block_time,
            "--rpc-laddr", rpc, "--rest-laddr", rest, "--log-level", "warning"]  # fmt: skip
    with (home / "node.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=_env(),
                                start_new_session=True)  # fmt: skip
    node = Node(home, f"http://{rpc}", f"http://{rest}", proc)
    with Client(node.rpc, node.rest, retries=0) as c:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the node exited:\n{(home / 'node.log').read_text()[-2000:]}")
            try:
                if c.height() >= 2:
                    return node
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the node did not reach height 2 within 60 s")
            time.sleep(0.2)


def bench_python(node: Node, count: int, args: argparse.Namespace) -> Figure:
    key = Key.from_mnemonic(SDK_MNEMONICS[ACCOUNT["python"]])
    with Client(node.rpc, node.rest) as c:
        gas = c.estimate_gas(key, [msgs.send(key.address, TO, 1)])
        t0 = time.monotonic()
        hashes = [c.send(key, TO, 1, gas=gas, wait=False).hash for _ in range(count)]
        t_sent = time.monotonic() - t0
        ok = sum(c.wait_tx(h, timeout=120).ok for h in hashes)
        seconds = time.monotonic() - t0
    return Figure("python", ok, seconds,
                  f"gas {gas}; broadcast {count} in {t_sent:.2f} s "
                  f"({count / t_sent:,.0f}/s, signing and CheckTx)")  # fmt: skip


def bench_cli(node: Node, count: int, args: argparse.Namespace) -> Figure:
    env = _env() | {"VCOIN_HOME": str(node.home), "VCOIN_NODE": node.rpc}
    t0 = time.monotonic()
    hashes, failed = [], 0
    last_error: list[str] = []
    for _ in range(count):
        r = subprocess.run([VCOIND, "-o", "json", "tx", "bank", "send", "alice", TO, "1avcn",
                            "--yes", "--broadcast-mode", args.cli_mode],
                           env=env, capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            failed += 1
            last_error = (r.stderr or r.stdout).strip().splitlines()[-1:]
            continue
        hashes.append(json.loads(r.stdout)["hash"])
    with Client(node.rpc, node.rest) as c:
        ok = sum(c.wait_tx(h, timeout=120).ok for h in hashes)
    seconds = time.monotonic() - t0
    note = f"one `vcoind tx bank send` process per tx, --broadcast-mode {args.cli_mode}"
    if failed:
        note += f"; {failed} of {count} refused, the last: {' '.join(last_error)[:200]}"
    return Figure("cli", ok, seconds, note)


def bench_external(name: str) -> Callable[[Node, int, argparse.Namespace], Figure]:
    def run(node: Node, count: int, args: argparse.Namespace) -> Figure:
        cmd, cwd = EXTERNAL[name]
        if shutil.which(cmd[0]) is None or not cwd.exists():
            raise SystemExit(f"{name}: needs {cmd[0]} and {cwd}")
        env = os.environ | {
            "VCOIN_SDK_RPC": node.rpc, "VCOIN_SDK_REST": node.rest,
            "VCOIN_SDK_CHAIN_ID": "vcoin-devnet-1",
            "VCOIN_SDK_MNEMONIC": SDK_MNEMONICS[ACCOUNT[name]],
            "VCOIN_SDK_TO": TO, "VCOIN_SDK_COUNT": str(count),
        }  # fmt: skip
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{name}: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-2000:]}")
        last = json.loads(r.stdout.strip().splitlines()[-1])
        return Figure(name, int(last["sent"]), float(last["seconds"]), " ".join(cmd))

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sdk", default="python,cli",
                    help="comma-separated: python, cli, " + ", ".join(EXTERNAL))  # fmt: skip
    ap.add_argument("--count", type=int, default=1000, help="sends per SDK (default 1000)")
    ap.add_argument("--cli-count", type=int, default=30, help="sends by the CLI (default 30)")
    # sync: a second CLI process in the same block reads the committed sequence again
    # and is refused (sdk/32), so the CLI's own default, commit, is the fair figure
    ap.add_argument("--cli-mode", choices=("sync", "commit"), default="commit")
    ap.add_argument("--block-time", default="1s", help="the node's block time (devnet: 1s)")
    args = ap.parse_args(argv)
    runners: dict[str, Callable[[Node, int, argparse.Namespace], Figure]] = {
        "python": bench_python, "cli": bench_cli,
        **{n: bench_external(n) for n in EXTERNAL},
    }  # fmt: skip
    names = [s.strip() for s in args.sdk.split(",") if s.strip()]
    unknown = [n for n in names if n not in runners]
    if unknown:
        ap.error(f"unknown --sdk {unknown}; known: {sorted(runners)}")
    load = os.getloadavg()
    say(f"sdk_sends: {os.cpu_count()} cpus, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"solo node, block time {args.block_time}")  # fmt: skip
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="vcoin-sdk-sends-") as tmp:
        node = start_node(Path(tmp) / "node", args.block_time)
        try:
            for name in names:
                count = args.cli_count if name == "cli" else args.count
                say(f"== {name}: {count} sends")
                f = runners[name](node, count, args)
                say(f"   {f.sent} in a block in {f.seconds:.2f} s: {f.per_s:,.1f} sends/s"
                    + (f" ({f.note})" if f.note else ""))  # fmt: skip
                figures.append(f)
        finally:
            node.proc.terminate()
            try:
                node.proc.wait(30)
            except subprocess.TimeoutExpired:
                node.proc.kill()
    say("\nsigned bank sends per second, one process, to the first block holding them all:")
    for f in figures:
        say(f"  {f.sdk:<8} {f.per_s:>9,.1f} /s  ({f.sent} sends in {f.seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
