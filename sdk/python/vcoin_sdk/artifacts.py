"""Artifact-store tokens: the signed, expiring pass a node's artifact store asks for.

The node's store (``/artifacts/{sha256}`` on the REST port) takes an upload (PUT)
only with a token, and a download (GET/HEAD) of a blob that is not public only with
a token of an account allowed to read it (the uploader, the job's poster, its worker,
an oracle). The token goes in the header ``Authorization: VCoin-Artifact <token>``
(``AUTH_SCHEME``) or, for a link, in the query ``?token=<token>``.

``<token>`` is ``b64url(payload) "." b64url(signature)``, base64url without padding;
``payload`` the UTF-8 JSON, keys sorted, no spaces, of
``{"exp": <unix seconds>, "op": "get"|"put", "pub": <base64 std of the typed key>,
"sha256": <64 lowercase hex>, "v": 1}``. The typed key is the chain's: a ``Key``'s
33-byte compressed secp256k1 key, or an ``EthKey``'s ``0xEE`` + 33-byte key
(eth_secp256k1). The signature is 64 bytes r‖s, low-S, RFC 6979, over
sha256(payload) for secp256k1 and keccak256(payload) for eth_secp256k1: the token is
deterministic, and ``sdk/vectors/vectors.json`` (``artifact_tokens``) holds the exact
strings every SDK and the node produce. The node refuses an ``exp`` in the past or
more than ``MAX_TTL`` seconds ahead.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Literal

import coincurve
from coincurve.ecdsa import der_to_cdata, serialize_compact
from Crypto.Hash import keccak

from vcoin_sdk.errors import InputError
from vcoin_sdk.keys import EthKey, Key

AUTH_SCHEME = "VCoin-Artifact"
TOKEN_VERSION = 1
DEFAULT_TTL = 600  # seconds
MAX_TTL = 3600  # the node refuses an exp further ahead
ETH_KEY_TAG = 0xEE
Op = Literal["get", "put"]
Signer = Key | EthKey
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def typed_key(key: Signer) -> bytes:
    """The key as the chain types it: 33 bytes (secp256k1) or 0xEE + 33 (eth_secp256k1)."""
    if isinstance(key, EthKey):
        return bytes([ETH_KEY_TAG]) + key.public_key
    if isinstance(key, Key):
        return key.public_key
    raise InputError(f"an artifact token is signed by a Key or an EthKey, not {type(key).__name__}")


def _sign(key: Signer, payload: bytes) -> bytes:
    if isinstance(key, EthKey):
        digest = keccak.new(digest_bits=256, data=payload).digest()
        der = coincurve.PrivateKey(key.private_key).sign(digest, hasher=None)
        return bytes(serialize_compact(der_to_cdata(der)))
    return key.sign(payload)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _check(op: str, sha256: str) -> str:
    if op not in ("get", "put"):
        raise InputError(f"an artifact token's op is 'get' or 'put', not {op!r}", "bad_op")
    digest = sha256.lower() if isinstance(sha256, str) else ""
    if not _SHA256_HEX.fullmatch(digest):
        raise InputError(
            f"an artifact is named by its sha256 in 64 hex digits, got {str(sha256)[:80]!r}",
            "bad_digest",
        )
    return digest


def token_payload(key: Signer, op: Op, sha256: str, exp: int) -> bytes:
    """The bytes a token signs (see the module doc)."""
    digest = _check(op, sha256)
    if isinstance(exp, bool) or not isinstance(exp, int) or exp < 0:
        raise InputError(f"exp is unix seconds, a whole number, not {exp!r}", "bad_exp")
    obj = {
        "exp": exp,
        "op": op,
        "pub": base64.b64encode(typed_key(key)).decode(),
        "sha256": digest,
        "v": TOKEN_VERSION,
    }
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def artifact_token_at(key: Signer, op: Op, sha256: str, exp: int) -> str:
    """The token of ``key`` for ``op`` on blob ``sha256``, valid until ``exp`` (unix s)."""
    payload = token_payload(key, op, sha256, exp)
    return _b64url(payload) + "." + _b64url(_sign(key, payload))


def artifact_token(
    key: Signer, op: Op, sha256: str, ttl: int = DEFAULT_TTL, *, now: float | None = None
) -> str:
    """A token valid for ``ttl`` seconds (1..3600) from now (or from ``now``)."""
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_TTL:
        raise InputError(f"ttl is 1..{MAX_TTL} seconds, not {ttl!r}", "bad_ttl")
    t = time.time() if now is None else now
    return artifact_token_at(key, op, sha256, int(t) + ttl)


def auth_header(token: str) -> tuple[str, str]:
    """The HTTP header that carries ``token``."""
    return ("Authorization", f"{AUTH_SCHEME} {token}")


__all__ = [
    "AUTH_SCHEME",
    "DEFAULT_TTL",
    "MAX_TTL",
    "Signer",
    "artifact_token",
    "artifact_token_at",
    "auth_header",
    "token_payload",
    "typed_key",
]
