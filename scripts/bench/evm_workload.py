"""What ``evm_tps.py`` sends: the Ethereum keys and recipients (derived from tags, the
same in every run), signed EIP-1559 txs (:func:`eth_tx`: the OZ token's deployment and
hand-out, :func:`token_txs`; ERC-20 transfers), and :class:`Plan`, who sends what to
whom block by block; with the amounts and gas the benchmark uses and its ``say``.
``evm_app.py`` runs them through the App, ``evm_tps.py`` through eth-tester.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

REPO = Path(__file__).resolve().parents[2]
FUNDS = 10**24  # avcn per sender (1M VCN)
MAX_FEE = 10**14  # per gas: far above any base fee a run reaches
TIP = 10**9
TRANSFER_GAS = 100_000
TOKEN_SUPPLY = 10**30
AMOUNT = 10**15  # per transfer (OZ tokens, or avcn through VCoin and the bank)
TRANSFER = keccak(b"transfer(address,uint256)")[:4]
OZ_ARTIFACT = REPO / "contracts" / "build" / "OZToken.json"


def say(*a: Any, end: str = "\n") -> None:
    print(*a, end=end, flush=True)


# -- keys and txs ------------------------------------------------------------------------


def eth_key(tag: str, i: int) -> bytes:
    return keccak(b"vcoin-evm-bench-%s-%d" % (tag.encode(), i))


def eth_address(key: bytes) -> bytes:
    return bytes.fromhex(Account.from_key(key).address[2:])


def recipient(tag: str, i: int) -> bytes:
    return keccak(b"vcoin-evm-bench-to-%s-%d" % (tag.encode(), i))[:20]


def eth_tx(
    key: bytes, chain_id: int, nonce: int, to: bytes | None, data: bytes = b"", **kw: int
) -> bytes:
    """A signed EIP-1559 tx as eth_sendRawTransaction takes it; ``kw``: gas, value."""
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "gas": kw.get("gas", TRANSFER_GAS),
        "maxFeePerGas": MAX_FEE,
        "maxPriorityFeePerGas": TIP,
        "value": kw.get("value", 0),
        "data": data,
    }
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


def transfer_data(to: bytes, amount: int = AMOUNT) -> bytes:
    return TRANSFER + encode(["address", "uint256"], [to_checksum_address(to), amount])


def deploy_data() -> bytes:
    code = bytes.fromhex(json.loads(OZ_ARTIFACT.read_text())["bytecode"].removeprefix("0x"))
    return code + encode(["uint256"], [TOKEN_SUPPLY])


def contract_address(sender: bytes, nonce: int) -> bytes:
    from eth._utils.address import generate_contract_address
    from eth_typing import Address

    return bytes(generate_contract_address(Address(sender), nonce))


def deployer_key() -> bytes:
    return eth_key("deployer", 0)


def token_txs(chain_id: int, keys: Sequence[bytes]) -> tuple[bytes, list[bytes], bytes]:
    """The deployer's txs: the OZ token's deployment, then a share to each of ``keys``;
    and the token's address."""
    dk = deployer_key()
    token = contract_address(eth_address(dk), 0)
    share = TOKEN_SUPPLY // 2 // max(1, len(keys))
    return (
        eth_tx(dk, chain_id, 0, None, deploy_data(), gas=3_000_000),
        [eth_tx(dk, chain_id, 1 + i, token, transfer_data(eth_address(k), share))
         for i, k in enumerate(keys)],
        token,
    )  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Who sends what: in block b, sender i sends its nonce b to ``to[b][i]``."""

    keys: list[bytes]
    to: list[list[bytes]]

    @staticmethod
    def make(tag: str, senders: int, blocks: int, recipients: int, seed: int) -> Plan:
        rng = random.Random(seed)
        pool = [recipient("holder", i) for i in range(recipients)]
        keys = [eth_key(tag, i) for i in range(senders)]
        return Plan(keys, [[rng.choice(pool) for _ in keys] for _ in range(blocks)])

    def sign(self, chain_id: int, contract: bytes, blocks: range) -> list[list[bytes]]:
        return [
            [eth_tx(k, chain_id, b, contract, transfer_data(to))
             for k, to in zip(self.keys, self.to[b], strict=True)]
            for b in blocks
        ]  # fmt: skip
