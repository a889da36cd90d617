"""Key-value views: committed RocksDB reads, cache overlays, nested branches, gas.

Each layer must read and iterate exactly like one plain sorted map holding the
merged state, forward and in reverse, whatever mix of sets and deletes sits in
which layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.errors import ChainError
from chain.gas import GasMeter
from chain.kv import KV, CacheKV, GasKV, MultiStore, prefix_end
from chain.store import Store


def _commit(store: Store, module: str, kvs: dict[bytes, bytes | None]) -> None:
    store.commit(store.height() + 1, b"h", {module: kvs}, {}, {})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "db")
    yield s
    s.close()


def _expected(
    model: dict[bytes, bytes], start: bytes, end: bytes | None, reverse: bool
) -> list[tuple[bytes, bytes]]:
    items = sorted((k, v) for k, v in model.items() if k >= start and (end is None or k < end))
    return items[::-1] if reverse else items


def _ranges(keys: list[bytes]) -> list[tuple[bytes, bytes | None]]:
    bounds = sorted({b"", b"\x00", b"b", b"b\xff", b"c", b"\xff", *keys})
    out: list[tuple[bytes, bytes | None]] = [(b"", None)]
    for i, lo in enumerate(bounds):
        out.append((lo, None))
        for hi in bounds[i:]:
            out.append((lo, hi))
    return out


def _assert_same(view: KV, model: dict[bytes, bytes], keys: list[bytes]) -> None:
    for k in keys:
        assert view.get(k) == model.get(k), k
    for start, end in _ranges(keys):
        for reverse in (False, True):
            got = list(view.iterate(start, end, reverse))
            assert got == _expected(model, start, end, reverse), (start, end, reverse)


def test_committed_view_iterates_its_module_only(store: Store) -> None:
    _commit(store, "bank", {b"a": b"1", b"b": b"2", b"b\xff\xff": b"3", b"\xff": b"4"})
    _commit(store, "bankx", {b"a": b"other module"})
    _commit(store, "ban", {b"k\x00a": b"prefix trap"})
    view = store.module_kv("bank")
    model = {b"a": b"1", b"b": b"2", b"b\xff\xff": b"3", b"\xff": b"4"}
    _assert_same(view, model, list(model) + [b"zz"])
    assert list(store.module_kv("nothing").iterate()) == []
    assert list(store.module_kv("nothing").iterate(reverse=True)) == []


def test_overlay_merges_sets_and_deletes_with_parent(store: Store) -> None:
    _commit(store, "m", {b"a": b"1", b"c": b"3", b"e": b"5", b"g": b"7"})
    top = CacheKV(store.module_kv("m"))
    top.set(b"b", b"2")  # new between parent keys
    top.set(b"c", b"33")  # overrides
    top.delete(b"e")  # hides a parent key
    top.delete(b"zz")  # deletes what is not there
    top.set(b"h", b"8")  # after the parent's last key
    top.set(b"", b"empty key")
    model = {b"": b"empty key", b"a": b"1", b"b": b"2", b"c": b"33", b"g": b"7", b"h": b"8"}
    _assert_same(top, model, [b"", b"a", b"b", b"c", b"e", b"g", b"h", b"zz"])
    # nothing reached the committed state
    assert store.module_kv("m").get(b"c") == b"3"
    assert dict(top.changes()) == {
        b"": b"empty key",
        b"b": b"2",
        b"c": b"33",
        b"e": None,
        b"zz": None,
        b"h": b"8",
    }


def test_nested_branches_write_down_one_level_at_a_time(store: Store) -> None:
    _commit(store, "m", {b"a": b"1", b"b": b"2"})
    root = MultiStore({"m": store.module_kv("m")})
    root.module("m").set(b"c", b"3")
    child = root.branch()
    child.module("m").delete(b"a")
    child.module("m").set(b"d", b"4")
    grandchild = child.branch()
    grandchild.module("m").set(b"a", b"back")
    grandchild.module("m").delete(b"c")

    _assert_same(grandchild.module("m"), {b"a": b"back", b"b": b"2", b"d": b"4"}, [b"a", b"c"])
    _assert_same(child.module("m"), {b"b": b"2", b"c": b"3", b"d": b"4"}, [b"a", b"c"])
    _assert_same(root.module("m"), {b"a": b"1", b"b": b"2", b"c": b"3"}, [b"a", b"d"])

    grandchild.write()
    _assert_same(child.module("m"), {b"a": b"back", b"b": b"2", b"d": b"4"}, [b"a", b"c"])
    _assert_same(root.module("m"), {b"a": b"1", b"b": b"2", b"c": b"3"}, [b"a", b"d"])
    child.write()
    _assert_same(root.module("m"), {b"a": b"back", b"b": b"2", b"d": b"4"}, [b"a", b"c"])
    assert dict(root.changes()["m"]) == {b"a": b"back", b"c": None, b"d": b"4"}
    # a discarded branch leaves nothing behind
    dropped = root.branch()
    dropped.module("m").set(b"zzz", b"never")
    assert root.module("m").get(b"zzz") is None
    with pytest.raises(KeyError):
        root.module("unknown")


@pytest.mark.parametrize("n", [3, 3000])
def test_deleting_while_iterating_visits_every_key_once(store: Store, n: int) -> None:
    # a common end-block pattern: walk a queue and remove what is due; 3000 keys
    # go past the sorted map's internal block size
    _commit(store, "m", {b"q%05d" % i: b"c" for i in range(0, 2 * n, 2)})
    want = [b"q%05d" % i for i in range(2 * n)]
    for reverse in (False, True):
        kv = CacheKV(CacheKV(store.module_kv("m")))
        for i in range(1, 2 * n, 2):
            kv.set(b"q%05d" % i, b"d")
        seen = []
        for k, _ in kv.iterate(b"q", prefix_end(b"q"), reverse):
            seen.append(k)
            kv.delete(k)
        assert seen == (want[::-1] if reverse else want)
        assert list(kv.iterate(b"q", prefix_end(b"q"))) == []


def test_setting_while_iterating_does_not_disturb_the_walk(store: Store) -> None:
    _commit(store, "m", {b"a": b"1", b"c": b"3"})
    kv = CacheKV(store.module_kv("m"))
    kv.set(b"b", b"2")
    seen = []
    for k, v in kv.iterate():
        seen.append(k)
        kv.set(k, v + b"!")  # update in place
    assert seen == [b"a", b"b", b"c"]
    assert [v for _, v in kv.iterate()] == [b"1!", b"2!", b"3!"]


def test_values_must_be_bytes(store: Store) -> None:
    kv = CacheKV(store.module_kv("m"))
    with pytest.raises(TypeError):
        kv.set(b"k", "text")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        store.module_kv("m").set(b"k", b"v")


def test_gas_is_charged_per_access_and_runs_out(store: Store) -> None:
    _commit(store, "m", {b"a": b"1", b"b": b"2"})
    meter = GasMeter(None)
    kv = GasKV(CacheKV(store.module_kv("m")), meter)
    kv.get(b"a")
    read = meter.consumed
    assert read > 0
    kv.set(b"c", b"3")
    assert meter.consumed > 2 * read  # writes cost more than reads
    before = meter.consumed
    assert len(list(kv.iterate())) == 3
    assert meter.consumed > before
    tight = GasKV(CacheKV(store.module_kv("m")), GasMeter(read + 1))
    tight.get(b"a")
    with pytest.raises(ChainError) as e:
        tight.set(b"x", b"y")
    assert (e.value.codespace, e.value.code) == ("sdk", 11)
    assert "raise the tx's gas limit" in e.value.message


def test_prefix_end() -> None:
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") is None
    assert prefix_end(b"") is None


# -- random layers against a model ----------------------------------------------

_KEYS = st.sampled_from([b"", b"\x00", b"a", b"a\x00", b"ab", b"b", b"b\xff", b"c", b"\xff"])
_OPS = st.lists(st.tuples(_KEYS, st.one_of(st.none(), st.binary(max_size=3))), max_size=12)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(tmp_path_factory.mktemp("kv") / "db")
    yield s
    s.close()


_example = iter(range(1 << 30))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(base=_OPS, layers=st.lists(_OPS, min_size=1, max_size=3), write_down=st.booleans())
def test_random_layers_read_like_one_map(
    shared_store: Store,
    base: list[tuple[bytes, bytes | None]],
    layers: list[list[tuple[bytes, bytes | None]]],
    write_down: bool,
) -> None:
    store = shared_store
    m = f"m{next(_example)}"  # a fresh module store per example, in one database
    committed = {k: v for k, v in dict(base).items() if v is not None}
    _commit(store, m, dict(committed))
    model = dict(committed)
    ms = MultiStore({m: store.module_kv(m)})
    stack = [ms]
    for ops in layers:
        stack.append(stack[-1].branch())
        view = stack[-1].module(m)
        for k, v in ops:
            if v is None:
                view.delete(k)
                model.pop(k, None)
            else:
                view.set(k, v)
                model[k] = v
    keys = [b"", b"\x00", b"a", b"ab", b"b", b"c", b"\xff"]
    _assert_same(stack[-1].module(m), model, keys)
    if write_down:
        for layer in reversed(stack[1:]):
            layer.write()
        _assert_same(ms.module(m), model, keys)
        # what Commit would persist turns the committed state into the model
        _commit(store, m, dict(ms.changes().get(m, {})))
        _assert_same(store.module_kv(m), model, keys)
