"""What ``consensus.py`` measures on a network, whichever it is (the 4-validator CometBFT
testnet or a solo node): a :class:`Chain` (its RPCs and funded keys, :func:`fund`),
:class:`Watcher` (one websocket read on its own thread: when each Tx event and NewBlock
arrived), the latency phase (steady-rate bank sends timed to their Tx event), the
throughput phase (pre-signed sends pushed by threads, timed to the NewBlock that holds
the last), and :func:`measure`, both phases in turn. ``consensus.py`` starts the
networks and prints the report.
"""

from __future__ import annotations

import argparse
import math
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

from chain.client import NodeClient, NodeError, tx_hash
from chain.client_ws import EventStream
from chain.coins import DECIMALS, DENOM
from chain.crypto import PrivateKey
from chain.tx.sign import sign_tx
from genesis.devnet import DEV_ACCOUNTS, dev_key

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
