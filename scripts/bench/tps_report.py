"""The results table of ``native_tps.py`` and the targets of issue 2 it is held to.

* >= 3,000 tx/s (FinalizeBlock + Commit) at every state size;
* commit time growing no worse than logarithmically with the state: the same
  increase per doubling of the state from one pair of sizes to the next. See
  README.md here for why a ratio against log2 is printed only for information.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

TARGET_TPS = 3_000


@dataclass
class RunResult:
    accounts: int
    txs: int
    build_s: float
    sign_s: float
    finalize_ms: list[float]
    stage_ms: list[float]
    commit_ms: list[float]
    failed: int
    db_bytes: int
    cpu_s: float  # CPU time in the block loop: this process (all threads) + signature helper
    keys_nodes: list[tuple[int, int]]  # per block: state keys changed, Merkle nodes written

    @property
    def tps(self) -> float:
        return self.txs / ((sum(self.finalize_ms) + sum(self.commit_ms)) / 1000)


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)]


def say(msg: str, end: str = "\n") -> None:
    print(msg, end=end, flush=True)


# -- report ---------------------------------------------------------------------


def report(results: list[RunResult], block_size: int) -> bool:
    def row(label: str, fn: Callable[[RunResult], str]) -> None:
        say(f"{label:<30}" + "".join(f"{fn(r):>18}" for r in results))

    say(f"\n== results (blocks of {block_size} bank sends)")
    row("accounts in state", lambda r: f"{r.accounts:,}")
    row("txs (failed)", lambda r: f"{r.txs:,} ({r.failed})")
    row("tx/s (finalize+commit)", lambda r: f"{r.tps:,.0f}")
    row("  tx/s per CPU-second", lambda r: f"{r.txs / r.cpu_s:,.0f}")
    series: list[tuple[str, Callable[[RunResult], list[float]]]] = [
        ("finalize ms / block", lambda r: r.finalize_ms),
        ("  of which merkle ms", lambda r: r.stage_ms),
        ("commit ms / block", lambda r: r.commit_ms),
    ]
    for name, get in series:
        row(name + "  median", lambda r, g=get: f"{statistics.median(g(r)):.1f}")  # type: ignore[misc]
        row(name + "  p95", lambda r, g=get: f"{p95(g(r)):.1f}")  # type: ignore[misc]
    row("state commitment ms  median", lambda r: f"{statistics.median(_commitment(r)):.1f}")
    row("state keys changed / block", lambda r: f"{_med(r, 0):,.0f}")
    row("Merkle nodes written / block", lambda r: f"{_med(r, 1):,.0f}")
    row("  per changed key", lambda r: f"{_med(r, 1) / _med(r, 0):.1f}")
    row("  log16(accounts)", lambda r: f"{math.log2(r.accounts) / 4:.1f}")
    row(
        "commit µs / node written",
        lambda r: f"{1000 * statistics.median(r.commit_ms) / _med(r, 1):.2f}",
    )
    row("RocksDB size", lambda r: f"{r.db_bytes / 2**20:,.1f} MiB")
    row("state build s", lambda r: f"{r.build_s:.1f}")
    row("signing s", lambda r: f"{r.sign_s:.1f}")

    ok = True
    say("\n== targets")
    for r in results:
        met = r.tps >= TARGET_TPS and r.failed == 0
        ok &= met
        say(
            f"tx/s >= {TARGET_TPS:,} with {r.accounts:,} accounts: "
            f"{r.tps:,.0f} -> {'MET' if met else 'NOT MET'}"
        )
    if len(results) >= 2:
        # For information: the ratio against log2(N2)/log2(N1) assumes a time
        # proportional to log N with nothing fixed. A block of K changed keys
        # rewrites about K·(log N - log K + c) nodes: logarithmic in N, with a
        # negative fixed part (the shared top of the tree), so this ratio is
        # above the log ratio however the tree is built. Not a target.
        small, big = results[0], results[-1]
        log_ratio = math.log2(big.accounts) / math.log2(small.accounts)
        for label, fn in (
            ("commit (App.commit)", lambda r: r.commit_ms),
            ("state commitment (merkle + commit)", _commitment),
        ):
            a = statistics.median(fn(small))
            b = statistics.median(fn(big))
            say(
                f"{label}: {a:.1f} ms at {small.accounts:,} -> {b:.1f} ms at {big.accounts:,}: "
                f"x{b / a:.2f} (log2({big.accounts:,})/log2({small.accounts:,}) = "
                f"x{log_ratio:.2f}; information, see README)"
            )
    if len(results) >= 3:
        # Logarithmic growth, T = a + b·log N, means the same increase for each
        # doubling of the state: the target (on the ABCI Commit, as issue 2 names
        # it) is that the increase per doubling does not grow from one pair of
        # sizes to the next (25% + 1 ms of slack for a shared machine's noise).
        # The same figure for Merkle staging + Commit is printed for information:
        # its step to 1M also holds the reads of the tree's fifth level, the
        # first one kept on disk rather than in memory (a step, not a trend).
        for label, fn, target in (
            ("commit (App.commit)", lambda r: r.commit_ms, True),
            ("state commitment (merkle + commit)", _commitment, False),
        ):
            say(f"{label}, increase per doubling of the state (constant if logarithmic):")
            steps = []
            for a_r, b_r in zip(results, results[1:], strict=False):
                a = statistics.median(fn(a_r))
                b = statistics.median(fn(b_r))
                per = (b - a) / math.log2(b_r.accounts / a_r.accounts)
                steps.append(per)
                say(f"   {a_r.accounts:,} -> {b_r.accounts:,}: {per:+.1f} ms per doubling")
            met = all(
                later <= 1.25 * max(earlier, 0.0) + 1.0
                for earlier, later in zip(steps, steps[1:], strict=False)
            )
            if target:
                ok &= met
                verdict = "MET" if met else "NOT MET"
            else:
                verdict = "information, not a target: " + ("within" if met else "over")
            say(
                f"   -> {verdict} (no step over 25% + 1 ms above the one before: "
                "no worse than logarithmic)"
            )
    else:
        say("commit growth: give three or more --accounts sizes to judge it")
    return ok


def _med(r: RunResult, i: int) -> float:
    return float(statistics.median(kn[i] for kn in r.keys_nodes))


def _commitment(r: RunResult) -> list[float]:
    return [s + c for s, c in zip(r.stage_ms, r.commit_ms, strict=True)]
