"""Invariants of the reputation module: each record's counts and slots are in order."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Invariant
from modules.reputation import state


def _records_consistent(ctx: Ctx) -> str | None:
    for addr, r in state.iterate_records(ctx):
        if r.successes > r.total or r.since_slot > r.last_slot:
            return f"record of {addr.hex()} is inconsistent: {r}"
    return None


def invariants() -> dict[str, Invariant]:
    return {"records": _records_consistent}
