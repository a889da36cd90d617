"""Queries of the authz module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import to_bech32
from chain.errors import ErrInvalidRequest
from modules.authz import state
from modules.authz.errors import ErrNoGrant
from modules.authz.msgs import Grant, check_address

MAX_LIST = 1000  # grants in one answer


def grant_json(g: Grant, height: int) -> dict[str, Any]:
    return {
        "granter": to_bech32(g.granter),
        "grantee": to_bech32(g.grantee),
        "msg_type_url": g.msg_type_url,
        "spend_limit": {"denom": DENOM, "amount": str(g.spend_limit)},
        "expiration_height": str(g.expiration_height),
        "expired": g.expired(height),
    }


def grants(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """The grants given by ``granter`` or to ``grantee`` (one of them, or both)."""
    granter_s, grantee_s = req.get("granter"), req.get("grantee")
    if not granter_s and not grantee_s:
        raise ErrInvalidRequest("give granter, grantee or both")
    granter = check_address(str(granter_s), "granter") if granter_s else None
    grantee = check_address(str(grantee_s), "grantee") if grantee_s else None
    if granter is not None:
        it = state.iterate_grants(ctx, granter)
    else:
        assert grantee is not None
        it = state.grants_to(ctx, grantee)
    out = []
    for g in it:
        if grantee is not None and g.grantee != grantee:
            continue
        out.append(grant_json(g, ctx.block.height))
        if len(out) >= MAX_LIST:
            break
    return {"grants": out}


def grant(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """One grant with its remaining spend limit."""
    granter = check_address(str(req.get("granter", "")), "granter")
    grantee = check_address(str(req.get("grantee", "")), "grantee")
    url = str(req.get("msg_type_url", ""))
    g = state.get_grant(ctx, granter, grantee, url)
    if g is None:
        raise ErrNoGrant(f"{to_bech32(granter)} has granted {to_bech32(grantee)} no {url!r:.140}")
    return grant_json(g, ctx.block.height)


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()
