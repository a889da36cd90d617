"""BankKeeper: what other modules get of bank (through their ``expected.py``):
transfers between accounts and module accounts, mint and burn by permission."""

from __future__ import annotations

from chain.coins import MAX_AMOUNT, Coins, fmt
from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from chain.errors import ErrInsufficientFunds
from modules.bank import events, state
from modules.bank.errors import ErrBlockedAddress, ErrNoPermission, ErrSupplyOverflow
from modules.bank.expected import AccountKeeper


class BankKeeper:
    def __init__(self, accounts: AccountKeeper, blocked: frozenset[bytes] = frozenset()) -> None:
        self.accounts = accounts
        self.blocked = blocked

    # -- reads ------------------------------------------------------------
    def balance(self, ctx: Ctx, addr: bytes, denom: str) -> int:
        return state.balance(ctx, addr, denom)

    def supply(self, ctx: Ctx, denom: str) -> int:
        return state.supply(ctx, denom)

    # -- writes -----------------------------------------------------------
    def _sub(self, ctx: Ctx, addr: bytes, coins: Coins) -> None:
        slots = state.BalanceSlots(ctx)
        for denom, amount in coins:
            key, have = slots.get(addr, denom)
            if have < amount:
                raise ErrInsufficientFunds(
                    f"{to_bech32(addr)} has {have}{denom}, needs {amount}{denom}"
                )
            slots.put(key, have - amount)
        ctx.emit(events.coin_spent(addr, coins))

    def _add(self, ctx: Ctx, addr: bytes, coins: Coins) -> None:
        slots = state.BalanceSlots(ctx)
        for denom, amount in coins:
            key, have = slots.get(addr, denom)
            if have + amount > MAX_AMOUNT:
                raise ErrSupplyOverflow(f"balance of {denom} would pass 2^256-1")
            slots.put(key, have + amount)
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
            s = state.supply(ctx, denom) + amount
            if s > MAX_AMOUNT:
                raise ErrSupplyOverflow(f"minting {fmt(coins)} would push supply past 2^256-1")
            state.set_supply(ctx, denom, s)
        self._add(ctx, maddr, coins)
        ctx.emit(events.coinbase(maddr, coins))

    def burn(self, ctx: Ctx, module: str, coins: Coins) -> None:
        maddr = self._need(ctx, module, "burner")
        self._sub(ctx, maddr, coins)
        for denom, amount in coins:
            state.set_supply(ctx, denom, state.supply(ctx, denom) - amount)
        ctx.emit(events.burn(maddr, coins))

    def adjust_balance(self, ctx: Ctx, addr: bytes, denom: str, amount: int) -> None:
        """Set a balance outside the send, mint and burn paths and move the supply
        by the difference, so that the supply stays the sum of all balances.

        For the EVM (modules/evm), whose value moves, gas purchases, refunds and
        tips balance out except for the burned base fee. No events: the EVM
        reports its own."""
        if not 0 <= amount <= MAX_AMOUNT:
            raise ErrSupplyOverflow(f"balance of {denom} must be in [0, 2^256-1], got {amount}")
        slots = state.BalanceSlots(ctx)
        key, have = slots.get(addr, denom)
        if have == amount:
            return
        s = state.supply(ctx, denom) + amount - have
        if s > MAX_AMOUNT:
            raise ErrSupplyOverflow(f"supply of {denom} would pass 2^256-1")
        slots.put(key, amount)
        state.set_supply(ctx, denom, s)

    def set_genesis_balance(self, ctx: Ctx, addr: bytes, coins: Coins) -> None:
        for denom, amount in coins:
            state.set_balance(ctx, addr, denom, amount)

    def set_genesis_supply(self, ctx: Ctx, denom: str, amount: int) -> None:
        state.set_supply(ctx, denom, amount)
