"""Queries of the reputation module (JSON in, JSON out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.context import Ctx
from chain.crypto import to_bech32
from modules.reputation import state
from modules.reputation.keeper import ReputationKeeper
from modules.reputation.msgs import check_address


def make_score(keeper: ReputationKeeper) -> Callable[[Ctx, dict[str, Any]], Any]:
    def score(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """The score of an address and every input of the formula."""
        addr = check_address(str(req.get("address", "")))
        s = keeper.stats(ctx, addr)
        return {
            "address": to_bech32(addr),
            "score_bps": s.score_bps,
            "score": f"{s.score_bps // 100}.{s.score_bps % 100:02d}",
            "successes": str(s.successes),
            "total": str(s.total),
            "penalties_bps": s.penalties_bps,
            "uptime_bps": s.uptime_bps,
            "stake_weight_bps": s.stake_weight_bps,
            "has_history": s.has_history,
        }

    return score


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()
