"""Genesis of the mint module: default, validate, init, export (symmetric).

A fresh chain's first epoch starts at the genesis height.
"""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import AddressError, from_bech32, to_bech32
from modules.mint import state
from modules.mint.errors import ErrInvalidGenesis
from modules.mint.params import Params


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "units": [], "total_minted": "0"}


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    seen: set[bytes] = set()
    for u in g.get("units", []):
        try:
            addr = from_bech32(str(u["address"]))
            n = int(str(u["units"]))
        except (AddressError, KeyError, ValueError) as e:
            raise ErrInvalidGenesis(f"mint units entry: {e}") from e
        if n <= 0 or addr in seen:
            raise ErrInvalidGenesis(f"mint units of {u['address']}: positive and listed once")
        seen.add(addr)
    for f in ("epoch", "epoch_start_height", "total_minted"):
        if f in g and int(str(g[f])) < 0:
            raise ErrInvalidGenesis(f"{f} must be ≥ 0")


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    start = int(str(g.get("epoch_start_height", ctx.block.height)))
    state.set_epoch(ctx, int(str(g.get("epoch", "0"))), start)
    for u in g.get("units", []):
        state.set_units(ctx, from_bech32(u["address"]), int(u["units"]))
    state.set_total_minted(ctx, int(str(g.get("total_minted", "0"))))


def export(ctx: Ctx) -> dict[str, Any]:
    number, start = state.epoch(ctx)
    return {
        "params": state.get_params(ctx).to_json(),
        "epoch": str(number),
        "epoch_start_height": str(start),
        "units": [{"address": to_bech32(a), "units": str(n)} for a, n in state.iterate_units(ctx)],
        "total_minted": str(state.total_minted(ctx)),
    }
