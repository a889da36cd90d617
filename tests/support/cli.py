"""``vcoind`` run in this process against a node, its output captured (``capsys``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import main


class Cli:
    def __init__(self, home: Path, rpc: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.rpc, self.capsys = home, rpc, capsys

    def run(self, *args: str) -> tuple[int, str, str]:
        """``vcoind --home H --node RPC args…``: (exit code, stdout, stderr)."""
        self.capsys.readouterr()
        rc = main(["--home", str(self.home), "--node", self.rpc, *args])
        out = self.capsys.readouterr()
        return rc, out.out, out.err

    def ok(self, *args: str) -> str:
        rc, out, err = self.run(*args)
        assert rc == 0, f"{args}: {out}\n{err}"
        return out

    def tx(self, *args: str) -> str:
        return self.ok("tx", *args, "-y")

    def query(self, *args: str) -> Any:
        return json.loads(self.ok("-o", "json", "query", *args))

    def balance(self, who: str) -> int:
        return int(self.query("balance", who)["amount"])
