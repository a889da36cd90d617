"""The devnet genesis: chain id, platform authority, funded dev accounts, models and params.

Dev keys derive from public seeds ("alice", "worker1", …): anyone can
recompute them, so they are for local networks only, never real funds.

The jobs registry holds the two models the devnet runs (``DEVNET_MODELS``):
``tiny-lm`` (``python -m worker.models build tiny-lm``, seed 0) and
``all-minilm-l6-v2`` (``python -m worker.models build minilm``). Their hashes are
written here rather than computed, so reading the genesis needs no torch;
``tests/genesis/test_devnet.py`` rebuilds both and checks the hashes. The
artifact store must hold their blobs before a worker can run them:
``scripts/devnet`` publishes them on its first run.

``DEVNET_PARAMS`` shorten the protocol's windows (counted in blocks) so that
at 1 s blocks a job settles within seconds of its result, a jail or an
unbonding ends within minutes, and the mint pays every minute. Everything
else keeps the design's defaults.
"""

from __future__ import annotations

from typing import Any

from chain.coins import DECIMALS, DENOM
from chain.crypto import PrivateKey

CHAIN_ID = "vcoin-devnet-1"
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

# The jobs-module registry entries (worker.models.artifact.registry_entry) of the
# devnet's models. weights_sha256 is the sha256 of the model's manifest in the
# artifact store; config_sha256 that of its config.json.
DEVNET_MODELS: tuple[dict[str, Any], ...] = (
    {
        "id": "all-minilm-l6-v2",
        "task_types": ["embedding"],
        "weights_sha256": "5cb010cd3813f90d1b402269537dbf4d188c8bdb35e8a3ad48d9d3032fc1f1a7",
        "config_sha256": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        "min_gpu_memory_mib": 0,
        "registered_height": 0,
        "description": "all-MiniLM-L6-v2 (sentence embeddings, 384 dims)",
    },
    {
        "id": "tiny-lm",
        "task_types": ["text-generation", "lora-train"],
        "weights_sha256": "e92dced5cb0c3cee117121d3297dae4065285020a8ddee767160b74a72d8ad8f",
        "config_sha256": "1d6326e0fed1bd643e88de0949858fbc0f7caa4184204eb204e5a8ca7a14231a",
        "min_gpu_memory_mib": 0,
        "registered_height": 0,
        "description": "tiny-lm-s0 (a 2-layer LLaMA-shaped test model, seed 0)",
    },
)
# Which `python -m worker.models build` name (and seed) makes each devnet model.
DEVNET_MODEL_BUILDS = {"tiny-lm": ("tiny-lm", 0), "all-minilm-l6-v2": ("minilm", 0)}

# Module params for a one-machine network at 1 s blocks (windows are in blocks).
DEVNET_PARAMS: dict[str, dict[str, Any]] = {
    "jobs": {
        "default_claim_blocks": 300,  # unclaimed for 5 minutes: expired and refunded
        "default_result_blocks": 120,  # a claimed job's result is due within 2 minutes
        "model_registration_fee": 10 * 10**18,  # 10 VCN to register your own model
    },
    "verification": {
        "challenge_window_blocks": 3,  # an unpicked result settles 3 blocks after it lands
        "attest_window_blocks": 60,  # a picked one waits up to a minute for the oracles
        "canary_ttl_blocks": 600,
    },
    "staking": {"unbonding_blocks": "600", "jail_blocks": "60"},
    "reputation": {"heartbeat_interval_blocks": "10"},
    "mint": {"epoch_blocks": "60"},
}


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
    devnet_params: bool = True,
) -> dict[str, Any]:
    """A CometBFT-shaped genesis document with VCoin's app state: the dev accounts
    funded, the devnet models registered and, unless ``devnet_params`` is false (the
    design's default params, e.g. for measuring them), ``DEVNET_PARAMS`` set."""
    params = DEVNET_PARAMS if devnet_params else {}
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
            "jobs": {
                "params": dict(params.get("jobs", {})),
                "models": [dict(m, task_types=list(m["task_types"])) for m in DEVNET_MODELS],
            },
            **{
                module: {"params": dict(p)}
                for module, p in sorted(params.items())
                if module != "jobs"
            },
        },
    }
