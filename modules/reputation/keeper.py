"""ReputationKeeper: scores from the stored records, and what other modules get
of reputation (through their ``expected.py``).

Scores are basis points: 0..10000 means 0.00..100.00.

    score = 100 × (successes / total) × stake_weight × uptime − penalties

clamped to [0, 100], computed in integers with one final floor division:
``score_bps = successes × weight_bps × uptime_bps // (total × 10000) − penalties_bps``.

* ``successes / total``: verified results over all results that counted
  (successes, failed checks, missed deadlines). With no results yet it is 1.
* ``stake_weight = min(1, bond / reference_bond)`` (``weight_bps`` in bps), on
  the address's worker bond against ``worker_reference_bond`` or its oracle
  bond against ``oracle_reference_bond``, whichever gives more. Unbonding
  coins do not count, so a slash or an unbond lowers the weight at once.
* ``uptime``: the share of the last ``uptime_window_slots`` slots (each
  ``heartbeat_interval_blocks`` blocks) with at least one heartbeat. The slot
  in progress counts only once it has a heartbeat (until then the window is the
  previous N slots), so a worker is never marked down for a slot not yet over.
* ``penalties``: points in bps that only grow (``add_penalty``); caught cheating
  costs 2000 (20 points), an oracle outvoted by the quorum less. The one way
  back (``remove_penalty``): an outvote later proved wrong, when a plant shows
  the quorum passed a bad result that the outvoted oracle had failed.

A new address has no record: a perfect ratio and full uptime, so it starts at
``100 × stake_weight`` (100 at the reference bond). Its record starts at its
first result, penalty or heartbeat, in slot ``since_slot``; slots before that
count as up, later slots must have heartbeats.

Keeper methods
    ``score(ctx, addr) -> int``                   bps
    ``stats(ctx, addr) -> ReputationStats``       the inputs and the score
    ``record_result(ctx, addr, success: bool)``   emits ``ReputationChanged``
    ``add_penalty(ctx, addr, points_bps)``        emits ``ReputationChanged``
    ``remove_penalty(ctx, addr, points_bps)``     emits ``ReputationChanged``
    ``record_heartbeat(ctx, addr)``               marks the current slot up
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chain.context import Ctx
from modules.reputation import events, state
from modules.reputation.expected import StakingKeeper
from modules.reputation.params import Params
from modules.reputation.state import Record

BPS = 10_000


@dataclass(frozen=True)
class ReputationStats:
    successes: int
    total: int
    penalties_bps: int
    uptime_bps: int
    stake_weight_bps: int
    score_bps: int
    has_history: bool


def current_slot(ctx: Ctx, p: Params) -> int:
    return max(ctx.block.height, 0) // p.heartbeat_interval_blocks


# -- the formula ----------------------------------------------------------------------
def uptime_bps(r: Record | None, slot: int, window: int) -> int:
    if r is None:
        return BPS
    mask = r.shifted(slot, window).mask
    start = 0 if mask & 1 else 1  # the slot in progress counts once it has a heartbeat
    in_window = ((1 << window) - 1) << start
    lim = max(slot - r.since_slot, -1)  # bits 0..lim are slots since the record began
    since = (1 << (lim + 1)) - 1
    up = (mask & in_window & since).bit_count() + (in_window & ~since).bit_count()
    return up * BPS // window


def stake_weight_bps(ctx: Ctx, staking: StakingKeeper, p: Params, addr: bytes) -> int:
    w = staking.bonded(ctx, addr, "worker") * BPS // p.worker_reference_bond
    o = staking.bonded(ctx, addr, "oracle") * BPS // p.oracle_reference_bond
    return min(BPS, max(w, o))


def score_of(successes: int, total: int, weight: int, uptime: int, penalties: int) -> int:
    if total == 0:
        successes = total = 1
    raw = successes * weight * uptime // (total * BPS)
    return max(0, min(BPS, raw - penalties))


class ReputationKeeper:
    def __init__(self, staking: StakingKeeper) -> None:
        self.staking = staking

    # -- reads ----------------------------------------------------------------
    def stats(self, ctx: Ctx, addr: bytes) -> ReputationStats:
        p = state.get_params(ctx)
        r = state.get_record(ctx, addr)
        up = uptime_bps(r, current_slot(ctx, p), p.uptime_window_slots)
        weight = stake_weight_bps(ctx, self.staking, p, addr)
        rec = r or Record()
        return ReputationStats(
            rec.successes,
            rec.total,
            rec.penalties_bps,
            up,
            weight,
            score_of(rec.successes, rec.total, weight, up, rec.penalties_bps),
            r is not None,
        )

    def score(self, ctx: Ctx, addr: bytes) -> int:
        return self.stats(ctx, addr).score_bps

    # -- writes -----------------------------------------------------------------
    def _record(self, ctx: Ctx, addr: bytes) -> tuple[Params, Record | None, Record]:
        """(params, the stored record or None, the record moved to the current slot)."""
        p = state.get_params(ctx)
        slot = current_slot(ctx, p)
        r = state.get_record(ctx, addr)
        if r is None:
            return p, None, Record(since_slot=slot, last_slot=slot)
        return p, r, r.shifted(slot, p.uptime_window_slots)

    def _update(
        self, ctx: Ctx, addr: bytes, reason: str, successes: int, total: int, penalties: int
    ) -> None:
        """Add to a record's counts and emit the score before and after."""
        p, old, cur = self._record(ctx, addr)
        weight = stake_weight_bps(ctx, self.staking, p, addr)  # unchanged by this update
        slot, window = cur.last_slot, p.uptime_window_slots

        def score(r: Record | None) -> int:
            c = r or Record()
            return score_of(
                c.successes, c.total, weight, uptime_bps(r, slot, window), c.penalties_bps
            )

        new = replace(
            cur,
            successes=cur.successes + successes,
            total=cur.total + total,
            penalties_bps=cur.penalties_bps + penalties,
        )
        state.set_record(ctx, addr, new)
        ctx.emit(events.reputation_changed(addr, score(old), score(new), reason))

    def record_result(self, ctx: Ctx, addr: bytes, success: bool) -> None:
        """One result that counts: a verified success, or a failure (check or deadline)."""
        self._update(ctx, addr, "success" if success else "failure", int(success), 1, 0)

    def add_penalty(self, ctx: Ctx, addr: bytes, points_bps: int, reason: str = "penalty") -> None:
        if points_bps < 0:
            raise ValueError("penalty points are non-negative")
        self._update(ctx, addr, reason, 0, 0, points_bps)

    def remove_penalty(
        self, ctx: Ctx, addr: bytes, points_bps: int, reason: str = "penalty withdrawn"
    ) -> None:
        """Take back up to ``points_bps`` penalty points (never below none)."""
        if points_bps < 0:
            raise ValueError("penalty points are non-negative")
        _, _, cur = self._record(ctx, addr)
        self._update(ctx, addr, reason, 0, 0, -min(points_bps, cur.penalties_bps))

    def record_heartbeat(self, ctx: Ctx, addr: bytes) -> None:
        p, _, r = self._record(ctx, addr)
        r = replace(r, mask=r.mask | 1)
        state.set_record(ctx, addr, r)
        ctx.emit(
            events.heartbeat(
                addr, ctx.block.height, uptime_bps(r, r.last_slot, p.uptime_window_slots)
            )
        )
