"""Genesis of the reputation module: default, validate, init, export (symmetric)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import AddressError, from_bech32, to_bech32
from modules.reputation import state
from modules.reputation.errors import ErrInvalidGenesis
from modules.reputation.params import MAX_WINDOW_SLOTS, Params

_MASK_LIMIT = 1 << (MAX_WINDOW_SLOTS + 1)
_FIELDS = ("successes", "total", "penalties_bps", "since_slot", "last_slot")


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "records": []}


def _record(d: dict[str, Any]) -> tuple[bytes, state.Record]:
    try:
        addr = from_bech32(str(d["address"]))
        vals = [int(str(d[f])) for f in _FIELDS]
        mask = int(str(d.get("heartbeat_mask", "0")), 16)
    except (AddressError, KeyError, ValueError) as e:
        raise ErrInvalidGenesis(f"reputation record {d.get('address')}: {e}") from e
    if min(vals) < 0 or vals[0] > vals[1] or vals[3] > vals[4] or not 0 <= mask < _MASK_LIMIT:
        raise ErrInvalidGenesis(
            f"reputation record {d['address']}: counts must be ≥ 0, successes ≤ total, "
            f"since_slot ≤ last_slot, heartbeat_mask under {MAX_WINDOW_SLOTS + 1} bits"
        )
    return addr, state.Record(vals[0], vals[1], vals[2], vals[3], vals[4], mask)


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    seen: set[bytes] = set()
    for d in g.get("records", []):
        addr, _ = _record(d)
        if addr in seen:
            raise ErrInvalidGenesis(f"duplicate reputation record for {d['address']}")
        seen.add(addr)


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    for d in g.get("records", []):
        addr, r = _record(d)
        state.set_record(ctx, addr, r)


def export(ctx: Ctx) -> dict[str, Any]:
    records = []
    for addr, r in state.iterate_records(ctx):
        d: dict[str, Any] = {"address": to_bech32(addr)}
        d.update({f: str(getattr(r, f)) for f in _FIELDS})
        d["heartbeat_mask"] = format(r.mask, "x")
        records.append(d)
    return {"params": state.get_params(ctx).to_json(), "records": records}
