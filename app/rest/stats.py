"""Answers that no single module query gives: the jobs market's totals and every bond.

Both read the last commit under the node's lock and build each item with the
module's own views (``modules/staking/queries.py``'s ``bond``), so an item here
is what ``abci_query`` answers for it. The totals read every job once per height
(decoding only those not yet final; cached for that height) while holding the
node's lock: fine for a devnet or a test network, a cost to watch on a big chain.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from chain.kv import prefix_end
from modules.bank import state as bank_state
from modules.jobs import keys as jobs_keys
from modules.jobs import settlement
from modules.jobs.records import OPEN_STATES, SETTLED, STATES, Job
from modules.staking import state as staking_state
from modules.staking.keys import ROLES


class JobStats:
    """The totals of one node's last commit, kept until the next height. A job in a
    final state never changes again: its figures are kept, so a later height decodes
    only the jobs still open or new (the store is still read once per height)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[int, dict[str, Any]] | None = None
        self._final: dict[int, tuple[str, int, int, int, int]] = {}

    def __call__(self, ctx: Ctx) -> dict[str, Any]:
        with self._lock:
            if self._last is None or self._last[0] != ctx.block.height:
                self._last = (ctx.block.height, self._compute(ctx))
            return self._last[1]

    def _figures(self, ctx: Ctx) -> Iterator[tuple[str, int, int, int, int]]:
        """(state, burned, paid, refunded, to the treasury) of every job."""
        kv = ctx.kv(jobs_keys.NAME)
        p = jobs_keys.JOB_PREFIX
        for k, v in kv.iterate(p, prefix_end(p)):
            job_id = int.from_bytes(k[len(p) :], "big")
            hit = self._final.get(job_id)
            if hit is not None:
                yield hit
                continue
            j = Job.decode(v, lambda i: kv.get(jobs_keys.payload(i)))
            to_treasury = j.price - j.burned if j.state == SETTLED else 0
            f = (j.state, j.burned, j.paid, j.refunded, to_treasury)
            if j.state not in OPEN_STATES:
                self._final[job_id] = f
            yield f

    def _compute(self, ctx: Ctx) -> dict[str, Any]:
        """Jobs by state, and what settlement moved: burned, credited to the treasury,
        paid to workers, refunded; what the escrow and the treasury hold now."""
        by_state = dict.fromkeys(STATES, 0)
        burned = to_treasury = paid = refunded = 0
        for state, b, pd, rf, tt in self._figures(ctx):
            by_state[state] += 1
            burned += b
            paid += pd
            refunded += rf
            to_treasury += tt

        def held(name: str) -> str:
            return str(bank_state.balance(ctx, module_address(name), DENOM))

        return {
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


def bond_keys(ctx: Ctx, role: str) -> list[tuple[str, str]]:
    """(role, bech32 address) of every bond, in role then address order."""
    roles = (role,) if role else ROLES
    return [(r, to_bech32(a)) for r0 in roles for r, a, _ in staking_state.iterate_bonds(ctx, r0)]
