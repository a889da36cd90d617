"""Who may write and read the artifact store: signed tokens, the upload index, the read rules.

**Tokens** (the format is fixed; every client makes exactly this). A request carries
``Authorization: VCoin-Artifact <token>`` or ``?token=<token>``, where ``<token>`` is
``b64url(payload) "." b64url(signature)`` (base64url without padding), ``payload`` the
UTF-8 JSON, keys sorted, no spaces, of::

    {"exp": <unix s>, "op": "get"|"put", "pub": "<base64 of the typed key>",
     "sha256": "<64 hex>", "v": 1}

and ``signature`` the 64-byte r||s over it that ``chain.crypto.verify_signature`` checks
(sha256 for a secp256k1 key, keccak256 for an eth_secp256k1 one). The signer's account
is ``key_address(pub)``. A token names one blob and one operation and lives at most
``MAX_TTL_S`` (3600 s): a leaked download link reads one blob for an hour at most.

**The upload index** (``UploadIndex``): a SQLite file beside the blobs recording, per
blob, the account that first uploaded it (its size counts against that account's
quota), when, and every other account that uploaded the same bytes again (free: their
upload proves they hold the bytes, so they may read them too). A blob is written (fsync,
rename) before its row, so a crash leaves at worst a blob without a row, which reads as
"uploaded at its file time by nobody" and is collected like any unreferenced blob.

**Reads** (``ReadPolicy``): the store asks the policy whether a blob is public and
whether an account may read it; ``chain.artifact_policy.ChainPolicy`` answers from the
chain's committed state.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from chain.crypto import PrivateKey, key_address, verify_signature

TOKEN_VERSION = 1
MAX_TTL_S = 3600
DEFAULT_TTL_S = 600
OPS = ("get", "put")
AUTH_SCHEME = "VCoin-Artifact"
_MAX_TOKEN_CHARS = 1024
_HEX = frozenset("0123456789abcdef")


class TokenError(Exception):
    """The token is missing, malformed, forged, expired or for another blob or op (401)."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    if not text or len(text) % 4 == 1 or "=" in text:
        raise TokenError("the token is not two base64url parts without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("the token is not two base64url parts without padding") from None


def token_payload(pub: bytes, op: str, sha256: str, exp: int) -> bytes:
    """The signed bytes: the canonical JSON of the token's fields."""
    doc = {
        "exp": int(exp),
        "op": op,
        "pub": base64.b64encode(pub).decode(),
        "sha256": sha256,
        "v": TOKEN_VERSION,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def artifact_token(
    key: PrivateKey, op: str, sha256: str, ttl_s: int = DEFAULT_TTL_S, now: float | None = None
) -> str:
    """A token for ``op`` ("get" or "put") on blob ``sha256``, valid ``ttl_s`` seconds."""
    if op not in OPS:
        raise ValueError(f"op must be one of {OPS}, not {op!r}")
    exp = int(time.time() if now is None else now) + int(ttl_s)
    payload = token_payload(key.account_key, op, sha256, exp)
    return f"{_b64url(payload)}.{_b64url(key.sign(payload))}"


def verify_token(token: str, op: str, sha256: str, now: float | None = None) -> bytes:
    """The signer's account address, or TokenError saying what is wrong."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        raise TokenError("malformed token: expected <payload>.<signature>")
    p64, s64 = token.split(".")
    payload, sig = _unb64url(p64), _unb64url(s64)
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed token: its payload is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"exp", "op", "pub", "sha256", "v"}:
        raise TokenError("malformed token: the payload needs exactly exp, op, pub, sha256, v")
    if doc["v"] != TOKEN_VERSION or type(doc["v"]) is not int:
        raise TokenError(f"unknown token version {doc['v']!r}; this node reads v1")
    exp, pub64 = doc["exp"], doc["pub"]
    if type(exp) is not int or not isinstance(pub64, str):
        raise TokenError("malformed token: exp must be an integer and pub a string")
    try:
        pub = base64.b64decode(pub64, validate=True)
    except (binascii.Error, ValueError):
        raise TokenError("malformed token: pub is not base64") from None
    if token_payload(pub, str(doc["op"]), str(doc["sha256"]), exp) != payload:
        raise TokenError("malformed token: the payload is not in canonical form")
    if not verify_signature(pub, sig, payload):
        raise TokenError("the token's signature does not match its key")
    if doc["op"] != op:
        raise TokenError(f"the token is for {doc['op']!r}, not {op!r}")
    if doc["sha256"] != sha256:
        raise TokenError("the token is for another blob")
    t = time.time() if now is None else now
    if exp < t:
        raise TokenError("the token has expired: make a new one")
    if exp > t + MAX_TTL_S:
        raise TokenError(f"the token lives too long: exp may be at most {MAX_TTL_S} s ahead")
    return key_address(pub)


def token_from(authorization: str | None, query_token: str | None) -> str | None:
    """The token of a request: the ``Authorization`` header, else ``?token=``."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != AUTH_SCHEME.lower() or not value.strip():
            raise TokenError(f"the Authorization header must be '{AUTH_SCHEME} <token>'")
        return value.strip()
    return query_token or None


class ReadPolicy(Protocol):
    """What the store asks of the chain (or of whatever stands in for it)."""

    def is_public(self, digest: str) -> bool: ...

    def may_read(self, digest: str, account: bytes) -> bool: ...

    def may_upload(self, account: bytes) -> str | None:
        """None when ``account`` may upload; else why not."""
        ...

    def referenced(self) -> set[str]:
        """Every digest a job, model or training round refers to (for GC)."""
        ...

    def is_referenced(self, digest: str) -> bool:
        """One digest, checked again right before it is deleted."""
        ...


class OpenReads:
    """A store without a chain (``python -m chain.artifacts``): uploads need a token,
    every blob is readable, nothing is referenced."""

    def is_public(self, digest: str) -> bool:
        return True

    def may_read(self, digest: str, account: bytes) -> bool:
        return True

    def may_upload(self, account: bytes) -> str | None:
        return None

    def referenced(self) -> set[str]:
        return set()

    def is_referenced(self, digest: str) -> bool:
        return False


class UploadIndex:
    """``uploads.sqlite3`` in the store's folder: who uploaded each blob, when, its size."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, owner BLOB NOT NULL,"
            " size INTEGER NOT NULL, created REAL NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS blobs_owner ON blobs (owner)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS readers (digest TEXT NOT NULL, account BLOB NOT NULL,"
            " PRIMARY KEY (digest, account))"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def used(self, account: bytes) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE owner = ?", (account,)
            ).fetchone()
        return int(row[0])

    def record(self, digest: str, account: bytes, size: int, at: float | None = None) -> bool:
        """Record an upload; True when it is the blob's first (charged to ``account``)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO blobs (digest, owner, size, created) VALUES (?, ?, ?, ?)",
                (digest, account, size, time.time() if at is None else at),
            )
            if cur.rowcount == 0:
                self._db.execute(
                    "INSERT OR IGNORE INTO readers (digest, account) VALUES (?, ?)",
                    (digest, account),
                )
            return cur.rowcount == 1

    def uploaded_by(self, digest: str, account: bytes) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM blobs WHERE digest = ? AND owner = ? UNION ALL "
                "SELECT 1 FROM readers WHERE digest = ? AND account = ? LIMIT 1",
                (digest, account, digest, account),
            ).fetchone()
        return row is not None

    def owner(self, digest: str) -> tuple[bytes, float] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT owner, created FROM blobs WHERE digest = ?", (digest,)
            ).fetchone()
        return None if row is None else (bytes(row[0]), float(row[1]))

    def forget(self, digests: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            for d in digests:
                self._db.execute("DELETE FROM blobs WHERE digest = ?", (d,))
                self._db.execute("DELETE FROM readers WHERE digest = ?", (d,))
            self._db.execute("COMMIT")
