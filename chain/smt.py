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
        items = sorted((key_hash(k), None if v is None else value_hash(v)) for k, v in changes)
        writes: dict[bytes, bytes | None] = {}
        rootpos = position(0, EMPTY)
        existing = _decode(self._read(rootpos))
        new = self._update(0, rootpos, existing, items, writes)
        return _node_hash(new), writes

    # -- internals -------------------------------------------------------
    def _put(self, writes: dict[bytes, bytes | None], pos: bytes, node: Node | None) -> None:
        writes[pos] = None if node is None else node[0] + node[1] + node[2]

    def _update(
        self,
        depth: int,
        pos: bytes,
        existing: Node | None,
        items: list[tuple[bytes, bytes | None]],
        writes: dict[bytes, bytes | None],
    ) -> Node | None:
        if existing is None or existing[0] == b"L":
            leaves = {kh: vh for kh, vh in items}
            if existing is not None and existing[1] not in leaves:
                leaves[existing[1]] = existing[2]
            live = sorted((kh, vh) for kh, vh in leaves.items() if vh is not None)
            node = self._build(depth, live, writes)
            self._put(writes, pos, node)
            return node
        split = _split(items, depth)
        _, left, right = existing
        children: list[bytes] = [left, right]
        for side in (0, 1):
            part = split[side]
            if not part:
                continue
            cpos = position(depth + 1, part[0][0])
            cexist = None if children[side] == EMPTY else self._node(cpos, writes)
            child = self._update(depth + 1, cpos, cexist, part, writes)
            children[side] = _node_hash(child)
        return self._settle(depth, pos, children, items, writes)

    def _settle(
        self,
        depth: int,
        pos: bytes,
        children: list[bytes],
        items: list[tuple[bytes, bytes | None]],
        writes: dict[bytes, bytes | None],
    ) -> Node | None:
        """Store the internal node, or collapse it when one side is empty."""
        left, right = children
        if left == EMPTY and right == EMPTY:
            self._put(writes, pos, None)
            return None
        if left == EMPTY or right == EMPTY:
            side = 1 if left == EMPTY else 0
            cpos = self._child_pos(depth, pos, side)
            child = self._node(cpos, writes)
            if child is not None and child[0] == b"L":
                self._put(writes, cpos, None)
                self._put(writes, pos, child)
                return child
        node: Node = (b"I", left, right)
        self._put(writes, pos, node)
        return node

    def _node(self, pos: bytes, writes: dict[bytes, bytes | None]) -> Node | None:
        return _decode(writes[pos]) if pos in writes else _decode(self._read(pos))

    def _child_pos(self, depth: int, pos: bytes, side: int) -> bytes:
        prefix = bytearray(pos[2:])
        n = (depth + 1 + 7) >> 3
        while len(prefix) < n:
            prefix.append(0)
        if side:
            prefix[depth >> 3] |= 1 << (7 - (depth & 7))
        return (depth + 1).to_bytes(2, "big") + bytes(prefix)

    def _build(
        self, depth: int, leaves: list[tuple[bytes, bytes]], writes: dict[bytes, bytes | None]
    ) -> Node | None:
        """Shape a fresh subtree (nothing stored below) holding ``leaves``."""
        if not leaves:
            return None
        if len(leaves) == 1:
            return (b"L", leaves[0][0], leaves[0][1])
        split = _split(leaves, depth)  # type: ignore[arg-type]
        hashes = []
        for side in (0, 1):
            part: list[tuple[bytes, bytes]] = split[side]  # type: ignore[assignment]
            if not part:
                hashes.append(EMPTY)
                continue
            cpos = position(depth + 1, part[0][0])
            child = self._build(depth + 1, part, writes)
            self._put(writes, cpos, child)
            hashes.append(_node_hash(child))
        return (b"I", hashes[0], hashes[1])

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
