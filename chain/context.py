"""The execution context handed to every handler: state, block, gas, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from chain.events import Event
from chain.gas import GasMeter
from chain.kv import KV, GasKV, MultiStore


class Mode(Enum):
    GENESIS = "genesis"
    CHECK = "check"
    RECHECK = "recheck"
    SIMULATE = "simulate"
    DELIVER = "deliver"
    BLOCK = "block"  # begin/end block hooks
    QUERY = "query"


@dataclass(frozen=True)
class BlockInfo:
    """What the block header gives execution: the only source of time and randomness."""

    chain_id: str
    height: int
    time_ns: int
    hash: bytes = b""
    proposer: bytes = b""

    @property
    def time_s(self) -> int:
        return self.time_ns // 1_000_000_000


@dataclass
class Ctx:
    store: MultiStore
    block: BlockInfo
    mode: Mode
    gas: GasMeter | None = None
    events: list[Event] = field(default_factory=list)

    def kv(self, module: str) -> KV:
        s = self.store.module(module)
        return s if self.gas is None else GasKV(s, self.gas)

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def branch(self) -> Ctx:
        """A child context whose writes and events land only if ``commit_into`` is called."""
        return Ctx(self.store.branch(), self.block, self.mode, self.gas, [])

    def write(self) -> None:
        """Write this branch's store into its parent; its events stay with the caller."""
        self.store.write()

    def commit_into(self, parent: Ctx) -> None:
        self.store.write()
        parent.events.extend(self.events)

    @property
    def is_check(self) -> bool:
        return self.mode in (Mode.CHECK, Mode.RECHECK, Mode.SIMULATE)
