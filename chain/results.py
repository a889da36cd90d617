"""Plain results of the ABCI methods; ``abci/`` and the RPC translate them."""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.errors import ChainError
from chain.events import Event
from chain.valset import ValidatorUpdate

# a refusal quotes what it refuses, and a tx may carry 128 KiB of it; results
# are kept and served for every block, so their logs are cut to this
MAX_LOG_CHARS = 2_048


def short_log(text: str) -> str:
    return text if len(text) <= MAX_LOG_CHARS else text[: MAX_LOG_CHARS - 1] + "…"


@dataclass(frozen=True)
class TxResult:
    code: int = 0
    codespace: str = ""
    log: str = ""
    data: bytes = b""
    gas_wanted: int = 0
    gas_used: int = 0
    events: tuple[Event, ...] = ()
    sender: bytes = b""
    sequence: int = 0

    @property
    def ok(self) -> bool:
        return self.code == 0

    @classmethod
    def fail(
        cls, e: ChainError, gas_wanted: int = 0, gas_used: int = 0, events: tuple[Event, ...] = ()
    ) -> TxResult:
        return cls(
            code=e.code,
            codespace=e.codespace,
            log=short_log(e.log()),
            gas_wanted=gas_wanted,
            gas_used=gas_used,
            events=events,
        )


@dataclass(frozen=True)
class BlockResult:
    height: int
    tx_results: tuple[TxResult, ...]
    events: tuple[Event, ...]
    app_hash: bytes
    # the validator set's changes, sorted by public key (CometBFT only)
    validator_updates: tuple[ValidatorUpdate, ...] = ()


@dataclass(frozen=True)
class InfoResult:
    last_block_height: int
    last_block_app_hash: bytes
    version: str
    app_version: int = 1


@dataclass(frozen=True)
class QueryResult:
    code: int = 0
    codespace: str = ""
    log: str = ""
    key: bytes = b""
    value: bytes = b""
    height: int = 0
    proof: dict[str, object] | None = None


@dataclass
class PendingBlock:
    """What FinalizeBlock staged for Commit to persist."""

    height: int
    app_hash: bytes
    changes: dict[str, dict[bytes, bytes | None]] = field(default_factory=dict)
    node_writes: dict[str, dict[bytes, bytes | None]] = field(default_factory=dict)
    roots: dict[str, bytes] = field(default_factory=dict)
    block_time_ns: int = 0
