"""SlashingKeeper: the punishments, which jobs and verification call (through their
``expected.py``); scores and fractions are basis points.

``punish_cheating(ctx, worker, attesting_oracles, role="worker")``
    For a caught cheat (a failed re-execution or canary; with ``role="oracle"``,
    an oracle that attested a planted bad result as good), in this order:
    1. ``cheat_penalty_bps`` penalty points (−20), with ``ReputationChanged``;
    2. jail in the worker role until ``height + jail_blocks`` (``Jailed``);
    3. the score *after the penalty* decides the rest, both read once:
       under ``slash_below_bps`` (50): slash ``slash_fraction_bps`` (10 %) of
       the bond in that role and its unbonding entries, to the treasury with
       ``slash_reward_share_bps`` of it to the attesting oracles weighted by
       their oracle bond (``Slashed``); under ``tombstone_below_bps`` (30):
       also tombstone in that role (``Tombstoned``). A score exactly at
       a threshold is not under it.
    The cheat costs the penalty points, not a failure in the success ratio:
    callers report the cheated job here only, never also to
    ``record_result``, so each cheat costs exactly 20 points at full weight.
``record_timeout(ctx, worker)``
    A missed deadline: one failure in the success ratio, no penalty points.
``penalise_oracle(ctx, oracle, points_bps=None) -> points``
    An oracle that attested against the quorum loses ``points_bps`` points
    (default: the ``oracle_penalty_bps`` param).
``withdraw_oracle_penalty(ctx, oracle, points_bps)``
    Gives them back when the outvote is proved wrong (a plant's reveal shows
    the quorum passed a planted bad result the oracle had failed).
"""

from __future__ import annotations

from chain.context import Ctx
from modules.slashing import events, state
from modules.slashing.expected import ReputationKeeper, StakingKeeper

WORKER = "worker"


class SlashingKeeper:
    def __init__(self, staking: StakingKeeper, reputation: ReputationKeeper) -> None:
        self.staking = staking
        self.reputation = reputation

    def slash_terms(self, ctx: Ctx) -> tuple[int, int, int]:
        """What a caught cheat costs: (penalty points, score under which the stake
        is slashed, fraction slashed), in basis points. Verification prices its
        audit rate by them."""
        p = state.get_params(ctx)
        return p.cheat_penalty_bps, p.slash_below_bps, p.slash_fraction_bps

    def punish_cheating(
        self, ctx: Ctx, worker: bytes, attesting_oracles: list[bytes], role: str = WORKER
    ) -> None:
        p = state.get_params(ctx)
        self.reputation.add_penalty(ctx, worker, p.cheat_penalty_bps, "cheating")
        self.staking.jail(ctx, worker, role, ctx.block.height + self.staking.jail_blocks(ctx))
        score = self.reputation.score(ctx, worker)
        slashed = 0
        if score < p.slash_below_bps:
            oracles = sorted(set(attesting_oracles))
            rewards = [(o, self.staking.bonded(ctx, o, "oracle")) for o in oracles]
            slashed = self.staking.slash(ctx, worker, role, p.slash_fraction_bps, rewards)
        tombstoned = score < p.tombstone_below_bps
        if tombstoned:
            self.staking.tombstone(ctx, worker, role)
        ctx.emit(
            events.cheating_punished(
                worker,
                score,
                self.staking.jailed_until(ctx, worker, role),
                slashed,
                tombstoned,
            )
        )

    def record_timeout(self, ctx: Ctx, worker: bytes) -> None:
        self.reputation.record_result(ctx, worker, False)

    def penalise_oracle(self, ctx: Ctx, oracle: bytes, points_bps: int | None = None) -> int:
        points = state.get_params(ctx).oracle_penalty_bps if points_bps is None else points_bps
        self.reputation.add_penalty(ctx, oracle, points, "outvoted")
        ctx.emit(events.oracle_penalised(oracle, points, self.reputation.score(ctx, oracle)))
        return points

    def withdraw_oracle_penalty(self, ctx: Ctx, oracle: bytes, points_bps: int) -> None:
        self.reputation.remove_penalty(ctx, oracle, points_bps, "outvote withdrawn")
        score = self.reputation.score(ctx, oracle)
        ctx.emit(events.oracle_penalty_withdrawn(oracle, points_bps, score))
