"""Events of the authz module: type names and constructors."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event
from modules.authz.msgs import Grant

GRANTED = "AuthzGrant"
REVOKED = "AuthzRevoke"
EXECUTED = "AuthzExec"
PRUNED = "AuthzGrantPruned"


def granted(g: Grant) -> Event:
    return Event.of(
        GRANTED,
        granter=to_bech32(g.granter),
        grantee=to_bech32(g.grantee),
        msg_type_url=g.msg_type_url,
        spend_limit=g.spend_limit,
        expiration_height=g.expiration_height,
    )


def revoked(granter: bytes, grantee: bytes, url: str) -> Event:
    return Event.of(
        REVOKED, granter=to_bech32(granter), grantee=to_bech32(grantee), msg_type_url=url
    )


def executed(g: Grant, index: int, spend: int) -> Event:
    """Inner message ``index`` ran under grant ``g`` (as it is after the spend)."""
    return Event.of(
        EXECUTED,
        granter=to_bech32(g.granter),
        grantee=to_bech32(g.grantee),
        msg_type_url=g.msg_type_url,
        index=index,
        spend=spend,
        spend_limit_left=g.spend_limit,
    )


def pruned(g: Grant) -> Event:
    """An expired grant removed by the end-block hook."""
    return Event.of(
        PRUNED,
        granter=to_bech32(g.granter),
        grantee=to_bech32(g.grantee),
        msg_type_url=g.msg_type_url,
        expiration_height=g.expiration_height,
    )
