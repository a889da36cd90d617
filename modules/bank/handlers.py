"""Handlers of the bank module: validate → state → event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.coins import parse_coins
from chain.context import Ctx
from chain.crypto import from_bech32
from modules.bank import state
from modules.bank.errors import ErrSendDisabled
from modules.bank.keeper import BankKeeper


def make_send(keeper: BankKeeper) -> Callable[[Ctx, Any], None]:
    def handle(ctx: Ctx, msg: Any) -> None:
        if not state.get_params(ctx).send_enabled:
            raise ErrSendDisabled("transfers are disabled by the bank params")
        keeper.send(
            ctx, from_bech32(msg.from_address), from_bech32(msg.to_address), parse_coins(msg.amount)
        )

    return handle
