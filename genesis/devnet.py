"""The devnet genesis: chain id, platform authority and funded dev accounts.

Dev keys derive from public seeds ("alice", "worker1", …): anyone can
recompute them, so they are for local networks only, never real funds.
"""

from __future__ import annotations

from typing import Any

from chain.coins import DECIMALS, DENOM
from chain.crypto import PrivateKey

CHAIN_ID = "vcoin-devnet-1"
EVM_CHAIN_ID = 7777
DEV_ACCOUNTS = (
    "platform",
    "alice",
    "bob",
    "worker1",
    "worker2",
    "worker3",
    "oracle1",
    "oracle2",
    "faucet",
)
DEV_BALANCE = 1_000_000 * 10**DECIMALS  # 1M VCN each


def dev_key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(name.encode())


def consensus_params() -> dict[str, Any]:
    return {
        "block": {"max_bytes": "4194304", "max_gas": "-1"},
        "evidence": {
            "max_age_num_blocks": "100000",
            "max_age_duration": "172800000000000",
            "max_bytes": "1048576",
        },
        "validator": {"pub_key_types": ["ed25519"]},
        "version": {"app": "1"},
    }


def genesis_doc(
    chain_id: str = CHAIN_ID,
    accounts: tuple[str, ...] = DEV_ACCOUNTS,
    balance: int = DEV_BALANCE,
    genesis_time: str = "2026-01-01T00:00:00Z",
    extra_balances: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A CometBFT-shaped genesis document with VCoin's app state."""
    balances: list[dict[str, Any]] = [
        {"address": dev_key(n).bech32, "coins": [{"denom": DENOM, "amount": str(balance)}]}
        for n in accounts
    ]
    for addr, amount in sorted((extra_balances or {}).items()):
        balances.append({"address": addr, "coins": [{"denom": DENOM, "amount": str(amount)}]})
    balances.sort(key=lambda b: str(b["address"]))
    return {
        "genesis_time": genesis_time,
        "chain_id": chain_id,
        "initial_height": "1",
        "consensus_params": consensus_params(),
        "app_hash": "",
        "app_state": {
            "auth": {
                "params": {"authority": dev_key("platform").bech32},
                "accounts": [],
                "next_account_number": "0",
            },
            "bank": {"params": {"send_enabled": True}, "balances": balances, "supply": []},
        },
        "evm_chain_id": EVM_CHAIN_ID,
    }
