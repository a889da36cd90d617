"""A compact sparse Merkle tree keyed by sha256(key), one per module store.

Shape: a binary trie over the 256 bits of ``sha256(key)`` in which a subtree
holding a single leaf is represented by that leaf, so depth grows with
log2(number of keys), not 256. Nodes live in the node table addressed by their
position (depth + path prefix), so a block's writes touch only the paths of
the keys it changed: commit cost is O(changed keys × log(state size)).

    leaf hash     = sha256(0x00 ‖ key_hash ‖ sha256(value))
    internal hash = sha256(0x01 ‖ left ‖ right)
    empty         = 32 zero bytes

A proof is the list of sibling hashes from the root down to where the key's
path ends, plus the leaf found there (or nothing). It proves membership when
that leaf is the key's, and absence otherwise.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass

EMPTY = bytes(32)
_sha = hashlib.sha256

Node = tuple[bytes, bytes, bytes]  # (kind b"L"/b"I", a, b): leaf (kh, vh) or internal (left, right)
NodeReader = Callable[[bytes], bytes | None]


def key_hash(key: bytes) -> bytes:
    return _sha(key).digest()


def value_hash(value: bytes) -> bytes:
    return _sha(value).digest()


def leaf_hash(kh: bytes, vh: bytes) -> bytes:
    return _sha(b"\x00" + kh + vh).digest()


def inner_hash(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right).digest()


def _bit(kh: bytes, depth: int) -> int:
    return (kh[depth >> 3] >> (7 - (depth & 7))) & 1


def position(depth: int, kh: bytes) -> bytes:
    """Node-table key of the node at ``depth`` on the path of ``kh``."""
    n = (depth + 7) >> 3
    p = bytearray(kh[:n])
    if depth & 7:
        p[-1] &= (0xFF << (8 - (depth & 7))) & 0xFF
    return depth.to_bytes(2, "big") + bytes(p)


def _decode(raw: bytes | None) -> Node | None:
    if raw is None:
        return None
    return (raw[:1], raw[1:33], raw[33:65])


def _node_hash(node: Node | None) -> bytes:
    if node is None:
        return EMPTY
    kind, a, b = node
    return leaf_hash(a, b) if kind == b"L" else inner_hash(a, b)


# Nodes are handled in their stored form, ``kind ‖ a ‖ b`` (65 bytes), so the
# update never builds tuples; a node's hash is sha256 of its hash prefix and
# ``a ‖ b``.
_LEAF = b"L"[0]
_DEPTH = tuple(d.to_bytes(2, "big") for d in range(258))
_HIGH = tuple((0xFF << (8 - r)) & 0xFF for r in range(8))  # the top r bits of a byte
_ZEROS = tuple(bytes(n) for n in range(33))
_BYTE = tuple(bytes((b,)) for b in range(256))
_ROOT = position(0, EMPTY)


def _hash_raw(raw: bytes) -> bytes:
    return _sha((b"\x00" if raw[0] == _LEAF else b"\x01") + raw[1:]).digest()


def _pos(depth: int, kh: bytes) -> bytes:
    """``position`` for depth ≥ 1, inlined arithmetic."""
    r = depth & 7
    n = depth >> 3
    if r:
        return _DEPTH[depth] + kh[:n] + _BYTE[kh[n] & _HIGH[r]]
    return _DEPTH[depth] + kh[:n]


def _boundary(kh: bytes, depth: int) -> tuple[bytes]:
    """The smallest key hash that shares ``kh``'s first ``depth`` bits and has bit
    ``depth`` set: items before it go left, the rest right."""
    n = depth >> 3
    r = depth & 7
    return (kh[:n] + bytes(((kh[n] & _HIGH[r]) | (0x80 >> r),)) + _ZEROS[31 - n],)


class Tree:
    """Computes new roots from a batch of changes; reads nodes via ``read``.

    ``update`` does not persist: it returns the node-table writes (position →
    encoded node, or None to delete) for the caller to commit atomically.
    """

    def __init__(self, read: NodeReader) -> None:
        self._read = read

    def root(self) -> bytes:
        return _node_hash(_decode(self._read(position(0, EMPTY))))

    def update(
        self, changes: Iterable[tuple[bytes, bytes | None]]
    ) -> tuple[bytes, dict[bytes, bytes | None]]:
        # one entry per key (the last one given wins), sorted by key hash
        latest = dict(changes)
        items = sorted(
            (_sha(k).digest(), None if v is None else _sha(v).digest()) for k, v in latest.items()
        )
        writes: dict[bytes, bytes | None] = {}
        if not items:
            return self.root(), writes
        new = self._update(0, _ROOT, self._read(_ROOT), items, 0, len(items), writes)
        return (EMPTY if new is None else _hash_raw(new)), writes

    # -- internals -------------------------------------------------------
    def _update(
        self,
        depth: int,
        pos: bytes,
        existing: bytes | None,
        items: list[tuple[bytes, bytes | None]],
        lo: int,
        hi: int,
        writes: dict[bytes, bytes | None],
    ) -> bytes | None:
        """The new node at ``pos`` after applying ``items[lo:hi]`` below it.

        The items share their first ``depth`` bits, are sorted and distinct.
        """
        if hi - lo == 1:
            return self._update_one(depth, pos, existing, items[lo][0], items[lo][1], writes)
        if existing is None or existing[0] == _LEAF:
            node = self._rebuild(depth, existing, items, lo, hi, writes)
            writes[pos] = node
            return node
        left = existing[1:33]
        right = existing[33:65]
        d1 = depth + 1
        mid = bisect_left(items, _boundary(items[lo][0], depth), lo, hi)
        lchild = rchild = None
        if mid > lo:
            cpos = _pos(d1, items[lo][0])
            cur = None if left == EMPTY else self._read(cpos)
            lchild = self._update(d1, cpos, cur, items, lo, mid, writes)
            left = EMPTY if lchild is None else _hash_raw(lchild)
        if hi > mid:
            cpos = _pos(d1, items[mid][0])
            cur = None if right == EMPTY else self._read(cpos)
            rchild = self._update(d1, cpos, cur, items, mid, hi, writes)
            right = EMPTY if rchild is None else _hash_raw(rchild)
        # Settle: drop an empty node; pull a lone leaf child up into this position.
        if left == EMPTY:
            if right == EMPTY:
                writes[pos] = None
                return None
            if rchild is None:
                cpos = _child_pos(depth, pos, 1)
                rchild = self._read(cpos)
            else:
                cpos = _pos(d1, items[mid][0])
            if rchild is not None and rchild[0] == _LEAF:
                writes[cpos] = None
                writes[pos] = rchild
                return rchild
        elif right == EMPTY:
            if lchild is None:
                cpos = _child_pos(depth, pos, 0)
                lchild = self._read(cpos)
            else:
                cpos = _pos(d1, items[lo][0])
            if lchild is not None and lchild[0] == _LEAF:
                writes[cpos] = None
                writes[pos] = lchild
                return lchild
        node = b"I" + left + right
        writes[pos] = node
        return node

    def _update_one(
        self,
        depth: int,
        pos: bytes,
        node: bytes | None,
        kh: bytes,
        vh: bytes | None,
        writes: dict[bytes, bytes | None],
    ) -> bytes | None:
        """``_update`` for a single key: most of a block's keys are alone below the
        top levels, so walk the path down and back up in one loop (the hot path of
        a block's Merkle update, hence the inlined position and hash arithmetic)."""
        read = self._read
        path: list[tuple[bytes, bytes, int]] = []
        append = path.append
        while node is not None and node[0] != _LEAF:
            bit = (kh[depth >> 3] >> (7 - (depth & 7))) & 1
            append((pos, node, bit))
            depth += 1
            r = depth & 7
            n = depth >> 3
            pos = _DEPTH[depth] + (kh[:n] + _BYTE[kh[n] & _HIGH[r]] if r else kh[:n])
            node = None if node.startswith(EMPTY, 33 if bit else 1) else read(pos)
        if node is None or node.startswith(kh, 1):
            if vh is None:
                node = None
                h = EMPTY
            else:
                node = b"L" + kh + vh
                h = _sha(b"\x00" + kh + vh).digest()
        else:
            if vh is not None:
                # a new key meets another key's leaf: both go below it
                pair = sorted([(kh, vh), (node[1:33], node[33:65])])
                node = self._build(depth, pair, 0, 2, writes)
                assert node is not None
            h = _hash_raw(node)
        writes[pos] = node
        pop = path.pop
        while path:
            ppos, parent, bit = pop()
            if bit:
                left = parent[1:33]
                right = h
            else:
                left = h
                right = parent[33:65]
            if left == EMPTY or right == EMPTY:
                if node is None:
                    if left == right:
                        writes[ppos] = None
                        pos = ppos
                        depth -= 1
                        continue
                    # our side emptied: a lone leaf on the other side moves up
                    cpos = _child_pos(depth - 1, ppos, 1 - bit)
                    other = read(cpos)
                    if other is not None and other[0] == _LEAF:
                        writes[cpos] = None
                        writes[ppos] = node = other
                        h = _hash_raw(other)
                        pos = ppos
                        depth -= 1
                        continue
                elif node[0] == _LEAF:
                    # the other side is empty: our leaf moves up
                    writes[pos] = None
                    writes[ppos] = node
                    pos = ppos
                    depth -= 1
                    continue
            both = left + right
            node = b"I" + both
            h = _sha(b"\x01" + both).digest()
            writes[ppos] = node
            pos = ppos
            depth -= 1
        return node

    def _rebuild(
        self,
        depth: int,
        existing: bytes | None,
        items: list[tuple[bytes, bytes | None]],
        lo: int,
        hi: int,
        writes: dict[bytes, bytes | None],
    ) -> bytes | None:
        """The subtree at an empty or leaf position: nothing is stored below it."""
        if hi - lo == 1:
            kh, vh = items[lo]
            if existing is None or existing[1:33] == kh:
                return None if vh is None else b"L" + kh + vh
        live = [(kh, vh) for kh, vh in items[lo:hi] if vh is not None]
        if existing is not None:
            ekh = existing[1:33]
            i = bisect_left(items, (ekh,), lo, hi)
            if i == hi or items[i][0] != ekh:
                live.append((ekh, existing[33:65]))
                live.sort()
        return self._build(depth, live, 0, len(live), writes)

    def _build(
        self,
        depth: int,
        leaves: list[tuple[bytes, bytes]],
        lo: int,
        hi: int,
        writes: dict[bytes, bytes | None],
    ) -> bytes | None:
        """Shape a fresh subtree (nothing stored below) holding ``leaves[lo:hi]``."""
        if hi == lo:
            return None
        if hi - lo == 1:
            kh, vh = leaves[lo]
            return b"L" + kh + vh
        mid = bisect_left(leaves, _boundary(leaves[lo][0], depth), lo, hi)
        d1 = depth + 1
        left = right = EMPTY
        if mid > lo:
            child = self._build(d1, leaves, lo, mid, writes)
            assert child is not None
            writes[_pos(d1, leaves[lo][0])] = child
            left = _hash_raw(child)
        if hi > mid:
            child = self._build(d1, leaves, mid, hi, writes)
            assert child is not None
            writes[_pos(d1, leaves[mid][0])] = child
            right = _hash_raw(child)
        return b"I" + left + right

    def prove(self, key: bytes) -> Proof:
        kh = key_hash(key)
        siblings: list[bytes] = []
        depth = 0
        node = _decode(self._read(position(0, EMPTY)))
        while node is not None and node[0] == b"I":
            bit = _bit(kh, depth)
            siblings.append(node[2 - bit])
            ours = node[1 + bit]
            depth += 1
            node = None if ours == EMPTY else _decode(self._read(position(depth, kh)))
        leaf = None if node is None else (node[1], node[2])
        return Proof(key=key, siblings=siblings, leaf=leaf)


def _child_pos(depth: int, pos: bytes, side: int) -> bytes:
    """Position of the left (0) or right (1) child of the node at ``depth``/``pos``."""
    prefix = pos[2:]
    if len(prefix) < (depth + 8) >> 3:
        prefix += b"\x00"
    if side:
        i = depth >> 3
        prefix = prefix[:i] + bytes((prefix[i] | (0x80 >> (depth & 7)),)) + prefix[i + 1 :]
    return _DEPTH[depth + 1] + prefix


def _split(
    items: list[tuple[bytes, bytes | None]], depth: int
) -> tuple[list[tuple[bytes, bytes | None]], list[tuple[bytes, bytes | None]]]:
    # items are sorted by key hash, so the bit at ``depth`` splits them in two runs
    lo = 0
    hi = len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if _bit(items[mid][0], depth):
            hi = mid
        else:
            lo = mid + 1
    return items[:lo], items[lo:]


@dataclass(frozen=True)
class Proof:
    key: bytes
    siblings: list[bytes]
    leaf: tuple[bytes, bytes] | None

    def root_for(self, kh: bytes) -> bytes:
        h = EMPTY if self.leaf is None else leaf_hash(*self.leaf)
        for depth in range(len(self.siblings) - 1, -1, -1):
            sib = self.siblings[depth]
            h = inner_hash(sib, h) if _bit(kh, depth) else inner_hash(h, sib)
        return h

    def verify(self, root: bytes, value: bytes | None) -> bool:
        """True when this proof shows ``key`` holds ``value`` (None: key absent) under ``root``."""
        kh = key_hash(self.key)
        if len(self.siblings) > 256:
            return False
        if value is not None:
            if self.leaf != (kh, value_hash(value)):
                return False
        else:
            if self.leaf is not None:
                lkh = self.leaf[0]
                if lkh == kh:
                    return False
                # the other leaf must sit on our path, otherwise it proves nothing
                for d in range(len(self.siblings)):
                    if _bit(lkh, d) != _bit(kh, d):
                        return False
        return self.root_for(kh) == root

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key.hex(),
            "siblings": [s.hex() for s in self.siblings],
            "leaf": None if self.leaf is None else [self.leaf[0].hex(), self.leaf[1].hex()],
        }

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Proof:
        leaf = d.get("leaf")
        sib = d["siblings"]
        assert isinstance(sib, list)
        return cls(
            key=bytes.fromhex(str(d["key"])),
            siblings=[bytes.fromhex(s) for s in sib],
            leaf=None if leaf is None else (bytes.fromhex(leaf[0]), bytes.fromhex(leaf[1])),  # type: ignore[index]
        )
