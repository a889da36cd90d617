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
``handle_consensus(ctx, inputs)``
    CometBFT's inputs of a block (run before the begin-block hooks; the solo
    driver has none). Each misbehavior (a duplicate vote or a light client
    attack) by a known validator that is not tombstoned costs
    ``slash_fraction_double_sign_bps`` of its validator bond and unbonding
    entries, and a tombstone: it leaves the set with power 0 in this very
    block's updates. Evidence naming an unknown address or a tombstoned
    validator is ignored (logged, ``EvidenceIgnored``). Then each vote of the
    last commit of a validator that is not jailed or tombstoned is recorded in
    its window of the last ``signed_blocks_window`` blocks; one that has
    missed more than ``max_missed_blocks`` (the window less
    ``min_signed_per_window_bps`` of it, rounded down) is jailed for
    ``downtime_jail_blocks``, loses ``slash_fraction_downtime_bps`` and its
    window starts again. ``MsgUnjail`` after the jail brings it back.
"""

from __future__ import annotations

import logging

from chain.context import Ctx
from chain.valset import ConsensusInputs, Misbehavior, Vote
from modules.slashing import events, state
from modules.slashing.expected import ReputationKeeper, StakingKeeper
from modules.slashing.params import Params

WORKER = "worker"
VALIDATOR = "validator"

log = logging.getLogger("vcoin.slashing")


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
        self._punish(ctx, worker, p.cheat_penalty_bps, attesting_oracles, role, "cheating")

    def punish_by_authority(self, ctx: Ctx, node: bytes, penalty_bps: int) -> int:
        """The platform authority's own verdict on a worker (VCoin.sol's ``slash``,
        through the EVM's staking precompile; the caller checked the authority):
        ``penalty_bps`` reputation points, then this module's rules as for a caught
        cheat: jail, a stake slash under ``slash_below_bps``, a ban under
        ``tombstone_below_bps``. Returns the avcn slashed."""
        return self._punish(ctx, node, penalty_bps, [], WORKER, "slashed by the authority")

    def _punish(
        self,
        ctx: Ctx,
        worker: bytes,
        penalty_bps: int,
        attesting_oracles: list[bytes],
        role: str,
        reason: str,
    ) -> int:
        p = state.get_params(ctx)
        self.reputation.add_penalty(ctx, worker, penalty_bps, reason)
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
        return slashed

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

    # -- validators under CometBFT ----------------------------------------------------
    def handle_consensus(self, ctx: Ctx, inputs: ConsensusInputs) -> None:
        p = state.get_params(ctx)
        for m in inputs.misbehavior:
            self.punish_double_sign(ctx, m, p)
        for v in inputs.votes:
            self.record_vote(ctx, v, p)

    def punish_double_sign(self, ctx: Ctx, m: Misbehavior, p: Params) -> None:
        validator = self.staking.validator_of(ctx, m.address)
        if validator is None:
            reason = "no validator has this consensus address"
        elif self.staking.is_tombstoned(ctx, validator, VALIDATOR):
            reason = "the validator is already tombstoned"
        else:
            reason = ""
        if reason or validator is None:
            log.warning(
                "%s evidence for %s at height %d ignored: %s",
                m.kind,
                m.address.hex(),
                m.height,
                reason,
            )
            ctx.emit(events.evidence_ignored(m.address, m.kind, m.height, reason))
            return
        slashed = self.staking.slash(ctx, validator, VALIDATOR, p.slash_fraction_double_sign_bps)
        self.staking.tombstone(ctx, validator, VALIDATOR)
        state.delete_missed_blocks(ctx, validator)
        ctx.emit(events.double_sign_punished(validator, m.kind, m.height, slashed))

    def record_vote(self, ctx: Ctx, vote: Vote, p: Params) -> None:
        validator = self.staking.validator_of(ctx, vote.address)
        if validator is None:
            return
        if self.staking.jailed_until(ctx, validator, VALIDATOR) or self.staking.is_tombstoned(
            ctx, validator, VALIDATOR
        ):
            return  # out of the set already; CometBFT still counts it for two blocks
        window = p.signed_blocks_window
        record = state.missed_blocks(ctx, validator, window)
        i = record.counted % window
        bits = int.from_bytes(record.bitmap, "big")
        bits = bits & ~(1 << i) if vote.signed else bits | (1 << i)
        record = state.MissedBlocks(record.counted + 1, bits.to_bytes(len(record.bitmap), "big"))
        missed = record.missed()
        if missed <= p.max_missed_blocks():
            state.set_missed_blocks(ctx, validator, record)
            return
        until = ctx.block.height + p.downtime_jail_blocks
        self.staking.jail(ctx, validator, VALIDATOR, until)
        slashed = self.staking.slash(ctx, validator, VALIDATOR, p.slash_fraction_downtime_bps)
        state.delete_missed_blocks(ctx, validator)
        ctx.emit(events.downtime_punished(validator, missed, window, until, slashed))
