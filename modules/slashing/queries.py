"""Queries of the slashing module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from modules.slashing import state


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


QUERIES = {"params": params}
