"""Key-value views over state: committed reads, cache overlays and gas metering.

Every view offers the same four calls (``get``, ``set``, ``delete``,
``iterate``) so module code never knows which layer it writes to. An overlay
keeps its writes in a sorted map so iteration merges them with the parent in
key order, which keeps execution deterministic.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Protocol

from sortedcontainers import SortedDict

from chain.gas import GasMeter

_DELETED = None
_MISSING = object()


class KV(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def set(self, key: bytes, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...
    def iterate(
        self, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]: ...


def prefix_end(prefix: bytes) -> bytes | None:
    """The first key after every key that starts with ``prefix``."""
    b = bytearray(prefix)
    while b:
        if b[-1] != 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return None


class CacheKV:
    """A write overlay over a parent view; ``write()`` flushes it down.

    Writes sit in a plain dict (a tx touches a handful of keys, and each tx
    opens fresh overlays, so a sorted map costs more than it saves); the
    sorted key list that iteration needs is built only when asked for and
    kept until a new key arrives.
    """

    __slots__ = ("parent", "dirty", "_sorted", "_sorted_n")

    def __init__(self, parent: KV) -> None:
        self.parent = parent
        self.dirty: dict[bytes, bytes | None] = {}
        self._sorted: list[bytes] = []
        self._sorted_n = 0

    def get(self, key: bytes) -> bytes | None:
        v = self.dirty.get(key, _MISSING)
        if v is not _MISSING:
            return v  # type: ignore[return-value]
        return self.parent.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError("state values are bytes")
        self.dirty[key] = value

    def delete(self, key: bytes) -> None:
        self.dirty[key] = _DELETED

    def _keys(self) -> list[bytes]:
        # keys are never removed from ``dirty`` (a delete stores None), so a
        # change in size is exactly "a new key arrived"
        if self._sorted_n != len(self.dirty):
            self._sorted = sorted(self.dirty)
            self._sorted_n = len(self._sorted)
        return self._sorted

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        keys = self._keys()
        lo = bisect_left(keys, start)
        hi = len(keys) if end is None else bisect_left(keys, end, lo)
        mine = keys[lo:hi]
        if reverse:
            mine.reverse()
        theirs = self.parent.iterate(start, end, reverse)
        yield from _merge(theirs, iter(mine), self.dirty, reverse)

    def write(self) -> None:
        parent = self.parent
        for k, v in self.dirty.items():
            if v is None:
                parent.delete(k)
            else:
                parent.set(k, v)
        self.dirty = {}
        self._sorted = []
        self._sorted_n = 0

    def changes(self) -> SortedDict:
        """The pending writes in key order (None marks a delete)."""
        return SortedDict(self.dirty)


def _merge(
    theirs: Iterator[tuple[bytes, bytes]],
    mine: Iterator[bytes],
    dirty: dict[bytes, bytes | None],
    reverse: bool,
) -> Iterator[tuple[bytes, bytes]]:
    def before(a: bytes, b: bytes) -> bool:
        return a > b if reverse else a < b

    t = next(theirs, None)
    m = next(mine, None)
    while t is not None or m is not None:
        if m is None or (t is not None and before(t[0], m)):
            assert t is not None
            yield t
            t = next(theirs, None)
            continue
        if t is not None and t[0] == m:
            t = next(theirs, None)
        v = dirty[m]
        if v is not None:
            yield m, v
        m = next(mine, None)


class GasKV:
    """Charges a gas meter for each access, then forwards to the inner view."""

    __slots__ = ("inner", "meter")

    def __init__(self, inner: KV, meter: GasMeter) -> None:
        self.inner = inner
        self.meter = meter

    def get(self, key: bytes) -> bytes | None:
        v = self.inner.get(key)
        self.meter.charge_read(len(key), 0 if v is None else len(v))
        return v

    def set(self, key: bytes, value: bytes) -> None:
        self.meter.charge_write(len(key), len(value))
        self.inner.set(key, value)

    def delete(self, key: bytes) -> None:
        self.meter.charge_write(len(key), 0)
        self.inner.delete(key)

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        for k, v in self.inner.iterate(start, end, reverse):
            self.meter.charge_iter(len(k), len(v))
            yield k, v


class MultiStore:
    """One overlay per module, created on first use; branches nest.

    A module's overlay, once created, lives as long as its MultiStore
    (``write()`` empties it in place), so a branch holds its parent's overlays
    directly instead of looking them up on every access.
    """

    __slots__ = ("_parents", "_stores")

    def __init__(self, parents: Mapping[str, KV]) -> None:
        self._parents = parents
        self._stores: dict[str, CacheKV] = {}

    def module(self, name: str) -> CacheKV:
        s = self._stores.get(name)
        if s is None:
            parent = self._parents.get(name)
            if parent is None:
                raise KeyError(f"no store for module {name!r}")
            s = self._stores[name] = CacheKV(parent)
        return s

    def branch(self) -> MultiStore:
        """A child overlay: its writes reach this one only on ``write()``."""
        return MultiStore(_OverlaysOf(self))

    def write(self) -> None:
        for s in self._stores.values():
            s.write()

    def changes(self) -> dict[str, SortedDict]:
        return {n: s.changes() for n, s in sorted(self._stores.items()) if s.dirty}

    def names(self) -> list[str]:
        return sorted(self._parents)


class _OverlaysOf(Mapping[str, KV]):
    """A branch's parents: the module overlays of another MultiStore, made on demand."""

    __slots__ = ("ms",)

    def __init__(self, ms: MultiStore) -> None:
        self.ms = ms

    def get(self, name: str, default: object = None) -> CacheKV | None:  # type: ignore[override]
        return self.ms.module(name) if name in self.ms._parents else None

    def __getitem__(self, name: str) -> KV:
        s = self.get(name)
        if s is None:
            raise KeyError(name)
        return s

    def __iter__(self) -> Iterator[str]:
        return iter(self.ms._parents)

    def __len__(self) -> int:
        return len(self.ms._parents)
