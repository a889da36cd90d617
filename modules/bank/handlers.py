"""Handlers of the bank module: validate → state → event."""

from __future__ import annotations

from functools import partial

from chain.context import Ctx
from chain.module import Handler
from modules.bank import state
from modules.bank.errors import ErrSendDisabled
from modules.bank.keeper import BankKeeper
from modules.bank.msgs import Send


def handle_send(keeper: BankKeeper, ctx: Ctx, msg: Send) -> None:
    if not state.get_params(ctx).send_enabled:
        raise ErrSendDisabled("transfers are disabled by the bank params")
    keeper.send(ctx, msg.sender, msg.recipient, msg.coins)


def make_send(keeper: BankKeeper) -> Handler[Send]:
    return partial(handle_send, keeper)
