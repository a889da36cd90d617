"""The only code that touches the drip store: params, who has had a drip, and
how many drips the current block has paid."""

from __future__ import annotations

from collections.abc import Iterator

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.drip import keys
from modules.drip.keys import NAME
from modules.drip.params import Params

PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


def dripped_at(ctx: Ctx, addr: bytes) -> int | None:
    """The height of ``addr``'s drip, or None if it has had none."""
    raw = ctx.kv(NAME).get(keys.dripped(addr))
    return None if raw is None else int.from_bytes(raw, "big")


def set_dripped(ctx: Ctx, addr: bytes, height: int) -> None:
    ctx.kv(NAME).set(keys.dripped(addr), height.to_bytes(8, "big"))


def iterate_dripped(ctx: Ctx) -> Iterator[tuple[bytes, int]]:
    p = keys.DRIPPED_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[len(p) :], int.from_bytes(v, "big")


def drips_in_block(ctx: Ctx, height: int) -> int:
    """Drips paid so far at ``height`` (the count of an older height is stale: 0)."""
    raw = ctx.kv(NAME).get(keys.BLOCK_COUNT)
    if raw is None or int.from_bytes(raw[:8], "big") != height:
        return 0
    return int.from_bytes(raw[8:], "big")


def set_drips_in_block(ctx: Ctx, height: int, count: int) -> None:
    ctx.kv(NAME).set(keys.BLOCK_COUNT, height.to_bytes(8, "big") + count.to_bytes(8, "big"))
