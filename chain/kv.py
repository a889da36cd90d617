"""Key-value views over state: committed reads, cache overlays and gas metering.

Every view offers the same four calls (``get``, ``set``, ``delete``,
``iterate``) so module code never knows which layer it writes to. An overlay
keeps its writes in a sorted map so iteration merges them with the parent in
key order, which keeps execution deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from sortedcontainers import SortedDict

from chain.gas import GasMeter

_DELETED = None


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
    """A write overlay over a parent view; ``write()`` flushes it down."""

    __slots__ = ("parent", "dirty")

    def __init__(self, parent: KV) -> None:
        self.parent = parent
        self.dirty: SortedDict = SortedDict()

    def get(self, key: bytes) -> bytes | None:
        if key in self.dirty:
            v: bytes | None = self.dirty[key]
            return v
        return self.parent.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError("state values are bytes")
        self.dirty[key] = value

    def delete(self, key: bytes) -> None:
        self.dirty[key] = _DELETED

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        mine = self.dirty.irange(start, end, inclusive=(True, False), reverse=reverse)
        theirs = self.parent.iterate(start, end, reverse)
        yield from _merge(theirs, mine, self.dirty, reverse)

    def write(self) -> None:
        parent = self.parent
        for k, v in self.dirty.items():
            if v is None:
                parent.delete(k)
            else:
                parent.set(k, v)
        self.dirty = SortedDict()

    def changes(self) -> SortedDict:
        return self.dirty


def _merge(
    theirs: Iterator[tuple[bytes, bytes]],
    mine: Iterator[bytes],
    dirty: SortedDict,
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
    """One overlay per module, created on first use; branches nest."""

    def __init__(self, parents: dict[str, KV]) -> None:
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
        return MultiStore({n: _Lazy(self, n) for n in self._parents})

    def write(self) -> None:
        for s in self._stores.values():
            s.write()
        self._stores = {}

    def changes(self) -> dict[str, SortedDict]:
        return {n: s.dirty for n, s in sorted(self._stores.items()) if s.dirty}

    def names(self) -> list[str]:
        return sorted(self._parents)


class _Lazy:
    """A parent handle that resolves a module overlay of another MultiStore on demand."""

    __slots__ = ("ms", "name")

    def __init__(self, ms: MultiStore, name: str) -> None:
        self.ms = ms
        self.name = name

    def get(self, key: bytes) -> bytes | None:
        return self.ms.module(self.name).get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.ms.module(self.name).set(key, value)

    def delete(self, key: bytes) -> None:
        self.ms.module(self.name).delete(key)

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        return self.ms.module(self.name).iterate(start, end, reverse)
