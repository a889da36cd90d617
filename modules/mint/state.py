"""The only code that touches the mint store, and the epoch emission.

``MintKeeper`` is what jobs and verification call (through their ``expected.py``):

``record_compute(ctx, worker, units)``
    adds verified compute units to the worker's count for the current epoch.

At the end of the block where ``epoch_blocks`` have passed since the epoch
began, ``end_block`` mints ``emission_per_epoch`` into the mint module
account and pays each worker ``emission × units // total_units`` in address
order. What integer division leaves over, and the share of a worker
tombstoned since it did the work, goes to the treasury, so exactly the
emission leaves the mint account. An epoch without units mints nothing.
Only this module mints: its account alone has bank's ``minter`` permission.
"""

from __future__ import annotations

from collections.abc import Iterator

from chain.coins import DENOM
from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.mint import events, keys
from modules.mint.expected import BankKeeper, StakingKeeper
from modules.mint.keys import ACCOUNT, NAME
from modules.mint.params import Params

TREASURY = "treasury"


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


class MintKeeper:
    def __init__(self, bank: BankKeeper, staking: StakingKeeper) -> None:
        self.bank = bank
        self.staking = staking

    def record_compute(self, ctx: Ctx, worker: bytes, units: int) -> None:
        if units < 0:
            raise ValueError("compute units are non-negative")
        if units:
            set_units(ctx, worker, units_of(ctx, worker) + units)

    def total_minted(self, ctx: Ctx) -> int:
        return total_minted(ctx)

    def end_block(self, ctx: Ctx) -> None:
        number, start = epoch(ctx)
        if ctx.block.height - start < get_params(ctx).epoch_blocks:
            return
        self._distribute(ctx, number)
        set_epoch(ctx, number + 1, ctx.block.height)

    def _distribute(self, ctx: Ctx, number: int) -> None:
        work = list(iterate_units(ctx))
        total = total_units(ctx)
        for addr, _ in work:
            set_units(ctx, addr, 0)
        emission = get_params(ctx).emission_per_epoch
        if total == 0 or emission == 0:
            return
        self.bank.mint(ctx, ACCOUNT, ((DENOM, emission),))
        set_total_minted(ctx, total_minted(ctx) + emission)
        paid = 0
        for addr, n in work:
            share = emission * n // total
            if share == 0 or self.staking.is_tombstoned(ctx, addr, "worker"):
                continue
            self.bank.send_from_module(ctx, ACCOUNT, addr, ((DENOM, share),))
            paid += share
            ctx.emit(events.mint_reward(number, addr, n, share))
        if emission - paid:
            self.bank.send_module_to_module(ctx, ACCOUNT, TREASURY, ((DENOM, emission - paid),))
        ctx.emit(events.minted(number, emission, total, len(work), emission - paid))
