"""A compact sparse Merkle tree keyed by sha256(key), one per module store.

Shape: a 16-ary trie over the 64 nibbles (4-bit digits, high nibble first) of
``sha256(key)`` in which a subtree holding a single leaf is represented by that
leaf, so depth grows with log16(number of keys), not 64: a state of 1M keys is
about 5 levels deep. Nodes live in the node table addressed by their position
(depth + nibble prefix), so a block's writes touch only the paths of the keys
it changed: commit cost is O(changed keys × log16(state size)).

    leaf hash     = sha256(0x00 ‖ key_hash ‖ sha256(value))
    internal hash = sha256(0x01 ‖ bitmap ‖ child hashes)
    empty         = 32 zero bytes

An internal node's ``bitmap`` is 2 bytes, big-endian, with bit ``i`` set when
child ``i`` (nibble value ``i``) is not empty; the child hashes follow in
nibble order, empty children left out. An internal node holds at least two
keys below it; a subtree with one key is that key's leaf, moved up.

A proof is, for each internal node from the root down along the key's path,
that node's bitmap and the hashes of its other children (``bitmap ‖ hashes``),
plus the leaf found where the path ends (or nothing). It proves membership
when that leaf is the key's, and absence otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

EMPTY = bytes(32)
_sha = hashlib.sha256

NodeReader = Callable[[bytes], bytes | None]
MAX_DEPTH = 64  # nibbles in a sha256


def key_hash(key: bytes) -> bytes:
    return _sha(key).digest()


def value_hash(value: bytes) -> bytes:
    return _sha(value).digest()


def leaf_hash(kh: bytes, vh: bytes) -> bytes:
    return _sha(b"\x00" + kh + vh).digest()


def inner_hash(bitmap: int, children: Iterable[bytes]) -> bytes:
    """The hash of an internal node from its bitmap and non-empty child hashes."""
    return _sha(b"\x01" + bitmap.to_bytes(2, "big") + b"".join(children)).digest()


def nibble(kh: bytes, depth: int) -> int:
    b = kh[depth >> 1]
    return b & 0x0F if depth & 1 else b >> 4


def position(depth: int, kh: bytes) -> bytes:
    """Node-table key of the node at ``depth`` (in nibbles) on the path of ``kh``."""
    n = depth >> 1
    if depth & 1:
        return depth.to_bytes(2, "big") + kh[:n] + bytes((kh[n] & 0xF0,))
    return depth.to_bytes(2, "big") + kh[:n]


# Nodes are handled in their stored form, so the update never builds objects:
#   leaf:     b"L" ‖ key_hash ‖ value_hash                (65 bytes)
#   internal: b"I" ‖ bitmap (2 bytes) ‖ child hashes      (3 + 32·children bytes)
# A node's hash is sha256 of its hash prefix (0x00 / 0x01) and everything after
# the kind byte.
_LEAF = b"L"[0]
_DEPTH = tuple(d.to_bytes(2, "big") for d in range(MAX_DEPTH + 2))
_BYTE = tuple(bytes((b,)) for b in range(256))
_ROOT = position(0, EMPTY)


def _hash_raw(raw: bytes) -> bytes:
    return _sha((b"\x00" if raw[0] == _LEAF else b"\x01") + raw[1:]).digest()


def _pos(depth: int, kh: bytes) -> bytes:
    """``position`` with the arithmetic inlined (the hot path)."""
    n = depth >> 1
    if depth & 1:
        return _DEPTH[depth] + kh[:n] + _BYTE[kh[n] & 0xF0]
    return _DEPTH[depth] + kh[:n]


def _child_pos(depth: int, pos: bytes, nib: int) -> bytes:
    """Position of child ``nib`` of the node at ``depth``/``pos``."""
    prefix = pos[2:]
    if depth & 1:  # the child's last nibble is a low nibble: fill in the last byte
        return _DEPTH[depth + 1] + prefix[:-1] + _BYTE[prefix[-1] | nib]
    return _DEPTH[depth + 1] + prefix + _BYTE[nib << 4]


def _set_child(node: bytes, nib: int, h: bytes) -> bytes:
    """``node`` (internal) with child ``nib`` replaced by ``h`` (EMPTY: removed)."""
    bitmap = (node[1] << 8) | node[2]
    bit = 1 << nib
    at = 3 + 32 * (bitmap & (bit - 1)).bit_count()
    if bitmap & bit:
        if h == EMPTY:
            return b"I" + (bitmap ^ bit).to_bytes(2, "big") + node[3:at] + node[at + 32 :]
        return node[:at] + h + node[at + 32 :]
    if h == EMPTY:
        return node
    return b"I" + (bitmap | bit).to_bytes(2, "big") + node[3:at] + h + node[at:]


def _has_child(node: bytes, nib: int) -> bool:
    return bool((((node[1] << 8) | node[2]) >> nib) & 1)


def _lone_child(node: bytes) -> int:
    """The nibble of the only child of an internal node with exactly one."""
    return ((node[1] << 8) | node[2]).bit_length() - 1


class Tree:
    """Computes new roots from a batch of changes; reads nodes via ``read``.

    ``update`` does not persist: it returns the node-table writes (position →
    encoded node, or None to delete) for the caller to commit atomically.
    """

    def __init__(self, read: NodeReader) -> None:
        self._read = read

    def root(self) -> bytes:
        raw = self._read(_ROOT)
        return EMPTY if raw is None else _hash_raw(raw)

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

        The items share their first ``depth`` nibbles, are sorted and distinct.
        """
        if hi - lo == 1:
            return self._update_one(depth, pos, existing, items[lo][0], items[lo][1], writes)
        if existing is None or existing[0] == _LEAF:
            node = self._rebuild(depth, existing, items, lo, hi, writes)
            writes[pos] = node
            return node
        node = existing
        d1 = depth + 1
        read = self._read
        # the new child for each nibble this batch touches (None: now empty)
        touched: dict[int, tuple[bytes, bytes | None]] = {}
        a = lo
        while a < hi:
            nib = nibble(items[a][0], depth)
            b = a + 1
            while b < hi and nibble(items[b][0], depth) == nib:
                b += 1
            cpos = _pos(d1, items[a][0])
            cur = read(cpos) if _has_child(node, nib) else None
            child = self._update(d1, cpos, cur, items, a, b, writes)
            touched[nib] = (cpos, child)
            node = _set_child(node, nib, EMPTY if child is None else _hash_raw(child))
            a = b
        return self._settle(depth, pos, node, touched, writes)

    def _settle(
        self,
        depth: int,
        pos: bytes,
        node: bytes,
        touched: dict[int, tuple[bytes, bytes | None]],
        writes: dict[bytes, bytes | None],
    ) -> bytes | None:
        """Store the internal ``node`` at ``pos``, or, when at most one child is
        left, drop it (none) or pull a lone leaf child up into its place."""
        count = ((node[1] << 8) | node[2]).bit_count()
        if count == 0:
            writes[pos] = None
            return None
        if count == 1:
            nib = _lone_child(node)
            if nib in touched:
                cpos, child = touched[nib]
            else:
                cpos = _child_pos(depth, pos, nib)
                child = self._read(cpos)
            if child is not None and child[0] == _LEAF:
                writes[cpos] = None
                writes[pos] = child
                return child
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
        a block's Merkle update, hence the inlined position arithmetic)."""
        read = self._read
        path: list[tuple[bytes, bytes, int]] = []
        append = path.append
        while node is not None and node[0] != _LEAF:
            b = kh[depth >> 1]
            nib = b & 0x0F if depth & 1 else b >> 4
            append((pos, node, nib))
            depth += 1
            n = depth >> 1
            pos = _DEPTH[depth] + (kh[:n] + _BYTE[kh[n] & 0xF0] if depth & 1 else kh[:n])
            node = read(pos) if (((node[1] << 8) | node[2]) >> nib) & 1 else None
        if node is None or node.startswith(kh, 1):
            if vh is None:
                if node is None:
                    return self._unchanged(path, None)  # deleting a key that is not there
                node = None
            else:
                node = b"L" + kh + vh
        elif vh is not None:
            # a new key meets another key's leaf: both go below it
            pair = sorted([(kh, vh), (node[1:33], node[33:65])])
            node = self._build(depth, pair, 0, 2, writes)
        else:
            return self._unchanged(path, node)  # deleting a key that is not there
        writes[pos] = node
        pop = path.pop
        while path:
            ppos, parent, nib = pop()
            depth -= 1
            parent = _set_child(parent, nib, EMPTY if node is None else _hash_raw(node))
            node = self._settle(depth, ppos, parent, {nib: (pos, node)}, writes)
            pos = ppos
        return node

    @staticmethod
    def _unchanged(path: list[tuple[bytes, bytes, int]], bottom: bytes | None) -> bytes | None:
        return path[0][1] if path else bottom

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
        live = [(kh, vh) for kh, vh in items[lo:hi] if vh is not None]
        if existing is not None:
            ekh = existing[1:33]
            if all(kh != ekh for kh, _ in items[lo:hi]):
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
        d1 = depth + 1
        bitmap = 0
        hashes: list[bytes] = []
        a = lo
        while a < hi:
            nib = nibble(leaves[a][0], depth)
            b = a + 1
            while b < hi and nibble(leaves[b][0], depth) == nib:
                b += 1
            child = self._build(d1, leaves, a, b, writes)
            assert child is not None
            writes[_pos(d1, leaves[a][0])] = child
            bitmap |= 1 << nib
            hashes.append(_hash_raw(child))
            a = b
        return b"I" + bitmap.to_bytes(2, "big") + b"".join(hashes)

    def prove(self, key: bytes) -> Proof:
        kh = key_hash(key)
        levels: list[bytes] = []
        depth = 0
        node = self._read(_ROOT)
        while node is not None and node[0] != _LEAF:
            nib = nibble(kh, depth)
            mine = _has_child(node, nib)
            if mine:  # the bitmap as stored, and every child hash but ours
                at = 3 + 32 * (((node[1] << 8) | node[2]) & ((1 << nib) - 1)).bit_count()
                levels.append(node[1:at] + node[at + 32 :])
            else:
                levels.append(node[1:])
            depth += 1
            node = self._read(position(depth, kh)) if mine else None
        leaf = None if node is None else (node[1:33], node[33:65])
        return Proof(key=key, siblings=levels, leaf=leaf)


@dataclass(frozen=True)
class Proof:
    """``siblings[d]``: the internal node at depth ``d`` on the key's path, as its
    bitmap (2 bytes) and the hashes of its children other than the path's own."""

    key: bytes
    siblings: list[bytes]
    leaf: tuple[bytes, bytes] | None

    def root_for(self, kh: bytes) -> bytes | None:
        """The root this proof implies for key hash ``kh``; None when malformed."""
        h = EMPTY if self.leaf is None else leaf_hash(*self.leaf)
        for depth in range(len(self.siblings) - 1, -1, -1):
            level = self.siblings[depth]
            if len(level) < 2:
                return None
            bitmap = (level[0] << 8) | level[1]
            bit = 1 << nibble(kh, depth)
            mine = h != EMPTY
            if mine:
                # the path's child is ours (a leaf ends the path, or a node below)
                others = bitmap & ~bit
                if bitmap & bit == 0:
                    return None
            else:
                # only the last level may show our slot empty
                if depth != len(self.siblings) - 1 or bitmap & bit:
                    return None
                others = bitmap
            if len(level) != 2 + 32 * others.bit_count():
                return None
            n = bitmap.bit_count()
            if n == 0 or (n == 1 and mine and depth == len(self.siblings) - 1):
                # an internal node holds two keys or more: a lone child that is a
                # leaf would have been moved up into its place
                return None
            at = 2 + 32 * (others & (bit - 1)).bit_count()
            body = level[:at] + h + level[at:] if mine else level
            h = _sha(b"\x01" + body).digest()
        return h

    def verify(self, root: bytes, value: bytes | None) -> bool:
        """True when this proof shows ``key`` holds ``value`` (None: key absent) under ``root``."""
        kh = key_hash(self.key)
        if len(self.siblings) > MAX_DEPTH:
            return False
        if value is not None:
            if self.leaf != (kh, value_hash(value)):
                return False
        elif self.leaf is not None:
            lkh = self.leaf[0]
            if lkh == kh:
                return False
            # the other leaf must sit on our path, otherwise it proves nothing
            for d in range(len(self.siblings)):
                if nibble(lkh, d) != nibble(kh, d):
                    return False
        return self.root_for(kh) == root

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key.hex(),
            "siblings": [s.hex() for s in self.siblings],
            "leaf": None if self.leaf is None else [self.leaf[0].hex(), self.leaf[1].hex()],
        }

    @classmethod
    def from_json(cls, d: object) -> Proof:
        """Parse an untrusted proof; a malformed one raises ValueError saying what is wrong."""
        if not isinstance(d, dict):
            raise ValueError("malformed proof: not a JSON object")
        key, sib, leaf = d.get("key"), d.get("siblings"), d.get("leaf")
        if not isinstance(key, str):
            raise ValueError("malformed proof: key must be a hex string")
        if not isinstance(sib, list) or not all(isinstance(s, str) for s in sib):
            raise ValueError("malformed proof: siblings must be a list of hex strings")
        if leaf is not None and not (
            isinstance(leaf, list) and len(leaf) == 2 and all(isinstance(x, str) for x in leaf)
        ):
            raise ValueError("malformed proof: leaf must be null or two hex strings")
        return cls(
            key=bytes.fromhex(key),
            siblings=[bytes.fromhex(s) for s in sib],
            leaf=None if leaf is None else (bytes.fromhex(leaf[0]), bytes.fromhex(leaf[1])),
        )
