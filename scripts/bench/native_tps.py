#!/usr/bin/env python3
"""Native bank-send throughput: FinalizeBlock + Commit with 10k, 100k and 1M accounts in state.

What it does, for each state size:

1. builds a fresh RocksDB state: ``App.init_chain`` with the senders (real
   genesis), then the remaining accounts written in chunks of genesis state
   through ``Store.commit`` at the genesis height (each chunk is one Merkle
   update and one atomic batch, like a genesis split in parts), then compacts
   the database as a node that grew to this size would have it;
2. signs the bank sends ahead of time (SIGN_MODE_DIRECT with chain/tx/sign.py,
   on every core): ``block_size`` distinct senders, each sending once per block,
   so sequences never serialize within a block; recipients are drawn uniformly
   from all accounts in state;
3. runs ``--warmup`` untimed blocks, then pushes the txs through
   ``App.finalize_block`` + ``App.commit`` in blocks of ``block_size`` and
   times each call (and, inside FinalizeBlock, the Merkle staging that
   computes the app hash); the sizes take turns block by block, so all of
   them meet the same machine load.

It prints tx/s (also per CPU-second, the figure to read on a shared machine),
per-block finalize / Merkle / commit times (median and p95), keys changed and
Merkle nodes written per block, the RocksDB size, and the issue's targets with
whether each is met (exit status 0 only if all are). See README.md here.

    .venv/bin/python scripts/bench/native_tps.py              # 10k, 100k and 1M accounts
    .venv/bin/python scripts/bench/native_tps.py --quick      # 2k and 20k, a few blocks
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend  # noqa: E402
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin  # noqa: E402
from tps_report import RunResult, report, say  # noqa: E402

from app.app import App  # noqa: E402
from chain.coins import DENOM  # noqa: E402
from chain.context import BlockInfo, Ctx, Mode  # noqa: E402
from chain.crypto import PrivateKey, to_bech32  # noqa: E402
from chain.kv import MultiStore  # noqa: E402
from chain.store import app_hash_of  # noqa: E402
from chain.tx.sign import sign_tx  # noqa: E402
from modules.auth import state as auth_state  # noqa: E402
from modules.bank import state as bank_state  # noqa: E402

CHAIN_ID = "vcoin-bench-1"
GENESIS_TIME_NS = 1_767_225_600 * 10**9  # 2026-01-01
SENDER_BALANCE = 10**30
FILLER_BALANCE = 10**18
GAS_LIMIT = 100_000
GAS_PRICE = 1_000_000_000
SEND_AMOUNT = 1_000
FILL_CHUNK = 100_000


def sender_key(i: int) -> PrivateKey:
    return PrivateKey.from_seed(b"bench-sender-%d" % i)


def filler_address(i: int) -> bytes:
    # Deterministic and spread over the key space like real addresses.
    import hashlib

    return hashlib.sha256(b"bench-filler-%d" % i).digest()[:20]


# -- state ------------------------------------------------------------------


def genesis_state(senders: Sequence[bytes], pubkeys: Sequence[bytes]) -> dict[str, Any]:
    accounts = [
        {"address": to_bech32(a), "account_number": str(i), "pub_key": pk.hex()}
        for i, (a, pk) in enumerate(zip(senders, pubkeys, strict=True))
    ]
    balances = sorted(
        (
            {"address": to_bech32(a), "coins": [{"denom": DENOM, "amount": str(SENDER_BALANCE)}]}
            for a in senders
        ),
        key=lambda b: str(b["address"]),
    )
    return {
        "auth": {"accounts": accounts, "next_account_number": str(len(senders))},
        "bank": {"params": {"send_enabled": True}, "balances": balances, "supply": []},
    }


def fill_accounts(app: App, first: int, count: int, progress: Callable[[int], None]) -> None:
    """Add ``count`` funded accounts to the genesis state, one atomic commit per chunk."""
    names = app.module_names()
    done = 0
    while done < count:
        n = min(FILL_CHUNK, count - done)
        ms = MultiStore({m: app.store.module_kv(m) for m in names})
        ctx = Ctx(ms, BlockInfo(app.chain_id, app.store.height(), GENESIS_TIME_NS), Mode.GENESIS)
        number = auth_state.next_account_number(ctx)
        for i in range(first + done, first + done + n):
            addr = filler_address(i)
            auth_state.set_account(ctx, auth_state.Account(addr, number))
            app.bank.set_genesis_balance(ctx, addr, ((DENOM, FILLER_BALANCE),))
            number += 1
        auth_state.set_next_account_number(ctx, number)
        app.bank.set_genesis_supply(ctx, DENOM, bank_state.supply(ctx, DENOM) + n * FILLER_BALANCE)
        changes = {m: dict(c) for m, c in ms.changes().items()}
        roots = {m: app.store.root(m) for m in names}
        nodes = {}
        for m, kvs in changes.items():
            roots[m], nodes[m] = app.store.tree(m).update(kvs.items())
        app.store.commit(app.store.height(), app_hash_of(roots), changes, nodes, roots)
        done += n
        progress(done)


# -- signing ------------------------------------------------------------------


@dataclass(frozen=True)
class SignJob:
    sender: int
    number: int
    sequences: tuple[int, ...]
    recipients: tuple[bytes, ...]


def _sign_job(job: SignJob) -> list[bytes]:
    key = sender_key(job.sender)
    frm = key.bech32
    out = []
    for seq, to in zip(job.sequences, job.recipients, strict=True):
        msg = MsgSend(
            from_address=frm,
            to_address=to_bech32(to),
            amount=[Coin(denom=DENOM, amount=str(SEND_AMOUNT))],
        )
        out.append(
            sign_tx(
                key,
                [msg],
                chain_id=CHAIN_ID,
                account_number=job.number,
                sequence=seq,
                gas_limit=GAS_LIMIT,
                gas_price=GAS_PRICE,
            )
        )
    return out


def _pubkey_of(i: int) -> tuple[bytes, bytes]:
    k = sender_key(i)
    return k.address, k.public_key


def sign_blocks(
    pool: Any,
    senders: int,
    blocks: int,
    recipient_pool: Callable[[random.Random], bytes],
    start_seq: Sequence[int],
) -> list[list[bytes]]:
    """``blocks`` blocks of ``senders`` txs; in block b sender i uses its b-th next sequence."""
    rng = random.Random(7 + start_seq[0])
    jobs = [
        SignJob(
            i,
            i,
            tuple(range(start_seq[i], start_seq[i] + blocks)),
            tuple(recipient_pool(rng) for _ in range(blocks)),
        )
        for i in range(senders)
    ]
    chunk = max(1, senders // (4 * (os.cpu_count() or 1)))
    per_sender = pool.map(_sign_job, jobs, chunksize=chunk)
    return [[per_sender[i][b] for i in range(senders)] for b in range(blocks)]


# -- running --------------------------------------------------------------------


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def helper_cpu_s(app: App) -> float:
    """CPU seconds used so far by the App's signature helper processes."""
    total = 0.0
    for pid in app.sigverify.helper_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class Run:
    """One state size: its App, its signed blocks and what its blocks measured."""

    def __init__(self, accounts: int, path: Path, profile: str | None, sig_workers: int) -> None:
        self.accounts = accounts
        self.sig_workers = sig_workers
        self.path = path
        self.app: App
        self.blocks: list[list[bytes]] = []
        self.warmup = 0
        self.done = 0
        self.build_s = 0.0
        self.sign_s = 0.0
        self.finalize_ms: list[float] = []
        self.stage_ms: list[float] = []
        self.commit_ms: list[float] = []
        self.keys_nodes: list[tuple[int, int]] = []
        self.cpu_s = 0.0
        self.failed = 0
        self.profile = profile
        self.prof: Any = None

    def prepare(self, pool: Any, n_txs: int, block_size: int, reuse: bool, warmup: int) -> None:
        accounts, path = self.accounts, self.path
        senders = block_size
        if accounts < senders:
            raise SystemExit(f"--accounts {accounts} is below the {senders} senders a block needs")
        blocks = max(1, n_txs // block_size)
        keys = pool.map(_pubkey_of, range(senders), chunksize=64)
        start_seq = [0] * senders
        t0 = time.perf_counter()
        if reuse and (path / "CURRENT").exists():
            app = App(path, sig_verify_workers=self.sig_workers)
            ctx = app.query_ctx()
            for i, (addr, _) in enumerate(keys):
                acc = auth_state.get_account(ctx, addr)
                if acc is None:
                    raise SystemExit(f"{path} was not built for {senders} senders; drop --reuse")
                start_seq[i] = acc.sequence
            say(f"\n== {accounts:,} accounts: reusing {path} at height {app.store.height()}")
        else:
            shutil.rmtree(path, ignore_errors=True)
            say(f"\n== {accounts:,} accounts: building state in {path}")
            app = App(path, sig_verify_workers=self.sig_workers)
            app.init_chain(
                CHAIN_ID,
                genesis_state([a for a, _ in keys], [pk for _, pk in keys]),
                time_ns=GENESIS_TIME_NS,
            )

            def progress(done: int) -> None:
                el = time.perf_counter() - t0
                say(f"\r   accounts {senders + done:>10,} / {accounts:,}  ({el:5.1f} s)", end="")

            fill_accounts(app, 0, accounts - senders, progress)
            # A node that grew to this size has a settled LSM tree; without this the
            # timed blocks would share the machine with the build's compactions.
            el = time.perf_counter() - t0
            say(f"\r   compacting the database ({el:5.1f} s)" + " " * 20, end="")
            app.store.db.flush()
            app.store.db.compact_range(None, None)
            self.build_s = time.perf_counter() - t0
            say(f"\r   state built: {accounts:,} accounts in {self.build_s:.1f} s" + " " * 20)

        t0 = time.perf_counter()
        sender_addrs = [a for a, _ in keys]

        def recipient(rng: random.Random) -> bytes:
            # Uniform over every account in state, senders included.
            i = rng.randrange(accounts)
            return sender_addrs[i] if i < senders else filler_address(i - senders)

        self.blocks = sign_blocks(pool, senders, warmup + blocks, recipient, start_seq)
        app.sigverify.start()  # as the node does at start-up
        self.warmup = warmup
        self.sign_s = time.perf_counter() - t0
        say(f"   signed {(warmup + blocks) * senders:,} txs in {self.sign_s:.1f} s")

        # What a running node has done long before: load the upper Merkle levels
        # into the commit cache (one range scan per module).
        t0 = time.perf_counter()
        for name in app.module_names():
            app.store.tree(name)
        say(f"   upper Merkle levels loaded in {time.perf_counter() - t0:.1f} s")

        orig_stage = app._stage

        def timed_stage(*a: Any) -> Any:
            t = time.perf_counter()
            r = orig_stage(*a)
            self.stage_ms.append((time.perf_counter() - t) * 1000)
            return r

        app._stage = timed_stage  # type: ignore[method-assign,assignment]
        self.app = app
        if self.profile:
            import cProfile

            # CPU time, not wall time: on a shared machine waiting is not work
            self.prof = cProfile.Profile(time.process_time)

    def run_block(self) -> str:
        """FinalizeBlock + Commit of the next block; returns a progress line."""
        app = self.app
        b = self.done
        self.done += 1
        timed = b >= self.warmup
        height = app.store.height() + 1
        info = BlockInfo(
            CHAIN_ID, height, GENESIS_TIME_NS + height * 10**9, hash=height.to_bytes(32, "big")
        )
        prof = self.prof if timed else None
        if prof:
            prof.enable()
        c1 = time.process_time() + helper_cpu_s(app)
        t1 = time.perf_counter()
        res = app.finalize_block(info, self.blocks[b])
        t2 = time.perf_counter()
        pend = app._pending
        assert pend is not None
        writes = (
            sum(len(v) for v in pend.changes.values()),
            sum(len(v) for v in pend.node_writes.values()),
        )
        app.commit()
        t3 = time.perf_counter()
        c2 = time.process_time() + helper_cpu_s(app)
        if prof:
            prof.disable()
        bad = [r for r in res.tx_results if r.code != 0]
        if bad and not self.failed:
            say(
                f"\n   !! {self.accounts:,} accounts, block {height}: {len(bad)} txs failed, "
                f"first: {bad[0].codespace}/{bad[0].code} {bad[0].log}"
            )
        self.failed += len(bad)
        merkle = self.stage_ms[-1]
        if timed:
            self.cpu_s += c2 - c1
            self.keys_nodes.append(writes)
            self.finalize_ms.append((t2 - t1) * 1000)
            self.commit_ms.append((t3 - t2) * 1000)
        else:
            self.stage_ms.pop()
        return (
            f"{self.accounts:>9,}: {(t2 - t1) * 1000:6.1f} ms "
            f"(merkle {merkle:5.1f}) + {(t3 - t2) * 1000:5.1f} ms"
        )

    def finish(self) -> RunResult:
        if self.prof:
            out = f"{self.profile}.{self.accounts}"
            self.prof.dump_stats(out)
            say(f"   profile of {self.accounts:,} accounts written to {out}")
        self.app.close()
        return RunResult(
            self.accounts,
            sum(len(b) for b in self.blocks[self.warmup :]),
            self.build_s,
            self.sign_s,
            self.finalize_ms,
            self.stage_ms,
            self.commit_ms,
            self.failed,
            dir_size(self.path),
            self.cpu_s,
            self.keys_nodes,
        )


def run_all(
    pool: Any,
    sizes: list[int],
    n_txs: int,
    block_size: int,
    db_dir: Path,
    profile: str | None,
    reuse: bool,
    warmup: int,
    sig_workers: int,
) -> list[RunResult]:
    """Build every state, then run their blocks in turn (one block of each size,
    then the next), so that all sizes meet the same machine load."""
    runs = [Run(n, db_dir / f"state-{n}", profile, sig_workers) for n in sizes]
    for r in runs:
        r.prepare(pool, n_txs, block_size, reuse, warmup)
    total = len(runs[0].blocks)
    say(f"\n== {total - warmup} timed blocks after {warmup} warm-up, sizes interleaved")
    for b in range(total):
        lines = [r.run_block() for r in runs]
        tag = f"block {b + 1 - warmup:>3}" if b >= warmup else f"warm-up {b + 1}"
        say(f"   {tag}: " + " | ".join(lines))
    return [r.finish() for r in runs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--accounts",
        default="10000,100000,1000000",
        help="comma-separated state sizes to compare (default 10000,100000,1000000; "
        "three or more to judge how commit time grows)",
    )
    ap.add_argument("--txs", type=int, default=20_000, help="txs per state size (default 20000)")
    ap.add_argument("--block-size", type=int, default=1_000, help="txs per block (default 1000)")
    ap.add_argument(
        "--db-dir", type=Path, default=None, help="where to build the states (default: a temp dir)"
    )
    ap.add_argument("--quick", action="store_true", help="2k and 20k accounts, 3 blocks of 500")
    ap.add_argument(
        "--profile",
        default=None,
        help="write a CPU-time cProfile of the timed blocks to PROFILE.<accounts>",
    )
    ap.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="blocks run before the timed ones, as a running node has (default 2)",
    )
    ap.add_argument(
        "--sig-workers",
        type=int,
        default=1,
        help="signature helper processes, as the node's sig_verify_workers (default 1; "
        "0: every signature checked inline, for comparison)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="with --db-dir: run on the states a previous run left there instead of building",
    )
    args = ap.parse_args(argv)
    sizes = [int(x) for x in str(args.accounts).split(",") if x]
    if args.quick:
        sizes, args.txs, args.block_size = [2_000, 20_000], 1_500, 500

    tmp = None
    db_dir = args.db_dir
    if db_dir is None:
        tmp = tempfile.mkdtemp(prefix="vcoin-bench-")
        db_dir = Path(tmp)
    db_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    say(
        f"native_tps: sizes {sizes}, {args.txs:,} txs each, blocks of {args.block_size:,}, "
        f"{os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    try:
        with mp.get_context("fork").Pool() as pool:
            results = run_all(
                pool,
                sizes,
                args.txs,
                args.block_size,
                db_dir,
                args.profile,
                args.reuse,
                args.warmup,
                args.sig_workers,
            )
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    ok = report(results, args.block_size)
    load = os.getloadavg()
    say(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
