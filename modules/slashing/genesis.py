"""Genesis of the slashing module: params, and each CometBFT validator's
missed blocks (``address``, ``counted``, ``bitmap`` in hex)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import AddressError, from_bech32, to_bech32
from modules.slashing import state
from modules.slashing.errors import ErrInvalidParams
from modules.slashing.params import Params


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "missed_blocks": []}


def _missed(d: dict[str, Any], window: int) -> tuple[bytes, state.MissedBlocks]:
    who = str(d.get("address", ""))
    try:
        addr = from_bech32(who)
        counted = int(str(d["counted"]))
        bitmap = bytes.fromhex(str(d["bitmap"]))
    except (AddressError, KeyError, ValueError) as e:
        raise ErrInvalidParams(f"missed_blocks of {who!r}: {e}") from e
    if counted < 0 or len(bitmap) != state.bitmap_len(window):
        raise ErrInvalidParams(
            f"missed_blocks of {who}: counted must be ≥ 0 and the bitmap "
            f"{state.bitmap_len(window)} bytes (signed_blocks_window {window})"
        )
    return addr, state.MissedBlocks(counted, bitmap)


def validate(g: dict[str, Any]) -> None:
    p = Params.from_json(g.get("params", {}))
    seen: set[bytes] = set()
    for d in g.get("missed_blocks", []):
        addr, _ = _missed(d, p.signed_blocks_window)
        if addr in seen:
            raise ErrInvalidParams(f"missed_blocks of {d['address']} appears twice")
        seen.add(addr)


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    p = Params.from_json(g.get("params", {}))
    state.set_params(ctx, p)
    for d in g.get("missed_blocks", []):
        state.set_missed_blocks(ctx, *_missed(d, p.signed_blocks_window))


def export(ctx: Ctx) -> dict[str, Any]:
    return {
        "params": state.get_params(ctx).to_json(),
        "missed_blocks": [
            {"address": to_bech32(a), "counted": str(m.counted), "bitmap": m.bitmap.hex()}
            for a, m in state.iterate_missed_blocks(ctx)
        ],
    }
