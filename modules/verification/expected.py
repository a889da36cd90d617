"""The slices of other modules that verification uses."""

from __future__ import annotations

from typing import Any, Protocol

from chain.context import Ctx
from modules.verification.risk import SlashTerms


class JobView(Protocol):
    """What verification reads of a job."""

    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def worker(self) -> bytes: ...
    @property
    def claimed_height(self) -> int: ...
    @property
    def output_hash(self) -> bytes: ...
    @property
    def submitted_height(self) -> int: ...
    @property
    def price(self) -> int: ...


class JobsKeeper(Protocol):
    def get_job(self, ctx: Ctx, job_id: int) -> JobView | None: ...
    def submitted_between(self, ctx: Ctx, lo: int, hi: int) -> list[int]: ...
    def ids_in_state(self, ctx: Ctx, name: str) -> list[int]: ...
    def mark_checking(self, ctx: Ctx, job_id: int) -> Any: ...
    def settle_success(self, ctx: Ctx, job_id: int) -> Any: ...
    def settle_failure(self, ctx: Ctx, job_id: int, oracles: list[bytes]) -> Any: ...


class StakingKeeper(Protocol):
    def is_active(self, ctx: Ctx, addr: bytes, role: str) -> bool: ...
    def bonded(self, ctx: Ctx, addr: bytes, role: str) -> int: ...
    def active_set(self, ctx: Ctx, role: str) -> list[bytes]: ...
    def oracle_pubkey(self, ctx: Ctx, addr: bytes) -> bytes | None: ...


class ReputationStatsView(Protocol):
    @property
    def total(self) -> int: ...  # results that counted: the worker's age in jobs
    @property
    def score_bps(self) -> int: ...


class ReputationKeeper(Protocol):
    def score(self, ctx: Ctx, addr: bytes) -> int: ...
    def stats(self, ctx: Ctx, addr: bytes) -> ReputationStatsView: ...


class SlashingKeeper(Protocol):
    def penalise_oracle(self, ctx: Ctx, oracle: bytes, points_bps: int | None = None) -> Any: ...


def slash_terms(ctx: Ctx) -> SlashTerms:
    """The slashing params the audit rate prices in (``risk.py``).

    Read from the slashing module's params store: its keeper has no params
    accessor, and these three numbers are all verification needs of it.
    """
    from modules.slashing.state import get_params

    p = get_params(ctx)
    return SlashTerms(p.cheat_penalty_bps, p.slash_below_bps, p.slash_fraction_bps)
