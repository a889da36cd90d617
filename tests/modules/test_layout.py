"""Every module is laid out alike: its keeper class lives in ``keeper.py``, and
``state.py`` is the only file that touches the module's store."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from app import wiring

MODULES_DIR = Path(__file__).resolve().parents[2] / "modules"
NAMES = [m.name for m in wiring.build().modules]


def _keeper_classes(module_path: str) -> list[str]:
    mod = importlib.import_module(module_path)
    return [
        n
        for n, c in vars(mod).items()
        if isinstance(c, type) and n.endswith("Keeper") and c.__module__ == module_path
    ]


@pytest.mark.parametrize("name", NAMES)
def test_the_keeper_class_lives_in_keeper_py_not_state_py(name: str) -> None:
    assert len(_keeper_classes(f"modules.{name}.keeper")) == 1
    assert _keeper_classes(f"modules.{name}.state") == []


def test_the_wiring_builds_each_module_keeper_from_its_keeper_py() -> None:
    w = wiring.build()
    keepers = [w.accounts, w.bank, *w.keepers.values()]
    homes = {type(k).__module__ for k in keepers}
    assert homes == {f"modules.{name}.keeper" for name in NAMES}


def _store_access(path: Path) -> list[str]:
    """Lines of ``path`` that reach a store: ``x.kv(...)`` or ``x.store``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("kv", "store"):
            found.append(f"{path.relative_to(MODULES_DIR)}:{node.lineno} .{node.attr}")
    return found


def test_only_state_py_touches_a_module_store() -> None:
    files = [
        p
        for p in sorted(MODULES_DIR.glob("*/*.py"))
        if p.name != "state.py" and not p.name.endswith("_pb2.py")
    ]
    assert len(files) > 50
    assert [hit for p in files for hit in _store_access(p)] == []
    # the check sees what it looks for
    assert _store_access(MODULES_DIR / "bank" / "state.py")
