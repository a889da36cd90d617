"""Module-shipped commands: ``modules/<name>/cli.py`` with register_tx / register_query.

See the package docstring (``chain/cli/__init__.py``) for the contract.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType


def module_names() -> list[str]:
    """The app's modules in wiring order, the one list of what the node runs."""
    from app import wiring

    return [m.name for m in wiring.build().modules]


def _warn(name: str, e: BaseException) -> None:
    # One broken plugin must not take `vcoind keys` or `vcoind start` down with it.
    print(
        f"vcoind: warning: the {name} module's commands are unavailable: {type(e).__name__}: {e}",
        file=sys.stderr,
    )


def cli_modules() -> list[tuple[str, ModuleType]]:
    out = []
    for name in module_names():
        target = f"modules.{name}.cli"
        try:
            out.append((name, importlib.import_module(target)))
        except ModuleNotFoundError as e:
            if e.name != target:  # the plugin exists but imports something missing
                _warn(name, e)
        except Exception as e:
            _warn(name, e)
    return out


def register_plugins(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], hook: str
) -> None:
    """Call ``hook`` ("register_tx" or "register_query") of every module that has it."""
    for name, mod in cli_modules():
        fn = getattr(mod, hook, None)
        if fn is None:
            continue
        try:
            fn(subparsers)
        except Exception as e:
            _warn(name, e)
