#!/usr/bin/env python3
"""The gateway's cost per request, and completions per second through it, on the devnet.

It starts ``scripts/devnet`` (node, two workers, two oracles, the gateway; a temporary
home and free ports unless ``--home``), waits for its banner, and then, as the dev user
``bob`` (who grants the gateway's account his own post-job budget and makes his own API
keys by wallet sign-in, so alice's dev key is left alone):

1. **Overhead per request, outside the chain**: ``GET /v1/models`` through the gateway
   (HTTP, API key check in the store, rate limit, the node query) against the same
   query sent to the node directly (``abci_query`` jobs/models), one after the other,
   ``--lookups`` of each.
2. **Overhead per completion**: ``POST /v1/completions`` (tiny-lm, 8 tokens) against
   posting the same job directly (bob signs ``MsgPostJob``, waits for the block, polls
   the job every 0.5 s as the gateway does, fetches and hash-checks the output),
   ``--requests`` pairs, the order flipped every pair. Both wait for a worker, the
   settlement window and the block boundaries, so the difference carries up to a block
   of noise either way per request; the medians say more than the p99s.
3. **Completions per second sustained** by ``--clients`` concurrent clients (each its
   own API key and connection, a new request as soon as the last answered) for
   ``--duration`` s after ``--warmup`` s; the answers that arrive inside the window
   count. The chain's block time is measured over the same window (heights and the
   wall clock), next to the node's setting.

    .venv/bin/python scripts/bench/gateway.py            # 30 pairs, 50 clients for 180 s
    .venv/bin/python scripts/bench/gateway.py --quick    # 6 pairs, 50 clients for 60 s
"""

from __future__ import annotations

import argparse
import hashlib
import json
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
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin  # noqa: E402

from app.testnet_gateway import GATEWAY_KEY, POST_JOB, new_api_key, sign_in  # noqa: E402
from chain.artifact_auth import artifact_token  # noqa: E402
from chain.client import NodeClient  # noqa: E402
from genesis.devnet import dev_key  # noqa: E402
from modules.authz.msgs import MsgGrant  # noqa: E402
from modules.jobs.msgs import MsgPostJob  # noqa: E402

VCN = 10**18
USER = "bob"
PRICE = VCN  # each job's escrow: the gateway's default max_price
TOKENS = 8
FINAL = ("settled", "rejected", "cancelled", "expired", "failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:8.1f} ms   p99 {pct(xs, 0.99) * 1e3:8.1f} ms"


class Devnet:
    """scripts/devnet in its own process group, with its banner's endpoints."""

    def __init__(self, home: Path) -> None:
        self.home = home
        base = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VCOIN_")}
        self.rpc_laddr, self.rest_laddr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        env.update(
            VCOIN_HOME=str(home),
            VCOIN_RPC_LADDR=self.rpc_laddr,
            VCOIN_REST_LADDR=self.rest_laddr,
            VCOIN_JSONRPC_LADDR=f"127.0.0.1:{free_port()}",
            VCOIN_JSONRPC_WS_LADDR=f"127.0.0.1:{free_port()}",
            VCOIN_DEVNET_METRICS_PORT=str(base if base + 4 < 65536 else 20000),
            VCOIN_DEVNET_GATEWAY_LADDR=f"127.0.0.1:{free_port()}",
            VCOIN_DEVNET_STATUS_EVERY="0",
        )
        home.mkdir(parents=True, exist_ok=True)
        self.log = home.parent / f"{home.name}.devnet.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [str(ROOT / "scripts" / "devnet")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 900
        try:
            while not re.search(r"^More: .*\n.* status\n", self.log.read_text(), re.M):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    text = self.log.read_text()[-3000:]
                    raise SystemExit(f"the devnet did not start:\n{text}")
                time.sleep(0.5)
        except BaseException:  # Ctrl-C included: stop what started
            self.stop()
            raise
        text = self.log.read_text()
        self.banner = text
        self.gateway = re.findall(r"gateway \(OpenAI API\): +(\S+)/v1", text)[0]
        self.rpc, self.rest = f"http://{self.rpc_laddr}", f"http://{self.rest_laddr}"
        found = re.findall(r"^\[devnet\] sandbox: (.*)$", text, re.M)
        self.sandbox = found[0] if found else "?"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C: gateway, daemons, node
            try:
                self.proc.wait(180)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def setup_user(net: Devnet, clients: int) -> list[str]:
    """bob's grant to the gateway's account and ``clients`` API keys of his."""
    user = dev_key(USER)
    grant = MsgGrant(
        granter=user.bech32,
        grantee=dev_key(GATEWAY_KEY).bech32,
        msg_type_url=POST_JOB,
        spend_limit=Coin(denom="avcn", amount=str(100_000 * VCN)),
    )
    with NodeClient(net.rpc, timeout=30.0) as node:
        node.send_tx(user, [grant], gas="auto")
    token = sign_in(net.gateway, user)
    return [new_api_key(net.gateway, token, f"bench{i}", 0, 6000) for i in range(clients)]


def lookups(net: Devnet, key: str, n: int) -> tuple[list[float], list[float]]:
    gw, direct = [], []
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=net.gateway, headers=headers) as c, NodeClient(net.rpc) as node:
        for _ in range(3):  # connections and caches warm
            c.get("/v1/models").raise_for_status()
            node.query("jobs", "models", {})
        for _ in range(n):
            t = time.perf_counter()
            r = c.get("/v1/models")
            gw.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
            t = time.perf_counter()
            node.query("jobs", "models", {})
            direct.append(time.perf_counter() - t)
    return gw, direct


def via_gateway(c: httpx.Client, prompt: str) -> float:
    t = time.perf_counter()
    r = c.post("/v1/completions", json={"model": "tiny-lm", "prompt": prompt, "max_tokens": TOKENS})
    took = time.perf_counter() - t
    if r.status_code != 200:
        raise RuntimeError(f"gateway {r.status_code}: {r.text}")
    return took


def reader(job: dict[str, str]) -> dict[str, str]:
    """The poster's read token for the job's (private) output."""
    token = artifact_token(dev_key(USER), "get", job["output_hash"])
    return {"Authorization": f"VCoin-Artifact {token}"}


def direct(node: NodeClient, http: httpx.Client, rest: str, prompt: str) -> float:
    """What the gateway does for a completion, done by the user: post, wait, fetch."""
    user = dev_key(USER)
    msg = MsgPostJob(
        poster=user.bech32,
        task_type="text-generation",
        model="tiny-lm",
        inline_input=json.dumps({"prompts": [prompt]}, separators=(",", ":")).encode(),
        spec=json.dumps({"params": {"max_new_tokens": TOKENS}}, separators=(",", ":")),
        max_price=str(PRICE),  # min_gpu_count 0, as the gateway posts it
    )
    t = time.perf_counter()
    sent = node.send_tx(user, [msg], gas="auto", mode="sync")
    resp = node.wait_tx(sent.hash, timeout=60.0)
    job_id = resp.attributes("JobPosted", "job_id")[-1]
    while True:
        job = node.query("jobs", "job", {"id": job_id})
        if job["state"] in FINAL:
            break
        if time.perf_counter() - t > 300:  # the gateway's job_timeout_s is 120
            raise RuntimeError(f"direct job {job_id} still {job['state']} after 300 s")
        time.sleep(0.5)
    out = http.get(f"{rest}/artifacts/{job['output_hash']}", headers=reader(job)).content
    took = time.perf_counter() - t
    if job["state"] != "settled" or hashlib.sha256(out).hexdigest() != job["output_hash"]:
        raise RuntimeError(f"direct job {job_id} ended {job['state']}")
    return took


def completions(net: Devnet, key: str, n: int) -> tuple[list[float], list[float]]:
    gw, dr = [], []
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=net.gateway, headers=headers, timeout=300) as c,
        NodeClient(net.rpc, timeout=30.0) as node,
        httpx.Client(timeout=30) as http,
    ):
        for i in range(n):
            prompt = f"The GPU marketplace {i}"
            if i % 2 == 0:
                gw.append(via_gateway(c, prompt))
                dr.append(direct(node, http, net.rest, prompt))
            else:
                dr.append(direct(node, http, net.rest, prompt))
                gw.append(via_gateway(c, prompt))
            print(f"  pair {i + 1}/{n}: gateway {gw[-1]:.2f} s, direct {dr[-1]:.2f} s", flush=True)
    return gw, dr


def sustained(net: Devnet, keys: list[str], warmup: float, duration: float) -> None:
    start = time.monotonic()
    t0, t1 = start + warmup, start + warmup + duration
    done: list[tuple[float, float]] = []  # (answered at, latency) of 200s
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def client(i: int, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=net.gateway, headers=headers, timeout=300) as c:
            n = 0
            while time.monotonic() < t1:
                body = {
                    "model": "tiny-lm",
                    "prompt": f"client {i} request {n}",
                    "max_tokens": TOKENS,
                }
                t = time.monotonic()
                try:
                    r = c.post("/v1/completions", json=body)
                    what = str(r.status_code)
                except httpx.HTTPError as e:
                    what = type(e).__name__
                end = time.monotonic()
                with lock:
                    if what == "200":
                        done.append((end, end - t))
                    elif end <= t1:
                        errors[what] += 1
                n += 1

    threads = [
        threading.Thread(target=client, args=(i, k), daemon=True) for i, k in enumerate(keys)
    ]
    for th in threads:
        th.start()
    with NodeClient(net.rpc) as node:
        time.sleep(max(0.0, t0 - time.monotonic()))
        h0, w0, s0, c0 = node.latest_height(), time.monotonic(), job_stats(net), cpu(net)
        time.sleep(max(0.0, t1 - time.monotonic()))
        h1, w1, s1, c1 = node.latest_height(), time.monotonic(), job_stats(net), cpu(net)
    inside = [lat for at, lat in done if t0 <= at <= t1]
    print(f"\n{len(keys)} concurrent clients, {duration:.0f} s measured after {warmup:.0f} s:")
    print(
        f"  completions per second sustained: {len(inside) / duration:.2f}  ({len(inside)} answers)"
    )
    if inside:
        print(f"  latency under this load: {ms(inside)}")
    print(f"  errors in the window: {dict(errors) or 'none'}")
    settled = int(s1["settled"]) - int(s0["settled"])
    print(
        f"  on chain: {settled} jobs settled in the window ({settled / duration:.2f}/s); "
        f"queued {s0['queued']} at its start, {s1['queued']} at its end"
    )
    used = {k: c1[k] - c0.get(k, 0.0) for k in c1}
    print(
        f"  CPU seconds in the window ({os.cpu_count()} cores, {duration:.0f} s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in used.items())
    )
    blocks = h1 - h0
    per = (w1 - w0) / blocks if blocks else float("nan")
    print(f"  block time: {per:.2f} s measured ({blocks} blocks), setting {block_setting(net)}")
    # Requests still in flight end with the devnet: the client threads are daemons.


ROLES = (
    ("vcoin-gateway", "gateway"),
    ("vcoind start", "node"),
    ("vcoin-worker", "workers"),
    ("vcoin-oracle", "oracles"),
)


def cpu(net: Devnet) -> dict[str, float]:
    """CPU seconds so far of the devnet's processes by role (/proc: the node has the home
    in its environment, the daemons in their command lines; job containers run under the
    Docker engine and count in "machine", the busy time of every core)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = dict.fromkeys([r for _, r in ROLES], 0.0)
    home = str(net.home)
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (d / "environ").read_bytes()
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if home not in cmd and f"VCOIN_HOME={home}".encode() not in env:
            continue
        for needle, role in ROLES:
            if needle in cmd:
                out[role] += (int(stat[11]) + int(stat[12])) / tick  # utime + stime
                break
    fields = Path("/proc/stat").read_text().split("\n")[0].split()[1:]
    busy = sum(int(x) for x in fields) - int(fields[3]) - int(fields[4])  # - idle, iowait
    out["machine"] = busy / tick
    return out


def job_stats(net: Devnet) -> dict[str, str]:
    """Jobs by state on chain (REST ``/vcoin/jobs/v1/stats``)."""
    r = httpx.get(f"{net.rest}/vcoin/jobs/v1/stats", timeout=30)
    r.raise_for_status()
    return dict(r.json()["stats"]["jobs_by_state"])


def block_setting(net: Devnet) -> str:
    env = dict(os.environ, VCOIN_HOME=str(net.home))
    code = "from chain.config import load_config; print(load_config().block_time_ms)"
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT
    )
    return f"{r.stdout.strip()} ms" if r.returncode == 0 else "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="6 pairs, 60 s of load")
    ap.add_argument("--home", help="devnet home to use (and keep); default a temporary one")
    ap.add_argument("--requests", type=int, help="completion pairs (default 30; quick 6)")
    ap.add_argument("--lookups", type=int, help="/v1/models lookups (default 300; quick 100)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, help="seconds measured (default 180; quick 60)")
    ap.add_argument("--warmup", type=float, help="seconds before (default 30; quick 20)")
    args = ap.parse_args()
    q = args.quick
    n_req = args.requests or (6 if q else 30)
    n_look = args.lookups or (100 if q else 300)
    duration = args.duration or (60.0 if q else 180.0)
    warmup = args.warmup if args.warmup is not None else (20.0 if q else 30.0)

    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp = None if args.home else Path(tempfile.mkdtemp(prefix="vcoin-bench-gw-"))
    home = Path(args.home).resolve() if args.home else (tmp or Path()) / "home"
    t = time.monotonic()
    net = Devnet(home)
    try:
        print(f"devnet up in {time.monotonic() - t:.0f} s ({home}); sandbox: {net.sandbox}")
        keys = setup_user(net, args.clients)
        gw, dr = lookups(net, keys[0], n_look)
        print(f"\nGET /v1/models, {n_look} sequential requests:")
        print(f"  through the gateway: {ms(gw)}")
        print(f"  node query directly: {ms(dr)}")
        diff = [a - b for a, b in zip(gw, dr, strict=True)]
        print(f"  gateway overhead:    {ms(diff)}")
        print(f"\nPOST /v1/completions against posting the job directly, {n_req} pairs:")
        gw, dr = completions(net, keys[0], n_req)
        print(f"  through the gateway: {ms(gw)}")
        print(f"  posted directly:     {ms(dr)}")
        med = statistics.median(gw) - statistics.median(dr)
        p99 = pct(gw, 0.99) - pct(dr, 0.99)
        print(f"  gateway overhead:    median {med * 1e3:+8.1f} ms   p99 {p99 * 1e3:+8.1f} ms")
        sustained(net, keys, warmup, duration)
    finally:
        net.stop()
        print(f"\ndevnet stopped (exit {net.proc.returncode}); log {net.log}")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
