"""``evm_tps.py``'s App phase: a real App (RocksDB) with every sender funded and the OZ
token deployed and handed out (:func:`open_app`), the three kinds of blocks (OZ ERC-20,
VCoin.sol, native bank sends: :class:`Kind`) run in turn through FinalizeBlock + Commit
and timed (:func:`run_app`), and with ``--profile`` one more OZ block with timers around
the EVM's steps (:func:`timed_block`) and one under cProfile (:func:`profile_block`).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evm_workload import (
    AMOUNT,
    FUNDS,
    Plan,
    deployer_key,
    eth_address,
    recipient,
    say,
    token_txs,
)

from app.app import App
from chain.context import BlockInfo
from chain.crypto import to_bech32
from chain.results import BlockResult
from genesis.devnet import CHAIN_ID, genesis_doc
from modules.auth import state as auth_state
from modules.evm import executor
from modules.evm import txs as evm_txs
from modules.evm.genesis import VCOIN_ADDRESS
from modules.evm.params import DEFAULT_CHAIN_ID
from tests.support.chain import (
    BLOCK_INTERVAL_NS,
    block_hash,
    msg_send,
    new_app,
    run_block,
    sign,
    test_key,
)


def finalize(app: App, txs: Sequence[bytes]) -> BlockResult:
    height = app.info().last_block_height + 1
    t = app.last_block_time_ns + BLOCK_INTERVAL_NS
    return app.finalize_block(
        BlockInfo(app.chain_id, height, t, block_hash(height, txs)), list(txs)
    )


def check_ok(res: BlockResult, what: str) -> None:
    bad = [r for r in res.tx_results if r.code != 0]
    if bad:
        raise SystemExit(f"{what}: {len(bad)} txs failed, first: {bad[0].codespace} {bad[0].log}")


@dataclass
class Kind:
    """One kind of tx through the App: its signed blocks and what they measured."""

    name: str
    blocks: list[list[bytes]]
    ms: list[float] = field(default_factory=list)  # finalize + commit of each timed block
    commit_ms: list[float] = field(default_factory=list)
    last_ms: float = 0.0
    cpu_s: float = 0.0
    txs: int = 0
    failed: int = 0
    first_failure: str = ""

    def run(self, app: App, b: int, timed: bool) -> None:
        h0 = helper_cpu(app)
        c0, t0 = time.process_time(), time.perf_counter()
        res = finalize(app, self.blocks[b])
        t1 = time.perf_counter()
        app.commit()
        t2, c2 = time.perf_counter(), time.process_time() + helper_cpu(app) - h0
        bad = [r for r in res.tx_results if r.code != 0]
        if bad and not self.first_failure:
            self.first_failure = f"{bad[0].codespace}/{bad[0].code} {bad[0].log}"
        self.failed += len(bad)
        self.last_ms = (t2 - t0) * 1000
        if timed:
            self.ms.append(self.last_ms)
            self.commit_ms.append((t2 - t1) * 1000)
            self.cpu_s += c2 - c0
            self.txs += len(self.blocks[b])

    @property
    def tps(self) -> float:
        return self.txs / (sum(self.ms) / 1000) if self.ms and not self.failed else 0.0


def helper_cpu(app: App) -> float:
    """CPU seconds the signature helper process has used (it checks native
    signatures and decodes Ethereum txs ahead during a block), so that tx/CPU-s
    counts the node's work on both processes."""
    total = 0.0
    for pid in app.sigverify.helper_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def open_app(path: Path, oz: Plan, vc: Plan, senders: int, sig_workers: int) -> tuple[App, bytes]:
    """A fresh App with every sender funded and the OZ token deployed and handed out;
    returns it and the token's address."""
    funded = [eth_address(k) for k in [deployer_key(), *oz.keys, *vc.keys]]
    funded += [test_key(i).address for i in range(senders)]
    doc = genesis_doc(chain_id=CHAIN_ID, extra_balances={to_bech32(a): FUNDS for a in funded})
    app = new_app(path, doc, sig_verify_workers=sig_workers)
    deploy, hand_out, token = token_txs(DEFAULT_CHAIN_ID, oz.keys)
    check_ok(run_block(app, [deploy]), "deploying the OZ token")
    for j in range(0, len(hand_out), senders):
        check_ok(run_block(app, hand_out[j : j + senders]), "handing out the OZ token")
    return app, token


def native_blocks(app: App, senders: int, blocks: int, recipients: int) -> list[list[bytes]]:
    """Bank MsgSends signed by tests/support/chain.py's ``sign``: sender i's sequence b
    in block b."""
    rng = random.Random(2)
    pool = [to_bech32(recipient("holder", i)) for i in range(recipients)]
    keys = [test_key(i) for i in range(senders)]
    accounts = [auth_state.get_account(app.query_ctx(), k.address) for k in keys]
    numbers = [a.number for a in accounts if a is not None]
    return [
        [sign(k, [msg_send(k, rng.choice(pool), AMOUNT)], account_number=n, sequence=b)
         for k, n in zip(keys, numbers, strict=True)]
        for b in range(blocks)
    ]  # fmt: skip


def timed_block(app: App, txs: Sequence[bytes]) -> None:
    """One block with timers around the EVM's steps (no profiler, so no distortion): the
    time each took, per block and per tx."""
    from modules.evm.executor import VCoinComputation

    steps: list[tuple[str, Any, str]] = [
        ("txs.decode: RLP, signature recovery, chain id", evm_txs, "decode"),
        ("executor.precheck: nonce, fee, balance", executor, "precheck"),
        ("executor.run_tx: py-evm's apply_transaction", executor, "run_tx"),
        ("  of which the computation (opcodes)", VCoinComputation, "apply_computation"),
        ("executor.tx_result: receipt events and logs", executor, "tx_result"),
        ("Merkle staging of the app hash (App._stage)", app, "_stage"),
    ]
    spent = {label: 0.0 for label, _, _ in steps}
    saved = [(owner, attr, vars(owner).get(attr)) for _, owner, attr in steps]

    def timer(label: str, owner: Any, orig: Any) -> Any:
        depth = [0]  # a precompile's computation runs inside its caller's: count the outer

        def timed(*a: Any, **kw: Any) -> Any:
            depth[0] += 1
            t = time.perf_counter()
            try:
                return orig(*a, **kw)
            finally:
                depth[0] -= 1
                if not depth[0]:
                    spent[label] += time.perf_counter() - t

        return staticmethod(timed) if isinstance(owner, type) else timed

    for label, owner, attr in steps:
        setattr(owner, attr, timer(label, owner, getattr(owner, attr)))
    try:
        t0 = time.perf_counter()
        res = finalize(app, txs)
        t1 = time.perf_counter()
        app.commit()
        t2 = time.perf_counter()
    finally:
        for owner, attr, orig in saved:
            setattr(owner, attr, orig) if orig is not None else delattr(owner, attr)
    check_ok(res, "the timed block")
    spent["App.commit"] = t2 - t1
    block = t2 - t0
    rest = block - sum(spent.values()) + spent["  of which the computation (opcodes)"]
    spent["the rest: FinalizeBlock's loop, block hooks"] = rest
    say(f"\n== one more block of {len(txs)} OZ transfers, timers around each step (unprofiled):")
    say(f"   {block * 1000:.0f} ms, {block * 1e6 / len(txs):.0f} µs a tx")
    for label, sec in spent.items():
        say(f"     {label:<50} {sec * 1000:7.1f} ms  {sec * 1e6 / len(txs):6.0f} µs/tx  "
            f"{100 * sec / block:5.1f} %")  # fmt: skip


def profile_block(app: App, txs: Sequence[bytes], out: str, top: int) -> None:
    """One block of OZ transfers under cProfile (CPU time): stats saved to ``out``, the
    top functions printed."""
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    res = finalize(app, txs)
    app.commit()
    prof.disable()
    check_ok(res, "the profiled block")
    prof.dump_stats(out)
    st = pstats.Stats(prof, stream=(buf := io.StringIO()))
    st.strip_dirs().sort_stats("tottime").print_stats(top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    say(f"\n== profile of one block of {len(txs)} OZ transfers (CPU time), saved to {out}")
    say("\n".join("   " + ln for ln in lines[2:]))
    stats = st.stats  # type: ignore[attr-defined]
    recover = sum(v[1] for k, v in stats.items() if "secp256k1_ecdsa_recover>" in k[2])
    say(f"   signature recoveries: {recover / len(txs):.1f} a tx")


def run_app(args: argparse.Namespace, path: Path) -> list[Kind]:
    n = args.block_size
    blocks = args.warmup + max(1, args.txs // n)
    extra = 2 if args.profile else 0
    oz = Plan.make("oz", n, blocks + extra, args.recipients, seed=1)
    vc = Plan.make("vc", n, blocks, args.recipients, seed=1)  # the same recipients
    t0 = time.perf_counter()
    app, token = open_app(path, oz, vc, n, args.sig_workers)
    say(f"   App in {path}: {3 * n:,} senders funded, the OZ token at 0x{token.hex()} handed "
        f"out ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    t0 = time.perf_counter()
    oz_blocks = oz.sign(DEFAULT_CHAIN_ID, token, range(blocks + extra))
    kinds = [
        Kind("OZ ERC-20 transfer", oz_blocks[:blocks]),
        Kind("VCoin.sol transfer", vc.sign(DEFAULT_CHAIN_ID, VCOIN_ADDRESS, range(blocks))),
        Kind("native bank MsgSend", native_blocks(app, n, blocks, args.recipients)),
    ]
    signed = sum(len(b) for k in kinds for b in k.blocks)
    say(f"   signed {signed:,} txs in {time.perf_counter() - t0:.1f} s, before timing")
    for b in range(blocks):
        timed = b >= args.warmup
        for k in kinds:
            k.run(app, b, timed)
        tag = f"block {b + 1 - args.warmup:>3}" if timed else f"warm-up {b + 1}"
        say(f"   {tag}: " + " | ".join(f"{k.name.split()[0]} {k.last_ms:6.1f} ms" for k in kinds))
    for k in kinds:
        if k.failed:
            say(f"   !! {k.name}: {k.failed} txs failed, first: {k.first_failure}")
    if args.profile:
        timed_block(app, oz_blocks[blocks])
        profile_block(app, oz_blocks[blocks + 1], args.profile, args.top)
    app.close()
    return kinds
