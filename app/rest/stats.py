"""Answers that no single module query gives: the jobs market's totals and every bond.

Both read the last commit under the node's lock and build each item with the
module's own views (``modules/staking/queries.py``'s ``bond``), so an item here
is what ``abci_query`` answers for it. The totals read every job once per height
(they are cached for that height): fine for a devnet or a test network.
"""

from __future__ import annotations

import threading
from typing import Any

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from modules.bank import state as bank_state
from modules.jobs import settlement
from modules.jobs import state as jobs_state
from modules.jobs.records import OPEN_STATES, STATES
from modules.staking import state as staking_state
from modules.staking.keys import ROLES


class JobStats:
    """The totals of one node's last commit, kept until the next height."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[int, dict[str, Any]] | None = None

    def __call__(self, ctx: Ctx) -> dict[str, Any]:
        with self._lock:
            if self._last is not None and self._last[0] == ctx.block.height:
                return self._last[1]
        out = job_stats(ctx)
        with self._lock:
            self._last = (ctx.block.height, out)
        return out


def job_stats(ctx: Ctx) -> dict[str, Any]:
    """Jobs by state, and what settlement moved: burned, credited to the treasury, paid
    to workers, refunded; what the escrow and the treasury hold now."""
    by_state = dict.fromkeys(STATES, 0)
    burned = to_treasury = paid = refunded = 0
    for j in jobs_state.iterate_jobs(ctx):
        by_state[j.state] += 1
        burned += j.burned
        paid += j.paid
        refunded += j.refunded
        if j.state == "settled":
            to_treasury += j.price - j.burned

    def held(name: str) -> str:
        return str(bank_state.balance(ctx, module_address(name), DENOM))

    out = {
        "height": str(ctx.block.height),
        "jobs_total": str(sum(by_state.values())),
        "jobs_open": str(sum(by_state[s] for s in OPEN_STATES)),
        "jobs_by_state": {s: str(n) for s, n in by_state.items()},
        "burned": str(burned),
        "to_treasury": str(to_treasury),
        "paid_to_workers": str(paid),
        "refunded": str(refunded),
        "escrow_balance": held(settlement.ESCROW),
        "treasury_balance": held(settlement.TREASURY),
        "denom": DENOM,
    }
    return out


def bond_keys(ctx: Ctx, role: str) -> list[tuple[str, str]]:
    """(role, bech32 address) of every bond, in role then address order."""
    roles = (role,) if role else ROLES
    return [(r, to_bech32(a)) for r0 in roles for r, a, _ in staking_state.iterate_bonds(ctx, r0)]
