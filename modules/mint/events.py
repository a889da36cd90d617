"""Events of the mint module: type names and constructors."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

MINTED = "Minted"
MINT_REWARD = "MintReward"
PLATFORM_MINTED = "PlatformMinted"


def minted(epoch: int, amount: int, units: int, workers: int, to_treasury: int) -> Event:
    return Event.of(
        MINTED,
        epoch=epoch,
        amount=amount,
        compute_units=units,
        workers=workers,
        to_treasury=to_treasury,
    )


def mint_reward(epoch: int, worker: bytes, units: int, amount: int) -> Event:
    return Event.of(
        MINT_REWARD, epoch=epoch, address=to_bech32(worker), compute_units=units, amount=amount
    )


def platform_minted(to: bytes, amount: int) -> Event:
    return Event.of(PLATFORM_MINTED, address=to_bech32(to), amount=amount)
