"""The state database records the layout of its Merkle tree; another layout is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from chain.store import STORE_FORMAT, Store, StoreFormatError


def _old_layout_db(path: Path) -> None:
    """A database as the first releases (binary tree) left it: a height, no format marker."""
    s = Store(path)
    s.commit(7, b"\x11" * 32, {"bank": {b"bal": b"\x05"}}, {}, {"bank": b"\x22" * 32})
    s.close()
    raw = Rdict(str(path), Options(raw_mode=True))
    raw.delete(b"mformat")
    raw.close()


def test_new_database_is_marked_and_reopens(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    s.commit(1, b"\x01" * 32, {"bank": {b"k": b"v"}}, {}, {"bank": b"\x02" * 32})
    s.close()
    again = Store(tmp_path / "db")
    assert again.height() == 1 and again.module_kv("bank").get(b"k") == b"v"
    assert again.db.get(b"mformat") == STORE_FORMAT
    again.close()


def test_database_of_an_older_layout_is_refused_with_what_to_do(tmp_path: Path) -> None:
    _old_layout_db(tmp_path / "db")
    with pytest.raises(StoreFormatError) as e:
        Store(tmp_path / "db")
    msg = str(e.value)
    assert "older vcoind" in msg and "genesis export" in msg
    # refused without a change: the state is all there, and reads for an export
    s = Store(tmp_path / "db", any_format=True)
    assert s.height() == 7 and s.module_kv("bank").get(b"bal") == b"\x05"
    assert s.db.get(b"mformat") is None
    s.close()
