"""scripts/mutation's report: each survivor is placed at its source line (methods,
private functions and module functions alike) and its change printed as old -> new;
the kill rate counts timeouts as killed and leaves unchecked mutants out."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mutation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts/mutation.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["mutation_script"] = mod
    spec.loader.exec_module(mod)
    return mod


def line_of(path: str, text: str) -> int:
    lines = (ROOT / path).read_text().splitlines()
    (n,) = [i + 1 for i, ln in enumerate(lines) if ln.strip() == text]
    return n


@pytest.mark.parametrize(
    ("name", "path", "old"),
    [
        (
            "modules.staking.keeper.xǁStakingKeeperǁ_pay_rewards__mutmut_5",
            "modules/staking/keeper.py",
            "weights[a] = weights.get(a, 0) + w",
        ),
        (
            "modules.auth.ante.x_check_timeout__mutmut_2",
            "modules/auth/ante.py",
            "if tx.timeout_height and ctx.block.height > tx.timeout_height:",
        ),
        (
            "chain.tx.canonical.x__walk__mutmut_80",
            "chain/tx/canonical.py",
            "size, pos = _varint(data, pos, name)",
        ),
    ],
    ids=["private-method", "function", "private-function"],
)
def test_a_survivor_is_placed_at_its_line(
    mutation: ModuleType, name: str, path: str, old: str
) -> None:
    new = old.replace("+", "-") if "+" in old else old + "  # mutated"
    diff = f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-    {old}\n+    {new}\n"
    line, change = mutation._describe(name, path, diff)
    assert line == line_of(path, old)
    assert change == f"{old}  ->  {new}"


def test_the_rate_counts_timeouts_as_killed_and_skips_unchecked(
    mutation: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    M = mutation.Mutant
    ms = [
        M("a.x_f__mutmut_1", "a.py", "killed", 0, ""),
        M("a.x_f__mutmut_2", "a.py", "timeout", 0, ""),
        M("a.x_f__mutmut_3", "a.py", "survived", 7, "x < 1  ->  x <= 1"),
        M("a.x_f__mutmut_4", "a.py", "not checked", 0, ""),
    ]
    assert mutation.report(ms) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines()[1:3]}
    assert rows == {"a.py": ["3", "2", "66.7%"], "all": ["3", "2", "66.7%"]}
    assert "1 not killed" in out and "a.py:7  survived  x < 1  ->  x <= 1" in out
    assert mutation.report([M("a.x_f__mutmut_4", "a.py", "not checked", 0, "")]) == 1
