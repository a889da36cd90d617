"""The only code that touches the authz store: params and grants (with an
index by grantee)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.authz import keys
from modules.authz.keys import NAME
from modules.authz.msgs import Grant
from modules.authz.params import Params

PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


def _encode(g: Grant) -> bytes:
    d = {"expiration_height": g.expiration_height, "spend_limit": str(g.spend_limit)}
    return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


def _decode(granter: bytes, grantee: bytes, url: str, raw: bytes) -> Grant:
    d = json.loads(raw)
    return Grant(granter, grantee, url, int(d["spend_limit"]), int(d["expiration_height"]))


def get_grant(ctx: Ctx, granter: bytes, grantee: bytes, url: str) -> Grant | None:
    raw = ctx.kv(NAME).get(keys.grant(granter, grantee, url))
    return None if raw is None else _decode(granter, grantee, url, raw)


def set_grant(ctx: Ctx, g: Grant) -> None:
    """Store ``g`` (a new grant, or one that replaces or updates the grant of its
    triple), with its grantee index entry and its place in the expiry queue."""
    kv = ctx.kv(NAME)
    old = get_grant(ctx, g.granter, g.grantee, g.msg_type_url)
    kv.set(keys.grant(g.granter, g.grantee, g.msg_type_url), _encode(g))
    if old is None:
        kv.set(keys.by_grantee(g.grantee, g.granter, g.msg_type_url), b"")
    old_exp = 0 if old is None else old.expiration_height
    if old_exp != g.expiration_height:
        if old_exp:
            kv.delete(keys.expiry(old_exp, g.granter, g.grantee, g.msg_type_url))
        if g.expiration_height:
            kv.set(keys.expiry(g.expiration_height, g.granter, g.grantee, g.msg_type_url), b"")


def delete_grant(ctx: Ctx, granter: bytes, grantee: bytes, url: str) -> bool:
    """Remove a grant; whether there was one."""
    g = get_grant(ctx, granter, grantee, url)
    if g is None:
        return False
    kv = ctx.kv(NAME)
    kv.delete(keys.grant(granter, grantee, url))
    kv.delete(keys.by_grantee(grantee, granter, url))
    if g.expiration_height:
        kv.delete(keys.expiry(g.expiration_height, granter, grantee, url))
    return True


def expired_before(ctx: Ctx, height: int, limit: int) -> list[tuple[bytes, bytes, str]]:
    """Up to ``limit`` (granter, grantee, type URL) of grants whose expiration
    height is below ``height``, oldest first."""
    p = keys.EXPIRY_PREFIX
    out = []
    for k, _ in ctx.kv(NAME).iterate(p, p + height.to_bytes(8, "big")):
        out.append(keys.split(k[len(p) + 8 :]))
        if len(out) >= limit:
            break
    return out


def iterate_expiry(ctx: Ctx) -> Iterator[tuple[int, bytes, bytes, str]]:
    """(expiration height, granter, grantee, type URL) of every expiry queue entry."""
    p = keys.EXPIRY_PREFIX
    for k, _ in _scan(ctx, p):
        rest = k[len(p) :]
        yield (int.from_bytes(rest[:8], "big"), *keys.split(rest[8:]))


def _scan(ctx: Ctx, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    yield from ctx.kv(NAME).iterate(prefix, prefix_end(prefix))


def iterate_grants(ctx: Ctx, granter: bytes | None = None) -> Iterator[Grant]:
    """Every grant (of ``granter``), in key order."""
    p = keys.GRANT_PREFIX + (b"" if granter is None else keys.lp(granter))
    for k, v in _scan(ctx, p):
        a, b, url = keys.split(k[len(keys.GRANT_PREFIX) :])
        yield _decode(a, b, url, v)


def grants_to(ctx: Ctx, grantee: bytes) -> Iterator[Grant]:
    """The grants whose grantee is ``grantee``, in (granter, type) order."""
    for k, _ in _scan(ctx, keys.BY_GRANTEE_PREFIX + keys.lp(grantee)):
        _, granter, url = keys.split(k[len(keys.BY_GRANTEE_PREFIX) :])
        g = get_grant(ctx, granter, grantee, url)
        if g is not None:
            yield g


def iterate_index(ctx: Ctx) -> Iterator[tuple[bytes, bytes, str]]:
    """(granter, grantee, type URL) of every entry of the grantee index."""
    for k, _ in _scan(ctx, keys.BY_GRANTEE_PREFIX):
        grantee, granter, url = keys.split(k[len(keys.BY_GRANTEE_PREFIX) :])
        yield granter, grantee, url
