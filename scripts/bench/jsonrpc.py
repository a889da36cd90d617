#!/usr/bin/env python3
"""Ethereum JSON-RPC requests per second: a VCoin node next to a Hardhat 2 node, in one
run, with the same client, the same contract and the same state.

1. The same chain on both: one eth key (funded by a Cosmos bank send on VCoin,
   ``hardhat_setBalance`` on Hardhat) deploys OZToken (``contracts/build``), then
   ``--blocks`` / 100 rounds of 5 ERC-20 transfers followed by 100 blocks (the first
   holds the transfers): ``--blocks`` blocks in all, 5 Transfer logs every 100 blocks.
   VCoin's blocks are made in this process by the solo driver (``produce_block``, about
   5 ms an empty block), then the home is served by a ``vcoind start --instant`` process
   with ``create_empty_blocks = false``; Hardhat's by ``evm_setAutomine false`` and
   ``hardhat_mine`` on ``npx hardhat node`` (run in ``tests/app/ethclients``; its
   packages come from ``scripts/setup-ethclients``).
2. Each method's first answer is checked on both nodes (the same balances and logs),
   then a client of ``--connections`` keep-alive connections sends it for ``--seconds``
   (after a warm-up) to one node, then to the other, method by method. The client is
   ``rpcload`` (``scripts/bench/rpcload``, Go, stdlib only: built once with ``go build``
   into ``~/.cache/vcoin/rpcload/``, offline), which costs the machine a fraction of
   the servers' CPU; ``--client aiohttp`` (or no ``go``) is one asyncio + aiohttp
   process, whose CPU a request is about the servers' own. The methods:
   ``eth_blockNumber``, ``eth_getBalance``, ``eth_call`` (ERC-20 ``balanceOf``, the
   same holder every request: VCoin answers a repeated call of the latest block from
   its ``jsonrpc_call_cache``), ``eth_call, distinct`` (``balanceOf`` of 8,192 holders
   in turn, each connection starting at its own share of them: no answer is kept by
   the time it is asked again, so every call runs the EVM),
   ``eth_getBlockByNumber`` with full transactions (the blocks that hold the
   transfers, in turn) and ``eth_getLogs`` of the token over the last ``--blocks``
   blocks (all the transfers).
3. A table: requests per second on each node, VCoin / Hardhat (target ≥ 2×), and each
   server's requests per CPU-second (its process tree's user + system time while it
   was measured: the figure to read on a shared machine); per method and node the log
   also gives the latency p50 / p99 (``rpcload`` only) and the client's CPU seconds.

``--profile``: afterwards, each method's handler (``EthApi.call``, no HTTP) run in
this process on the same home under cProfile: its time per call next to the time per
request over the wire, and the top functions. ``--quick``: 1,000 blocks, 2 s a
method. Exit status 0 only when every method meets the target.

    .venv/bin/python scripts/bench/jsonrpc.py
    .venv/bin/python scripts/bench/jsonrpc.py --quick --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import rpcload  # noqa: E402  (scripts/bench/rpcload: the Go client and its build)
from jsonrpc_chains import (  # noqa: E402  (the chain on both nodes: jsonrpc_chains.py)
    BLOCKS_PER_ROUND,
    KEY,
    PER_ROUND,
    balance_of_data,
    build_hardhat,
    build_vcoin,
    recipient,
    rpc,
    start_hardhat,
    stop_hardhat,
    token_address,
)

from chain.config import NodeConfig  # noqa: E402
from tests.support.nodes import NodeProc, free_port, start_vcoind  # noqa: E402
from tests.support.wait import answers, wait_for  # noqa: E402

PING = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
TARGET = 2.0
# "eth_call, distinct": balanceOf of this many holders in turn, twice the node's
# jsonrpc_call_cache, so no answer is still kept when it is asked again
DISTINCT_CALLS = 8192
METHODS = [
    "eth_blockNumber",
    "eth_getBalance",
    "eth_call",
    "eth_call, distinct",
    "eth_getBlockByNumber",
    "eth_getLogs",
]


@dataclass
class Target:
    name: str
    url: str
    pid: int
    tx_heights: list[int]
    latest: int = 0

    def requests(self, method: str) -> list[tuple[str, list[Any]]]:
        """The ``(method, params)`` the load cycles through."""
        token = token_address()
        if method == "eth_blockNumber":
            return [(method, [])]
        if method == "eth_getBalance":
            return [(method, [KEY.address, "latest"])]
        if method == "eth_call":
            call = {"to": token, "data": balance_of_data(recipient(3))}
            return [(method, [call, "latest"])]
        if method == "eth_call, distinct":
            calls = (
                {"to": token, "data": balance_of_data(recipient(i))} for i in range(DISTINCT_CALLS)
            )
            return [("eth_call", [c, "latest"]) for c in calls]
        if method == "eth_getBlockByNumber":
            return [(method, [hex(h), True]) for h in self.tx_heights]
        if method == "eth_getLogs":
            lo = self.latest - len(self.tx_heights) * BLOCKS_PER_ROUND + 1
            filt = {"address": token, "fromBlock": hex(lo), "toBlock": hex(self.latest)}
            return [(method, [filt])]
        raise ValueError(method)

    def cpu(self) -> float:
        """User + system seconds of the server's process tree so far."""
        return tree_cpu(self.pid)


def tree_cpu(pid: int) -> float:
    """User + system seconds of ``pid`` and its descendants (Linux ``/proc``)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def check(t: Target, method: str, want_logs: int) -> Any:
    """The first answer, checked; what is compared across the nodes."""
    m, params = t.requests(method)[0]
    out = rpc(t.url, m, *params)
    if method == "eth_getBalance":
        assert int(out, 16) > 0, out
        return "funded"
    if method == "eth_call":
        assert int(out, 16) == 4, out  # recipient(3) got 3 + 1
        return out
    if method == "eth_call, distinct":
        assert int(out, 16) == 1, out  # recipient(0) got 0 + 1
        return out
    if method == "eth_getBlockByNumber":
        assert len(out["transactions"]) == PER_ROUND and out["transactions"][0]["hash"], out
        return [(x["to"].lower(), x["input"]) for x in out["transactions"]]
    if method == "eth_getLogs":
        assert len(out) == want_logs, len(out)
        return [(x["topics"], x["data"]) for x in out]
    return "ok"


@dataclass
class Figure:
    requests: int
    errors: int
    seconds: float
    server_cpu: float
    client_cpu: float = 0.0
    p50_ms: float = 0.0  # latency: rpcload only
    p99_ms: float = 0.0
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def per_cpu(self) -> float:
        return self.requests / self.server_cpu if self.server_cpu else 0.0


async def load(t: Target, method: str, seconds: float, conns: int) -> Figure:
    bodies = [
        json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p}).encode()
        for i, (m, p) in enumerate(t.requests(method))
    ]
    headers = {"content-type": "application/json"}
    counts = [0, 0]
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=conns), timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def worker(i: int, until: float, count: bool) -> None:
            j = i
            while time.monotonic() < until:
                body = bodies[j % len(bodies)]
                j += 1
                async with session.post(t.url, data=body, headers=headers) as r:
                    data = await r.read()
                if count:
                    counts[0] += 1
                    if r.status != 200 or b'"error"' in data:
                        counts[1] += 1

        warm = time.monotonic() + min(1.0, seconds / 4)
        await asyncio.gather(*(worker(i, warm, False) for i in range(conns)))
        cpu0, t0, own0 = t.cpu(), time.monotonic(), time.process_time()
        await asyncio.gather(*(worker(i, t0 + seconds, True) for i in range(conns)))
        elapsed, cpu = time.monotonic() - t0, t.cpu() - cpu0
    return Figure(counts[0], counts[1], elapsed, cpu, time.process_time() - own0)


def load_rpcload(
    exe: Path, t: Target, method: str, seconds: float, conns: int, pipeline: int
) -> Figure:
    """``rpcload`` against ``t``: the server's CPU over the window it counts."""
    bodies = [
        json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p})
        for i, (m, p) in enumerate(t.requests(method))
    ]
    cpu = [0.0, 0.0]

    def at_start() -> None:
        cpu[0] = t.cpu()

    def at_stop() -> None:
        cpu[1] = t.cpu()

    warm = min(1.0, seconds / 4)
    out = rpcload.run(exe, t.url, bodies, seconds, warm, conns, pipeline, at_start, at_stop)
    return Figure(
        out["requests"],
        out["errors"],
        out["seconds"],
        cpu[1] - cpu[0],
        out["client_cpu_s"],
        out["p50_ms"],
        out["p99_ms"],
        out.get("first_error", ""),
    )


# -- profile --------------------------------------------------------------------------------
def profile(home: Path, target: Target, wire: dict[str, Figure], calls: int) -> None:
    """Each method's handler in this process, under cProfile."""
    from app.ethrpc.methods import EthApi
    from app.node import Node

    node = Node(NodeConfig(home=str(home), jsonrpc_laddr="", log_level="warning"))
    try:
        api = EthApi(node)
        for method in METHODS:
            reqs = target.requests(method)
            for m, p in reqs:  # the caches warm, as the node's were
                api.call(m, p)
            t0 = time.perf_counter()
            for i in range(calls):
                m, p = reqs[i % len(reqs)]
                api.call(m, p)
            per_call = (time.perf_counter() - t0) / calls
            prof = cProfile.Profile()
            prof.enable()
            for i in range(calls):
                m, p = reqs[i % len(reqs)]
                api.call(m, p)
            prof.disable()
            f = wire[method]
            per_req_cpu = f.server_cpu / f.requests if f.requests else 0.0
            print(
                f"\n## {method}: handler {per_call * 1e6:,.0f} µs a call in process; "
                f"over HTTP the node spent {per_req_cpu * 1e6:,.0f} CPU-µs a request "
                f"(the rest: HTTP, ASGI, the thread hop, JSON)"
            )
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(12)
            lines = s.getvalue().splitlines()
            start = next((i for i, x in enumerate(lines) if "ncalls" in x), 0)
            print("\n".join(x for x in lines[start : start + 13] if x.strip()))
    finally:
        node.stop()


# -- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=10_000, help="blocks on each chain")
    ap.add_argument("--seconds", type=float, default=10.0, help="load time a method a node")
    ap.add_argument("--connections", type=int, default=16, help="concurrent connections")
    ap.add_argument(
        "--client",
        choices=["rpcload", "aiohttp"],
        default="rpcload",
        help="the load client: rpcload (Go, built here; the default) or asyncio + aiohttp",
    )
    ap.add_argument(
        "--pipeline", type=int, default=1, help="rpcload: requests in flight a connection"
    )
    ap.add_argument("--quick", action="store_true", help="1,000 blocks, 2 s a method")
    ap.add_argument("--profile", action="store_true", help="cProfile each VCoin handler")
    ap.add_argument("--json", type=Path, help="write the figures here")
    a = ap.parse_args(argv)
    if a.quick:
        a.blocks, a.seconds = min(a.blocks, 1_000), min(a.seconds, 2.0)
    rounds = max(1, a.blocks // BLOCKS_PER_ROUND)
    blocks = rounds * BLOCKS_PER_ROUND
    setup = subprocess.run([str(REPO / "scripts" / "setup-ethclients")], capture_output=True)
    if setup.returncode != 0:
        print(setup.stdout.decode() + setup.stderr.decode(), file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, flush=True)

    exe = rpcload.build(log) if a.client == "rpcload" else None
    client = (
        f"rpcload (Go), pipeline {a.pipeline}"
        if exe is not None
        else "one asyncio + aiohttp process"
    )
    load1, _, _ = os.getloadavg()
    log(f"client: {client}")
    log(f"# JSON-RPC: {blocks:,} blocks, {a.connections} connections, {a.seconds:g} s a method")
    log(f"{os.cpu_count()} CPUs, load average {load1:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix="jsonrpc-bench-") as tmp:
        home = Path(tmp) / "vcoin"
        t0 = time.perf_counter()
        hh_port = free_port()
        hh = start_hardhat(hh_port, Path(tmp) / "hardhat.log")
        vc: NodeProc | None = None
        try:
            log("building the VCoin chain (solo driver, in process)")
            vc_heights = build_vcoin(home, rounds, log)
            log(f"  done in {time.perf_counter() - t0:.0f} s")
            t1 = time.perf_counter()
            log("building the Hardhat chain (hardhat_mine)")
            hh_url = f"http://127.0.0.1:{hh_port}"
            hh_heights = build_hardhat(hh_url, rounds, log)
            log(f"  done in {time.perf_counter() - t1:.0f} s")
            vc = start_vcoind(
                home, log_path=Path(tmp) / "vcoind.log", extra=["--log-level", "warning"]
            )
            targets = [
                Target("vcoin", vc.jsonrpc, vc.proc.pid, vc_heights),
                Target("hardhat", hh_url, hh.pid, hh_heights),
            ]
            for t in targets:
                up = lambda t=t: answers(t.url, "POST", json=PING) == 200  # noqa: E731
                wait_for(f"{t.name}'s JSON-RPC", up, 60)
                t.latest = int(rpc(t.url, "eth_blockNumber"), 16)
            want_logs = rounds * PER_ROUND
            for method in METHODS:
                a_out, b_out = (check(t, method, want_logs) for t in targets)
                assert a_out == b_out, f"{method}: the nodes disagree:\n{a_out}\n{b_out}"
            log("the first answer of each method is the same on both nodes")
            figures: dict[str, dict[str, Figure]] = {t.name: {} for t in targets}
            for method in METHODS:
                for t in targets:
                    if exe is not None:
                        f = load_rpcload(exe, t, method, a.seconds, a.connections, a.pipeline)
                    else:
                        f = asyncio.run(load(t, method, a.seconds, a.connections))
                    figures[t.name][method] = f
                    lat = f"  p50 {f.p50_ms:.2f} ms  p99 {f.p99_ms:.2f} ms" if f.p50_ms else ""
                    log(
                        f"  {method:22} {t.name:8} {f.rps:8,.0f} req/s  {f.errors} errors"
                        f"{lat}  server {f.server_cpu:.2f} CPU-s, client {f.client_cpu:.2f}"
                        + (f"  ({f.first_error})" if f.first_error else "")
                    )
            ok = report(figures, a.connections, client)
            load2, _, _ = os.getloadavg()
            log(f"load average {load2:.2f} at the end")
            if a.json:
                a.json.write_text(
                    json.dumps(
                        {n: {m: f.__dict__ for m, f in d.items()} for n, d in figures.items()},
                        indent=1,
                    )
                )
        finally:
            stop_hardhat(hh)
            if vc is not None:
                vc.stop(30)
        if a.profile:
            profile(home, targets[0], figures["vcoin"], 200 if a.quick else 1000)
    return 0 if ok else 1


def report(figures: dict[str, dict[str, Figure]], conns: int, client: str) -> bool:
    vc, hh = figures["vcoin"], figures["hardhat"]
    print(
        "\n| method | VCoin req/s | Hardhat req/s | VCoin / Hardhat | target | met "
        "| VCoin req/CPU-s | Hardhat req/CPU-s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    ok = True
    for m in METHODS:
        ratio = vc[m].rps / hh[m].rps if hh[m].rps else float("inf")
        met = ratio >= TARGET and vc[m].errors == 0 and hh[m].errors == 0
        ok &= met
        print(
            f"| {m} | {vc[m].rps:,.0f} | {hh[m].rps:,.0f} | {ratio:.2f}× | ≥ {TARGET:g}× "
            f"| {'yes' if met else 'NO'} | {vc[m].per_cpu:,.0f} | {hh[m].per_cpu:,.0f} |"
        )
    own = sum(f.client_cpu for d in figures.values() for f in d.values())
    served = sum(f.server_cpu for d in figures.values() for f in d.values())
    print(
        f"\n({conns} connections from {client} on the same machine; the client used "
        f"{own:.1f} CPU-s, the servers {served:.1f})"
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
