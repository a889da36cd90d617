"""Events of the drip module: type names and constructors."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

POOL_FUNDED = "DripPoolFunded"
DRIPPED = "Dripped"


def pool_funded(depositor: bytes, amount: int, pool_balance: int) -> Event:
    return Event.of(
        POOL_FUNDED, depositor=to_bech32(depositor), amount=amount, pool_balance=pool_balance
    )


def dripped(recipient: bytes, amount: int) -> Event:
    return Event.of(DRIPPED, recipient=to_bech32(recipient), amount=amount)
