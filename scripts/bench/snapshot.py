#!/usr/bin/env python3
"""State-sync snapshot cost: take, size and restore for a state of N accounts.

1. a fresh App whose genesis funds ``--accounts`` keys (default 10,000), then
   ``--blocks`` blocks of real bank sends (``--txs`` each, distinct senders,
   random recipients), so every account has an auth record and a balance;
2. times ``SnapshotStore.take`` (the stream, chunking, sha256s, files and
   fsyncs) at the last height, and prints its size and chunk count;
3. restores it into a fresh empty App as CometBFT would (OfferSnapshot, one
   ApplySnapshotChunk per chunk), times that (chunk checks, parse, Merkle
   rebuild, one write batch), and checks the app hash, height and a balance.

    .venv/bin/python scripts/bench/snapshot.py
    .venv/bin/python scripts/bench/snapshot.py --accounts 100000 --chunk-mib 4
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin  # noqa: E402

from app.app import App  # noqa: E402
from chain.coins import DENOM  # noqa: E402
from chain.context import BlockInfo  # noqa: E402
from chain.crypto import PrivateKey  # noqa: E402
from chain.snapshots import FORMAT, ApplyResult, OfferResult, SnapshotStore  # noqa: E402
from chain.tx.sign import sign_tx  # noqa: E402
from genesis.devnet import genesis_doc  # noqa: E402
from modules.auth import state as auth_state  # noqa: E402
from modules.bank.msgs import MsgSend  # noqa: E402

GENESIS_TIME_NS = 1_767_225_600 * 10**9
BALANCE = 10**24


def build(path: Path, keys: list[PrivateKey], blocks: int, txs: int, seed: int) -> App:
    doc = genesis_doc(extra_balances={k.bech32: BALANCE for k in keys})
    app = App(path)
    app.init_chain(doc["chain_id"], doc["app_state"], GENESIS_TIME_NS, int(doc["initial_height"]))
    rng = random.Random(seed)
    seq: dict[bytes, int] = {}
    for _ in range(blocks):
        ctx = app.query_ctx()
        batch = []
        for key in rng.sample(keys, txs):
            to = rng.choice(keys)
            acc = auth_state.get_account(ctx, key.address)
            number = acc.number if acc is not None else 0
            s = seq.get(key.address, acc.sequence if acc is not None else 0)
            seq[key.address] = s + 1
            msg = MsgSend(
                from_address=key.bech32,
                to_address=to.bech32,
                amount=[Coin(denom=DENOM, amount="1000")],
            )
            batch.append(
                sign_tx(key, [msg], chain_id=doc["chain_id"], account_number=number, sequence=s)
            )
        h = app.info().last_block_height + 1
        res = app.finalize_block(
            BlockInfo(app.chain_id, h, GENESIS_TIME_NS + h * 10**9, h.to_bytes(32, "big")), batch
        )
        failed = [r.log for r in res.tx_results if r.code != 0]
        if failed:
            raise SystemExit(f"block {h}: {len(failed)} txs failed, e.g. {failed[0]}")
        app.commit()
    return app


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--txs", type=int, default=200, help="bank sends per block")
    ap.add_argument("--chunk-mib", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vcoin-snapbench-"))
    try:
        t0 = time.perf_counter()
        keys = [PrivateKey.from_seed(b"snapbench-%d" % i) for i in range(args.accounts)]
        app = build(tmp / "source", keys, args.blocks, min(args.txs, args.accounts), args.seed)
        print(
            f"state: {args.accounts} accounts, height {app.info().last_block_height}, "
            f"built in {time.perf_counter() - t0:.1f} s"
        )
        store = SnapshotStore(tmp / "snaps", chunk_bytes=int(args.chunk_mib * (1 << 20)))
        t0 = time.perf_counter()
        info = store.take(app.store, app.module_names())
        took = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (tmp / "snaps" / str(info.height)).iterdir())
        pairs = sum(1 for m in app.module_names() for _ in app.store.module_kv(m).iterate())
        print(
            f"snapshot: height {info.height}, {pairs} key-value pairs, {size / 1e6:.2f} MB "
            f"in {info.chunks} chunks of ≤ {args.chunk_mib} MiB, taken in {took:.3f} s"
        )

        fresh = App(tmp / "fresh")
        t0 = time.perf_counter()
        want = app.info()
        ok = fresh.offer_snapshot(
            info.height, FORMAT, info.chunks, info.hash, info.metadata, want.last_block_app_hash
        )
        assert ok == OfferResult.ACCEPT, ok
        for i in range(info.chunks):
            out = fresh.apply_snapshot_chunk(i, store.load_chunk(info.height, FORMAT, i))
            assert out.result == ApplyResult.ACCEPT, out
        restored = time.perf_counter() - t0
        assert fresh.info() == want, "restored app hash differs"
        q = {"address": keys[0].bech32}
        a = fresh.query("/custom/bank/balance", json.dumps(q).encode()).value
        assert a == app.query("/custom/bank/balance", json.dumps(q).encode()).value
        print(
            f"restore: {restored:.3f} s (chunk checks, parse, Merkle rebuild, one write "
            f"batch); app hash {want.last_block_app_hash.hex()[:16]}… matches"
        )
        fresh.close()
        app.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
