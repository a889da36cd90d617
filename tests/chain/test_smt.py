"""The sparse Merkle tree against a root computed from scratch by the documented rules.

Reference (chain/smt.py's docstring): a 16-ary trie over the nibbles of
sha256(key), high nibble first, where a subtree holding one key is that key's
leaf; leaf = sha256(0x00 ‖ sha256(key) ‖ sha256(value)),
internal = sha256(0x01 ‖ bitmap ‖ non-empty child hashes in nibble order) with
bit i of the 2-byte big-endian bitmap set when child i is not empty,
empty = 32 zero bytes.
The root depends only on the current key set, never on the order of updates.
"""

from __future__ import annotations

import hashlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from chain.smt import EMPTY, Proof, Tree


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _nib(kh: bytes, d: int) -> int:
    return int(kh.hex()[d], 16)


def _groups(items: list[tuple[bytes, bytes]], depth: int) -> list[list[tuple[bytes, bytes]]]:
    return [[i for i in items if _nib(i[0], depth) == n] for n in range(16)]


def reference_root(state: dict[bytes, bytes]) -> bytes:
    def root(items: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if not items:
            return bytes(32)
        if len(items) == 1:
            kh, vh = items[0]
            return _h(b"\x00" + kh + vh)
        children = [root(g, depth + 1) for g in _groups(items, depth)]
        bitmap = sum(1 << n for n, c in enumerate(children) if c != bytes(32))
        present = b"".join(c for c in children if c != bytes(32))
        return _h(b"\x01" + bitmap.to_bytes(2, "big") + present)

    return root([(_h(k), _h(v)) for k, v in state.items()], 0)


class DictTree:
    """A Tree over a plain dict node table, applying its writes as Store.commit does."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}
        self.tree = Tree(self.nodes.get)
        self.state: dict[bytes, bytes] = {}

    def apply(self, changes: dict[bytes, bytes | None]) -> bytes:
        root, writes = self.tree.update(changes.items())
        for pos, raw in writes.items():
            if raw is None:
                self.nodes.pop(pos, None)
            else:
                self.nodes[pos] = raw
        for k, v in changes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        return root


def _check_proofs(t: DictTree, root: bytes, absent: list[bytes]) -> None:
    for k, v in t.state.items():
        p = t.tree.prove(k)
        assert p.verify(root, v), k
        assert not p.verify(root, v + b"!"), k
        assert not p.verify(root, None), k
    for k in absent:
        if k in t.state:
            continue
        p = t.tree.prove(k)
        assert p.verify(root, None), k
        assert not p.verify(root, b"anything"), k


def test_empty_tree_and_single_key() -> None:
    t = DictTree()
    assert t.tree.root() == EMPTY
    r = t.apply({b"k": b"v"})
    assert r == reference_root({b"k": b"v"}) == t.tree.root()
    assert t.apply({b"k": None}) == EMPTY
    assert t.nodes == {}, "deleting every key must leave no nodes behind"
    assert t.apply({b"never": None}) == EMPTY


def test_random_rounds_match_reference_and_proofs_verify() -> None:
    rng = random.Random(7)
    t = DictTree()
    universe = [b"key-%d" % i for i in range(600)]
    for rnd in range(60):
        changes: dict[bytes, bytes | None] = {}
        for _ in range(rng.choice([1, 3, 20, 80])):
            k = rng.choice(universe)
            op = rng.random()
            if op < 0.55:
                changes[k] = b"v%d-%d" % (rnd, rng.randrange(1000))  # insert or update
            elif op < 0.65 and k in t.state:
                changes[k] = t.state[k]  # same value again: root unchanged for this key
            else:
                changes[k] = None  # delete, maybe of a key that is not there
        root = t.apply(changes)
        assert root == reference_root(t.state), f"round {rnd}"
        assert t.tree.root() == root
        if rnd % 10 == 0:
            _check_proofs(t, root, rng.sample(universe, 30))
    # the node table holds exactly the nodes of the canonical tree, no leftovers
    assert len(t.nodes) == _node_count(len(t.state), t.state)


def _node_count(n: int, state: dict[bytes, bytes]) -> int:
    def count(items: list[tuple[bytes, bytes]], depth: int) -> int:
        if not items:
            return 0
        if len(items) == 1:
            return 1
        return 1 + sum(count(g, depth + 1) for g in _groups(items, depth))

    return count([(_h(k), b"") for k in state], 0)


def test_root_is_independent_of_history() -> None:
    rng = random.Random(11)
    keys = [b"a%d" % i for i in range(300)]
    final = {k: b"x" + k for k in keys[:200]}
    one = DictTree()
    one.apply(dict(final))
    other = DictTree()
    order = list(keys)
    rng.shuffle(order)
    for i in range(0, 300, 37):  # insert everything in batches, then delete the extras
        other.apply({k: b"tmp" for k in order[i : i + 37]})
    other.apply({k: (final.get(k)) for k in keys})
    assert other.tree.root() == one.tree.root() == reference_root(final)
    assert other.nodes == one.nodes


def test_proof_round_trips_through_json_and_rejects_tampering() -> None:
    t = DictTree()
    root = t.apply({b"k%d" % i: b"v%d" % i for i in range(50)})
    p = t.tree.prove(b"k7")
    q = Proof.from_json(p.to_json())
    assert q.verify(root, b"v7")
    assert len(q.siblings) > 1
    for i in range(len(q.siblings)):
        sib = list(q.siblings)
        sib[i] = _h(sib[i])
        assert not Proof(q.key, sib, q.leaf).verify(root, b"v7"), i
    assert not Proof(q.key, q.siblings[:-1], q.leaf).verify(root, b"v7")
    assert not Proof(b"k8", q.siblings, q.leaf).verify(root, b"v7")
    # an absence proof cannot be bent into one for a key that is present
    absent = t.tree.prove(b"missing")
    assert absent.verify(root, None)
    assert not Proof(b"k7", absent.siblings, absent.leaf).verify(root, None)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.binary(min_size=0, max_size=3),
            st.one_of(st.none(), st.binary(min_size=0, max_size=4)),
            max_size=12,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_batches_match_reference(batches: list[dict[bytes, bytes | None]]) -> None:
    t = DictTree()
    for changes in batches:
        root = t.apply(changes)
        assert root == reference_root(t.state)
    assert len(t.nodes) == _node_count(len(t.state), t.state)
    _check_proofs(t, t.tree.root(), [b"", b"\x00", b"zz"])


def test_paths_are_log16_deep_and_an_update_rewrites_one_node_per_level() -> None:
    t = DictTree()
    t.apply({b"acct-%d" % i: b"1" for i in range(4096)})
    depths = [len(t.tree.prove(b"acct-%d" % i).siblings) for i in range(0, 4096, 7)]
    # 4096 = 16^3 keys: a path ends about 3 levels down (a binary trie: 12 and more);
    # two keys that share their first 6 nibbles are likely among 4096, 8 are not
    assert 2 <= min(depths) and max(depths) <= 8
    assert 2.5 < sum(depths) / len(depths) < 4.5
    _root, writes = t.tree.update([(b"acct-5", b"2")])
    assert len(writes) == len(t.tree.prove(b"acct-5").siblings) + 1  # each node + the leaf


def test_every_changed_byte_of_a_proof_is_caught() -> None:
    t = DictTree()
    root = t.apply({b"k%d" % i: b"v%d" % i for i in range(400)})
    for key, value in ((b"k17", b"v17"), (b"absent", None)):
        p = t.tree.prove(key)
        assert p.verify(root, value)
        for lvl, level in enumerate(p.siblings):
            for i in range(0, len(level), 7):  # bitmap bytes and bytes of every hash
                bad = bytearray(level)
                bad[i] ^= 0x01
                sib = list(p.siblings)
                sib[lvl] = bytes(bad)
                assert not Proof(p.key, sib, p.leaf).verify(root, value), (key, lvl, i)
        # a level dropped, or one of someone else's path put in its place
        assert not Proof(p.key, p.siblings[1:], p.leaf).verify(root, value)
        other = t.tree.prove(b"k18")
        mixed = [*p.siblings[:-1], other.siblings[-1]]
        assert not Proof(p.key, mixed, p.leaf).verify(root, value)
