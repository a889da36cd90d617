"""Node configuration: defaults < $VCOIN_HOME/config/config.toml < VCOIN_* env < flags.

Every setting has one name used in all four places: the TOML key
``block_time_ms``, the env var ``VCOIN_BLOCK_TIME_MS``, the override key
``block_time_ms`` (the CLI maps ``--block-time`` to it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain import settings


def default_home() -> Path:
    return Path(os.environ.get("VCOIN_HOME", str(Path.home() / ".vcoin")))


@dataclass(frozen=True)
class NodeConfig:
    home: str = ""
    # consensus
    consensus: str = "solo"  # solo | cometbft
    comet_rpc: str = "http://127.0.0.1:26657"
    block_time_ms: int = 1000
    instant: bool = False  # propose a block as soon as txs arrive
    create_empty_blocks: bool = True
    # network
    rpc_laddr: str = "127.0.0.1:26657"
    rest_laddr: str = "127.0.0.1:1317"
    abci_laddr: str = "127.0.0.1:26658"
    jsonrpc_laddr: str = "127.0.0.1:8545"  # "": no Ethereum JSON-RPC
    jsonrpc_ws_laddr: str = "127.0.0.1:8546"  # "": no Ethereum JSON-RPC websocket
    # what one client may send and be sent (chain/rpc/limits.py)
    rpc_max_body_bytes: int = 1_000_000  # CometBFT's max_body_bytes
    rpc_max_batch_requests: int = 100
    rpc_max_response_bytes: int = 32 * 1024 * 1024
    rpc_ws_max_message_bytes: int = 1_000_000
    rpc_max_subscriptions_per_client: int = 5  # CometBFT's default
    rpc_max_subscription_clients: int = 100  # CometBFT's default
    rest_max_body_bytes: int = 2 * 1024 * 1024
    # the Ethereum JSON-RPC (app/ethrpc/)
    jsonrpc_max_body_bytes: int = 5 * 1024 * 1024  # geth's
    jsonrpc_max_batch_requests: int = 100
    jsonrpc_logs_max_blocks: int = 10_000
    jsonrpc_logs_max_results: int = 10_000
    jsonrpc_max_response_bytes: int = 32 * 1024 * 1024
    jsonrpc_call_gas_cap: int = 10_000_000  # geth's rpc.gascap
    jsonrpc_call_cache: int = 4096  # eth_call answers kept for the latest block (0: none)
    jsonrpc_trace_blocks: int = 10_000  # blocks whose call traces are kept (0: none)
    jsonrpc_ws_max_subscriptions: int = 100  # eth_subscribe subscriptions per connection
    # mempool
    mempool_max_txs: int = 10_000
    mempool_max_bytes: int = 64 * 1024 * 1024
    max_block_txs: int = 5_000
    # execution
    sig_verify_workers: int = 1
    # artifacts
    artifact_max_bytes: int = 512 * 1024 * 1024
    artifact_quota_bytes: int = 2 * 1024 * 1024 * 1024  # per uploading account
    artifact_retention_s: int = 7 * 24 * 3600  # unreferenced blobs younger than this stay
    artifact_gc_interval_s: int = 3600  # 0: no background collection
    # state sync (chain/snapshots.py) and block retention
    snapshot_interval: int = 0  # 0: take no snapshots (solo); a CometBFT network sets e.g. 10
    snapshot_keep_recent: int = 2
    min_retain_blocks: int = 0  # 0: CometBFT keeps every block
    # logging
    log_level: str = "info"
    log_format: str = "json"  # json | text

    @property
    def home_path(self) -> Path:
        return Path(self.home) if self.home else default_home()

    @property
    def genesis_file(self) -> Path:
        return self.home_path / "config" / "genesis.json"

    @property
    def config_file(self) -> Path:
        return self.home_path / "config" / "config.toml"

    @property
    def state_db(self) -> Path:
        return self.home_path / "data" / "state"

    @property
    def block_db(self) -> Path:
        return self.home_path / "data" / "blocks"

    @property
    def artifact_dir(self) -> Path:
        return self.home_path / "data" / "artifacts"

    @property
    def snapshot_dir(self) -> Path:
        return self.home_path / "data" / "snapshots"

    def validate(self) -> None:
        if self.block_time_ms < 10:
            raise ValueError("block_time_ms must be at least 10")
        if not 0 <= self.sig_verify_workers <= 16:
            raise ValueError("sig_verify_workers must be between 0 and 16")
        for name in (
            "snapshot_interval",
            "snapshot_keep_recent",
            "min_retain_blocks",
            "artifact_retention_s",
            "artifact_gc_interval_s",
            "jsonrpc_call_cache",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be at least 0")
        for name in _POSITIVE:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.consensus not in ("solo", "cometbft"):
            raise ValueError(f"consensus must be solo or cometbft, not {self.consensus!r}")
        if not self.comet_rpc.startswith(("http://", "https://")):
            raise ValueError("comet_rpc must be an http:// URL, e.g. http://127.0.0.1:26657")
        if self.log_format not in ("json", "text"):
            raise ValueError("log_format must be json or text")
        for name in ("rpc_laddr", "rest_laddr", "abci_laddr", "jsonrpc_laddr", "jsonrpc_ws_laddr"):
            laddr = getattr(self, name)
            if name in ("jsonrpc_laddr", "jsonrpc_ws_laddr") and laddr == "":
                continue  # off
            host, _, port = laddr.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{name} must look like 127.0.0.1:26657")


_POSITIVE = (
    "rpc_max_body_bytes",
    "rpc_max_batch_requests",
    "rpc_max_response_bytes",
    "rpc_ws_max_message_bytes",
    "rpc_max_subscriptions_per_client",
    "rpc_max_subscription_clients",
    "rest_max_body_bytes",
    "jsonrpc_max_body_bytes",
    "jsonrpc_max_batch_requests",
    "jsonrpc_logs_max_blocks",
    "jsonrpc_logs_max_results",
    "jsonrpc_max_response_bytes",
    "jsonrpc_call_gas_cap",
    "jsonrpc_ws_max_subscriptions",
    "artifact_quota_bytes",
)


def load_config(
    home: Path | str | None = None, overrides: dict[str, Any] | None = None
) -> NodeConfig:
    """Defaults, then the home's config.toml, then VCOIN_* env vars, then ``overrides``."""
    cfg = NodeConfig(home=str(home or default_home()))
    return settings.load_layers(cfg, cfg.config_file, "VCOIN_", overrides)


_DOC = {
    "consensus": (
        "solo: this node makes every block itself (one validator); cometbft: serve ABCI"
        " on abci_laddr to a CometBFT node, which runs consensus and the node RPC."
    ),
    "comet_rpc": "The CometBFT node's RPC, where REST broadcasts go (consensus = cometbft).",
    "block_time_ms": "Milliseconds between blocks (solo driver).",
    "instant": "Propose a block as soon as transactions arrive (tests, demos).",
    "create_empty_blocks": "Produce blocks on the block timer even without transactions.",
    "rpc_laddr": "Node RPC (CometBFT subset + websocket) listen address (solo mode).",
    "rest_laddr": "Cosmos REST API and artifact store listen address.",
    "abci_laddr": "ABCI socket that a CometBFT node connects to (consensus = cometbft).",
    "jsonrpc_laddr": (
        "Ethereum JSON-RPC (eth_*, net_*, web3_*) listen address, in both consensus"
        ' modes; "" serves none.'
    ),
    "jsonrpc_ws_laddr": (
        "Ethereum JSON-RPC websocket (every jsonrpc method, eth_subscribe) listen address,"
        ' in both consensus modes; "" serves none.'
    ),
    "rpc_max_body_bytes": "Largest RPC request body, in bytes; a larger one is answered 413.",
    "rpc_max_batch_requests": "Most calls in one JSON-RPC batch.",
    "rpc_max_response_bytes": (
        "Largest RPC answer, in bytes; calls of a batch past it get an error instead."
    ),
    "rpc_ws_max_message_bytes": "Largest websocket message a client may send, in bytes.",
    "rpc_max_subscriptions_per_client": "Most event subscriptions on one websocket.",
    "rpc_max_subscription_clients": "Most websockets holding subscriptions at once.",
    "rest_max_body_bytes": (
        "Largest REST request body, in bytes (artifact uploads have artifact_max_bytes)."
    ),
    "jsonrpc_max_body_bytes": (
        "Largest Ethereum JSON-RPC request body, in bytes; a larger one is answered 413."
    ),
    "jsonrpc_max_batch_requests": "Most calls in one Ethereum JSON-RPC batch.",
    "jsonrpc_logs_max_blocks": "Widest block range one eth_getLogs may scan.",
    "jsonrpc_logs_max_results": "Most logs one eth_getLogs may return.",
    "jsonrpc_max_response_bytes": (
        "Largest Ethereum JSON-RPC answer, in bytes; calls of a batch past it get an error."
    ),
    "jsonrpc_call_gas_cap": (
        "Most gas one eth_call or eth_estimateGas may run (blocks wait while it runs)."
    ),
    "jsonrpc_call_cache": (
        "Most eth_call answers kept for the latest block, forgotten when the next commits"
        " (a repeated read answers from memory; 0: none)."
    ),
    "jsonrpc_ws_max_subscriptions": (
        "Most eth_subscribe subscriptions on one Ethereum JSON-RPC websocket."
    ),
    "jsonrpc_trace_blocks": (
        "Blocks whose Ethereum call traces (debug_trace*, ots_*) the node keeps, in"
        " data/evm_traces, recorded as blocks run (0: none)."
    ),
    "mempool_max_txs": "Most transactions the mempool holds; more are refused.",
    "mempool_max_bytes": "Most bytes the mempool holds; more are refused.",
    "max_block_txs": "Most transactions in one block.",
    "sig_verify_workers": (
        "Helper processes that check a block's signatures while it executes"
        " (blocks of 64 txs or more; 0: all on the node's own process)."
    ),
    "artifact_max_bytes": "Largest artifact the store accepts, in bytes.",
    "artifact_quota_bytes": (
        "Bytes of artifacts one account may keep in the store (its first uploads of each"
        " blob; a re-upload of a stored blob costs nothing); past it uploads get 413."
    ),
    "artifact_retention_s": (
        "Seconds an artifact that no job, model or training round refers to is kept"
        " after its upload before garbage collection deletes it."
    ),
    "artifact_gc_interval_s": "Seconds between artifact garbage collections (0: none).",
    "snapshot_interval": (
        "Write a state-sync snapshot of the state every this many blocks, under"
        " data/snapshots (0: none; a node that takes none can still restore one)."
    ),
    "snapshot_keep_recent": "How many snapshots to keep (0: all).",
    "min_retain_blocks": (
        "Blocks CometBFT must keep below the latest (Commit's retain_height; 0: keep all);"
        " never those of a snapshot still kept."
    ),
    "log_level": "debug | info | warning | error",
    "log_format": "json (one object per line) | text",
}


def render_toml(cfg: NodeConfig | None = None) -> str:
    header = [
        "# VCoin node configuration. Each key can also be set by the env var",
        "# VCOIN_<KEY> (e.g. VCOIN_BLOCK_TIME_MS) or a command-line flag,",
        "# which win over this file.",
    ]
    return settings.render_toml(cfg or NodeConfig(), header, _DOC)


def write_default_config(home: Path | str) -> Path:
    path = Path(home) / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_toml())
    return path
