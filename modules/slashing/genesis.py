"""Genesis of the slashing module: only params."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from modules.slashing import state
from modules.slashing.params import Params


def default() -> dict[str, Any]:
    return {"params": Params().to_json()}


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    state.set_params(ctx, Params.from_json(g.get("params", {})))


def export(ctx: Ctx) -> dict[str, Any]:
    return {"params": state.get_params(ctx).to_json()}
