"""The only code that touches the bank store: balances, supply, params.

``BankKeeper`` is what other modules get (through their ``expected.py``):
transfers between accounts and module accounts, mint and burn by permission.
"""

from __future__ import annotations

from collections.abc import Iterator

from chain.coins import MAX_AMOUNT, Coins, fmt
from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from chain.errors import ErrInsufficientFunds
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.bank import events, keys
from modules.bank.errors import ErrBlockedAddress, ErrNoPermission, ErrSupplyOverflow
from modules.bank.expected import AccountKeeper
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


def _set_balance(ctx: Ctx, addr: bytes, denom: str, amount: int) -> None:
    kv = ctx.kv(NAME)
    if amount == 0:
        kv.delete(keys.balance(addr, denom))
    else:
        kv.set(keys.balance(addr, denom), _enc(amount))


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


def _set_supply(ctx: Ctx, denom: str, amount: int) -> None:
    ctx.kv(NAME).set(keys.supply(denom), _enc(amount))


class BankKeeper:
    def __init__(self, accounts: AccountKeeper, blocked: frozenset[bytes] = frozenset()) -> None:
        self.accounts = accounts
        self.blocked = blocked

    # -- reads ------------------------------------------------------------
    def balance(self, ctx: Ctx, addr: bytes, denom: str) -> int:
        return balance(ctx, addr, denom)

    def supply(self, ctx: Ctx, denom: str) -> int:
        return supply(ctx, denom)

    # -- writes -----------------------------------------------------------
    def _sub(self, ctx: Ctx, addr: bytes, coins: Coins) -> None:
        kv = ctx.kv(NAME)
        for denom, amount in coins:
            key = keys.balance(addr, denom)
            have = _int(kv.get(key))
            if have < amount:
                raise ErrInsufficientFunds(
                    f"{to_bech32(addr)} has {have}{denom}, needs {amount}{denom}"
                )
            if have == amount:
                kv.delete(key)
            else:
                kv.set(key, _enc(have - amount))
        ctx.emit(events.coin_spent(addr, coins))

    def _add(self, ctx: Ctx, addr: bytes, coins: Coins) -> None:
        kv = ctx.kv(NAME)
        for denom, amount in coins:
            key = keys.balance(addr, denom)
            have = _int(kv.get(key))
            if have + amount > MAX_AMOUNT:
                raise ErrSupplyOverflow(f"balance of {denom} would pass 2^256-1")
            if have + amount == 0:
                kv.delete(key)
            else:
                kv.set(key, _enc(have + amount))
        ctx.emit(events.coin_received(addr, coins))

    def send(self, ctx: Ctx, sender: bytes, recipient: bytes, coins: Coins) -> None:
        """Account to account; refuses module accounts as recipients."""
        if recipient in self.blocked:
            raise ErrBlockedAddress(
                f"{to_bech32(recipient)} is a module account and cannot receive plain sends"
            )
        self._sub(ctx, sender, coins)
        self.accounts.ensure_account(ctx, recipient)
        self._add(ctx, recipient, coins)
        ctx.emit(events.transfer(sender, recipient, coins))

    def send_to_module(self, ctx: Ctx, sender: bytes, module: str, coins: Coins) -> None:
        maddr = module_address(module)
        self._sub(ctx, sender, coins)
        self._add(ctx, maddr, coins)
        ctx.emit(events.transfer(sender, maddr, coins))

    def send_from_module(self, ctx: Ctx, module: str, recipient: bytes, coins: Coins) -> None:
        maddr = module_address(module)
        self._sub(ctx, maddr, coins)
        self.accounts.ensure_account(ctx, recipient)
        self._add(ctx, recipient, coins)
        ctx.emit(events.transfer(maddr, recipient, coins))

    def send_module_to_module(self, ctx: Ctx, src: str, dst: str, coins: Coins) -> None:
        a, b = module_address(src), module_address(dst)
        self._sub(ctx, a, coins)
        self._add(ctx, b, coins)
        ctx.emit(events.transfer(a, b, coins))

    def _need(self, ctx: Ctx, module: str, perm: str) -> bytes:
        perms = self.accounts.module_permissions(ctx, module)
        if perms is None or perm not in perms:
            raise ErrNoPermission(f"module account {module!r} lacks the {perm} permission")
        return module_address(module)

    def mint(self, ctx: Ctx, module: str, coins: Coins) -> None:
        maddr = self._need(ctx, module, "minter")
        for denom, amount in coins:
            s = supply(ctx, denom) + amount
            if s > MAX_AMOUNT:
                raise ErrSupplyOverflow(f"minting {fmt(coins)} would push supply past 2^256-1")
            _set_supply(ctx, denom, s)
        self._add(ctx, maddr, coins)
        ctx.emit(events.coinbase(maddr, coins))

    def burn(self, ctx: Ctx, module: str, coins: Coins) -> None:
        maddr = self._need(ctx, module, "burner")
        self._sub(ctx, maddr, coins)
        for denom, amount in coins:
            _set_supply(ctx, denom, supply(ctx, denom) - amount)
        ctx.emit(events.burn(maddr, coins))

    def set_genesis_balance(self, ctx: Ctx, addr: bytes, coins: Coins) -> None:
        for denom, amount in coins:
            _set_balance(ctx, addr, denom, amount)

    def set_genesis_supply(self, ctx: Ctx, denom: str, amount: int) -> None:
        _set_supply(ctx, denom, amount)
