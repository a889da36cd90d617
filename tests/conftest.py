"""Fixtures shared by every test. The building blocks live in ``tests/support/``.

* ``app``: a fresh App in its own temporary RocksDB folder, after InitChain
  with the devnet genesis plus ``TEST_ACCOUNTS`` funded ``test_key(i)`` accounts.
* ``chain``: a ``tests.support.chain.Chain`` driver over ``app`` (sign, check, deliver blocks).
* ``make_app``: a factory for more independent Apps, ``make_app(genesis=None)``.

Every test folder has an ``__init__.py`` so that test files with the same name in
different folders (``tests/chain/test_cli.py``, ``tests/oracle/test_cli.py``) do not
clash; add one to any new folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.app import App
from tests.support.chain import TEST_ACCOUNTS, Chain, make_genesis, new_app


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., App]]:
    """``make_app(genesis=None)`` -> a new App in a new folder; all closed at teardown."""
    apps: list[App] = []

    def make(genesis: dict[str, Any] | None = None) -> App:
        path = tmp_path / f"app{len(apps)}"
        app = new_app(path, genesis if genesis is not None else make_genesis(TEST_ACCOUNTS))
        apps.append(app)
        return app

    yield make
    for a in apps:
        a.close()


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


@pytest.fixture
def chain(app: App) -> Chain:
    return Chain(app)
