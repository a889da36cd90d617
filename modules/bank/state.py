"""The only code that touches the bank store: balances, supply, params."""

from __future__ import annotations

from collections.abc import Iterator

from chain.coins import Coins
from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.bank import keys
from modules.bank.keys import NAME
from modules.bank.params import Params


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def _enc(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


def balance(ctx: Ctx, addr: bytes, denom: str) -> int:
    return _int(ctx.kv(NAME).get(keys.balance(addr, denom)))


def set_balance(ctx: Ctx, addr: bytes, denom: str, amount: int) -> None:
    """Zero is stored as absent."""
    kv = ctx.kv(NAME)
    if amount == 0:
        kv.delete(keys.balance(addr, denom))
    else:
        kv.set(keys.balance(addr, denom), _enc(amount))


class BalanceSlots:
    """The balances of one context for a run of debits and credits: the store is
    looked up once and each balance key built once per coin (a bank send makes
    eight such reads and writes, on the hottest path of the chain)."""

    __slots__ = ("kv",)

    def __init__(self, ctx: Ctx) -> None:
        self.kv = ctx.kv(NAME)

    def get(self, addr: bytes, denom: str) -> tuple[bytes, int]:
        """The balance's key and amount."""
        key = keys.balance(addr, denom)
        return key, _int(self.kv.get(key))

    def put(self, key: bytes, amount: int) -> None:
        """Zero is stored as absent."""
        if amount == 0:
            self.kv.delete(key)
        else:
            self.kv.set(key, _enc(amount))


def balances(ctx: Ctx, addr: bytes) -> Coins:
    p = keys.balances_of(addr)
    return tuple(
        (keys.split_balance_key(k)[1], _int(v)) for k, v in ctx.kv(NAME).iterate(p, prefix_end(p))
    )


def all_balances(ctx: Ctx) -> Iterator[tuple[bytes, str, int]]:
    p = keys.BALANCE_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        addr, denom = keys.split_balance_key(k)
        yield addr, denom, _int(v)


def supply(ctx: Ctx, denom: str) -> int:
    return _int(ctx.kv(NAME).get(keys.supply(denom)))


def total_supply(ctx: Ctx) -> Coins:
    p = keys.SUPPLY_PREFIX
    return tuple((k[1:].decode(), _int(v)) for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)))


def set_supply(ctx: Ctx, denom: str, amount: int) -> None:
    ctx.kv(NAME).set(keys.supply(denom), _enc(amount))
