"""Taking, keeping and parsing state-sync snapshots (chain/snapshots.py)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from app.app import App
from chain.config import NodeConfig, load_config
from chain.crypto import to_bech32
from chain.snapshots import (
    FORMAT,
    MAGIC,
    ApplyResult,
    OfferResult,
    SnapshotError,
    SnapshotStore,
    cut,
    from_config,
    parse,
    stream,
)
from tests.support.chain import VCN, Chain, assert_ok, test_key


def _blocks(chain: Chain, n: int) -> list[bytes]:
    """``n`` blocks of bank sends (one to a new account each block); their app hashes."""
    out = []
    for h in range(n):
        txs = [chain.send(test_key(i), test_key(i + 1), (h + 1) * VCN) for i in range(0, 10, 2)]
        txs.append(chain.send(test_key(20), to_bech32(bytes([h + 1]) * 20), VCN))
        res = chain.block(txs)
        for r in res.tx_results:
            assert_ok(r)
        out.append(res.app_hash)
    return out


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_snapshots_are_deterministic_and_change_no_app_hash(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    plain, a, b = Chain(make_app()), Chain(make_app()), Chain(make_app())
    a.app.set_snapshots(SnapshotStore(tmp_path / "sa", interval=2, chunk_bytes=500))
    b.app.set_snapshots(SnapshotStore(tmp_path / "sb", interval=2, chunk_bytes=500))
    hashes = _blocks(plain, 5)
    assert _blocks(a, 5) == hashes
    plain.replay(b.app)
    assert b.app.info() == plain.app.info() == a.app.info()
    fa, fb = _files(tmp_path / "sa"), _files(tmp_path / "sb")
    assert fa == fb and sorted({k.split("/")[0] for k in fa}) == ["2", "4"]
    assert len([k for k in fa if k.startswith("4/") and k[2:].isdigit()]) > 3
    assert a.app.snapshots is not None
    infos = a.app.snapshots.list()
    assert [(i.height, i.format, i.app_hash) for i in infos] == [
        (2, FORMAT, hashes[1]),
        (4, FORMAT, hashes[3]),
    ]
    # every chunk but the last is exactly chunk_bytes; the hashes are the chunks'
    four = infos[1]
    for i, h in enumerate(four.chunk_hashes):
        chunk = a.app.snapshots.load_chunk(4, FORMAT, i)
        assert hashlib.sha256(chunk).digest() == h
        assert len(chunk) == 500 or i == four.chunks - 1
    assert four.hash == hashlib.sha256(four.metadata).digest()


def test_a_snapshot_holds_the_state_of_its_commit(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    chain = Chain(make_app())
    store = SnapshotStore(tmp_path / "s", interval=3, keep_recent=0, chunk_bytes=300)
    chain.app.set_snapshots(store)
    hashes = _blocks(chain, 7)
    assert [i.height for i in store.list()] == [3, 6]  # keep_recent 0: all
    for info in store.list():
        chunks = [store.load_chunk(info.height, FORMAT, i) for i in range(info.chunks)]
        im = parse(chunks, chain.app.module_names())
        assert im.height == info.height and im.app_hash == hashes[info.height - 1]
        assert im.chain_meta["chain_id"] == chain.app.chain_id
    # the new account of block 1 holds its coin in both; block 4's only from 6 on
    three = store.list()[0]
    im = parse(
        [store.load_chunk(3, FORMAT, i) for i in range(three.chunks)], chain.app.module_names()
    )
    bank = b"".join(im.changes["bank"])
    assert bytes([1]) * 20 in bank and bytes([4]) * 20 not in bank


def test_keep_recent_prunes_and_a_crash_leaves_no_half_snapshot(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    chain = Chain(make_app())
    d = tmp_path / "s"
    store = SnapshotStore(d, interval=1, keep_recent=2, chunk_bytes=1000)
    chain.app.set_snapshots(store)
    _blocks(chain, 4)
    assert [i.height for i in store.list()] == [3, 4]
    assert sorted(p.name for p in d.iterdir()) == ["3", "4"]
    # a crash while writing 5 (its temp folder) and while pruning 3 (renamed away),
    # and a folder without its snapshot.json
    (d / ".tmp-5").mkdir()
    (d / ".tmp-5" / "0").write_bytes(b"half")
    (d / "3").rename(d / ".old-3")
    (d / "7").mkdir()
    (d / "7" / "0").write_bytes(b"half")
    (d / "8").mkdir()
    (d / "8" / "snapshot.json").write_text("{not json")
    assert [i.height for i in store.list()] == [4]
    assert store.load_chunk(7, FORMAT, 0) == b"" and store.load_chunk(5, FORMAT, 0) == b""
    reopened = SnapshotStore(d, interval=1, keep_recent=2, chunk_bytes=1000)
    assert sorted(p.name for p in d.iterdir()) == ["4", "7", "8"]
    chain.app.set_snapshots(reopened)
    _blocks(chain, 1)
    assert [i.height for i in reopened.list()] == [4, 5]
    # a half folder at the height being taken is replaced by the snapshot
    chain.app.set_snapshots(SnapshotStore(d, interval=1, keep_recent=3, chunk_bytes=1000))
    (d / "6").mkdir()
    _blocks(chain, 1)
    assert [i.height for i in reopened.list()] == [4, 5, 6]


def test_a_failed_snapshot_is_logged_and_the_chain_goes_on(
    make_app: Callable[..., App],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain = Chain(make_app())
    store = SnapshotStore(tmp_path / "s", interval=1)
    chain.app.set_snapshots(store)

    def broken(*a: object) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr("chain.snapshots._write_file", broken)
    with caplog.at_level(logging.ERROR, "vcoin.app"):
        _blocks(chain, 1)
    assert chain.height == 1 and "snapshot at height 1 failed" in caplog.text
    assert store.list() == [] and list((tmp_path / "s").iterdir()) == []


def _stream_of(app: App) -> bytes:
    return b"".join(stream(app.store, app.module_names()))


def test_parse_refuses_malformed_streams(make_app: Callable[..., App]) -> None:
    app = make_app()
    _blocks(Chain(app), 1)
    good = _stream_of(app)
    names = app.module_names()
    assert parse(cut([good], 7), names).app_hash == app.info().last_block_app_hash
    head_end = good.index(b"M\x00\x00\x00")
    bad = {
        "bad magic": b"X" + good[1:],
        "ends inside": good[:-3],
        "bytes follow the trailer": good + b"\x00",
        "trailer's count": good[:-1] + bytes([good[-1] ^ 1]),
        "does not start with a header": MAGIC + b"Q" + good[len(MAGIC) + 1 :],
        "not JSON": MAGIC + b"H\x00\x00\x00\x02{x" + good[head_end:],
        "not a JSON object": MAGIC + b"H\x00\x00\x00\x02[]" + good[head_end:],
        "at most": MAGIC + b"H\xff\xff\xff\xff",
    }
    for why, data in bad.items():
        with pytest.raises(SnapshotError, match=why):
            parse([data], names)
    with pytest.raises(SnapshotError, match="this app runs"):
        parse([good], names[:-1])

    # hand-made streams: keys out of order, a module's pairs changed under the header's hash
    def made(pairs: list[tuple[bytes, bytes]], chain_id: bytes = b'"c"') -> bytes:
        head = (
            b'{"app_hash":"%s","chain_meta":{"chain_id":%s,"last_block_time_ns":1},'
            b'"height":1,"modules":["m"]}' % (bytes(32).hex().encode(), chain_id)
        )
        out = MAGIC + b"H" + len(head).to_bytes(4, "big") + head + b"M\x00\x00\x00\x01m"
        for k, v in pairs:
            out += b"K" + len(k).to_bytes(4, "big") + k + len(v).to_bytes(4, "big") + v
        return out + b"E" + len(pairs).to_bytes(8, "big")

    with pytest.raises(SnapshotError, match="not strictly ascending"):
        parse([made([(b"b", b"1"), (b"a", b"2")])], ["m"])
    with pytest.raises(SnapshotError, match="not strictly ascending"):
        parse([made([(b"a", b"1"), (b"a", b"2")])], ["m"])
    with pytest.raises(SnapshotError, match="not the app hash of the imported state"):
        parse([made([(b"a", b"1")])], ["m"])
    with pytest.raises(SnapshotError, match="lacks chain_id"):
        parse([made([], chain_id=b"1")], ["m"])
    with pytest.raises(SnapshotError, match="module section"):
        parse([made([])[: -9 - 6]], ["m"])


def test_restore_in_memory_and_refusal_of_another_chain(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    src = make_app()
    store = SnapshotStore(tmp_path / "s", interval=2, chunk_bytes=400)
    src.set_snapshots(store)
    _blocks(Chain(src), 2)
    info = store.list()[0]
    chunks = [store.load_chunk(2, FORMAT, i) for i in range(info.chunks)]

    def restore(dst: App) -> ApplyResult:
        res = dst.offer_snapshot(
            2, FORMAT, info.chunks, info.hash, info.metadata, src.info().last_block_app_hash
        )
        assert res == OfferResult.ACCEPT
        out = [dst.apply_snapshot_chunk(i, c).result for i, c in enumerate(chunks)]
        return out[-1]

    other = App(tmp_path / "other")
    try:
        other.set_snapshots(SnapshotStore(tmp_path / "o", chain_id="another-chain"))
        assert restore(other) == ApplyResult.REJECT_SNAPSHOT
        assert other.info().last_block_height == 0
        assert not (tmp_path / "o" / ".restore").exists()
    finally:
        other.close()
    mem = App(tmp_path / "mem")  # no snapshot store: chunks wait in memory
    try:
        assert restore(mem) == ApplyResult.ACCEPT
        assert mem.info() == src.info()
    finally:
        mem.close()


def test_config_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(tmp_path)
    assert (cfg.snapshot_interval, cfg.snapshot_keep_recent, cfg.min_retain_blocks) == (0, 2, 0)
    monkeypatch.setenv("VCOIN_SNAPSHOT_INTERVAL", "10")
    monkeypatch.setenv("VCOIN_MIN_RETAIN_BLOCKS", "100")
    cfg = load_config(tmp_path)
    assert cfg.snapshot_interval == 10 and cfg.min_retain_blocks == 100
    store = from_config(cfg, chain_id="c")
    assert store.dir == tmp_path / "data" / "snapshots" and store.dir.is_dir()
    assert (store.interval, store.keep_recent, store.chain_id) == (10, 2, "c")
    with pytest.raises(ValueError, match="snapshot_keep_recent must be at least 0"):
        NodeConfig(home=str(tmp_path), snapshot_keep_recent=-1).validate()
    with pytest.raises(ValueError):
        SnapshotStore(tmp_path / "x", chunk_bytes=0)
    app = App(tmp_path / "db")
    try:
        with pytest.raises(ValueError, match="min_retain_blocks"):
            app.set_snapshots(None, -1)
    finally:
        app.close()


def test_take_again_serve_a_lost_chunk_and_a_failed_import(
    make_app: Callable[..., App],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    src = make_app()
    store = SnapshotStore(tmp_path / "s", interval=1, chunk_bytes=600)
    src.set_snapshots(store)
    _blocks(Chain(src), 1)
    info = store.list()[0]
    # the same height again (a restart that replays the block): the snapshot kept
    assert store.take(src.store, src.module_names()) == info
    chunks = [store.load_chunk(1, FORMAT, i) for i in range(info.chunks)]
    (tmp_path / "s" / "1" / "1").unlink()
    with caplog.at_level(logging.WARNING, "vcoin.snapshots"):
        assert store.load_chunk(1, FORMAT, 1) == b""
    assert "unreadable" in caplog.text

    dst = App(tmp_path / "dst")
    try:
        dst.set_snapshots(SnapshotStore(tmp_path / "d"))
        want = src.info().last_block_app_hash

        def broken_commit(*a: object, **kw: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(dst.store, "commit", broken_commit)
        offered = dst.offer_snapshot(1, FORMAT, info.chunks, info.hash, info.metadata, want)
        assert offered == OfferResult.ACCEPT
        results = [dst.apply_snapshot_chunk(i, c).result for i, c in enumerate(chunks)]
        assert results[-1] == ApplyResult.REJECT_SNAPSHOT
        assert dst.info().last_block_height == 0 and not (tmp_path / "d" / ".restore").exists()
    finally:
        dst.close()


def test_parse_refuses_bad_headers() -> None:
    def head(doc: bytes) -> bytes:
        return MAGIC + b"H" + len(doc).to_bytes(4, "big") + doc

    meta = b'"chain_meta":{"chain_id":"c","last_block_time_ns":1}'
    for doc, why in (
        (b'{"app_hash":"00",%s,"height":0,"modules":[]}' % meta, "positive integer"),
        (b'{"app_hash":"00",%s,"height":true,"modules":[]}' % meta, "positive integer"),
        (b'{%s,"height":1,"modules":[]}' % meta, "lacks app_hash"),
        (b'{"app_hash":"zz",%s,"height":1,"modules":[]}' % meta, "not hex"),
    ):
        with pytest.raises(SnapshotError, match=why):
            parse([head(doc)], [])
    empty = b'{"app_hash":"00",%s,"height":1,"modules":[]}' % meta
    with pytest.raises(SnapshotError, match="trailer is missing"):
        parse([head(empty) + b"X"], [])
    with pytest.raises(SnapshotError, match="ends inside the trailer"):
        parse([head(empty)], [])
