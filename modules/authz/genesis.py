"""Genesis of the authz module: default, validate, init, export (symmetric).

Grants are exported as they stand: their remaining spend limit and their
expiration height (expired ones too, as state holds them)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from chain.coins import DENOM, parse_amount
from chain.context import Ctx
from chain.crypto import AddressError, from_bech32, to_bech32
from chain.errors import ChainError
from modules.authz import state
from modules.authz.errors import ErrInvalidGenesis
from modules.authz.msgs import Grant
from modules.authz.params import Params


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "grants": []}


def _grant(d: Any, grantable: Collection[str]) -> Grant:
    try:
        granter = from_bech32(str(d["granter"]))
        grantee = from_bech32(str(d["grantee"]))
        url = str(d["msg_type_url"])
        limit = d.get("spend_limit") or {"denom": DENOM, "amount": "0"}
        if limit.get("denom") != DENOM:
            raise ValueError(f"spend_limit is in {DENOM}")
        amount = parse_amount(str(limit.get("amount", "0")))
        height = int(str(d.get("expiration_height", "0")))
    except (AddressError, ChainError, AttributeError, KeyError, TypeError, ValueError) as e:
        raise ErrInvalidGenesis(f"grant {d!r:.160}: {e}") from e
    if not 0 <= height < 2**64:
        raise ErrInvalidGenesis(f"grant {d!r:.160}: expiration_height must be in [0, 2^64)")
    if granter == grantee:
        raise ErrInvalidGenesis(f"grant {d!r:.160}: granter and grantee are the same")
    if url not in grantable:
        raise ErrInvalidGenesis(f"grant {d!r:.160}: {url} is not grantable")
    return Grant(granter, grantee, url, amount, height)


def validate(grantable: Collection[str], g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    seen: set[tuple[bytes, bytes, str]] = set()
    for d in g.get("grants", []):
        gr = _grant(d, grantable)
        k = (gr.granter, gr.grantee, gr.msg_type_url)
        if k in seen:
            raise ErrInvalidGenesis(f"grant {d!r:.160} is listed twice")
        seen.add(k)


def init(grantable: Collection[str], ctx: Ctx, g: dict[str, Any]) -> None:
    validate(grantable, g)
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    for d in g.get("grants", []):
        state.set_grant(ctx, _grant(d, grantable))


def export(ctx: Ctx) -> dict[str, Any]:
    grants = [
        {
            "granter": to_bech32(g.granter),
            "grantee": to_bech32(g.grantee),
            "msg_type_url": g.msg_type_url,
            "spend_limit": {"denom": DENOM, "amount": str(g.spend_limit)},
            "expiration_height": str(g.expiration_height),
        }
        for g in state.iterate_grants(ctx)
    ]
    return {"params": state.get_params(ctx).to_json(), "grants": grants}
