"""HS256 JSON Web Tokens with the standard library (RFC 7519, only what the gateway needs).

A token is ``base64url(header).base64url(claims).base64url(hmac_sha256)``; the header
must be ``{"alg": "HS256", "typ": "JWT"}`` (``alg: none`` and every other algorithm are
refused), and ``exp`` is required.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

HEADER = {"alg": "HS256", "typ": "JWT"}
MAX_TOKEN_CHARS = 4096


class TokenError(ValueError):
    """The token is malformed, forged or expired (the message says which)."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise TokenError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def encode(claims: dict[str, Any], secret: bytes) -> str:
    head = _b64e(json.dumps(HEADER, separators=(",", ":")).encode())
    body = _b64e(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64e(sig)}"


def decode(
    token: str, secret: bytes, *, now: float | None = None, leeway: int = 0
) -> dict[str, Any]:
    """The claims of a token signed with ``secret`` and not expired at ``now``."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("token too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT")
    head_s, body_s, sig_s = parts
    want = hmac.new(secret, f"{head_s}.{body_s}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, _b64d(sig_s)):
        raise TokenError("bad signature")
    try:
        header = json.loads(_b64d(head_s))
        claims = json.loads(_b64d(body_s))
    except ValueError as e:
        raise TokenError("not JSON") from e
    if header != HEADER:
        raise TokenError("only HS256 tokens are accepted")
    if not isinstance(claims, dict):
        raise TokenError("claims are not an object")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise TokenError("no exp")
    t = time.time() if now is None else now
    if t >= exp + leeway:
        raise TokenError("token expired")
    return claims
