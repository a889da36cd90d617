"""Params of the verification module; the platform authority changes them.

The sampling rate of a result is a function of risk (``risk.py``, which has the
derivation): the largest of the base rate, the reputation rule

    base_sample_bps + (10000 - score) × low_rep_factor_bps / 10000

(10 % at score 100.00, 30 % at 50.00, 50 % at 0), the newcomer rate
(``new_worker_sample_bps`` for a worker's first ``new_worker_jobs`` results) and
the rate at which faking a result of this price has negative expected value for
this worker's stake (``cost_share_bps``: the share of the price a job's compute
costs, what a fake saves) and, for task types whose check is cheap, the rate that
reaches ``detection_floor_bps`` per faked result; capped at ``max_sample_bps``.
With the defaults a new worker's first 100 results are sampled at 50 %, which
with 5 % canaries catches a worker faking 10 % of them within those 100 with
probability 0.995; after them, its greedy-text and embedding results are sampled
at 42.12 % (the floor: 0.990), its LoRA results at 10 %.

Quorum: a verdict stands as soon as the stake that attested it reaches
``quorum_bps`` of the stake of all active oracles (``stake × 10000 ≥
quorum_bps × total``; 6666 makes two of three equal oracles enough and one of
two not). If ``attest_window_blocks`` pass without that, the window's rule
decides (see ``verdict.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.verification.checkcost import cheap_check
from modules.verification.errors import ErrInvalidParams
from modules.verification.risk import Risk, RiskInputs, SlashTerms, assess

BPS = 10_000
_TASK_LISTS = ("always_check_tasks", "detection_floor_tasks")


@dataclass(frozen=True)
class Params:
    challenge_window_blocks: int = 20  # an unpicked result settles this long after submission
    base_sample_bps: int = 1000
    low_rep_factor_bps: int = 4000
    max_sample_bps: int = 5000
    new_worker_jobs: int = 100  # results before a worker counts as established
    new_worker_sample_bps: int = 5000
    cost_share_bps: int = 5000  # the share of a job's price its compute costs a worker
    attest_window_blocks: int = 300  # how long a picked job waits for a quorum
    quorum_bps: int = 6666
    window_min_stake_bps: int = 3334  # share of oracle stake that must attest for the window rule
    similarity_threshold_bps: int = 9500
    # the share of jobs oracles post as canaries (they read this); each costs two full runs
    canary_rate_bps: int = 500  # the design table: canaries are 5 % of jobs
    canary_ttl_blocks: int = 100_000  # an unrevealed commitment is dropped after this
    # rows of an embedding result an oracle re-embeds (keeper.subset_rows); 0: all of them.
    # Faking m of n rows saves m/n of the work and is caught with chance ≥ m/n at one row,
    # so the expected-value argument of risk.py holds row by row.
    embed_check_rows: int = 1
    # the share of the results picked for checking that planters make plants: known-bad
    # results that an oracle attesting without checking passes (oracles read this, as
    # they read canary_rate_bps). A lazy oracle is caught at its first plant: within N
    # checks with P = 1 − (1 − plant_rate)^N, 0.990 at N = 90 (oracle/README.md).
    plant_rate_bps: int = 500
    # task types whose every result is picked for checking (rate 10000), whatever the
    # worker's risk: the training module's aggregates, whose oracle check is an exact
    # hash compare after recomputing the mean (modules/training)
    always_check_tasks: tuple[str, ...] = ("lora-aggregate",)
    # the least detection per faked result (sampling and canaries together) that a result
    # of ``detection_floor_tasks`` is drawn at, whatever the worker's record (risk.py, the
    # "detection" term). Their checks cost a fraction of the job (prefill for greedy
    # text, one drawn row of an embedding: 7 % of it here), so a high rate is cheap.
    # 4501 is the least q with 1 − (1 − 0.1·q)^100 ≥ 0.99: a worker that fakes 10 % of
    # its results is caught within 100 jobs with probability 0.99 (0.98999 at 4500).
    # 0 turns the term off.
    detection_floor_bps: int = 4501
    detection_floor_tasks: tuple[str, ...] = ("text-generation", "embedding")

    def __post_init__(self) -> None:
        # read back from JSON (the store, genesis, MsgUpdateParams) as a list
        for name in _TASK_LISTS:
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))

    def validate(self) -> None:
        for name in _TASK_LISTS:
            tasks = getattr(self, name)
            if not isinstance(tasks, tuple) or any(
                not isinstance(t, str) or not 0 < len(t) <= 64 for t in tasks
            ):
                raise ErrInvalidParams(
                    f"{name} must be a list of task type names, got {tasks!r:.100}"
                )
        for f in fields(self):
            if f.name in _TASK_LISTS:
                continue
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ErrInvalidParams(f"{f.name} must be a non-negative integer, got {v!r}")
        for name in (
            "base_sample_bps",
            "low_rep_factor_bps",
            "max_sample_bps",
            "new_worker_sample_bps",
            "cost_share_bps",
            "quorum_bps",
            "window_min_stake_bps",
            "similarity_threshold_bps",
            "canary_rate_bps",
            "plant_rate_bps",
            "detection_floor_bps",
        ):
            if getattr(self, name) > BPS:
                raise ErrInvalidParams(f"{name} is in basis points: at most {BPS}")
        if self.quorum_bps <= BPS // 2:
            raise ErrInvalidParams("quorum_bps must be over 5000 so two verdicts cannot both stand")
        if min(self.challenge_window_blocks, self.attest_window_blocks, self.canary_ttl_blocks) < 1:
            raise ErrInvalidParams(
                "challenge_window_blocks, attest_window_blocks and canary_ttl_blocks must be ≥ 1"
                " (a result is drawn in the block after it lands, before its window can end)"
            )

    def sample_rate_bps(self, score_bps: int) -> int:
        """The reputation rule alone (capped): the rate of an established worker whose
        stake makes faking unprofitable anyway."""
        score = min(max(score_bps, 0), BPS)
        extra = (BPS - score) * self.low_rep_factor_bps // BPS
        return min(self.max_sample_bps, self.base_sample_bps + extra)

    def floor_bps(self, task_type: str, spec: str = "") -> int:
        """The detection floor of a result of ``task_type`` and ``spec`` (0: none; the
        job must have a cheap check, ``checkcost.py``)."""
        tasks, rows = self.detection_floor_tasks, self.embed_check_rows
        return self.detection_floor_bps if cheap_check(task_type, spec, tasks, rows) else 0

    def risk(
        self, inputs: RiskInputs, slash: SlashTerms, task_type: str = "", spec: str = ""
    ) -> Risk:
        """The audit rate of a result; its job's ``task_type`` and ``spec`` decide the
        detection floor ("" or a type outside ``detection_floor_tasks``: none)."""
        return assess(
            inputs,
            base_sample_bps=self.base_sample_bps,
            low_rep_factor_bps=self.low_rep_factor_bps,
            max_sample_bps=self.max_sample_bps,
            new_worker_jobs=self.new_worker_jobs,
            new_worker_sample_bps=self.new_worker_sample_bps,
            cost_share_bps=self.cost_share_bps,
            canary_rate_bps=self.canary_rate_bps,
            floor_bps=self.floor_bps(task_type, spec),
            slash=slash,
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for name in _TASK_LISTS:
            d[name] = list(getattr(self, name))
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "verification")
