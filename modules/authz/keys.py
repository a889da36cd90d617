"""Store keys of the authz module.

A grant lives under (granter, grantee, type URL), each address length-prefixed;
an index under (grantee, granter, type URL) lists a grantee's grants, and a
queue by expiration height lists the grants to prune."""

from __future__ import annotations

NAME = "authz"

PARAMS = b"\x00"
GRANT_PREFIX = b"\x01"  # lp(granter) ‖ lp(grantee) ‖ type URL → grant
BY_GRANTEE_PREFIX = b"\x02"  # lp(grantee) ‖ lp(granter) ‖ type URL → b"" (an index)
# expiration height (8 bytes) ‖ lp(granter) ‖ lp(grantee) ‖ type URL → b"": the
# queue of grants with an expiry, pruned by the end-block hook once expired
EXPIRY_PREFIX = b"\x03"


def lp(addr: bytes) -> bytes:
    """``addr`` with its length in front, so that keys of any address length never clash."""
    return bytes([len(addr)]) + addr


def grant(granter: bytes, grantee: bytes, url: str) -> bytes:
    return GRANT_PREFIX + lp(granter) + lp(grantee) + url.encode()


def by_grantee(grantee: bytes, granter: bytes, url: str) -> bytes:
    return BY_GRANTEE_PREFIX + lp(grantee) + lp(granter) + url.encode()


def expiry(height: int, granter: bytes, grantee: bytes, url: str) -> bytes:
    return EXPIRY_PREFIX + height.to_bytes(8, "big") + lp(granter) + lp(grantee) + url.encode()


def split(rest: bytes) -> tuple[bytes, bytes, str]:
    """(first address, second address, type URL) of a key without its prefix."""
    n = rest[0]
    a = rest[1 : 1 + n]
    m = rest[1 + n]
    b = rest[2 + n : 2 + n + m]
    return a, b, rest[2 + n + m :].decode()
