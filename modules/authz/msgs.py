"""Messages of the authz module: each one's stateless checks parse it once
into what its handler takes.

MsgExec's inner messages are parsed here too, through the app's own routes:
their canonical encoding, their signer (a granter, never the grantee itself)
and their own stateless checks, so that a malformed inner message is refused
at CheckTx like a malformed top-level one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from chain.coins import DENOM, parse_amount
from chain.crypto import AddressError, from_bech32, to_bech32
from chain.errors import ChainError, ErrInvalidAddress
from chain.module import MsgSpec
from chain.proto import type_url
from chain.tx import canonical
from modules.authz import tx_pb2
from modules.authz.errors import ErrInvalidExec, ErrInvalidGrant, ErrNotGrantable

# The module's messages, generated from proto/vcoin/authz/v1/tx.proto.
MsgGrant = tx_pb2.MsgGrant
MsgRevoke = tx_pb2.MsgRevoke
MsgExec = tx_pb2.MsgExec

GRANT_URL = type_url(MsgGrant)
REVOKE_URL = type_url(MsgRevoke)
EXEC_URL = type_url(MsgExec)

# A hard bound on the inner messages decoded before the params are read (the
# params' max_exec_msgs, default 8, is checked by the handler).
MAX_EXEC_DECODE = 64
MAX_TYPE_URL = 128


def check_address(text: str, what: str) -> bytes:
    try:
        return from_bech32(text)
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


def _grantable(url: str, grantable: Collection[str]) -> str:
    if len(url) > MAX_TYPE_URL:
        raise ErrNotGrantable(f"msg_type_url is over {MAX_TYPE_URL} characters")
    if url not in grantable:
        allowed = ", ".join(sorted(grantable)) or "none"
        raise ErrNotGrantable(
            f"{url!r:.140} cannot be granted; only job messages are grantable "
            f"(the jobs and training modules' posts and cancels): {allowed}"
        )
    return url


@dataclass(frozen=True)
class Grant:
    """A grant, as a MsgGrant carries it and as the store keeps it: ``spend_limit``
    is what is left of the budget (avcn); ``expiration_height`` 0 is no expiry."""

    granter: bytes
    grantee: bytes
    msg_type_url: str
    spend_limit: int
    expiration_height: int

    def expired(self, height: int) -> bool:
        """Usable up to and including ``expiration_height``."""
        return self.expiration_height != 0 and height > self.expiration_height


@dataclass(frozen=True)
class Revoke:
    granter: bytes
    grantee: bytes
    msg_type_url: str


@dataclass(frozen=True)
class Inner:
    """One message of a MsgExec, parsed by its own route: ``parsed`` is what
    ``spec.handler`` takes; ``granter`` is its signer."""

    type_url: str
    granter: bytes
    spec: MsgSpec
    parsed: Any


@dataclass(frozen=True)
class Exec:
    grantee: bytes
    msgs: tuple[Inner, ...]


def validate_grant(grantable: Collection[str], msg: MsgGrant) -> Grant:
    granter = check_address(msg.granter, "granter")
    grantee = check_address(msg.grantee, "grantee")
    if granter == grantee:
        raise ErrInvalidGrant("granter and grantee are the same address: nothing to grant")
    url = _grantable(msg.msg_type_url, grantable)
    limit = 0
    if msg.HasField("spend_limit"):
        if msg.spend_limit.denom != DENOM:
            raise ErrInvalidGrant(f"spend_limit is in {DENOM}, got {msg.spend_limit.denom!r:.40}")
        limit = parse_amount(msg.spend_limit.amount)
    return Grant(granter, grantee, url, limit, int(msg.expiration_height))


def validate_revoke(msg: MsgRevoke) -> Revoke:
    granter = check_address(msg.granter, "granter")
    grantee = check_address(msg.grantee, "grantee")
    if len(msg.msg_type_url) > MAX_TYPE_URL:
        raise ErrInvalidGrant(f"msg_type_url is over {MAX_TYPE_URL} characters")
    return Revoke(granter, grantee, msg.msg_type_url)


def _inner(
    routes: Mapping[str, MsgSpec], grantable: Collection[str], grantee: bytes, i: int, a: Any
) -> Inner:
    url = str(a.type_url)
    _grantable(url, grantable)
    spec = routes.get(url)
    if spec is None:
        raise ErrInvalidExec(f"message {i}: no route for {url}")
    try:
        m = canonical.parse(spec.cls, bytes(a.value), f"exec message {i} ({url})")
    except ChainError as e:
        raise ErrInvalidExec(e.message) from e
    try:
        granter = from_bech32(spec.signer(m))
    except AddressError as e:
        raise ErrInvalidExec(f"message {i} ({url}): signer: {e}") from e
    if granter == grantee:
        raise ErrInvalidExec(
            f"message {i} ({url}) is signed by the grantee {to_bech32(grantee)} itself: "
            "send it directly, MsgExec runs only messages of granters"
        )
    try:
        parsed = spec.validate(m)
    except ChainError as e:
        raise type(e)(e.kind, f"exec message {i}: {e.message}") from e
    return Inner(url, granter, spec, parsed)


def validate_exec(routes: Mapping[str, MsgSpec], grantable: Collection[str], msg: MsgExec) -> Exec:
    grantee = check_address(msg.grantee, "grantee")
    if not msg.msgs:
        raise ErrInvalidExec("MsgExec carries no messages")
    if len(msg.msgs) > MAX_EXEC_DECODE:
        raise ErrInvalidExec(f"MsgExec carries {len(msg.msgs)} messages; at most {MAX_EXEC_DECODE}")
    return Exec(
        grantee, tuple(_inner(routes, grantable, grantee, i, a) for i, a in enumerate(msg.msgs))
    )


__all__ = [
    "EXEC_URL",
    "GRANT_URL",
    "REVOKE_URL",
    "Exec",
    "Grant",
    "Inner",
    "MsgExec",
    "MsgGrant",
    "MsgRevoke",
    "Revoke",
    "validate_exec",
    "validate_grant",
    "validate_revoke",
]
