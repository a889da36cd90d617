"""Mutation testing of the files that hold the protocol's rules (mutmut).

    scripts/mutation                 mutate every rule file, run the fast tests that cover
                                     each mutant, then print the report below
    scripts/mutation 'modules.jobs.*'
                                     only the mutants whose names match (fnmatch); results of
                                     earlier runs are kept in mutants/ and reused while the
                                     code they mutate is unchanged
    scripts/mutation --report        print the report of the last run without running
    scripts/mutation --fresh         forget earlier results (rm -r mutants/) first

The files and the tests are set in pyproject.toml, [tool.mutmut]: the ante handler, tx
decoding, every module's handlers and keeper, settlement, the oracle's similarity
metrics and the sandbox's container config, against the tests that are not `slow`
(those run the installed package in subprocesses, which a mutant never reaches).

The report gives the kill rate per file (a mutant that times out counts as killed: the
change broke something a test waits on) and every mutant that survived, with its file,
line and the change made. A survivor is either a missing test or an equivalent mutant;
README.md ("Mutation testing") lists the equivalent ones with the reason. Not run by CI:
a whole run from nothing takes an hour or more on two cores; stop it when you like, a later
run resumes from mutants/. A kept result is not redone when only the tests change: after
adding tests, re-run the survivors by name.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = REPO / ".venv" / "bin" / "mutmut"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
# mutmut names a mutant of function f "x_f" and of method C.m "xǁCǁm"
_NAME = re.compile(r"^(?P<module>[\w.]+)\.(?:xǁ(?P<cls>\w+)ǁ|x_)(?P<func>\w+?)__mutmut_\d+$")


@dataclass
class Mutant:
    name: str
    path: str
    status: str
    line: int
    change: str


def _function_span(tree: ast.Module, cls: str | None, func: str) -> tuple[int, int]:
    nodes: list[ast.stmt] = tree.body
    if cls:
        for n in tree.body:
            if isinstance(n, ast.ClassDef) and n.name == cls:
                nodes = n.body
    for n in nodes:
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == func:
            return n.lineno, n.end_lineno or n.lineno
    return 1, len(ast.unparse(tree).splitlines())


def _describe(name: str, path: str, diff: str) -> tuple[int, str]:
    """The source line of the change and a one-line ``old -> new``."""
    removed = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    ]
    added = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    ]
    m = _NAME.match(name)
    source = (REPO / path).read_text().splitlines()
    start, end = (1, len(source))
    if m:
        start, end = _function_span(ast.parse("\n".join(source)), m["cls"], m["func"])
    line = start
    if removed:
        for i in range(start - 1, min(end, len(source))):
            if source[i].strip() == removed[0]:
                line = i + 1
                break
    change = f"{' / '.join(removed) or '(nothing)'}  ->  {' / '.join(added) or '(removed)'}"
    return line, change


def collect(patterns: list[str]) -> list[Mutant]:
    """Every mutant of the last run, with its status (mutmut's own bookkeeping)."""
    os.chdir(REPO)
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    out: list[Mutant] = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in sorted(data.exit_code_by_key.items()):
            if patterns and not any(fnmatch.fnmatch(name, p) for p in patterns):
                continue
            status = status_by_exit_code[code]
            line, change = 0, ""
            if status not in KILLED:
                line, change = _describe(name, str(path), get_diff_for_mutant(name, path=path))
            out.append(Mutant(name, str(path), status, line, change))
    return out


def report(mutants: list[Mutant]) -> int:
    """Print the kill rate per file and every survivor; 0 when some mutant was checked."""
    by_file: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_file.setdefault(m.path, []).append(m)
    print(f"{'file':48} {'mutants':>8} {'killed':>7} {'rate':>7}")
    total = killed = 0
    for path in sorted(by_file):
        ms = [m for m in by_file[path] if m.status != "not checked"]
        k = sum(m.status in KILLED for m in ms)
        total += len(ms)
        killed += k
        rate = f"{100 * k / len(ms):.1f}%" if ms else "-"
        print(f"{path:48} {len(ms):>8} {k:>7} {rate:>7}")
    rate = f"{100 * killed / total:.1f}%" if total else "-"
    print(f"{'all':48} {total:>8} {killed:>7} {rate:>7}")
    survivors = [m for m in mutants if m.status not in KILLED and m.status != "not checked"]
    if survivors:
        print(f"\n{len(survivors)} not killed (file:line  status  change  [mutant]):")
        for m in sorted(survivors, key=lambda m: (m.path, m.line)):
            print(f"  {m.path}:{m.line}  {m.status}  {m.change}  [{m.name}]")
    return 0 if total else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/mutation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("patterns", nargs="*", help="only mutants whose names match (fnmatch)")
    ap.add_argument("--report", action="store_true", help="report the last run; run nothing")
    ap.add_argument("--fresh", action="store_true", help="forget earlier results first")
    ap.add_argument(
        "--max-children", type=int, default=os.cpu_count() or 1, help="mutants run at once"
    )
    args = ap.parse_args(argv)
    os.chdir(REPO)
    if not MUTMUT.exists():
        print("error: no .venv/bin/mutmut; run scripts/setup first", file=sys.stderr)
        return 2
    if args.fresh:
        shutil.rmtree(REPO / "mutants", ignore_errors=True)
    if not args.report:
        cmd = [str(MUTMUT), "run", "--max-children", str(args.max_children), *args.patterns]
        rc = subprocess.call(cmd)
        if rc not in (0, 1):
            print(f"error: mutmut run exited {rc}", file=sys.stderr)
            return rc
        print()
    return report(collect(args.patterns))


if __name__ == "__main__":
    sys.exit(main())
