"""Invariants of the authz module: the grantee index and the expiry queue hold
exactly the grants (the queue: those with an expiry, at their height)."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Invariant
from modules.authz import state


def _indexes_match(ctx: Ctx) -> str | None:
    grants = list(state.iterate_grants(ctx))
    triples = {(g.granter, g.grantee, g.msg_type_url) for g in grants}
    indexed = set(state.iterate_index(ctx))
    if triples != indexed:
        return f"{len(triples ^ indexed)} grants differ between the grants and the grantee index"
    due = {(g.expiration_height, g.granter, g.grantee, g.msg_type_url) for g in grants}
    due = {d for d in due if d[0]}
    queued = set(state.iterate_expiry(ctx))
    if due != queued:
        return f"{len(due ^ queued)} grants differ between the grants and the expiry queue"
    return None


def invariants() -> dict[str, Invariant]:
    return {"indexes_match": _indexes_match}
