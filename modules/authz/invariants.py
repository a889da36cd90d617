"""Invariants of the authz module: the grantee index and the grants match."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Invariant
from modules.authz import state


def _index_matches(ctx: Ctx) -> str | None:
    grants = {(g.granter, g.grantee, g.msg_type_url) for g in state.iterate_grants(ctx)}
    indexed = set(state.iterate_index(ctx))
    if grants != indexed:
        return f"{len(grants ^ indexed)} grants differ between the grants and the grantee index"
    return None


def invariants() -> dict[str, Invariant]:
    return {"grantee_index_matches": _index_matches}
