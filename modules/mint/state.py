"""The only code that touches the mint store: the epoch, units of compute per
worker, the total minted and params.
"""

from __future__ import annotations

from collections.abc import Iterator

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.mint import keys
from modules.mint.keys import NAME
from modules.mint.params import Params


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def _enc(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


def epoch(ctx: Ctx) -> tuple[int, int]:
    """(epoch number, height the epoch started at)."""
    raw = ctx.kv(NAME).get(keys.EPOCH)
    if raw is None:
        return 0, 0
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


def set_epoch(ctx: Ctx, number: int, start_height: int) -> None:
    ctx.kv(NAME).set(keys.EPOCH, number.to_bytes(8, "big") + start_height.to_bytes(8, "big"))


def units_of(ctx: Ctx, addr: bytes) -> int:
    return _int(ctx.kv(NAME).get(keys.units(addr)))


def total_units(ctx: Ctx) -> int:
    return _int(ctx.kv(NAME).get(keys.TOTAL_UNITS))


def set_units(ctx: Ctx, addr: bytes, n: int) -> None:
    """Set a worker's units and keep the epoch total in step."""
    kv = ctx.kv(NAME)
    old = units_of(ctx, addr)
    if n:
        kv.set(keys.units(addr), _enc(n))
    else:
        kv.delete(keys.units(addr))
    _set_counter(ctx, keys.TOTAL_UNITS, total_units(ctx) - old + n)


def iterate_units(ctx: Ctx) -> Iterator[tuple[bytes, int]]:
    p = keys.UNITS_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[len(p) :], _int(v)


def total_minted(ctx: Ctx) -> int:
    return _int(ctx.kv(NAME).get(keys.TOTAL_MINTED))


def set_total_minted(ctx: Ctx, n: int) -> None:
    _set_counter(ctx, keys.TOTAL_MINTED, n)


def _set_counter(ctx: Ctx, key: bytes, n: int) -> None:
    # zero is stored as absent, so an exported and re-imported state hashes the same
    kv = ctx.kv(NAME)
    if n:
        kv.set(key, _enc(n))
    else:
        kv.delete(key)
