"""State sync through the ABCI server: a node's snapshots, listed and served as
CometBFT asks for them, restore a fresh app to the same state (protobuf in and out)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from cosmpy.protos.tendermint.abci import types_pb2 as abci

from app.app import App
from chain.abci.server import AbciApp, serve
from chain.abci.wire import frame, read_frame
from chain.snapshots import MAX_CHUNK_TRIES, SnapshotStore
from tests.support.chain import (
    ALICE,
    BOB,
    TEST_ACCOUNTS,
    VCN,
    Chain,
    assert_ok,
    make_genesis,
    new_app,
    run_block,
    test_key,
)

OK_APPLY = abci.ResponseApplySnapshotChunk.ACCEPT


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Chain]:
    """A chain of 6 blocks of bank sends, snapshotted every 3 blocks in 700-byte chunks."""
    app = new_app(tmp_path / "source", make_genesis(TEST_ACCOUNTS))
    app.set_snapshots(SnapshotStore(tmp_path / "snaps", interval=3, chunk_bytes=700))
    chain = Chain(app)
    for h in range(6):
        txs = [chain.send(test_key(i), test_key(i + 1), (h + 1) * VCN) for i in range(0, 20, 2)]
        for r in chain.block(txs).tx_results:
            assert_ok(r)
    yield chain
    app.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[App]:
    """An empty app (no InitChain), as CometBFT finds it before state sync."""
    app = App(tmp_path / "fresh")
    app.set_snapshots(SnapshotStore(tmp_path / "fresh-snaps"))
    yield app
    app.close()


def call(h: AbciApp, **kw: object) -> abci.Response:
    resp = h.handle(abci.Request(**kw))  # type: ignore[arg-type]
    assert resp.WhichOneof("value") != "exception", resp.exception.error
    return resp


def list_snapshots(h: AbciApp) -> list[abci.Snapshot]:
    return list(call(h, list_snapshots=abci.RequestListSnapshots()).list_snapshots.snapshots)


def load_chunk(h: AbciApp, s: abci.Snapshot, i: int) -> bytes:
    r = call(
        h, load_snapshot_chunk=abci.RequestLoadSnapshotChunk(height=s.height, format=1, chunk=i)
    )
    return bytes(r.load_snapshot_chunk.chunk)


def offer(h: AbciApp, s: abci.Snapshot, app_hash: bytes) -> int:
    r = call(h, offer_snapshot=abci.RequestOfferSnapshot(snapshot=s, app_hash=app_hash))
    return int(r.offer_snapshot.result)


def apply(
    h: AbciApp, i: int, chunk: bytes, sender: str = "peer1"
) -> abci.ResponseApplySnapshotChunk:
    req = abci.RequestApplySnapshotChunk(index=i, chunk=chunk, sender=sender)
    return call(h, apply_snapshot_chunk=req).apply_snapshot_chunk


def info(h: AbciApp) -> abci.ResponseInfo:
    return call(h, info=abci.RequestInfo()).info


def balance(app: App, who: str) -> int:
    q = app.query("/custom/bank/balance", json.dumps({"address": who}).encode())
    assert q.code == 0, q.log
    return int(json.loads(q.value)["balance"]["amount"])


def test_restore_through_abci_gives_the_same_state_and_next_block(
    source: Chain, fresh: App, tmp_path: Path
) -> None:
    src, dst = AbciApp(source.app), AbciApp(fresh)
    snaps = list_snapshots(src)
    assert [s.height for s in snaps] == [3, 6]
    s = snaps[-1]
    assert s.format == 1 and s.chunks > 3
    assert len(s.metadata) == 32 * s.chunks and s.hash == hashlib.sha256(s.metadata).digest()
    want = source.app.info()
    assert info(dst).last_block_height == 0

    assert offer(dst, s, want.last_block_app_hash) == abci.ResponseOfferSnapshot.ACCEPT
    for i in range(s.chunks):
        chunk = load_chunk(src, s, i)
        assert hashlib.sha256(chunk).digest() == s.metadata[32 * i : 32 * i + 32]
        r = apply(dst, i, chunk)
        assert r.result == OK_APPLY and not r.refetch_chunks
    got = info(dst)
    assert got.last_block_height == 6 and got.last_block_app_hash == want.last_block_app_hash
    assert fresh.chain_id == source.app.chain_id
    assert fresh.last_block_time_ns == source.app.last_block_time_ns
    for who in (ALICE.bech32, BOB.bech32, test_key(0).bech32, test_key(1).bech32):
        assert balance(fresh, who) == balance(source.app, who)
    assert fresh.check_invariants() == []

    # the restored app runs the next block to the same app hash as the source
    tx = source.send(ALICE, BOB, 7 * VCN)
    t = source.app.last_block_time_ns + 10**9
    a = run_block(source.app, [tx], t)
    b = run_block(fresh, [tx], t)
    assert_ok(b.tx_results[0])
    assert a.app_hash == b.app_hash
    assert balance(fresh, BOB.bech32) == balance(source.app, BOB.bech32)
    # and its snapshot of that height is byte for byte the source's
    mine = SnapshotStore(tmp_path / "s1", chunk_bytes=700).take(fresh.store, fresh.module_names())
    theirs = SnapshotStore(tmp_path / "s2", chunk_bytes=700).take(
        source.app.store, source.app.module_names()
    )
    assert mine == theirs and mine.height == 7
    for i in range(mine.chunks):
        assert (tmp_path / "s1" / "7" / str(i)).read_bytes() == (
            tmp_path / "s2" / "7" / str(i)
        ).read_bytes()


def test_a_corrupt_or_truncated_chunk_is_refetched(
    source: Chain, fresh: App, caplog: pytest.LogCaptureFixture
) -> None:
    src, dst = AbciApp(source.app), AbciApp(fresh)
    s = list_snapshots(src)[-1]
    assert offer(dst, s, source.app.info().last_block_app_hash) == abci.ResponseOfferSnapshot.ACCEPT
    chunks = [load_chunk(src, s, i) for i in range(s.chunks)]
    assert apply(dst, 0, chunks[0]).result == OK_APPLY
    flipped = bytes([chunks[1][0] ^ 1]) + chunks[1][1:]
    with caplog.at_level(logging.WARNING, "vcoin.app"):
        for bad in (flipped, chunks[1][:-5], b""):
            r = apply(dst, 1, bad, sender="liar")
            assert r.result == abci.ResponseApplySnapshotChunk.RETRY
            assert list(r.refetch_chunks) == [1] and list(r.reject_senders) == ["liar"]
    assert "does not match its hash" in caplog.text
    assert info(dst).last_block_height == 0
    for i in range(1, s.chunks):
        assert apply(dst, i, chunks[i]).result == OK_APPLY
    assert info(dst).last_block_app_hash == source.app.info().last_block_app_hash


def test_a_chunk_bad_every_time_gives_up_the_snapshot(source: Chain, fresh: App) -> None:
    src, dst = AbciApp(source.app), AbciApp(fresh)
    s = list_snapshots(src)[-1]
    offer(dst, s, source.app.info().last_block_app_hash)
    results = [apply(dst, 0, b"junk").result for _ in range(MAX_CHUNK_TRIES)]
    assert results[:-1] == [abci.ResponseApplySnapshotChunk.RETRY] * (MAX_CHUNK_TRIES - 1)
    assert results[-1] == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    # nothing is being restored any more: a chunk now aborts
    assert apply(dst, 0, load_chunk(src, s, 0)).result == abci.ResponseApplySnapshotChunk.ABORT


def test_a_snapshot_of_another_app_hash_is_rejected_and_the_app_stays_empty(
    source: Chain, fresh: App, caplog: pytest.LogCaptureFixture
) -> None:
    src, dst = AbciApp(source.app), AbciApp(fresh)
    old, new = list_snapshots(src)
    # the snapshot of height 3 offered as if it held height 6's (trusted) app hash
    forged = abci.Snapshot(
        height=new.height, format=1, chunks=old.chunks, hash=old.hash, metadata=old.metadata
    )
    assert offer(dst, forged, source.app.info().last_block_app_hash) == 1
    results = [apply(dst, i, load_chunk(src, old, i)).result for i in range(old.chunks)]
    assert results[:-1] == [OK_APPLY] * (old.chunks - 1)
    assert results[-1] == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    # a right snapshot, wrongly trusted hash
    assert offer(dst, new, bytes(32)) == abci.ResponseOfferSnapshot.ACCEPT
    with caplog.at_level(logging.WARNING, "vcoin.app"):
        results = [apply(dst, i, load_chunk(src, new, i)).result for i in range(new.chunks)]
    assert results[-1] == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    assert "is not the trusted app hash" in caplog.text
    assert info(dst).last_block_height == 0 and info(dst).last_block_app_hash == b""
    assert fresh.store.chain_meta() == {}
    assert list(fresh.store.db.keys()) == [b"mformat"]  # nothing half imported
    # the app is still empty: the right snapshot with the right hash restores
    assert offer(dst, new, source.app.info().last_block_app_hash) == 1
    for i in range(new.chunks):
        assert apply(dst, i, load_chunk(src, new, i)).result == OK_APPLY
    assert info(dst).last_block_height == 6


def test_bad_offers_and_out_of_range_chunks(source: Chain, fresh: App) -> None:
    src, dst = AbciApp(source.app), AbciApp(fresh)
    s = list_snapshots(src)[-1]
    good = source.app.info().last_block_app_hash
    R = abci.ResponseOfferSnapshot

    def variant(**kw: object) -> abci.Snapshot:
        fields: dict[str, object] = {
            "height": s.height,
            "format": s.format,
            "chunks": s.chunks,
            "hash": s.hash,
            "metadata": s.metadata,
        }
        fields.update(kw)
        return abci.Snapshot(**fields)  # type: ignore[arg-type]

    assert offer(dst, variant(format=2), good) == R.REJECT_FORMAT
    assert offer(dst, variant(metadata=s.metadata[:-1]), good) == R.REJECT
    assert offer(dst, variant(hash=bytes(32)), good) == R.REJECT
    assert offer(dst, variant(chunks=0, metadata=b"", hash=hashlib.sha256().digest()), good) == (
        R.REJECT
    )
    assert offer(dst, variant(height=0), good) == R.REJECT
    assert offer(dst, s, b"short") == R.REJECT
    # a chunk before any offer: nothing to restore
    assert apply(dst, 0, load_chunk(src, s, 0)).result == abci.ResponseApplySnapshotChunk.ABORT
    assert offer(dst, s, good) == R.ACCEPT
    r = apply(dst, s.chunks, b"x")
    assert r.result == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    # the source holds state: it refuses any offer
    assert offer(src, s, good) == R.ABORT
    # a chunk the node does not have: empty
    assert load_chunk(src, s, s.chunks) == b""
    assert load_chunk(src, variant(height=4), 0) == b""
    r2 = call(src, load_snapshot_chunk=abci.RequestLoadSnapshotChunk(height=6, format=2, chunk=0))
    assert r2.load_snapshot_chunk.chunk == b""
    assert list_snapshots(AbciApp(fresh)) == []


def test_a_malformed_stream_under_good_hashes_is_rejected(tmp_path: Path, fresh: App) -> None:
    """A peer that serves garbage with matching metadata: hashes pass, the parse refuses."""
    dst = AbciApp(fresh)
    for chunks in ([b"garbage"], [b"VCSNAP\x01H\x00\x00\x00\x02{}"], [b"VCSNAP\x01", b""]):
        hashes = [hashlib.sha256(c).digest() for c in chunks]
        meta = b"".join(hashes)
        s = abci.Snapshot(
            height=5,
            format=1,
            chunks=len(chunks),
            hash=hashlib.sha256(meta).digest(),
            metadata=meta,
        )
        assert offer(dst, s, bytes(32)) == abci.ResponseOfferSnapshot.ACCEPT
        results = [apply(dst, i, c).result for i, c in enumerate(chunks)]
        assert results[-1] == abci.ResponseApplySnapshotChunk.REJECT_SNAPSHOT
    assert info(dst).last_block_height == 0


def test_commit_returns_retain_height(tmp_path: Path) -> None:
    app = new_app(tmp_path / "a", make_genesis())
    h = AbciApp(app)
    try:

        def commit_block() -> int:
            n = app.info().last_block_height + 1
            req = abci.RequestFinalizeBlock(height=n)
            req.time.seconds = (app.last_block_time_ns // 10**9) + 1
            call(h, finalize_block=req)
            return int(call(h, commit=abci.RequestCommit()).commit.retain_height)

        assert [commit_block() for _ in range(3)] == [0, 0, 0]  # default: keep all
        app.set_snapshots(None, min_retain_blocks=5)
        # under, at and over min_retain_blocks blocks
        assert [commit_block() for _ in range(4)] == [0, 0, 1, 2]  # heights 4..7
        snaps = SnapshotStore(tmp_path / "snaps", interval=8, keep_recent=1)
        app.set_snapshots(snaps, min_retain_blocks=5)
        assert commit_block() == 3  # height 8, snapshotted: 8 - 5 = 3 ≤ 8
        assert [commit_block() for _ in range(5)] == [4, 5, 6, 7, 8]  # heights 9..13
        assert commit_block() == 8  # height 14: 9, but the snapshot at 8 is kept
        assert commit_block() == 8
        assert commit_block() == 11  # height 16: a new snapshot, 8 pruned: 16 - 5
        assert snaps.oldest_height() == 16
        assert commit_block() == 12
    finally:
        app.close()


def test_an_offer_the_app_fails_on_is_refused_not_an_exception(
    source: Chain, fresh: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*a: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(fresh, "offer_snapshot", broken)
    s = list_snapshots(AbciApp(source.app))[-1]
    assert offer(AbciApp(fresh), s, bytes(32)) == abci.ResponseOfferSnapshot.REJECT


def test_state_sync_over_the_socket(source: Chain, fresh: App) -> None:
    """The snapshot connection as CometBFT uses it: framed requests, one per chunk."""
    src = AbciApp(source.app)
    want = source.app.info()

    async def run() -> None:
        server = await serve(fresh, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)

        async def ask(**req: object) -> abci.Response:
            w.write(frame(abci.Request(**req).SerializeToString()))  # type: ignore[arg-type]
            await w.drain()
            resp = abci.Response()
            resp.ParseFromString(await read_frame(r))
            return resp

        empty = await ask(list_snapshots=abci.RequestListSnapshots())
        assert list(empty.list_snapshots.snapshots) == []
        s = list_snapshots(src)[-1]
        req = abci.RequestOfferSnapshot(snapshot=s, app_hash=want.last_block_app_hash)
        resp = await ask(offer_snapshot=req)
        assert resp.offer_snapshot.result == abci.ResponseOfferSnapshot.ACCEPT
        for i in range(s.chunks):
            c = abci.RequestApplySnapshotChunk(index=i, chunk=load_chunk(src, s, i), sender="p")
            resp = await ask(apply_snapshot_chunk=c)
            assert resp.apply_snapshot_chunk.result == OK_APPLY
        resp = await ask(info=abci.RequestInfo())
        assert resp.info.last_block_height == want.last_block_height
        assert resp.info.last_block_app_hash == want.last_block_app_hash
        w.close()
        server.close()
        await server.wait_closed()

    asyncio.run(run())
