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
    kv = ctx.kv(NAME)
    kv.set(keys.grant(g.granter, g.grantee, g.msg_type_url), _encode(g))
    kv.set(keys.by_grantee(g.grantee, g.granter, g.msg_type_url), b"")


def delete_grant(ctx: Ctx, granter: bytes, grantee: bytes, url: str) -> bool:
    """Remove a grant; whether there was one."""
    kv = ctx.kv(NAME)
    k = keys.grant(granter, grantee, url)
    if kv.get(k) is None:
        return False
    kv.delete(k)
    kv.delete(keys.by_grantee(grantee, granter, url))
    return True


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
