"""Persistence: module state, Merkle nodes and commit metadata in one RocksDB.

Key layout (raw bytes, one database):

    b"s" + module + 0x00 + key   module state
    b"n" + module + 0x00 + pos   Merkle tree node at position ``pos``
    b"m" + name                  commit metadata (height, app hash, roots, chain id)

A commit is one atomic, synced write batch, so after any crash the database
holds exactly the last committed height and nothing of the block after it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from rocksdict import (
    BlockBasedOptions,
    Cache,
    DBCompressionType,
    Options,
    Rdict,
    WriteBatch,
    WriteOptions,
)

from chain.kv import prefix_end
from chain.smt import EMPTY, Proof, Tree

_META_HEIGHT = b"mheight"
_META_APP_HASH = b"mapp_hash"
_META_CHAIN = b"mchain"
_META_ROOT = b"mroot/"

BLOCK_CACHE_BYTES = 256 << 20
WRITE_BUFFER_BYTES = 64 << 20
# Merkle levels 0..4 (in nibbles) stay in memory: ≤ 69,905 nodes of ≤ 515 bytes,
# about 45 MiB for a module of 1M keys, whose paths are about 5 levels deep
NODE_CACHE_DEPTH = 4
# The layout of the Merkle node table (chain/smt.py). 2: the 16-ary tree. A
# database written with another layout (the binary tree of the first
# releases, which wrote no marker) would give wrong app hashes: refused.
STORE_FORMAT = b"2"
_META_FORMAT = b"mformat"
RECENT_CACHE_ENTRIES = 1 << 18  # recently used state values and deeper Merkle nodes
_MISS = object()


def app_hash_of(roots: Mapping[str, bytes]) -> bytes:
    """The app hash: a hash over every module's sub-root, in name order."""
    h = hashlib.sha256(b"\x03")
    for name in sorted(roots):
        n = name.encode()
        h.update(len(n).to_bytes(1, "big") + n + roots[name])
    return h.digest()


@dataclass(frozen=True)
class StoreProof:
    """Proof that ``module``/``key`` holds a value (or nothing) under an app hash."""

    module: str
    inner: Proof
    roots: dict[str, bytes]

    def to_json(self) -> dict[str, object]:
        return {
            "module": self.module,
            "inner": self.inner.to_json(),
            "roots": {k: v.hex() for k, v in sorted(self.roots.items())},
        }

    @classmethod
    def from_json(cls, d: object) -> StoreProof:
        """Parse an untrusted proof; a malformed one raises ValueError saying what is wrong."""
        if not isinstance(d, dict):
            raise ValueError("malformed store proof: not a JSON object")
        roots, inner, module = d.get("roots"), d.get("inner"), d.get("module")
        if not isinstance(roots, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in roots.items()
        ):
            raise ValueError("malformed store proof: roots must map module names to hex strings")
        if not isinstance(module, str):
            raise ValueError("malformed store proof: module must be a string")
        return cls(
            module=module,
            inner=Proof.from_json(inner),
            roots={str(k): bytes.fromhex(str(v)) for k, v in roots.items()},
        )


def verify_proof(app_hash: bytes, proof: StoreProof, key: bytes, value: bytes | None) -> bool:
    """True when ``proof`` shows that ``key`` in ``proof.module`` holds ``value``
    (None: is absent) in the state whose app hash is ``app_hash``."""
    if proof.inner.key != key or proof.module not in proof.roots:
        return False
    if app_hash_of(proof.roots) != app_hash:
        return False
    return proof.inner.verify(proof.roots[proof.module], value)


class CommitCache:
    """Committed data kept in memory between blocks, always equal to the database.

    * the upper Merkle levels (depth ≤ NODE_CACHE_DEPTH) of each module's
      tree, loaded whole on first use: every block walks them;
    * the most recently read or committed state values and deeper Merkle
      nodes, about RECENT_CACHE_ENTRIES of them: an account that sends in
      one block usually sends again soon (the inter-block cache of Cosmos).

    ``Store.commit`` updates it right after its write batch lands. Readers on
    other threads (queries) may fill it concurrently, so a value read from the
    database is kept only if no commit happened in between.
    """

    def __init__(self, capacity: int) -> None:
        self.upper: dict[str, dict[bytes, bytes]] = {}
        # insertion order = age; trimmed in batches (a dict evicts its oldest
        # entries cheaply only in bulk)
        self.recent: dict[bytes, bytes | None] = {}
        self.capacity = capacity
        self.generation = 0
        self.lock = threading.Lock()

    def remember(self, key: bytes, value: bytes | None, generation: int) -> None:
        with self.lock:
            if generation != self.generation or key in self.recent:
                return
            self.recent[key] = value
            self._trim()

    def _trim(self) -> None:
        recent = self.recent
        excess = len(recent) - self.capacity
        if excess > self.capacity >> 2:
            for key in list(islice(recent, excess)):
                del recent[key]

    def committed(
        self,
        values: dict[bytes, bytes | None],
        upper: dict[str, dict[bytes, bytes | None]],
    ) -> None:
        """Record what a commit wrote: ``values`` by database key (state and deeper
        nodes, None for a delete), ``upper`` by module and position."""
        with self.lock:
            recent = self.recent
            pop = recent.pop
            excess = len(values) - self.capacity
            if excess > 0:  # a commit bigger than the cache (genesis): keep its tail
                keys = list(values)
                for key in keys[:excess]:
                    pop(key, None)  # would be evicted at once; must not stay stale
                values = {k: values[k] for k in keys[excess:]}
            for key in values:
                pop(key, None)  # re-inserted below as the youngest
            recent.update(values)
            self._trim()
            for name, nodes in upper.items():
                cache = self.upper.get(name)
                if cache is None:
                    continue
                cache.update(nodes)  # type: ignore[arg-type]
                for pos in [p for p, raw in nodes.items() if raw is None]:
                    del cache[pos]
            self.generation += 1


class ModuleKV:
    """Read-only view of one module's committed state."""

    __slots__ = ("db", "prefix", "cache")

    def __init__(self, db: Rdict, name: str, cache: CommitCache | None = None) -> None:
        self.db = db
        self.prefix = b"s" + name.encode() + b"\x00"
        self.cache = cache

    def get(self, key: bytes) -> bytes | None:
        k = self.prefix + key
        cache = self.cache
        if cache is None:
            v: bytes | None = self.db.get(k)
            return v
        v = cache.recent.get(k, _MISS)  # type: ignore[arg-type]
        if v is _MISS:
            generation = cache.generation
            v = self.db.get(k)
            cache.remember(k, v, generation)
        return v

    def set(self, key: bytes, value: bytes) -> None:
        raise RuntimeError("committed state is written only by Store.commit")

    def delete(self, key: bytes) -> None:
        raise RuntimeError("committed state is written only by Store.commit")

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        p = self.prefix
        lo = p + start
        hi = p + end if end is not None else prefix_end(p)
        n = len(p)
        it = self.db.iter()
        if not reverse:
            it.seek(lo)
            while it.valid():
                k = it.key()
                if hi is not None and k >= hi:
                    break
                yield k[n:], it.value()
                it.next()
        else:
            if hi is None:
                it.seek_to_last()
            else:
                it.seek_for_prev(hi)
                if it.valid() and it.key() >= hi:
                    it.prev()
            while it.valid():
                k = it.key()
                if k < lo:
                    break
                yield k[n:], it.value()
                it.prev()


class StoreFormatError(RuntimeError):
    """The database was written with another on-disk layout."""


class Store:
    """The node's state database."""

    def __init__(self, path: str | Path, any_format: bool = False) -> None:
        """``any_format``: open a database of another layout too, to read its state
        values (genesis export); its Merkle tree must then not be used."""
        Path(path).mkdir(parents=True, exist_ok=True)
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        opts.set_max_background_jobs(2)
        # Point reads dominate (accounts, balances, Merkle nodes): keep blocks in
        # a real cache and skip files that cannot hold the key. Most bytes are
        # hashes, which do not compress; decompressing them only slows reads.
        table = BlockBasedOptions()
        table.set_block_cache(Cache(BLOCK_CACHE_BYTES))
        table.set_bloom_filter(10, False)
        opts.set_block_based_table_factory(table)
        opts.set_compression_type(DBCompressionType.none())
        opts.set_write_buffer_size(WRITE_BUFFER_BYTES)
        opts.set_level_compaction_dynamic_level_bytes(True)
        self.db = Rdict(str(path), opts)
        if not any_format:
            self._check_format(path)
        self._wopts = WriteOptions()
        self._wopts.sync = True
        self.cache = CommitCache(RECENT_CACHE_ENTRIES)

    def _check_format(self, path: str | Path) -> None:
        found = self.db.get(_META_FORMAT)
        if found == STORE_FORMAT:
            return
        if found is None and self.db.get(_META_HEIGHT) is None:
            self.db.put(_META_FORMAT, STORE_FORMAT)  # a new database
            return
        self.db.close()
        raise StoreFormatError(
            f"the state database {path} was written by an older vcoind (store format "
            f"{(found or b'1').decode()}, this one reads {STORE_FORMAT.decode()}): its Merkle "
            "tree has another layout. Export its state with that version "
            "(`vcoind genesis export`) and start a new home from the exported genesis."
        )

    def close(self) -> None:
        self.db.close()

    # -- reads of the last commit ------------------------------------------
    def module_kv(self, name: str) -> ModuleKV:
        return ModuleKV(self.db, name, self.cache)

    def height(self) -> int:
        v = self.db.get(_META_HEIGHT)
        return 0 if v is None else int.from_bytes(v, "big")

    def app_hash(self) -> bytes:
        v: bytes | None = self.db.get(_META_APP_HASH)
        return b"" if v is None else v

    def chain_meta(self) -> dict[str, object]:
        v = self.db.get(_META_CHAIN)
        return {} if v is None else dict(json.loads(v))

    def root(self, name: str) -> bytes:
        v: bytes | None = self.db.get(_META_ROOT + name.encode())
        return EMPTY if v is None else v

    def tree(self, name: str) -> Tree:
        prefix = b"n" + name.encode() + b"\x00"
        get = self.db.get
        cache = self.cache
        upper = cache.upper.get(name)
        if upper is None:
            upper = self._load_upper_nodes(name, prefix)
        remember = cache.remember

        def read(pos: bytes) -> bytes | None:
            raw = upper.get(pos)
            if raw is not None:
                return raw
            if pos[0] == 0 and pos[1] <= NODE_CACHE_DEPTH:
                return None  # the upper levels are held whole: not there, not stored
            k = prefix + pos
            raw = cache.recent.get(k, _MISS)  # type: ignore[arg-type]
            if raw is _MISS:
                generation = cache.generation
                raw = get(k)
                remember(k, raw, generation)
            return raw

        return Tree(read)

    def _load_upper_nodes(self, name: str, prefix: bytes) -> dict[bytes, bytes]:
        """The committed nodes at depth ≤ NODE_CACHE_DEPTH: positions start with
        their 2-byte depth, so they are one contiguous range of the node table."""
        with self.cache.lock:  # no commit while we read them
            out = self.cache.upper.get(name)
            if out is not None:
                return out
            out = {}
            end = prefix + (NODE_CACHE_DEPTH + 1).to_bytes(2, "big")
            n = len(prefix)
            it = self.db.iter()
            it.seek(prefix)
            while it.valid():
                k = it.key()
                if k >= end:
                    break
                out[k[n:]] = it.value()
                it.next()
            self.cache.upper[name] = out
            return out

    def prove(self, name: str, key: bytes, modules: list[str]) -> StoreProof:
        return StoreProof(
            module=name,
            inner=self.tree(name).prove(key),
            roots={m: self.root(m) for m in modules},
        )

    # -- the one writer ----------------------------------------------------
    def commit(
        self,
        height: int,
        app_hash: bytes,
        changes: Mapping[str, Mapping[bytes, bytes | None]],
        node_writes: Mapping[str, Mapping[bytes, bytes | None]],
        roots: Mapping[str, bytes],
        chain_meta: dict[str, object] | None = None,
    ) -> None:
        wb = WriteBatch(raw_mode=True)
        put, delete = wb.put, wb.delete
        values: dict[bytes, bytes | None] = {}
        upper: dict[str, dict[bytes, bytes | None]] = {}
        for name, kvs in changes.items():
            p = b"s" + name.encode() + b"\x00"
            for k, v in kvs.items():
                key = p + k
                if v is None:
                    delete(key)
                else:
                    put(key, v)
                values[key] = v
        top_depth = NODE_CACHE_DEPTH
        for name, nodes in node_writes.items():
            p = b"n" + name.encode() + b"\x00"
            top = upper[name] = {}
            for pos, raw in nodes.items():
                key = p + pos
                if raw is None:
                    delete(key)
                else:
                    put(key, raw)
                if pos[1] <= top_depth and pos[0] == 0:
                    top[pos] = raw
                else:
                    values[key] = raw
        for name, r in roots.items():
            wb.put(_META_ROOT + name.encode(), r)
        if chain_meta is not None:
            wb.put(_META_CHAIN, json.dumps(chain_meta, sort_keys=True).encode())
        wb.put(_META_HEIGHT, height.to_bytes(8, "big"))
        wb.put(_META_APP_HASH, app_hash)
        self.db.write(wb, self._wopts)
        self.cache.committed(values, upper)
