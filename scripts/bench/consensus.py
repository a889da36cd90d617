#!/usr/bin/env python3
"""Commit latency and bank-send throughput on a 4-validator CometBFT network, next to solo mode.

What it does, in one run:

1. starts ``app.testnet.Testnet``: ``--validators`` (default 4) real CometBFT
   v0.38 nodes on loopback, each with its ``vcoind`` app (the network
   ``scripts/testnet`` runs), in a temporary folder removed at exit (Ctrl-C
   and SIGTERM included); funds ``--keys`` fresh keys (default 200) from the
   devnet dev keys. Each validator's CometBFT and app share the machine's cores
   with the other validators' (4 validators: 8 processes);
2. latency: sends ``--latency-txs`` bank sends (default 200) at a steady
   ``--rate`` (default 10 tx/s) with ``chain.client.NodeClient``'s
   ``broadcast_tx_sync`` through the validators' CometBFT RPCs (key k always
   through validator k mod N, so its sequences stay in order), and times each
   from the call until the same node pushes the tx's ``tm.event='Tx'`` event
   on its websocket (``chain.client_ws``): CometBFT fires it after Commit.
   Target (issue 15): median <= 2 s;
3. throughput: ``--txs`` bank sends (default 5,000), signed ahead of time, from
   the same keys, pushed by ``--senders`` threads (default 8, spread over the
   validators) as fast as ``broadcast_tx_sync`` takes them; tx/s = txs / (first
   send -> receipt of the ``NewBlock`` event that holds the last of them, on
   validator 0). ``NewBlock`` rather than ``Tx`` events here: a block of
   thousands of txs overflows CometBFT's 200-event subscription buffer. The
   recipient's balance is checked to have grown by one avcn per tx;
4. stops the network and runs steps 2-3 again on a solo node (``vcoind start``
   in a subprocess, one validator, no CometBFT) with a block time of
   ``--solo-block-time`` (default: the testnet's timeout_commit), same txs,
   same method, same machine, with the testnet's processes gone.

It prints the block timeouts the testnet runs with, the machine (cores, load
average at start and end), a table of both networks (latency median / p99,
tx/s, mean interval between blocks in each phase) and the target.

    .venv/bin/python scripts/bench/consensus.py                     # about 2 minutes
    .venv/bin/python scripts/bench/consensus.py --txs 10000 --keys 400 --latency-txs 1000
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from consensus_phases import Chain, Result, measure, pct, say  # noqa: E402  (the phases)

from app.testnet import Testnet, TestnetError  # noqa: E402
from chain.client import NodeClient, NodeError  # noqa: E402
from genesis.devnet import genesis_doc  # noqa: E402

TARGET_MEDIAN_S = 2.0


# -- the networks -------------------------------------------------------------------


def busy_ports(ports: list[int]) -> list[int]:
    busy = []
    for p in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the nodes bind
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                busy.append(p)
    return busy


def other_nodes() -> int:
    """cometbft and vcoind processes running on the machine (before or after ours)."""
    n = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(Path(a.decode(errors="replace")).name in ("cometbft", "vcoind") for a in argv[:2]):
            n += 1
    return n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def comet_timeouts(net: Testnet) -> dict[str, str]:
    text = (net.validators[0].comet_home / "config" / "config.toml").read_text()
    out = {}
    for key in ("timeout_propose", "timeout_prevote", "timeout_precommit", "timeout_commit"):
        m = re.search(rf'^{key}\s*=\s*"([^"]*)"', text, re.M)
        out[key] = m.group(1) if m else "?"
    return out


def run_testnet(args: argparse.Namespace, root: Path) -> tuple[Result, dict[str, str]]:
    n = args.validators
    busy = busy_ports([args.base_port + 10 * i + d for i in range(n) for d in range(4)])
    if busy:
        raise SystemExit(f"ports {busy} are in use: pick another --base-port")
    net = Testnet(root, n, base_port=args.base_port, timeout_commit=args.timeout_commit)
    say(f"\n== {n} validators (CometBFT + vcoind each), homes in {root}")
    try:
        t = time.monotonic()
        net.start(wait_height=2)
        start_s = time.monotonic() - t
        timeouts = comet_timeouts(net)
        say(
            f"   up at height 2 in {start_s:.1f} s; "
            + ", ".join(f"{k} {v}" for k, v in timeouts.items())
        )
        chain = Chain(f"{n} validators", [v.rpc_url for v in net.validators])
        return measure(chain, args, start_s), timeouts
    except TestnetError as e:
        raise SystemExit(f"testnet: {e}") from e
    finally:
        net.stop()


def run_solo(args: argparse.Namespace, home: Path) -> Result:
    import json

    (home / "config").mkdir(parents=True)
    (home / "config" / "genesis.json").write_text(json.dumps(genesis_doc()))
    rpc, rest = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
    vcoind = str(Path(sys.executable).parent / "vcoind")
    argv = [vcoind, "--home", str(home), "start", "--block-time", args.solo_block_time]
    argv += ["--rpc-laddr", rpc, "--rest-laddr", rest, "--log-level", "warning"]
    say(f"\n== solo: vcoind start --block-time {args.solo_block_time} (one process), home {home}")
    log = (home / "node.log").open("ab")
    t = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    log.close()
    try:
        url = f"http://{rpc}"
        c = NodeClient(url, timeout=5)
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                tail = (home / "node.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"the solo node exited with {proc.returncode}:\n{tail}")
            try:
                if c.latest_height() >= 2:
                    break
            except NodeError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the solo node did not reach height 2 within 60 s")
            time.sleep(0.1)
        c.close()
        start_s = time.monotonic() - t
        say(f"   up at height 2 in {start_s:.1f} s")
        return measure(Chain("solo", [url]), args, start_s)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


# -- report -------------------------------------------------------------------------


def report(results: list[Result], timeouts: dict[str, str], args: argparse.Namespace) -> bool:
    def row(label: str, f: Callable[[Result], str]) -> None:
        say(f"{label:<46}" + "".join(f"{f(r):>18}" for r in results))

    def s(x: float) -> str:
        return "-" if x != x else f"{x:.2f} s"

    def med(r: Result) -> float:
        return statistics.median(r.latency.latencies) if r.latency.latencies else math.nan

    def p99(r: Result) -> float:
        return pct(r.latency.latencies, 0.99) if r.latency.latencies else math.nan

    def tps(r: Result) -> float:
        t = r.throughput
        return t.committed / t.total_s if t.total_s == t.total_s and t.total_s > 0 else math.nan

    say("\n== results")
    row("", lambda r: r.name)
    row("start-up to height 2", lambda r: s(r.start_s))
    say("commit latency (broadcast_tx_sync -> Tx event)")
    row(
        f"  txs at {args.rate:g}/s (refused, not seen)",
        lambda r: f"{r.latency.sent} ({r.latency.refused}, {r.latency.missing})",
    )
    row("  median", lambda r: s(med(r)))
    row("  p99", lambda r: s(p99(r)))
    row("  max", lambda r: s(max(r.latency.latencies, default=math.nan)))
    row(
        "  block time (mean interval), blocks",
        lambda r: f"{s(r.latency.block_s)}, {r.latency.blocks}",
    )
    say("throughput (first send -> NewBlock with the last tx)")
    row("  txs (refused)", lambda r: f"{r.throughput.sent:,} ({r.throughput.refused})")
    row(
        "  committed (sink balance +avcn)",
        lambda r: f"{r.throughput.committed:,} (+{r.throughput.sink_delta:,})",
    )
    row("  bank sends / s", lambda r: f"{tps(r):,.0f}")
    row(
        "  RPC accepted / s (send phase)",
        lambda r: f"{r.throughput.sent / r.throughput.send_s:,.0f}",
    )
    row(
        "  this script's CPU s while sending",
        lambda r: f"{r.throughput.client_cpu_s:.2f} of {r.throughput.send_s:.2f}",
    )
    row("  first send -> last commit", lambda r: s(r.throughput.total_s))
    row(
        "  block time (mean interval), blocks",
        lambda r: f"{s(r.throughput.block_s)}, {r.throughput.blocks}",
    )
    row("  most txs in a block", lambda r: f"{r.throughput.max_block_txs:,}")
    for r in results:
        if r.latency.first_refusal or r.throughput.first_refusal:
            first = r.latency.first_refusal or r.throughput.first_refusal
            say(f"   !! {r.name}: first refusal: {first}")

    net = results[0]
    m = med(net)
    ok = m <= TARGET_MEDIAN_S and not net.latency.missing and not net.latency.refused
    say("\n== targets")
    say(
        f"commit latency median <= {TARGET_MEDIAN_S:g} s on {args.validators} validators: "
        f"{s(m)} (p99 {s(p99(net))}) -> {'MET' if ok else 'NOT MET'}"
    )
    if len(results) > 1:
        solo = results[1]
        say(
            f"bank sends / s: {tps(net):,.0f} on {args.validators} validators, "
            f"{tps(solo):,.0f} solo (x{tps(net) / tps(solo):.2f}; information, no target)"
        )
    say(
        "testnet consensus timeouts: "
        + ", ".join(f"{k} {v}" for k, v in timeouts.items())
        + f"; solo block time {args.solo_block_time}"
    )
    say(
        f"each validator's CometBFT and vcoind share the {os.cpu_count()} cpus with the "
        f"other {args.validators - 1} validators' (and this script)"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--validators", type=int, default=4, help="validators (default 4)")
    ap.add_argument(
        "--timeout-commit",
        default="500ms",
        help="CometBFT timeout_commit (default 500ms, as scripts/testnet)",
    )
    ap.add_argument(
        "--solo-block-time",
        default=None,
        help="the solo node's --block-time (default: --timeout-commit)",
    )
    ap.add_argument(
        "--latency-txs", type=int, default=200, help="txs timed for latency (default 200)"
    )
    ap.add_argument(
        "--rate", type=float, default=10.0, help="tx/s of the latency phase (default 10)"
    )
    ap.add_argument(
        "--txs", type=int, default=5_000, help="txs of the throughput phase (default 5000)"
    )
    ap.add_argument(
        "--keys", type=int, default=200, help="fresh funded keys that send (default 200)"
    )
    ap.add_argument(
        "--senders", type=int, default=8, help="threads pushing the throughput txs (default 8)"
    )
    ap.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="most seconds to wait for the last commits (default 120)",
    )
    ap.add_argument(
        "--base-port", type=int, default=37000, help="the testnet's first port (default 37000)"
    )
    ap.add_argument("--no-solo", action="store_true", help="only the validators")
    args = ap.parse_args(argv)
    args.solo_block_time = args.solo_block_time or args.timeout_commit
    if args.keys < 1 or args.senders < 1 or args.rate <= 0:
        ap.error("--keys, --senders and --rate must be positive")

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    load = os.getloadavg()
    cpus = os.cpu_count() or 1
    say(
        f"consensus: {args.validators} validators = {2 * args.validators} processes "
        f"(CometBFT + vcoind each) and this script on {cpus} cpus, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"other cometbft/vcoind processes running: {other_nodes()}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="vcoin-consensus-bench-"))
    results: list[Result] = []
    try:
        net, timeouts = run_testnet(args, tmp / "testnet")
        results.append(net)
        if not args.no_solo:
            results.append(run_solo(args, tmp / "solo"))
    except KeyboardInterrupt:
        say("\ninterrupted: stopping the nodes and removing the temporary folder")
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ok = report(results, timeouts, args)
    load = os.getloadavg()
    say(
        f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"other cometbft/vcoind processes running: {other_nodes()}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
