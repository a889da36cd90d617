#!/usr/bin/env python3
"""EVM throughput: ERC-20 transfers per second through FinalizeBlock + Commit, next to
eth-tester and native bank sends in the same run; peak memory at 100k EVM accounts.

1. A real App (RocksDB in a temp dir) on the devnet genesis, with three sets of
   ``--block-size`` funded senders: Ethereum keys for the OpenZeppelin ERC-20
   (contracts/build/OZToken.json, deployed first, then handed out to them), Ethereum
   keys for VCoin.sol (the genesis facade at 0x…0C01, over the bank precompile) and
   secp256k1 keys (tests/support/chain.py's ``test_key``) for native MsgSends.
2. Everything is signed before timing: EIP-1559 txs by eth_account (chain id 0x5643)
   as raw bytes, MsgSends by tests/support/chain.py's ``sign``. Every sender sends
   once a block (its own nonce sequence) to recipients drawn from ``--recipients``
   fresh addresses, the same draws for OZ and VCoin.
3. ``--warmup`` untimed rounds, then the timed ones: one block of each kind in turn
   (OZ, VCoin, native, OZ, …) so all meet the same machine load; each block's
   ``App.finalize_block`` + ``App.commit`` is timed. The App has the node's
   signature helper process, which checks native signatures and decodes a
   block's Ethereum txs ahead while it runs; tx/CPU-s counts the CPU of both
   processes.
4. eth-tester (PyEVMBackend with Cancun rules, automine: a block a tx) through
   web3.py's EthereumTesterProvider: the same OZ token deployed and handed out, then
   the first ``--tester-txs`` of the same transfers (signed for its chain id before
   timing) sent with ``send_raw_transaction``.
5. In a subprocess of its own (a node's figure alone): ``--accounts`` fresh 0x
   addresses funded by EVM value transfers in blocks; peak RSS and the time it took.

``--profile FILE``: one more OZ block with timers around the EVM's steps, and one
under cProfile (stats saved to FILE, the top functions printed). Exit status 0
only if every target is met.

    .venv/bin/python scripts/bench/evm_tps.py --profile /tmp/evm.prof
    .venv/bin/python scripts/bench/evm_tps.py --quick       # a minute
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from eth_abi.abi import encode  # noqa: E402
from eth_hash.auto import keccak  # noqa: E402
from eth_utils.address import to_checksum_address  # noqa: E402
from evm_app import Kind, run_app  # noqa: E402  (the App phase: evm_app.py)
from evm_workload import (  # noqa: E402  (the keys and signed txs: evm_workload.py)
    AMOUNT,
    FUNDS,
    TOKEN_SUPPLY,
    Plan,
    deployer_key,
    eth_address,
    eth_key,
    eth_tx,
    recipient,
    say,
    token_txs,
)

from chain.crypto import to_bech32  # noqa: E402
from genesis.devnet import CHAIN_ID, genesis_doc  # noqa: E402
from modules.bank import state as bank_state  # noqa: E402
from modules.evm.params import DEFAULT_CHAIN_ID  # noqa: E402
from tests.support.chain import new_app, run_block  # noqa: E402

TARGET_RATIO = 10.0  # issue 13: ≥ 10× eth-tester
MiB = 1024 * 1024


# -- eth-tester ----------------------------------------------------------------------------


def run_tester(args: argparse.Namespace) -> tuple[float, float, int]:
    """The same OZ transfers on eth-tester through web3.py: (tx/s, tx/CPU-s, txs)."""
    from eth.vm.forks.cancun import CancunVM
    from eth_tester import EthereumTester, PyEVMBackend  # type: ignore[import-untyped]
    from web3 import EthereumTesterProvider, Web3

    n = args.block_size
    blocks = args.warmup + -(-args.tester_txs // n)
    oz = Plan.make("oz", n, blocks, args.recipients, seed=1)
    accounts = [eth_address(k) for k in [deployer_key(), *oz.keys]]
    state = {a: {"balance": FUNDS, "nonce": 0, "code": b"", "storage": {}} for a in accounts}
    backend = PyEVMBackend(genesis_state=state, vm_configuration=((0, CancunVM),))
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    cid = int(w3.eth.chain_id)

    t0 = time.perf_counter()
    deploy, hand_out, token = token_txs(cid, oz.keys)
    h = w3.eth.send_raw_transaction(deploy)
    if w3.eth.get_transaction_receipt(h)["status"] != 1:
        raise SystemExit("eth-tester: deploying the OZ token failed")
    for raw in hand_out:
        w3.eth.send_raw_transaction(raw)
    flat = [(i, t) for b in oz.sign(cid, token, range(blocks)) for i, t in enumerate(b)]
    warm, timed = flat[: args.warmup * n], flat[args.warmup * n :][: args.tester_txs]
    for _, raw in warm:
        w3.eth.send_raw_transaction(raw)
    say(f"   eth-tester, chain id {cid}: deployed, handed out, {len(warm)} warm-up transfers "
        f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    c0, t0 = time.process_time(), time.perf_counter()
    for _, raw in timed:
        w3.eth.send_raw_transaction(raw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # eth-tester finds a receipt by a scan of its blocks (tens of ms each): the senders'
    # token balances say instead whether their hand-out and every transfer went through
    sent = Counter(i for i, _ in warm + timed)
    share = TOKEN_SUPPLY // 2 // n
    balance_of = keccak(b"balanceOf(address)")[:4]
    call = {"to": to_checksum_address(token), "from": to_checksum_address(accounts[0])}
    for i in sorted(sent)[:50]:
        data = balance_of + encode(["address"], [to_checksum_address(eth_address(oz.keys[i]))])
        got = int.from_bytes(w3.eth.call({**call, "data": data}), "big")  # type: ignore[typeddict-item]
        if got != share - sent[i] * AMOUNT:
            raise SystemExit(f"eth-tester: sender {i}'s transfers did not all go through")
    return len(timed) / wall, len(timed) / cpu, len(timed)


def tester_child(args: argparse.Namespace, keccak_backend: str) -> None:
    """The eth-tester phase in a process of its own, printing its figures as JSON.

    ``auto``: eth-tester as installed, with eth-hash's automatic keccak
    (pycryptodome here), undoing the faster keccak this script's imports of the
    node chose (modules/evm/keccak.py); ``pysha3``: with the node's keccak."""
    if keccak_backend == "auto":
        keccak.hasher = keccak._hasher_first_run  # type: ignore[method-assign]
        keccak.preimage = keccak._preimage_first_run  # type: ignore[method-assign]
    rate, cpu_rate, n = run_tester(args)
    used = type(keccak.hasher.__self__).__name__  # type: ignore[union-attr]
    print(json.dumps({"tps": rate, "cpu_tps": cpu_rate, "txs": n, "keccak": used}))


def run_tester_process(args: argparse.Namespace, keccak_backend: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--tester-child", keccak_backend, "--block-size",
           str(args.block_size), "--tester-txs", str(args.tester_txs), "--warmup",
           str(args.warmup), "--recipients", str(args.recipients)]  # fmt: skip
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"the eth-tester subprocess failed ({r.returncode}): {r.stdout[-2000:]}")
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


# -- memory at N EVM accounts (a subprocess of its own) -----------------------------------


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MiB


def value_txs(job: tuple[int, int, int]) -> list[bytes]:
    """Sender i's value transfers: holder j = n·senders + i gets its nonce n."""
    i, senders, accounts = job
    key = eth_key("mem", i)
    return [
        eth_tx(key, DEFAULT_CHAIN_ID, n, recipient("mem", j), gas=21_000, value=10**12)
        for n, j in enumerate(range(i, accounts, senders))
    ]


def memory_child(accounts: int, block_size: int, sig_workers: int) -> None:
    """Fund ``accounts`` fresh 0x addresses by EVM value transfers in blocks; print a
    JSON line: peak RSS, RSS before the App, times."""
    import multiprocessing as mp

    senders = min(block_size, accounts)
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool() as pool:  # helpers' memory is not this process's
        per = pool.map(value_txs, [(i, senders, accounts) for i in range(senders)])
    blocks = [[p[b] for p in per if b < len(p)] for b in range(len(per[0]))]
    sign_s = time.perf_counter() - t0
    rss_before = rss_mib()
    tmp = Path(tempfile.mkdtemp(prefix="vcoin-evm-mem-"))
    try:
        funded = {to_bech32(eth_address(eth_key("mem", i))): FUNDS for i in range(senders)}
        doc = genesis_doc(chain_id=CHAIN_ID, extra_balances=funded)
        app = new_app(tmp, doc, sig_verify_workers=sig_workers)
        t1 = time.perf_counter()
        failed = 0
        for b, txs in enumerate(blocks):
            failed += sum(1 for r in run_block(app, txs).tx_results if r.code != 0)
            if (b + 1) % max(1, len(blocks) // 5) == 0:
                done, el = min((b + 1) * senders, accounts), time.perf_counter() - t1
                print(f"   {done:>9,} / {accounts:,} accounts ({el:5.1f} s)", file=sys.stderr)
        blocks_s = time.perf_counter() - t1
        sample = range(0, accounts, max(1, accounts // 1000))
        ctx = app.query_ctx()
        funded_n = sum(1 for j in sample if bank_state.balance(ctx, recipient("mem", j), "avcn"))
        app.close()
        db_mib = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) / MiB
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out = dict(accounts=accounts, blocks=len(blocks), failed=failed, sampled=len(sample),
               sampled_funded=funded_n, sign_s=sign_s, blocks_s=blocks_s, db_mib=db_mib,
               rss_before_mib=rss_before, rss_end_mib=rss_mib(), peak_mib=peak)  # fmt: skip
    print(json.dumps(out))


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--memory-child", str(args.accounts), "--block-size",
           str(args.block_size), "--sig-workers", str(args.sig_workers)]  # fmt: skip
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"the memory subprocess failed ({r.returncode}): {r.stdout[-2000:]}")
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


# -- report -------------------------------------------------------------------------------


def report(
    kinds: list[Kind], tester: tuple[float, float, int] | None, mem: dict[str, Any] | None
) -> bool:
    say("\n== figures: FinalizeBlock + Commit on a RocksDB App, signing not included")
    say(f"   {'':<24} {'tx/s':>7} {'tx/CPU-s':>9} {'block ms':>9} {'commit ms':>10} {'txs':>7}")
    for k in kinds:
        cpu = k.txs / k.cpu_s if k.cpu_s else 0.0
        failed = f"  ({k.failed} FAILED)" if k.failed else ""
        say(f"   {k.name:<24} {k.tps:7.0f} {cpu:9.0f} {median(k.ms):9.1f} "
            f"{median(k.commit_ms):10.1f} {k.txs:7,}{failed}")  # fmt: skip
    if tester:
        say(f"   {'OZ transfer, eth-tester':<24} {tester[0]:7.0f} {tester[1]:9.0f} "
            f"{'(automine, web3.py)':>20} {tester[2]:7,}")  # fmt: skip
    ok = True
    oz, vc, native = kinds
    say("\n== targets (issue 13)")
    for k in (oz, vc):
        if tester is None:
            say(f"   {k.name}s against eth-tester: not measured (--tester-txs 0)")
            continue
        ratio = k.tps / tester[0]
        ok = ok and ratio >= TARGET_RATIO
        why = f" ({k.failed} txs failed: {k.first_failure[:120]})" if k.failed else ""
        cpu = k.txs / k.cpu_s / tester[1] if k.cpu_s and not k.failed else 0.0
        say(f"   {k.name}s: {ratio:5.1f}× eth-tester's ({k.tps:.0f} against {tester[0]:.0f} "
            f"tx/s; per CPU-second {cpu:.1f}×)   target ≥ {TARGET_RATIO:.0f}×   "
            f"{'met' if ratio >= TARGET_RATIO else 'NOT MET'}{why}")  # fmt: skip
    say("\n== for information")
    for k in (oz, vc):
        if native.tps and k.tps:
            say(f"   {k.name}: {native.tps / k.tps:4.1f}× the time of a native bank send "
                f"({k.tps:.0f} against {native.tps:.0f} tx/s)")  # fmt: skip
    if mem:
        say(
            f"   peak RSS of a node process that funded {mem['accounts']:,} EVM accounts by EVM "
            f"value transfers ({mem['blocks']:,} blocks): {mem['peak_mib']:.0f} MiB"
        )
        say(
            f"     {mem['rss_before_mib']:.0f} MiB before its App opened (imports and the signed "
            f"txs), {mem['rss_end_mib']:.0f} MiB at the end; RocksDB {mem['db_mib']:.1f} MiB"
        )
        rate = mem["accounts"] / mem["blocks_s"]
        say(f"     it took {mem['blocks_s']:.1f} s of blocks ({rate:.0f} transfers/s) "
            f"after {mem['sign_s']:.1f} s of signing; {mem['sampled_funded']} of "
            f"{mem['sampled']} sampled accounts funded"
            + (f", {mem['failed']} txs FAILED" if mem["failed"] else ""))  # fmt: skip
        ok = ok and not mem["failed"] and mem["sampled_funded"] == mem["sampled"]
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    opt = ap.add_argument
    opt("--txs", type=int, default=10_000, help="timed txs of each kind in the App (10000)")
    opt("--block-size", type=int, default=500, help="txs a block, senders a kind (500)")
    opt("--warmup", type=int, default=1, help="untimed rounds before the timed ones (1)")
    opt("--recipients", type=int, default=10_000, help="fresh addresses sent to (10000)")
    opt("--tester-txs", type=int, default=1_000, help="timed on eth-tester (1000; 0: skip)")
    opt("--accounts", type=int, default=100_000, help="for the memory figure (100000; 0: skip)")
    opt("--sig-workers", type=int, default=1, help="the App's signature helpers, as a node (1)")
    opt("--profile", metavar="FILE", help="cProfile one more OZ block: stats to FILE, top printed")
    opt("--top", type=int, default=25, help="functions --profile prints (25)")
    opt("--db-dir", type=Path, help="where the App's RocksDB goes (a temp dir)")
    opt("--quick", action="store_true", help="1000 txs in blocks of 250, 250, 10k accounts")
    opt("--memory-child", type=int, help=argparse.SUPPRESS)
    opt("--tester-child", choices=["auto", "pysha3"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.tester_child is not None:
        tester_child(args, args.tester_child)
        return 0
    if args.memory_child is not None:
        memory_child(args.memory_child, args.block_size, args.sig_workers)
        return 0
    if args.quick:
        args.txs, args.block_size, args.tester_txs, args.accounts = 1_000, 250, 250, 10_000
    load = os.getloadavg()
    say(f"evm_tps: {args.txs:,} txs a kind in blocks of {args.block_size}, {args.tester_txs:,} "
        f"on eth-tester, memory at {args.accounts:,} accounts; {os.cpu_count()} cpus, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="vcoin-evm-bench-"))
    path = (args.db_dir or tmp) / "evm-bench-app"
    shutil.rmtree(path, ignore_errors=True)
    try:
        say("\n== the App: OZ ERC-20, VCoin.sol and native sends, blocks in turn")
        kinds = run_app(args, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
    tester = None
    if args.tester_txs:
        say("\n== eth-tester (py-evm, automine) through web3.py, the same OZ transfers,")
        say("   in a process of its own, as installed (eth-hash's automatic keccak)")
        shipped = run_tester_process(args, "auto")
        say(f"   {shipped['tps']:.0f} tx/s ({shipped['keccak']})")
        fast = run_tester_process(args, "pysha3")
        say(
            f"   for information, with the node's keccak: {fast['tps']:.0f} tx/s ({fast['keccak']})"
        )
        tester = (shipped["tps"], shipped["cpu_tps"], shipped["txs"])
    mem = None
    if args.accounts:
        say(f"\n== memory: {args.accounts:,} EVM accounts, in a subprocess")
        mem = run_memory(args)
    ok = report(kinds, tester, mem)
    load = os.getloadavg()
    say(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
