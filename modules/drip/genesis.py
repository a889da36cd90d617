"""Genesis of the drip module: default, validate, init, export (symmetric).

The pool's coins are the ``drip_pool`` module account's bank balance, so they
travel with the bank genesis; this keeps the params and who has had a drip."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import AddressError, from_bech32, to_bech32
from modules.drip import state
from modules.drip.errors import ErrInvalidGenesis
from modules.drip.params import Params


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "dripped": []}


def _entry(d: Any) -> tuple[bytes, int]:
    try:
        addr = from_bech32(str(d["address"]))
        height = int(str(d["height"]))
    except (AddressError, KeyError, TypeError, ValueError) as e:
        raise ErrInvalidGenesis(f"drip entry {d!r:.120}: {e}") from e
    if height < 0:
        raise ErrInvalidGenesis(f"drip entry {d['address']}: height must be ≥ 0, got {height}")
    return addr, height


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    seen: set[bytes] = set()
    for d in g.get("dripped", []):
        addr, _ = _entry(d)
        if addr in seen:
            raise ErrInvalidGenesis(f"{d['address']} is listed twice in dripped")
        seen.add(addr)


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    validate(g)
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    for d in g.get("dripped", []):
        addr, height = _entry(d)
        state.set_dripped(ctx, addr, height)


def export(ctx: Ctx) -> dict[str, Any]:
    dripped = [{"address": to_bech32(a), "height": str(h)} for a, h in state.iterate_dripped(ctx)]
    return {"params": state.get_params(ctx).to_json(), "dripped": dripped}
