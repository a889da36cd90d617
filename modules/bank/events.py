"""Events of the bank module (Cosmos SDK names, so explorers read them)."""

from chain.coins import Coins, fmt
from chain.crypto import to_bech32
from chain.events import Event

COIN_SPENT = "coin_spent"
COIN_RECEIVED = "coin_received"
TRANSFER = "transfer"
COINBASE = "coinbase"
BURN = "burn"


def coin_spent(spender: bytes, coins: Coins) -> Event:
    return Event.of(COIN_SPENT, spender=to_bech32(spender), amount=fmt(coins))


def coin_received(receiver: bytes, coins: Coins) -> Event:
    return Event.of(COIN_RECEIVED, receiver=to_bech32(receiver), amount=fmt(coins))


def transfer(sender: bytes, recipient: bytes, coins: Coins) -> Event:
    return Event.of(
        TRANSFER, recipient=to_bech32(recipient), sender=to_bech32(sender), amount=fmt(coins)
    )


def coinbase(minter: bytes, coins: Coins) -> Event:
    return Event.of(COINBASE, minter=to_bech32(minter), amount=fmt(coins))


def burn(burner: bytes, coins: Coins) -> Event:
    return Event.of(BURN, burner=to_bech32(burner), amount=fmt(coins))
