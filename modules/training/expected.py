"""The slices of other modules that training uses, handed in by the wiring."""

from __future__ import annotations

from typing import Any, Protocol

from chain.coins import Coins
from chain.context import Ctx


class BankKeeper(Protocol):
    def balance(self, ctx: Ctx, addr: bytes, denom: str) -> int: ...
    def send_to_module(self, ctx: Ctx, sender: bytes, module: str, coins: Coins) -> None: ...
    def send_from_module(self, ctx: Ctx, module: str, recipient: bytes, coins: Coins) -> None: ...


class JobId(Protocol):
    """What training reads of a job to name its owner (``TrainingKeeper.job_owner``)."""

    @property
    def id(self) -> int: ...
    @property
    def poster(self) -> bytes: ...


class JobView(Protocol):
    """What training reads of a job at its final transition."""

    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def poster(self) -> bytes: ...
    @property
    def worker(self) -> bytes: ...
    @property
    def output_hash(self) -> bytes: ...
    @property
    def refunded(self) -> int: ...


class JobsKeeper(Protocol):
    def get_job(self, ctx: Ctx, job_id: int) -> Any: ...
    def model_task_types(self, ctx: Ctx, model_id: str) -> tuple[str, ...] | None: ...
    def min_price(self, ctx: Ctx) -> int: ...
    def max_result_blocks(self, ctx: Ctx) -> int: ...
    def post_for_module(
        self,
        ctx: Ctx,
        module_account: str,
        task_type: str,
        model: str,
        inline_input: bytes,
        max_price: int,
        result_blocks: int,
    ) -> int: ...
    def cancel_queued(self, ctx: Ctx, job_id: int, reason: str) -> Any: ...
