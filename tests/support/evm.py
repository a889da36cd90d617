"""EVM txs on an App driven block by block (tests/support/chain.py's Chain).

* ``Evm(chain)``: eth_account keys funded by Cosmos sends to their 0x address,
  signed EIP-1559 txs with nonces counted locally (restarting from state at
  every block), deploys of ``contracts/build`` artifacts, eth_call reads.
* ``eth_key(i)``: deterministic Ethereum keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.abi import get_abi_output_types
from web3 import Web3
from web3.contract import Contract

from chain.crypto import to_bech32
from chain.results import BlockResult, TxResult
from modules.evm import state as evm_state
from modules.evm.params import DEFAULT_CHAIN_ID
from tests.support.chain import ALICE, Chain

ARTIFACTS = Path(__file__).resolve().parents[2] / "contracts" / "build"
VCOIN = Web3.to_checksum_address("0x0000000000000000000000000000000000000c01")
JOBMARKET = Web3.to_checksum_address("0x0000000000000000000000000000000000000c02")
TIP = 10**8  # 0.1 gwei
W3 = Web3()


def eth_key(i: int) -> LocalAccount:
    return Account.from_key((0xE7 << 248) + i + 1)


def addr20(a: str | LocalAccount) -> bytes:
    text = a if isinstance(a, str) else a.address
    return bytes.fromhex(text[2:])


def artifact(name: str) -> dict[str, Any]:
    d: dict[str, Any] = json.loads((ARTIFACTS / f"{name}.json").read_text())
    return d


def contract(name: str, address: str | None = None) -> Contract:
    a = artifact(name)
    if address is None:
        return W3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])  # type: ignore[return-value]
    return W3.eth.contract(address=Web3.to_checksum_address(address), abi=a["abi"])


class StatelessStandIn:
    """The state a py-evm computation is made over, for tests of opcodes that never
    read it (stack, memory and code only): it answers the constructor only."""

    coinbase = b"\x00" * 20

    def mark_address_warm(self, address: bytes) -> None:
        pass

    def is_address_warm(self, address: bytes) -> bool:
        return False


class Evm:
    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.app = chain.app
        self._nonce: dict[str, int] = {}

    # -- reads --------------------------------------------------------------------
    def balance(self, who: str | LocalAccount | bytes) -> int:
        a = who if isinstance(who, bytes) else addr20(who)
        return self.chain.balance(a)

    def nonce(self, who: LocalAccount) -> int:
        return self.chain.sequence(addr20(who))

    def base_fee(self) -> int:
        return evm_state.base_fee(self.app.query_ctx())

    def call(self, to: str, data: bytes | str, frm: str | None = None) -> dict[str, Any]:
        d = data if isinstance(data, str) else "0x" + data.hex()
        req = {"to": to, "data": d, "from": frm or "0x" + "00" * 20}
        out: dict[str, Any] = self.app.custom_query("evm", "call", req)
        return out

    def read(self, c: Contract, fn: str, *args: Any) -> Any:
        """``fn(*args)`` of contract ``c`` by eth_call: its single result, or the tuple."""
        out = self.call(c.address, c.encode_abi(fn, list(args)))
        assert out["success"], out
        types = get_abi_output_types(c.get_function_by_name(fn).abi)
        res = W3.codec.decode(types, bytes.fromhex(out["output"][2:]))
        return res[0] if len(res) == 1 else res

    # -- txs ----------------------------------------------------------------------
    def fund(self, *keys: LocalAccount, amount: int) -> None:
        """A Cosmos bank send from ALICE to each key's 0x address, in one block."""
        txs = [self.chain.send(ALICE, to_bech32(addr20(k)), amount) for k in keys]
        for r in self.chain.block(txs).tx_results:
            assert r.code == 0, r.log

    def tx(
        self,
        key: LocalAccount,
        to: str | None = None,
        data: bytes | str = b"",
        value: int = 0,
        gas: int = 300_000,
        **fields: Any,
    ) -> bytes:
        """A signed EIP-1559 tx (fields override: nonce, maxFeePerGas, chainId, type …)."""
        nonce = self._nonce.get(key.address, self.nonce(key))
        t: dict[str, Any] = {
            "nonce": nonce,
            "chainId": DEFAULT_CHAIN_ID,
            "gas": gas,
            "value": value,
            "data": data,
            "maxFeePerGas": 2 * self.base_fee() + TIP,
            "maxPriorityFeePerGas": TIP,
            "type": 2,
        }
        if to is not None:
            t["to"] = Web3.to_checksum_address(to)
        t.update(fields)
        if t.get("type") in (0, 1):
            t.pop("maxFeePerGas"), t.pop("maxPriorityFeePerGas")
            t.setdefault("gasPrice", 2 * self.base_fee())
            if t["type"] == 0:
                t.pop("type")
        self._nonce[key.address] = int(t["nonce"]) + 1
        return bytes(key.sign_transaction(t).raw_transaction)

    def invoke(self, key: LocalAccount, c: Contract, fn: str, *args: Any, **kw: Any) -> bytes:
        return self.tx(key, c.address, c.encode_abi(fn, list(args)), **kw)

    def block(self, txs: list[bytes]) -> BlockResult:
        self._nonce.clear()
        return self.chain.block(txs)

    def one(self, raw: bytes) -> TxResult:
        return self.block([raw]).tx_results[0]

    def deploy(self, key: LocalAccount, name: str, *args: Any, gas: int = 3_000_000) -> str:
        c = contract(name)
        data = c.constructor(*args).data_in_transaction
        r = self.one(self.tx(key, None, data, gas=gas))
        assert r.code == 0, r.log
        return eth_event(r, "ethereum_tx")["contract"]


def eth_event(r: TxResult, type_: str) -> dict[str, str]:
    evs = [dict(e.attributes) for e in r.events if e.type == type_]
    assert evs, f"no {type_} event in {[e.type for e in r.events]}"
    return evs[0]


def logs(r: TxResult) -> list[dict[str, str]]:
    return [dict(e.attributes) for e in r.events if e.type == "tx_log"]
