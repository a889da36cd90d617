#!/usr/bin/env python3
"""Job lifecycles per second through FinalizeBlock + Commit, with a big market in state.

What it does, for each queue size (default 10k and 100k open jobs):

1. builds a fresh RocksDB state: ``App.init_chain`` with the actors (posters,
   bonded and registered workers, one bonded oracle holding all oracle stake),
   then the background written in chunks of genesis state through
   ``Store.commit``: ``--workers`` registered and bonded workers and
   ``--queue`` open (queued) jobs with their escrow, at random prices, so every
   post lands somewhere inside a big queue;
2. runs a pipelined market, one tx per message: each block holds ``--per-block``
   posts, the claims of the previous block's jobs and the results of the jobs
   claimed the block before (each with its signed execution receipt); the
   sampling draw at the next block picks ~10 % (the default params) for
   checking, and the oracle attests those in the block after; the others
   settle when the challenge window (20 blocks) ends. Every job is settled
   through the real path: burn, treasury, worker payout, refund, reputation,
   mint units;
3. times every ``App.finalize_block`` and ``App.commit`` after a warm-up as
   long as the window, and inside them each message kind (whole tx: decode,
   ante, handler), the draws and the settlements in end_block, and the Merkle
   staging. The state sizes run side by side, one block of each in turn, so a
   change in the machine's load falls on all of them alike and the per-phase
   costs compare fairly.

Txs are signed just before their block, outside the timed calls. Reputation
uptime is kept full (``heartbeat_interval_blocks`` is set past the run), so the
sampling rate stays at its 10 % base as it would for workers that send
heartbeats.

    .venv/bin/python scripts/bench/job_lifecycle.py            # 10k and 100k open jobs
    .venv/bin/python scripts/bench/job_lifecycle.py --quick    # 2k and 20k, short run
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nacl.signing import SigningKey  # noqa: E402

from app.app import App  # noqa: E402
from chain import execute  # noqa: E402
from chain.coins import DENOM  # noqa: E402
from chain.context import BlockInfo, Ctx, Mode  # noqa: E402
from chain.crypto import PrivateKey, module_address, to_bech32  # noqa: E402
from chain.kv import MultiStore  # noqa: E402
from chain.store import app_hash_of  # noqa: E402
from chain.tx.sign import sign_tx  # noqa: E402
from modules.bank import state as bank_state  # noqa: E402
from modules.jobs import msgs as jm  # noqa: E402
from modules.jobs import receipt  # noqa: E402
from modules.jobs import state as jobs_state  # noqa: E402
from modules.jobs.records import Job, Worker  # noqa: E402
from modules.staking import state as staking_state  # noqa: E402
from modules.verification import attestation  # noqa: E402
from modules.verification import msgs as vm  # noqa: E402

CHAIN_ID = "vcoin-bench-1"
GENESIS_TIME_NS = 1_767_225_600 * 10**9
VCN = 10**18
BALANCE = 10**30
WORKER_BOND = 1_000 * VCN
ORACLE_BOND = 10_000 * VCN
GAS_LIMIT = 200_000
MODEL = "bench-lm"
WEIGHTS = hashlib.sha256(b"bench weights").digest()
IMAGE = "sha256:" + "cd" * 32
TARGET = 500
FILL_CHUNK = 20_000
PRICE = 8 * VCN  # lifecycle jobs; background jobs are priced 1..16 VCN
FLOOR = 5 * VCN


def say(msg: str, end: str = "\n") -> None:
    print(msg, end=end, flush=True)


def key(kind: str, i: int) -> PrivateKey:
    return PrivateKey.from_seed(f"bench-{kind}-{i}".encode())


def filler(kind: str, i: int) -> bytes:
    return hashlib.sha256(f"bench-filler-{kind}-{i}".encode()).digest()[:20]


# -- state ---------------------------------------------------------------------------
def genesis(
    posters: list[PrivateKey], workers: list[PrivateKey], oracle: PrivateKey, oracle_pk: bytes
) -> dict[str, Any]:
    actors = posters + workers + [oracle]
    bonds = [{"address": w.bech32, "role": "worker", "amount": str(WORKER_BOND)} for w in workers]
    bonds.append({"address": oracle.bech32, "role": "oracle", "amount": str(ORACLE_BOND)})
    pool = WORKER_BOND * len(workers) + ORACLE_BOND
    balances = [
        {"address": a.bech32, "coins": [{"denom": DENOM, "amount": str(BALANCE)}]} for a in actors
    ]
    balances.append(
        {
            "address": to_bech32(module_address("staking")),
            "coins": [{"denom": DENOM, "amount": str(pool)}],
        }
    )
    balances.sort(key=lambda b: str(b["address"]))
    return {
        "auth": {
            "params": {"authority": oracle.bech32},
            "accounts": [
                {"address": a.bech32, "account_number": str(i), "pub_key": a.public_key.hex()}
                for i, a in enumerate(actors)
            ],
            "next_account_number": str(len(actors)),
        },
        "bank": {"balances": balances},
        "staking": {
            "bonds": bonds,
            "oracle_keys": [{"address": oracle.bech32, "pubkey": oracle_pk.hex()}],
        },
        "reputation": {"params": {"heartbeat_interval_blocks": "1000000"}},
        "jobs": {
            "models": [
                {
                    "id": MODEL,
                    "task_types": ["text-generation"],
                    "weights_sha256": WEIGHTS.hex(),
                    "config_sha256": hashlib.sha256(b"cfg").hexdigest(),
                    "min_gpu_memory_mib": 8_000,
                }
            ],
            "workers": [worker_record(w.address, 0).to_json() for w in workers],
        },
    }


def worker_record(addr: bytes, height: int) -> Worker:
    return Worker(addr, "NVIDIA H100", 80_000, 1, ("text-generation",), (MODEL,), FLOOR, 4, height)


def fill(app: App, n_workers: int, n_jobs: int, progress: Callable[[str], None]) -> None:
    """Write background workers (registered, bonded) and queued jobs as genesis state."""
    names = app.module_names()
    rng = random.Random(1)
    poster = filler("poster", 0)
    items: list[tuple[str, int]] = [("w", i) for i in range(n_workers)]
    items += [("j", i) for i in range(n_jobs)]
    for start in range(0, len(items), FILL_CHUNK):
        ms = MultiStore({m: app.store.module_kv(m) for m in names})
        ctx = Ctx(ms, BlockInfo(app.chain_id, app.store.height(), GENESIS_TIME_NS), Mode.GENESIS)
        pool = escrow = 0
        next_id = jobs_state.next_job_id(ctx)
        for kind, i in items[start : start + FILL_CHUNK]:
            if kind == "w":
                addr = filler("worker", i)
                jobs_state.put_worker(ctx, worker_record(addr, 0))
                staking_state.set_bond(ctx, addr, "worker", WORKER_BOND)
                pool += WORKER_BOND
            else:
                price = rng.randint(1, 16) * VCN
                j = Job(
                    id=next_id,
                    poster=poster,
                    task_type="text-generation",
                    model=MODEL,
                    input_hash=hashlib.sha256(b"bg-%d" % i).digest(),
                    max_price=price,
                    priority=rng.randint(0, 9),
                    claim_blocks=1_000_000,
                    result_blocks=600,
                    posted_height=0,
                    claim_deadline=1_000_000,
                )
                jobs_state.put_job(ctx, j)
                next_id += 1
                escrow += price
        jobs_state.set_next_job_id(ctx, next_id)
        for module, amount in (("staking", pool), ("escrow", escrow)):
            if amount:
                a = module_address(module)
                have = bank_state.balance(ctx, a, DENOM)
                app.bank.set_genesis_balance(ctx, a, ((DENOM, have + amount),))
        supply = bank_state.supply(ctx, DENOM) + pool + escrow
        app.bank.set_genesis_supply(ctx, DENOM, supply)
        changes = {m: dict(c) for m, c in ms.changes().items()}
        roots = {m: app.store.root(m) for m in names}
        nodes = {}
        for m, kvs in changes.items():
            roots[m], nodes[m] = app.store.tree(m).update(kvs.items())
        app.store.commit(app.store.height(), app_hash_of(roots), changes, nodes, roots)
        progress(f"{min(start + FILL_CHUNK, len(items)):,} / {len(items):,} records")


# -- the market ----------------------------------------------------------------------------
@dataclass
class Market:
    app: App
    posters: list[PrivateKey]
    workers: list[PrivateKey]
    oracle: PrivateKey
    oracle_sk: SigningKey
    numbers: dict[bytes, int]
    seq: dict[bytes, int] = field(default_factory=lambda: defaultdict(int))
    next_id: int = 0
    posted: list[list[int]] = field(default_factory=list)  # job ids posted per block
    to_attest: list[int] = field(default_factory=list)
    phase_of: dict[bytes, str] = field(default_factory=dict)

    def sign(self, k: PrivateKey, msg: Any, phase: str) -> bytes:
        s = self.seq[k.address]
        self.seq[k.address] = s + 1
        raw = sign_tx(
            k,
            [msg],
            chain_id=CHAIN_ID,
            account_number=self.numbers[k.address],
            sequence=s,
            gas_limit=GAS_LIMIT,
        )
        self.phase_of[raw] = phase
        return raw

    def block_txs(self, b: int) -> list[bytes]:
        """Posts of block b, claims of block b-1's jobs, results of block b-2's jobs, and
        the oracle's attestations of the jobs the last draw picked."""
        txs = []
        ids = []
        for p in self.posters:
            msg = jm.MsgPostJob(
                poster=p.bech32,
                task_type="text-generation",
                model=MODEL,
                inline_input=b"prompt %d" % self.next_id,
                max_price=str(PRICE),
            )
            txs.append(self.sign(p, msg, "post"))
            ids.append(self.next_id)
            self.next_id += 1
        self.posted.append(ids)
        if b >= 2:
            for w, job_id in zip(self.workers, self.posted[b - 2], strict=True):
                txs.append(self.sign(w, self.submit(w, job_id), "submit"))
        if b >= 1:
            for w, job_id in zip(self.workers, self.posted[b - 1], strict=True):
                txs.append(self.sign(w, jm.MsgClaimJob(worker=w.bech32, job_id=job_id), "claim"))
        for job_id in self.to_attest:
            txs.append(self.sign(self.oracle, self.attest(job_id), "attest"))
        self.to_attest = []
        return txs

    def submit(self, w: PrivateKey, job_id: int) -> Any:
        inp = hashlib.sha256(b"prompt %d" % job_id).digest()
        out = hashlib.sha256(b"output %d" % job_id).digest()
        sig = receipt.sign(w, CHAIN_ID, job_id, IMAGE, WEIGHTS, inp, out)
        return jm.MsgSubmitResult(
            worker=w.bech32,
            job_id=job_id,
            output_hash=out.hex(),
            artifact_ref=f"artifact://{out.hex()}",
            compute_units=1_000,
            receipt=jm.ExecutionReceipt(
                image_digest=IMAGE,
                model_hash=WEIGHTS.hex(),
                input_hash=inp.hex(),
                output_hash=out.hex(),
                signature=sig,
            ),
        )

    def attest(self, job_id: int) -> Any:
        evidence = hashlib.sha256(b"evidence %d" % job_id).digest()
        sig = attestation.sign(self.oracle_sk, CHAIN_ID, job_id, "pass", 10_000, evidence)
        return vm.MsgAttest(
            oracle=self.oracle.bech32,
            job_id=job_id,
            verdict="pass",
            similarity_bps=10_000,
            evidence_hash=evidence.hex(),
            signature=sig,
        )


# -- timing --------------------------------------------------------------------------------
@dataclass
class Timings:
    on: bool = False
    us: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    n: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    phase_of: dict[bytes, str] = field(default_factory=dict)

    def add(self, what: str, seconds: float, count: int = 1) -> None:
        if self.on:
            self.us[what] += seconds * 1e6
            self.n[what] += count

    def per(self, what: str) -> float:
        return self.us[what] / max(1, self.n[what])


_current: list[Timings] = []  # the Timings of the App whose block is running


def _timed_apply_tx(orig: Any) -> Any:
    def apply_tx(ctx: Ctx, raw: bytes, *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        r = orig(ctx, raw, *a, **kw)
        if not ctx.is_check and _current:
            t = _current[-1]
            t.add(t.phase_of.get(raw, "other"), time.perf_counter() - t0)
        return r

    return apply_tx


def instrument(app: App, t: Timings) -> None:
    vk: Any = app.wiring.keepers["verification"]
    for name in ("draw", "settle"):
        orig = getattr(vk, name)

        def wrapped(*a: Any, _orig: Any = orig, _label: str = name, **kw: Any) -> Any:
            t0 = time.perf_counter()
            r = _orig(*a, **kw)
            t.add(_label, time.perf_counter() - t0)
            return r

        setattr(vk, name, wrapped)
    orig_stage = app._stage

    def stage(*a: Any) -> Any:
        t0 = time.perf_counter()
        r = orig_stage(*a)
        t.add("merkle", time.perf_counter() - t0, 0)
        return r

    app._stage = stage  # type: ignore[method-assign]


@dataclass
class Result:
    queue: int
    workers: int
    lifecycles: int = 0
    seconds: float = 0.0  # wall clock in FinalizeBlock + Commit
    cpu: float = 0.0  # CPU time of the process (all its threads) in them
    failed: int = 0
    t: Timings = field(default_factory=Timings)
    build_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.lifecycles / self.seconds

    @property
    def cpu_rate(self) -> float:
        return self.lifecycles / self.cpu


@dataclass
class Run:
    """One state size: its App, its market and what was measured."""

    app: App
    market: Market
    result: Result

    def block(self, b: int, measured: bool) -> str:
        app, market, r, t = self.app, self.market, self.result, self.result.t
        t.on = measured
        height = app.store.height() + 1
        txs = market.block_txs(b)
        t.phase_of = market.phase_of
        info = BlockInfo(
            CHAIN_ID,
            height,
            GENESIS_TIME_NS + height * 10**9,
            hashlib.sha256(b"block %d" % height).digest(),
        )
        _current.append(t)
        c1 = time.process_time()
        t1 = time.perf_counter()
        res = app.finalize_block(info, txs)
        t2 = time.perf_counter()
        app.commit()
        t3 = time.perf_counter()
        c3 = time.process_time()
        _current.pop()
        market.phase_of.clear()
        bad = [x for x in res.tx_results if x.code != 0]
        if bad:
            r.failed += len(bad)
            say(
                f"\n   !! {len(bad)} txs failed at {height}: {bad[0].codespace}/{bad[0].code} "
                f"{bad[0].log}"
            )
        n_settled = sum(1 for e in res.events if e.type == "JobSettled")
        market.to_attest = [
            int(str(e.get("job_id"))) for e in res.events if e.type == "VerificationRequested"
        ]
        if measured:
            r.lifecycles += n_settled
            r.seconds += t3 - t1
            r.cpu += c3 - c1
            t.add("finalize", t2 - t1, 0)
            t.add("commit", t3 - t2, 0)
        return f"{r.queue:,}: {len(txs)} txs, {n_settled} settled, {(t3 - t1) * 1000:5.0f} ms"


def build(queue: int, n_workers: int, per_block: int, db: Path) -> Run:
    path = db / f"state-{queue}"
    shutil.rmtree(path, ignore_errors=True)
    say(f"== building: {queue:,} open jobs, {n_workers:,} workers in state")
    t0 = time.perf_counter()
    posters = [key("poster", i) for i in range(per_block)]
    workers = [key("worker", i) for i in range(per_block)]
    oracle = key("oracle", 0)
    oracle_sk = SigningKey(hashlib.sha256(b"bench oracle").digest())
    app = App(path)
    app.init_chain(
        CHAIN_ID,
        genesis(posters, workers, oracle, bytes(oracle_sk.verify_key)),
        time_ns=GENESIS_TIME_NS,
    )
    fill(app, n_workers - per_block, queue, lambda s: say(f"\r   filling {s}", end=""))
    result = Result(queue, n_workers, build_s=time.perf_counter() - t0)
    say(f"\r   state built in {result.build_s:.1f} s" + " " * 30)
    actors = posters + workers + [oracle]
    market = Market(
        app,
        posters,
        workers,
        oracle,
        oracle_sk,
        {a.address: i for i, a in enumerate(actors)},
        next_id=jobs_state.next_job_id(app.query_ctx()),
    )
    instrument(app, result.t)
    return Run(app, market, result)


def run_all(runs: list[Run], measured: int) -> None:
    """Blocks of every state size in turn, so a change in machine load hits all alike."""
    app = runs[0].app
    window = int(app.custom_query("verification", "params", {})["challenge_window_blocks"])
    warmup = window + 4
    execute.apply_tx = _timed_apply_tx(execute.apply_tx)  # type: ignore[assignment]
    for b in range(warmup + measured):
        on = b >= warmup
        lines = [r.block(b, on) for r in runs]
        say(
            f"\r   block {b + 1:>3}/{warmup + measured} ({'measured' if on else 'warm-up'}): "
            + " | ".join(lines),
            end="",
        )
    say("")
    for r in runs:
        r.app.close()


def report(results: list[Result], per_block: int) -> bool:
    def row(label: str, fn: Callable[[Result], str]) -> None:
        say(f"{label:<40}" + "".join(f"{fn(r):>16}" for r in results))

    say(f"\n== results ({per_block} lifecycles per block, one tx per message)")
    row("open jobs in state", lambda r: f"{r.queue:,}")
    row("workers in state", lambda r: f"{r.workers:,}")
    row("lifecycles settled (failed txs)", lambda r: f"{r.lifecycles:,} ({r.failed})")
    row("lifecycles/s (finalize+commit)", lambda r: f"{r.rate:,.0f}")
    row("  by CPU time of the process", lambda r: f"{r.cpu_rate:,.0f}")
    say("per-phase cost, µs each:")
    for phase in ("post", "claim", "submit", "attest", "draw", "settle"):
        where = "end_block" if phase in ("draw", "settle") else "tx"
        row(f"  {phase} ({where})", lambda r, p=phase: f"{r.t.per(p):,.0f}")
    row("  merkle staging per lifecycle", lambda r: f"{r.t.us['merkle'] / r.lifecycles:,.0f}")
    row("  commit per lifecycle", lambda r: f"{r.t.us['commit'] / r.lifecycles:,.0f}")
    row("  everything per lifecycle", lambda r: f"{r.seconds * 1e6 / r.lifecycles:,.0f}")
    row(
        "attestations (share of lifecycles)",
        lambda r: f"{r.t.n['attest']} ({100 * r.t.n['attest'] / r.lifecycles:.0f} %)",
    )
    row("state build s", lambda r: f"{r.build_s:.1f}")
    ok = True
    say("\n== targets")
    for r in results:
        met = r.rate >= TARGET and r.failed == 0
        ok &= met
        say(
            f"lifecycles/s >= {TARGET} with {r.queue:,} open jobs: {r.rate:,.0f} -> "
            f"{'MET' if met else 'NOT MET'}"
        )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        for phase in ("claim", "settle"):
            ratio = b.t.per(phase) / a.t.per(phase)
            say(
                f"{phase} cost {a.t.per(phase):,.0f} µs at {a.queue:,} -> {b.t.per(phase):,.0f} µs "
                f"at {b.queue:,} open jobs: x{ratio:.2f} (queue x{b.queue / a.queue:.0f})"
            )
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--queue", default="10000,100000", help="open jobs in state, comma-separated")
    ap.add_argument("--workers", type=int, default=10_000, help="workers in state (default 10000)")
    ap.add_argument(
        "--per-block",
        type=int,
        default=500,
        help="lifecycles per block (default 500: the target at 1 s blocks)",
    )
    ap.add_argument("--blocks", type=int, default=12, help="measured blocks (after warm-up)")
    ap.add_argument("--quick", action="store_true", help="2k and 20k open jobs, 1k workers")
    ap.add_argument("--db-dir", type=Path, default=None, help="where to build (default: temp)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in str(args.queue).split(",") if x]
    if args.quick:
        sizes, args.workers, args.per_block, args.blocks = [2_000, 20_000], 1_000, 100, 6
    tmp = None
    db = args.db_dir
    if db is None:
        tmp = tempfile.mkdtemp(prefix="vcoin-jobs-bench-")
        db = Path(tmp)
    db.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    say(
        f"job_lifecycle: queues {sizes}, {args.workers:,} workers, {args.per_block}/block, "
        f"{args.blocks} measured blocks, {os.cpu_count()} cpus, load {load[0]:.2f}"
    )
    try:
        runs = [build(q, args.workers, args.per_block, db) for q in sizes]
        run_all(runs, args.blocks)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    ok = report([r.result for r in runs], args.per_block)
    load = os.getloadavg()
    say(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
