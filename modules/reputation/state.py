"""The only code that touches the reputation store: params and each address's record.

Scores are computed from the records in ``keeper.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.reputation import keys
from modules.reputation.keys import NAME
from modules.reputation.params import MAX_WINDOW_SLOTS, Params

_MASK_BYTES = (MAX_WINDOW_SLOTS + 1 + 7) // 8


@dataclass(frozen=True)
class Record:
    """What the store keeps per address. Bit i of ``mask`` is slot ``last_slot - i``."""

    successes: int = 0
    total: int = 0
    penalties_bps: int = 0
    since_slot: int = 0
    last_slot: int = 0
    mask: int = 0

    def encode(self) -> bytes:
        head = (self.successes, self.total, self.penalties_bps, self.since_slot, self.last_slot)
        return b"".join(n.to_bytes(8, "big") for n in head) + self.mask.to_bytes(_MASK_BYTES, "big")

    @classmethod
    def decode(cls, raw: bytes) -> Record:
        n = [int.from_bytes(raw[i * 8 : i * 8 + 8], "big") for i in range(5)]
        return cls(n[0], n[1], n[2], n[3], n[4], int.from_bytes(raw[40:], "big"))

    def shifted(self, slot: int, window: int) -> Record:
        """The record with its heartbeat mask moved to ``slot`` (bits past the window dropped).

        A slot before ``last_slot`` only happens after the interval param grew;
        the mask is then kept as it is rather than shifted backwards.
        """
        mask = (self.mask << max(0, slot - self.last_slot)) & ((1 << (window + 1)) - 1)
        return replace(self, last_slot=slot, since_slot=min(self.since_slot, slot), mask=mask)


# -- params and records -----------------------------------------------------------
PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


def get_record(ctx: Ctx, addr: bytes) -> Record | None:
    raw = ctx.kv(NAME).get(keys.stats(addr))
    return None if raw is None else Record.decode(raw)


def set_record(ctx: Ctx, addr: bytes, r: Record) -> None:
    ctx.kv(NAME).set(keys.stats(addr), r.encode())


def iterate_records(ctx: Ctx) -> Iterator[tuple[bytes, Record]]:
    p = keys.STATS_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[len(p) :], Record.decode(v)
