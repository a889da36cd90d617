"""One key, one account: the same secp256k1 secret signs an Ethereum tx (MetaMask's
view) and a Cosmos tx with the eth_secp256k1 key type (a Cosmos wallet's view); both
spend the same bank balance and use the same counter (EVM nonce = auth sequence)."""

from __future__ import annotations

from collections.abc import Callable

from app.app import App
from chain.crypto import ETH_SECP256K1, PrivateKey, to_bech32
from tests.support.chain import BOB, VCN, Chain, msg_send
from tests.support.evm import Evm, addr20, eth_event, eth_key

SECRET = eth_key(31)


def test_an_eth_tx_and_a_cosmos_tx_of_one_key_share_balance_and_nonce(
    make_app: Callable[..., App],
) -> None:
    chain = Chain(make_app())
    evm = Evm(chain)
    cosmos_key = PrivateKey(bytes(SECRET.key), algo=ETH_SECP256K1)
    assert cosmos_key.address == addr20(SECRET)  # the same 20 bytes
    evm.fund(SECRET, amount=10 * VCN)

    # Ethereum tx: nonce 0
    r = evm.one(evm.tx(SECRET, "0x" + BOB.address.hex(), value=VCN, gas=21_000))
    assert r.code == 0, r.log
    assert chain.sequence(cosmos_key.address) == 1
    # Cosmos tx from the same key: its sequence is the next nonce, 1
    bal = chain.balance(cosmos_key.address)
    tx = chain.sign(cosmos_key, [msg_send(cosmos_key.bech32, BOB, 7)])
    r = chain.deliver_one(tx)
    assert r.code == 0, r.log
    assert chain.sequence(cosmos_key.address) == 2
    assert chain.balance(cosmos_key.address) < bal - 7  # the amount and its fee
    # and the Ethereum side sees nonce 2 next: nonce 1 is used up
    stale = evm.tx(SECRET, "0x" + BOB.address.hex(), value=1, gas=21_000, nonce=1)
    r = evm.one(stale)
    assert (r.codespace, r.code) == ("evm", 6) and "next nonce" in r.log and "is 2" in r.log
    r = evm.one(evm.tx(SECRET, "0x" + BOB.address.hex(), value=1, gas=21_000, nonce=2))
    assert r.code == 0 and eth_event(r, "ethereum_tx")["from"] == "0x" + addr20(SECRET).hex()
    acct = evm.app.custom_query("evm", "account", {"address": to_bech32(addr20(SECRET))})
    assert acct["nonce"] == "3" and acct["address"] == "0x" + addr20(SECRET).hex()
