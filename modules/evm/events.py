"""Events of the evm module: what an Ethereum receipt shows, as chain events.

* ``ethereum_tx``: one per Ethereum tx that ran (hash, from, to, contract,
  nonce, type, value, gas, fee split, status);
* ``tx_log``: one per EVM log of a successful tx, in order (address, topics as
  comma-joined 32-byte words, data, index);
* plus the usual ``message`` event, so ``tx_search`` by sender finds it.
"""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

ETHEREUM_TX = "ethereum_tx"
TX_LOG = "tx_log"


def message(url: str, sender: bytes) -> Event:
    return Event("message", (("action", url), ("sender", to_bech32(sender)), ("module", "evm")))


def ethereum_tx(attrs: list[tuple[str, str]]) -> Event:
    return Event(ETHEREUM_TX, tuple(attrs))


def tx_log(address: bytes, topics: list[int], data: bytes, index: int) -> Event:
    return Event(
        TX_LOG,
        (
            ("address", "0x" + address.hex()),
            ("topics", ",".join("0x" + t.to_bytes(32, "big").hex() for t in topics)),
            ("data", "0x" + data.hex()),
            ("index", str(index)),
        ),
    )
