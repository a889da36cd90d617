"""The slashing module as the app sees it."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.module import Module
from modules.slashing import genesis, queries, state
from modules.slashing.keys import NAME
from modules.slashing.params import Params


class SlashingParams:
    def get_params(self, ctx: Ctx) -> dict[str, Any]:
        return state.get_params(ctx).to_json()

    def set_params(self, ctx: Ctx, params: dict[str, Any]) -> None:
        state.set_params(ctx, Params.from_json(params))


def build() -> Module:
    return Module(
        name=NAME,
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
    )
