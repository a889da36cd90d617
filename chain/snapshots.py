"""App snapshots for CometBFT state sync: taking, listing, serving and restoring them.

A snapshot is the committed state at one height, written every
``interval`` blocks (0: never; a node that takes none can still restore
one). The last ``keep_recent`` are kept (0: all).

**Format 1** is one byte stream, cut into chunks of ``chunk_bytes`` (the last
one shorter). It is a function of the committed state alone, so two nodes with
the same state write byte-identical chunks::

    stream  = MAGIC header module* trailer
    MAGIC   = b"VCSNAP\\x01"
    header  = b"H" field(canonical JSON {"app_hash": hex, "chain_meta": {...},
                                         "height": n, "modules": [names]})
    module  = b"M" field(name) (b"K" field(key) field(value))*   names ascending,
                                                              keys strictly ascending
    trailer = b"E" 8-byte big-endian count of K records, and nothing after it
    field   = 4-byte big-endian length, then that many bytes

Every module the app runs has a section (an empty module: no K records), so
the module set is part of the snapshot. ``chain_meta`` is the store's chain
metadata (chain id, last block time, genesis hash, initial height, block size
limit…): what Info, the CheckTx context and the next block need.

**Metadata** (what ListSnapshots carries): the sha256 of each chunk, 32 bytes
each, in order. The snapshot's hash is sha256 over that metadata, so a peer
cannot pair a snapshot hash with other chunk hashes. Only the app hash that
CometBFT's light client verified is trusted: a restore rebuilds every
module's Merkle tree from the imported pairs and accepts the snapshot only
when their app hash equals it. The chain metadata is not under the app hash;
it is checked for the chain id the node was given and for shape.

On disk, under the node's ``data/snapshots/``::

    <height>/snapshot.json   height, format, chunk hashes, app hash
    <height>/<index>         chunk ``index``

A snapshot is assembled in a ``.tmp-`` folder and renamed into place, and an
old one is renamed to ``.old-`` before it is removed, so a crash never leaves
a half snapshot listed; leftovers are cleared when the store opens. A restore
keeps the chunks it has verified in ``.restore/`` until the last one arrives,
then imports the state in one atomic write batch, or nothing.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.config import NodeConfig
from chain.smt import EMPTY, Tree
from chain.store import Store, app_hash_of

log = logging.getLogger("vcoin.snapshots")

FORMAT = 1
MAGIC = b"VCSNAP\x01"
DEFAULT_CHUNK_BYTES = 4 << 20  # well under CometBFT's 16 MB chunk message
MAX_CHUNKS = 100_000  # 400 GB of state at the default chunk size
MAX_HEADER_BYTES = 1 << 20
MAX_FIELD_BYTES = 64 << 20  # one key or value
MAX_CHUNK_TRIES = 5  # bad copies of one chunk before the snapshot is given up
_INFO_FILE = "snapshot.json"
_TMP, _OLD, _RESTORE = ".tmp-", ".old-", ".restore"


class SnapshotError(ValueError):
    """A snapshot stream or its metadata is malformed; the message says how."""


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot as ListSnapshots describes it."""

    height: int
    format: int
    chunk_hashes: tuple[bytes, ...]
    app_hash: bytes = b""

    @property
    def chunks(self) -> int:
        return len(self.chunk_hashes)

    @property
    def metadata(self) -> bytes:
        return b"".join(self.chunk_hashes)

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.metadata).digest()


def parse_metadata(chunks: int, snapshot_hash: bytes, metadata: bytes) -> tuple[bytes, ...]:
    """The chunk hashes that an offered snapshot's metadata lists; SnapshotError
    when the metadata does not fit its chunk count or hash."""
    if not 0 < chunks <= MAX_CHUNKS:
        raise SnapshotError(f"a snapshot has 1 to {MAX_CHUNKS} chunks, not {chunks}")
    if len(metadata) != 32 * chunks:
        raise SnapshotError(
            f"metadata is {len(metadata)} bytes; {chunks} chunks need {32 * chunks}"
        )
    if hashlib.sha256(metadata).digest() != snapshot_hash:
        raise SnapshotError("the snapshot hash is not the sha256 of its metadata")
    return tuple(metadata[i : i + 32] for i in range(0, len(metadata), 32))


# -- the stream ---------------------------------------------------------------
def _field(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def _header(height: int, app_hash: bytes, chain_meta: dict[str, Any], modules: list[str]) -> bytes:
    doc = {
        "app_hash": app_hash.hex(),
        "chain_meta": chain_meta,
        "height": height,
        "modules": modules,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def stream(store: Store, modules: Sequence[str]) -> Iterator[bytes]:
    """The format 1 stream of the store's last commit, in pieces."""
    names = sorted(modules)
    yield (
        MAGIC + b"H" + _field(_header(store.height(), store.app_hash(), store.chain_meta(), names))
    )
    count = 0
    for name in names:
        yield b"M" + _field(name.encode())
        parts: list[bytes] = []
        for k, v in store.module_kv(name).iterate():
            parts.append(b"K" + _field(k) + _field(v))
            count += 1
            if len(parts) >= 4096:
                yield b"".join(parts)
                parts = []
        if parts:
            yield b"".join(parts)
    yield b"E" + count.to_bytes(8, "big")


def cut(pieces: Iterable[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """The stream's bytes in chunks of exactly ``chunk_bytes`` (the last one shorter)."""
    buf = bytearray()
    for p in pieces:
        buf += p
        while len(buf) >= chunk_bytes:
            yield bytes(buf[:chunk_bytes])
            del buf[:chunk_bytes]
    if buf:
        yield bytes(buf)


class _Reader:
    """Exact reads over a sequence of chunks; SnapshotError at a short read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""
        self._pos = 0

    def read(self, n: int, what: str) -> bytes:
        while len(self._buf) - self._pos < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                raise SnapshotError(f"the stream ends inside {what}")
            self._buf = self._buf[self._pos :] + nxt
            self._pos = 0
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        return out

    def field(self, what: str, limit: int = MAX_FIELD_BYTES) -> bytes:
        n = int.from_bytes(self.read(4, what), "big")
        if n > limit:
            raise SnapshotError(f"{what} is {n} bytes; at most {limit}")
        return self.read(n, what)

    def at_end(self) -> bool:
        if self._pos < len(self._buf):
            return False
        for nxt in self._chunks:
            if nxt:
                self._buf, self._pos = nxt, 0
                return False
        return True


@dataclass
class Imported:
    """A parsed snapshot, staged for one Store.commit."""

    height: int
    app_hash: bytes
    chain_meta: dict[str, Any]
    changes: dict[str, dict[bytes, bytes | None]] = field(default_factory=dict)
    node_writes: dict[str, dict[bytes, bytes | None]] = field(default_factory=dict)
    roots: dict[str, bytes] = field(default_factory=dict)


def parse(chunks: Iterable[bytes], modules: Sequence[str]) -> Imported:
    """Parse a format 1 stream for an app running ``modules``, rebuild each
    module's Merkle tree and compute the app hash; SnapshotError says what is wrong."""
    r = _Reader(chunks)
    if r.read(len(MAGIC), "the magic") != MAGIC:
        raise SnapshotError("not a format 1 snapshot stream (bad magic)")
    if r.read(1, "the header") != b"H":
        raise SnapshotError("the stream does not start with a header")
    try:
        head = json.loads(r.field("the header", MAX_HEADER_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SnapshotError(f"the header is not JSON: {e}") from None
    if not isinstance(head, dict):
        raise SnapshotError("the header is not a JSON object")
    height, app_hash_hex = head.get("height"), head.get("app_hash")
    meta, names = head.get("chain_meta"), head.get("modules")
    if not isinstance(height, int) or isinstance(height, bool) or height < 1:
        raise SnapshotError("the header's height is not a positive integer")
    if not isinstance(app_hash_hex, str) or not isinstance(meta, dict):
        raise SnapshotError("the header lacks app_hash or chain_meta")
    if not isinstance(meta.get("chain_id"), str) or not isinstance(
        meta.get("last_block_time_ns"), int
    ):
        raise SnapshotError("the chain metadata lacks chain_id or last_block_time_ns")
    try:
        app_hash = bytes.fromhex(app_hash_hex)
    except ValueError:
        raise SnapshotError("the header's app_hash is not hex") from None
    if names != sorted(modules):
        raise SnapshotError(f"the snapshot holds modules {names}; this app runs {sorted(modules)}")
    out = Imported(height, app_hash, meta)
    count = 0
    for name in names:
        if r.read(1, "a module section") != b"M" or r.field("a module name") != name.encode():
            raise SnapshotError(f"the section of module {name} is missing")
        kvs: dict[bytes, bytes | None] = {}
        last: bytes | None = None
        while True:
            kind = r.read(1, f"module {name}")
            if kind != b"K":
                break
            k, v = r.field(f"a key of {name}"), r.field(f"a value of {name}")
            if last is not None and k <= last:
                raise SnapshotError(f"the keys of module {name} are not strictly ascending")
            kvs[k] = v
            last = k
        count += len(kvs)
        root, nodes = Tree(lambda _pos: None).update(kvs.items()) if kvs else (EMPTY, {})
        out.changes[name], out.node_writes[name], out.roots[name] = kvs, nodes, root
        if kind != (b"M" if name != names[-1] else b"E"):
            raise SnapshotError(f"unexpected record {kind!r} after module {name}")
        if kind == b"M":
            r._pos -= 1  # the next section's marker
    if not names and r.read(1, "the trailer") != b"E":
        raise SnapshotError("the trailer is missing")
    if int.from_bytes(r.read(8, "the trailer"), "big") != count:
        raise SnapshotError("the trailer's count differs from the pairs in the stream")
    if not r.at_end():
        raise SnapshotError("bytes follow the trailer")
    if app_hash_of(out.roots) != app_hash:
        raise SnapshotError("the header's app hash is not the app hash of the imported state")
    return out


# -- on disk -------------------------------------------------------------------
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class OfferResult(enum.Enum):
    ACCEPT = "accept"
    ABORT = "abort"
    REJECT = "reject"
    REJECT_FORMAT = "reject_format"


class ApplyResult(enum.Enum):
    ACCEPT = "accept"
    ABORT = "abort"
    RETRY = "retry"
    REJECT_SNAPSHOT = "reject_snapshot"


@dataclass(frozen=True)
class ApplyOutcome:
    result: ApplyResult
    refetch: tuple[int, ...] = ()
    reject_senders: tuple[str, ...] = ()
    reason: str = ""
    restored: Imported | None = None  # set on the last chunk of a good snapshot


class Restore:
    """One offered snapshot being received: checks each chunk against the
    metadata, keeps the good ones, parses the whole when the last arrives."""

    def __init__(
        self,
        height: int,
        chunk_hashes: tuple[bytes, ...],
        app_hash: bytes,
        work: Path | None,
        chain_id: str = "",
    ) -> None:
        """``work``: where verified chunks wait (None: in memory). ``chain_id``:
        when given, a snapshot of another chain is refused."""
        self.chain_id = chain_id
        self.height = height
        self.chunk_hashes = chunk_hashes
        self.app_hash = app_hash
        self.work = work  # None: chunks kept in memory
        self.mem: dict[int, bytes] = {}
        self.have: set[int] = set()
        self.tries: dict[int, int] = {}
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)

    def close(self) -> None:
        self.mem.clear()
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)

    def _chunks(self) -> Iterator[bytes]:
        for i in range(len(self.chunk_hashes)):
            yield self.mem[i] if self.work is None else (self.work / str(i)).read_bytes()

    def apply(self, index: int, chunk: bytes, sender: str, modules: Sequence[str]) -> ApplyOutcome:
        n = len(self.chunk_hashes)
        if not 0 <= index < n:
            return ApplyOutcome(
                ApplyResult.REJECT_SNAPSHOT,
                reason=f"chunk index {index} is out of range 0..{n - 1}",
            )
        if hashlib.sha256(chunk).digest() != self.chunk_hashes[index]:
            tries = self.tries[index] = self.tries.get(index, 0) + 1
            reason = f"chunk {index} ({len(chunk)} bytes) does not match its hash in the metadata"
            if tries >= MAX_CHUNK_TRIES:
                return ApplyOutcome(
                    ApplyResult.REJECT_SNAPSHOT,
                    reject_senders=(sender,) if sender else (),
                    reason=f"{reason}, {tries} times",
                )
            return ApplyOutcome(
                ApplyResult.RETRY,
                refetch=(index,),
                reject_senders=(sender,) if sender else (),
                reason=reason,
            )
        if index not in self.have:
            if self.work is None:
                self.mem[index] = chunk
            else:
                _write_file(self.work / str(index), chunk)
            self.have.add(index)
        if len(self.have) < n:
            return ApplyOutcome(ApplyResult.ACCEPT)
        try:
            imported = parse(self._chunks(), modules)
        except SnapshotError as e:
            return ApplyOutcome(ApplyResult.REJECT_SNAPSHOT, reason=f"malformed snapshot: {e}")
        if imported.height != self.height:
            return ApplyOutcome(
                ApplyResult.REJECT_SNAPSHOT,
                reason=f"the stream is of height {imported.height}, offered as {self.height}",
            )
        if imported.app_hash != self.app_hash:
            return ApplyOutcome(
                ApplyResult.REJECT_SNAPSHOT,
                reason=(
                    f"the restored state's app hash {imported.app_hash.hex()} is not the "
                    f"trusted app hash {self.app_hash.hex()}"
                ),
            )
        found = imported.chain_meta.get("chain_id")
        if self.chain_id and found != self.chain_id:
            return ApplyOutcome(
                ApplyResult.REJECT_SNAPSHOT,
                reason=f"the snapshot is of chain {found!r}; this node runs {self.chain_id!r}",
            )
        return ApplyOutcome(ApplyResult.ACCEPT, restored=imported)


class SnapshotStore:
    """The node's snapshots: ``SnapshotStore(dir, interval, keep_recent, chunk_bytes)``.

    ``interval``: take one every that many blocks (0: never; restores still
    work). ``keep_recent``: how many to keep (0: all). ``chunk_bytes``: the
    chunk size. ``chain_id``: when given, a restore refuses a snapshot of
    another chain.
    """

    def __init__(
        self,
        directory: str | Path,
        interval: int = 0,
        keep_recent: int = 2,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        chain_id: str = "",
    ) -> None:
        if interval < 0 or keep_recent < 0 or chunk_bytes < 1:
            raise ValueError("interval and keep_recent must be ≥ 0, chunk_bytes ≥ 1")
        self.dir = Path(directory)
        self.interval = interval
        self.keep_recent = keep_recent
        self.chunk_bytes = chunk_bytes
        self.chain_id = chain_id
        self.dir.mkdir(parents=True, exist_ok=True)
        for p in self.dir.iterdir():
            if p.name.startswith((_TMP, _OLD)) or p.name == _RESTORE:
                log.info("removing %s, left by an interrupted snapshot", p)
                shutil.rmtree(p, ignore_errors=True)

    def due(self, height: int) -> bool:
        return self.interval > 0 and height > 0 and height % self.interval == 0

    # -- taking ---------------------------------------------------------------
    def take(self, store: Store, modules: Sequence[str]) -> SnapshotInfo:
        """Write a snapshot of the store's last commit, then prune old ones."""
        height = store.height()
        final = self.dir / str(height)
        found = self._read_info(final)
        if found is not None:  # deterministic: the same state gave these very chunks
            return found
        tmp = self.dir / f"{_TMP}{height}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        hashes: list[bytes] = []
        try:
            for i, chunk in enumerate(cut(stream(store, modules), self.chunk_bytes)):
                _write_file(tmp / str(i), chunk)
                hashes.append(hashlib.sha256(chunk).digest())
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        info = SnapshotInfo(height, FORMAT, tuple(hashes), store.app_hash())
        doc = {
            "height": height,
            "format": FORMAT,
            "chunk_hashes": [h.hex() for h in hashes],
            "app_hash": info.app_hash.hex(),
        }
        _write_file(tmp / _INFO_FILE, json.dumps(doc, sort_keys=True).encode())
        _fsync_dir(tmp)
        if final.exists():  # a folder without a readable snapshot.json: not a snapshot
            self._remove(final)
        os.rename(tmp, final)
        _fsync_dir(self.dir)
        self.prune()
        return info

    def prune(self) -> None:
        if self.keep_recent == 0:
            return
        for info in self.list()[: -self.keep_recent]:
            self._remove(self.dir / str(info.height))

    def _remove(self, path: Path) -> None:
        old = self.dir / f"{_OLD}{path.name}"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(path, old)
        shutil.rmtree(old, ignore_errors=True)

    # -- serving ----------------------------------------------------------------
    @staticmethod
    def _read_info(path: Path) -> SnapshotInfo | None:
        try:
            doc = json.loads((path / _INFO_FILE).read_bytes())
            return SnapshotInfo(
                int(doc["height"]),
                int(doc["format"]),
                tuple(bytes.fromhex(h) for h in doc["chunk_hashes"]),
                bytes.fromhex(doc["app_hash"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            if path.exists():
                log.warning("ignoring snapshot folder %s: %s", path, e)
            return None

    def list(self) -> list[SnapshotInfo]:
        """The snapshots kept, oldest first."""
        out = []
        for p in self.dir.iterdir():
            if p.name.isdigit() and p.is_dir():
                info = self._read_info(p)
                if info is not None and info.height == int(p.name):
                    out.append(info)
        return sorted(out, key=lambda i: i.height)

    def oldest_height(self) -> int | None:
        kept = self.list()
        return kept[0].height if kept else None

    def load_chunk(self, height: int, format_: int, index: int) -> bytes:
        """Chunk ``index`` of the snapshot at ``height``; b"" when there is none."""
        if format_ != FORMAT or index < 0 or height < 1:
            return b""
        info = self._read_info(self.dir / str(height))
        if info is None or index >= info.chunks:
            return b""
        try:
            return (self.dir / str(height) / str(index)).read_bytes()
        except OSError as e:
            log.warning("snapshot %d chunk %d unreadable: %s", height, index, e)
            return b""

    # -- restoring --------------------------------------------------------------
    def restore_dir(self) -> Path:
        return self.dir / _RESTORE


def from_config(cfg: NodeConfig, chain_id: str = "") -> SnapshotStore:
    """The node's snapshot store, as its configuration says (``data/snapshots``
    under its home); hand it to the app with
    ``app.set_snapshots(store, cfg.min_retain_blocks)``."""
    return SnapshotStore(
        cfg.snapshot_dir, cfg.snapshot_interval, cfg.snapshot_keep_recent, chain_id=chain_id
    )
