"""The only code that touches the slashing store: its params and validators'
missed blocks (the rest of what slashing decides lives in staking and
reputation)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.slashing import keys
from modules.slashing.keys import NAME
from modules.slashing.params import Params

PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


@dataclass(frozen=True)
class MissedBlocks:
    """A validator's last ``len(bitmap) * 8`` blocks (at most the window): bit
    ``i`` of the bitmap is block ``i`` mod window; 1 = missed. ``counted``:
    blocks recorded since the window started."""

    counted: int
    bitmap: bytes

    def missed(self) -> int:
        return int.from_bytes(self.bitmap, "big").bit_count()

    def encode(self) -> bytes:
        return self.counted.to_bytes(8, "big") + self.bitmap

    @classmethod
    def decode(cls, raw: bytes) -> MissedBlocks:
        return cls(int.from_bytes(raw[:8], "big"), raw[8:])


def bitmap_len(window: int) -> int:
    return (window + 7) // 8


def missed_blocks(ctx: Ctx, addr: bytes, window: int) -> MissedBlocks:
    """The validator's record; a fresh one if none, or if the window changed size."""
    raw = ctx.kv(NAME).get(keys.missed(addr))
    if raw is None or len(raw) != 8 + bitmap_len(window):
        return MissedBlocks(0, bytes(bitmap_len(window)))
    return MissedBlocks.decode(raw)


def set_missed_blocks(ctx: Ctx, addr: bytes, m: MissedBlocks) -> None:
    ctx.kv(NAME).set(keys.missed(addr), m.encode())


def delete_missed_blocks(ctx: Ctx, addr: bytes) -> None:
    ctx.kv(NAME).delete(keys.missed(addr))


def iterate_missed_blocks(ctx: Ctx) -> Iterator[tuple[bytes, MissedBlocks]]:
    p = keys.MISSED_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[1:], MissedBlocks.decode(v)
