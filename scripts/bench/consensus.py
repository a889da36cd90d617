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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend  # noqa: E402
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin  # noqa: E402

from app.testnet import Testnet, TestnetError  # noqa: E402
from chain.client import NodeClient, NodeError, tx_hash  # noqa: E402
from chain.client_ws import EventStream  # noqa: E402
from chain.coins import DECIMALS, DENOM  # noqa: E402
from chain.crypto import PrivateKey  # noqa: E402
from chain.tx.sign import sign_tx  # noqa: E402
from genesis.devnet import DEV_ACCOUNTS, dev_key, genesis_doc  # noqa: E402

TARGET_MEDIAN_S = 2.0
FUND_AMOUNT = 10_000 * 10**DECIMALS  # per fresh key: fees of thousands of sends
SINK = PrivateKey.from_seed(b"bench-consensus-sink").bech32


def say(*a: Any, **kw: Any) -> None:
    print(*a, **kw, flush=True)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


# -- watching commits ------------------------------------------------------------


def _num_txs(data: dict[str, Any]) -> int:
    """Txs in a NewBlock event: CometBFT's carries the block, the solo node's a count."""
    if "num_txs" in data:
        return int(data["num_txs"])
    return len(((data.get("block") or {}).get("data") or {}).get("txs") or [])


class Watcher(threading.Thread):
    """One websocket to a node, read on its own thread: when each Tx event and each
    NewBlock arrived (monotonic clock, taken as the message is read)."""

    def __init__(self, rpc_url: str, queries: list[str]) -> None:
        super().__init__(daemon=True, name=f"watch {rpc_url}")
        self.stream = EventStream(rpc_url)
        for q in queries:
            self.stream.subscribe(q)
        self.seen: dict[str, float] = {}
        self.blocks: list[tuple[int, float, int]] = []  # height, received, txs
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                ev = self.stream.next(timeout=0.2)
                if ev is None:
                    continue
                if ev.kind == "Tx":
                    for h in ev.attr("tx.hash"):
                        self.seen.setdefault(h.upper(), ev.received)
                elif ev.kind == "NewBlock":
                    self.blocks.append((ev.height, ev.received, _num_txs(ev.data)))
        except Exception as e:  # noqa: BLE001 - reported by the phase that reads it
            if not self._halt.is_set():
                self.error = e

    def check(self) -> None:
        if self.error is not None:
            raise SystemExit(f"the websocket to {self.stream.url} failed: {self.error}")

    def close(self) -> None:
        self._halt.set()
        self.join(5)
        self.stream.close()


def block_time(blocks: list[tuple[int, float, int]], t0: float, t1: float) -> tuple[float, int]:
    """Mean interval between the blocks received in [t0, t1], and how many."""
    bs = [b for b in blocks if t0 <= b[1] <= t1]
    if len(bs) < 2 or bs[-1][0] == bs[0][0]:
        return math.nan, len(bs)
    return (bs[-1][1] - bs[0][1]) / (bs[-1][0] - bs[0][0]), len(bs)


# -- keys and txs ------------------------------------------------------------------


@dataclass
class Sender:
    key: PrivateKey
    number: int
    sequence: int


@dataclass
class Chain:
    """A network under test: its RPCs, chain id, fee and the funded keys."""

    name: str
    urls: list[str]
    chain_id: str = ""
    gas: int = 0
    gas_price: int = 0
    senders: list[Sender] = field(default_factory=list)

    def sign(self, k: int) -> bytes:
        """The next bank send of key ``k`` (1 avcn to the sink)."""
        s = self.senders[k]
        msg = MsgSend(
            from_address=s.key.bech32, to_address=SINK, amount=[Coin(denom=DENOM, amount="1")]
        )
        raw = sign_tx(
            s.key,
            [msg],
            chain_id=self.chain_id,
            account_number=s.number,
            sequence=s.sequence,
            gas_limit=self.gas,
            fee_amount=self.gas * self.gas_price,
        )
        s.sequence += 1
        return raw


def fund(chain: Chain, keys: int) -> None:
    """Send FUND_AMOUNT to ``keys`` fresh keys from the dev keys (one tx per dev key),
    wait for the block, then read their account numbers."""
    c = NodeClient(chain.urls[0], timeout=30)
    fresh = [PrivateKey.from_seed(b"bench-consensus-%d" % i) for i in range(keys)]
    funders = [dev_key(n) for n in DEV_ACCOUNTS]
    hashes = []
    for i, f in enumerate(funders):
        group = fresh[i :: len(funders)]
        if not group:
            continue
        amount = [Coin(denom=DENOM, amount=str(FUND_AMOUNT))]
        msgs = [MsgSend(from_address=f.bech32, to_address=k.bech32, amount=amount) for k in group]
        r = c.send_tx(f, msgs, gas="auto", mode="sync")
        hashes.append(r.hash)
    for h in hashes:
        resp = c.wait_tx(h, timeout=60, poll=0.1)
        if not resp.ok:
            raise SystemExit(f"funding tx {h} failed: {resp.log}")
    chain.chain_id = c.chain_id()
    chain.gas_price = c.min_gas_price()
    probe = MsgSend(
        from_address=fresh[0].bech32, to_address=SINK, amount=[Coin(denom=DENOM, amount="1")]
    )
    chain.gas = c.estimate_gas(fresh[0], [probe])
    for k in fresh:
        acc = c.account(k.bech32)
        if acc is None:
            raise SystemExit(f"{k.bech32} was not funded")
        chain.senders.append(Sender(k, acc.account_number, acc.sequence))
    c.close()


# -- the two phases --------------------------------------------------------------


@dataclass
class Latency:
    sent: int
    refused: int
    first_refusal: str
    missing: int
    latencies: list[float]
    block_s: float
    blocks: int


def latency_phase(chain: Chain, count: int, rate: float, timeout: float) -> Latency:
    n = len(chain.urls)
    watchers = [Watcher(u, ["tm.event='Tx'", "tm.event='NewBlock'"]) for u in chain.urls]
    for w in watchers:
        w.start()
    clients = [NodeClient(u, timeout=30) for u in chain.urls]
    plan = []
    for i in range(count):
        k = i % len(chain.senders)
        plan.append((chain.sign(k), k % n))
    sent: list[tuple[str, int, float]] = []
    refused, first = 0, ""
    try:
        t0 = time.monotonic()
        for i, (raw, node) in enumerate(plan):
            wait = t0 + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            ts = time.monotonic()
            try:
                r = clients[node].broadcast_tx_sync(raw)
                code, log = int(r.get("code") or 0), str(r.get("log") or "")
            except NodeError as e:
                code, log = -1, str(e)
            if code != 0:
                refused += 1
                first = first or log
                continue
            sent.append((tx_hash(raw), node, ts))
        say(f"   sent in {time.monotonic() - t0:.1f} s, waiting for the last commits")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for w in watchers:
                w.check()
            if all(h in watchers[node].seen for h, node, _ in sent):
                break
            time.sleep(0.05)
        lat = [watchers[node].seen[h] - ts for h, node, ts in sent if h in watchers[node].seen]
        t_end = max((watchers[node].seen.get(h, 0.0) for h, node, _ in sent), default=t0)
        bt, nb = block_time(watchers[0].blocks, t0, t_end)
        return Latency(count, refused, first, len(sent) - len(lat), lat, bt, nb)
    finally:
        for w in watchers:
            w.close()
        for c in clients:
            c.close()


@dataclass
class Throughput:
    sent: int
    refused: int
    first_refusal: str
    committed: int
    send_s: float
    total_s: float
    block_s: float
    blocks: int
    max_block_txs: int
    sink_delta: int
    client_cpu_s: float  # this script's CPU time while it sent


def throughput_phase(chain: Chain, count: int, senders: int, timeout: float) -> Throughput:
    n = len(chain.urls)
    nkeys = len(chain.senders)
    # key k belongs to sender thread k mod S, which sends through validator (k mod S) mod N
    per_key = [count // nkeys + (1 if k < count % nkeys else 0) for k in range(nkeys)]
    txs = [[chain.sign(k) for _ in range(per_key[k])] for k in range(nkeys)]
    queues: list[list[bytes]] = []
    for j in range(senders):
        mine = [txs[k] for k in range(j, nkeys, senders)]
        order = [
            t[r] for r in range(max((len(t) for t in mine), default=0)) for t in mine if r < len(t)
        ]
        queues.append(order)
    c0 = NodeClient(chain.urls[0], timeout=30)
    sink_before = c0.balance(SINK)
    watcher = Watcher(chain.urls[0], ["tm.event='NewBlock'"])
    watcher.start()
    h0 = c0.latest_height()
    barrier = threading.Barrier(senders + 1)
    starts: list[float] = []
    ends: list[float] = []
    refusals: list[str] = []

    def push(j: int) -> None:
        c = NodeClient(chain.urls[j % n], timeout=60)
        barrier.wait()
        starts.append(time.monotonic())
        for raw in queues[j]:
            try:
                r = c.broadcast_tx_sync(raw)
                if int(r.get("code") or 0) != 0:
                    refusals.append(str(r.get("log") or r.get("code")))
            except NodeError as e:
                refusals.append(str(e))
        ends.append(time.monotonic())
        c.close()

    threads = [threading.Thread(target=push, args=(j,), daemon=True) for j in range(senders)]
    try:
        for t in threads:
            t.start()
        barrier.wait()
        cpu0 = time.process_time()
        for t in threads:
            t.join()
        client_cpu = time.process_time() - cpu0
        t_first, t_sent = min(starts), max(ends)
        accepted = count - len(refusals)
        say(f"   {count} sent in {t_sent - t_first:.1f} s, waiting for the last commits")
        deadline = time.monotonic() + timeout
        t_last, committed = math.nan, 0
        while time.monotonic() < deadline:
            watcher.check()
            committed = 0
            for h, recv, ntx in list(watcher.blocks):
                if h > h0:
                    committed += ntx
                    if committed >= accepted:
                        t_last = recv
                        break
            if committed >= accepted:
                break
            time.sleep(0.05)
        bt, nb = block_time(watcher.blocks, t_first, t_last if t_last == t_last else t_sent)
        in_phase = [b[2] for b in watcher.blocks if b[0] > h0]
        sink_delta = c0.balance(SINK) - sink_before
        return Throughput(
            count,
            len(refusals),
            refusals[0] if refusals else "",
            committed,
            t_sent - t_first,
            t_last - t_first,
            bt,
            nb,
            max(in_phase, default=0),
            sink_delta,
            client_cpu,
        )
    finally:
        watcher.close()
        c0.close()


@dataclass
class Result:
    name: str
    start_s: float
    latency: Latency
    throughput: Throughput


def measure(chain: Chain, args: argparse.Namespace, start_s: float) -> Result:
    t = time.monotonic()
    fund(chain, args.keys)
    say(f"   {args.keys} keys funded in {time.monotonic() - t:.1f} s (gas per send {chain.gas:,})")
    say(f"   latency: {args.latency_txs} bank sends at {args.rate:g} tx/s")
    lat = latency_phase(chain, args.latency_txs, args.rate, args.wait)
    if lat.latencies:
        say(
            f"   median {statistics.median(lat.latencies):.2f} s, "
            f"p99 {pct(lat.latencies, 0.99):.2f} s"
        )
    say(
        f"   throughput: {args.txs} bank sends from {args.keys} keys, {args.senders} sender threads"
    )
    thr = throughput_phase(chain, args.txs, args.senders, args.wait)
    if thr.committed:
        say(f"   {thr.committed / thr.total_s:,.0f} tx/s")
    return Result(chain.name, start_s, lat, thr)


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
