"""The layering holds: who may import whom, checked on every import statement
in the tree (module level, inside functions, under TYPE_CHECKING).

    chain/    the framework: imports no module, no app, no compute, oracle or worker
    modules/  each module imports the framework and itself, never another module
    app/      the assembly: imports the framework and the modules
    compute/  job spec, runtime and sandbox: imports no chain-side package
    oracle/   verification: uses compute's public functions, never worker/
    worker/   the GPU agent: never the oracle
    gateway/  the user API beside a node: reaches the chain as a client (chain/ only)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP = ("chain", "modules", "app", "compute", "oracle", "worker", "genesis", "gateway")

# package -> top-level packages of this repository it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "chain": ("modules", "app", "compute", "oracle", "worker", "genesis", "gateway"),
    "modules": ("app", "compute", "oracle", "worker", "genesis", "gateway"),
    "compute": ("chain", "modules", "app", "oracle", "worker", "genesis", "gateway"),
    "oracle": ("worker", "app", "gateway"),
    "worker": ("oracle", "app", "gateway"),
    "gateway": ("modules", "app", "compute", "oracle", "worker", "genesis"),
}


def imports_of(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of every import in ``path``; relative imports
    resolved against the file's package."""
    rel = path.relative_to(root).with_suffix("")
    package = list(rel.parts[:-1])  # a module's package; an __init__'s own package
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name
            for a in node.names:  # `from modules import bank` imports modules.bank
                yield node.lineno, f"{name}.{a.name}"


# folder or file -> modules of this repository it must not import (narrower rules)
FORBIDDEN_MODULES: dict[str, tuple[str, ...]] = {
    # the servers see the node through chain/nodeview.py only
    "chain/rpc": ("chain.node", "chain.baseapp"),
    "chain/rest": ("chain.node", "chain.baseapp"),
    # the transports share chain/rpc/dispatch.py; neither imports the other
    "chain/rpc/websocket.py": ("chain.rpc.server",),
    "chain/rpc/dispatch.py": ("chain.rpc.server", "chain.rpc.websocket"),
}


def _narrow(rel: Path, name: str) -> str | None:
    for where, banned in FORBIDDEN_MODULES.items():
        if rel.as_posix() == where or rel.as_posix().startswith(where + "/"):
            for b in banned:
                if name == b or name.startswith(b + "."):
                    return f"{where} must not import {b}"
    return None


def violations(root: Path) -> list[str]:
    out: list[str] = []
    for top in TOP:
        for path in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else []:
            rel = path.relative_to(root)
            own_module = rel.parts[1] if top == "modules" and len(rel.parts) > 2 else None
            for line, name in imports_of(path, root):
                head = name.split(".")[0]
                where = f"{rel}:{line} imports {name}"
                if head in FORBIDDEN.get(top, ()):
                    out.append(f"{where} ({top}/ must not import {head}/)")
                narrow = _narrow(rel, name)
                if narrow:
                    out.append(f"{where} ({narrow})")
                if own_module and head == "modules":
                    parts = name.split(".")
                    if len(parts) > 1 and parts[1] != own_module:
                        out.append(f"{where} (a module imports no other module)")
    return sorted(set(out))


def test_the_tree_keeps_its_layers() -> None:
    found = violations(ROOT)
    assert not found, "layering broken:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "path,source",
    [
        ("chain/x.py", "from modules.bank.keeper import BankKeeper\n"),
        ("chain/x.py", "def f():\n    from app.app import App\n"),
        ("chain/sub/x.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import app\n"),
        ("modules/jobs/x.py", "from modules.bank import keys\n"),
        ("modules/jobs/x.py", "from modules import bank\n"),
        ("modules/jobs/sub/x.py", "from ...bank import keys\n"),
        ("oracle/x.py", "def f():\n    from worker.runtime.tasks import _lm_batch\n"),
        ("compute/x.py", "import chain.crypto\n"),
        ("chain/rpc/x.py", "from chain.node import Node\n"),
        ("chain/rest/x.py", "def f():\n    from chain.baseapp import BaseApp\n"),
        ("chain/rpc/websocket.py", "from chain.rpc.server import reply\n"),
        ("gateway/x.py", "from modules.authz import queries\n"),
    ],
)
def test_the_check_catches_each_kind_of_violation(tmp_path: Path, path: str, source: str) -> None:
    for top in TOP:
        (tmp_path / top).mkdir()
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)
    assert len(violations(tmp_path)) >= 1


def test_a_module_may_import_itself_and_the_framework(tmp_path: Path) -> None:
    for top in TOP:
        (tmp_path / top).mkdir()
    (tmp_path / "modules" / "jobs").mkdir()
    (tmp_path / "modules" / "jobs" / "x.py").write_text(
        "from chain.context import Ctx\nfrom modules.jobs import keys\nfrom . import state\n"
    )
    (tmp_path / "app" / "x.py").write_text("from modules.jobs import keys\n")
    assert violations(tmp_path) == []
