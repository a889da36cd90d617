"""Ethereum txs against a real node process, for the end-to-end tests.

* ``EthUser(client, key)``: an eth_account key on a running ``vcoind``: funded by a
  Cosmos bank send to its 0x address, EIP-1559 txs signed locally (chain id
  ``DEFAULT_CHAIN_ID``, the nonce from the ``evm`` ``account`` query, the max fee from the
  ``base_fee`` query) and broadcast as raw bytes through ``broadcast_tx_sync`` (wrapped in
  a ``MsgEthereumTx`` envelope, or bare); eth_call reads through the ``evm`` ``call``
  query.
* ``snapshot(client, queries)``: app queries answered at one and the same height (the
  node answers only its latest one, so a block in between means asking again).
* ``fees_paid(client, who, first, last)``: the Cosmos tx fees ``who`` paid in blocks
  ``first``..``last`` (failed txs pay too); ``eth_logs(resp)``: a tx's EVM logs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.abi import get_abi_output_types
from web3 import Web3
from web3.contract import Contract

from chain.client import NodeClient, QueryFailed, TxResponse
from chain.coins import DENOM
from chain.crypto import to_bech32
from genesis.devnet import dev_key
from modules.evm.params import DEFAULT_CHAIN_ID
from modules.evm.txs import wrap
from tests.support.chain import msg_send
from tests.support.evm import addr20

TIP = 10**8  # 0.1 gwei
W3 = Web3()
LATEST_ONLY = "only the latest height"


class EthUser:
    """An Ethereum key acting on a running node through its RPC."""

    def __init__(self, client: NodeClient, key: LocalAccount) -> None:
        self.client = client
        self.key = key
        self.address = key.address  # EIP-55
        self.bech32 = to_bech32(addr20(key))

    def fund(self, amount: int, frm: str = "alice") -> None:
        """A Cosmos bank send from dev key ``frm`` to this key's address."""
        src = dev_key(frm)
        self.client.send_tx(src, [msg_send(src, self.bech32, amount)], gas="auto")

    def nonce(self) -> int:
        return int(self.client.query("evm", "account", {"address": self.address})["nonce"])

    def send(
        self, to: str, data: bytes, *, gas: int = 1_000_000, wrapped: bool = True
    ) -> TxResponse:
        """Sign an EIP-1559 call, broadcast it (sync) and wait for its block."""
        base_fee = int(self.client.query("evm", "base_fee")["base_fee"])
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": DEFAULT_CHAIN_ID,
            "nonce": self.nonce(),
            "to": Web3.to_checksum_address(to),
            "data": "0x" + data.hex(),
            "value": 0,
            "gas": gas,
            "maxFeePerGas": 2 * base_fee + TIP,
            "maxPriorityFeePerGas": TIP,
        }
        eth_raw = bytes(self.key.sign_transaction(tx).raw_transaction)
        raw = wrap(eth_raw) if wrapped else eth_raw
        check = self.client.broadcast_tx_sync(raw)
        assert int(check.get("code") or 0) == 0, check
        return self.client.wait_tx(str(check["hash"]), timeout=60)

    def call(self, to: str, data: bytes) -> bytes:
        req = {"to": to, "data": "0x" + data.hex(), "from": self.address}
        out = self.client.query("evm", "call", req)
        assert out["success"], out
        return bytes.fromhex(out["output"][2:])

    def read(self, c: Contract, fn: str, *args: Any) -> Any:
        """``fn(*args)`` of contract ``c`` by eth_call: its single result, or the tuple."""
        out = self.call(c.address, bytes.fromhex(c.encode_abi(fn, list(args))[2:]))
        types = get_abi_output_types(c.get_function_by_name(fn).abi)
        res = W3.codec.decode(types, out)
        return res[0] if len(res) == 1 else res


def snapshot(
    client: NodeClient, queries: dict[str, tuple[str, str, dict[str, Any]]], tries: int = 50
) -> tuple[int, dict[str, Any]]:
    """``{name: (module, query, request)}`` all answered at one height: (height, answers)."""
    for _ in range(tries):
        height = client.latest_height()
        out: dict[str, Any] = {}
        for name, (module, query, req) in queries.items():
            data = json.dumps(req, sort_keys=True).encode()
            r = client.abci_query(f"/custom/{module}/{query}", data, height=height)
            if r.code != 0:
                if LATEST_ONLY in r.log:
                    break  # a block came in between: ask again
                raise QueryFailed(r.codespace, r.code, r.log)
            out[name] = json.loads(r.value)
        else:
            return height, out
        time.sleep(0.05)
    raise AssertionError(f"no {tries} tries answered {sorted(queries)} at one height")


def balance_query(address: str) -> tuple[str, str, dict[str, Any]]:
    return ("bank", "balance", {"address": address, "denom": DENOM})


def amount_of(answer: dict[str, Any]) -> int:
    """avcn of a ``balance`` or ``total_supply`` answer."""
    if "balance" in answer:
        return int(answer["balance"]["amount"])
    return sum(int(c["amount"]) for c in answer["supply"] if c["denom"] == DENOM)


def coin(text: str) -> int:
    """avcn of a coins text ("5avcn"; "" is none)."""
    return sum(int(c.removesuffix(DENOM)) for c in text.split(",") if c.endswith(DENOM))


def fees_paid(client: NodeClient, who: str, first: int, last: int) -> int:
    """Fees ``who`` paid for Cosmos txs in blocks ``first``..``last``, failed ones too."""
    total = 0
    for h in range(first, last + 1):
        for t in client.block_results(h).get("txs_results") or []:
            for e in t.get("events") or []:
                a = {x["key"]: x["value"] for x in e.get("attributes") or []}
                if e["type"] == "tx" and a.get("fee_payer") == who:
                    total += coin(a["fee"])
    return total


def eth_logs(resp: TxResponse) -> list[dict[str, str]]:
    """The ``tx_log`` events (EVM logs) of a tx result, as attribute maps."""
    return [
        {str(x["key"]): str(x.get("value", "")) for x in e.get("attributes") or []}
        for e in resp.events
        if e.get("type") == "tx_log"
    ]
