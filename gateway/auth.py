"""Sign-in (challenge, login, session tokens) and API keys.

A challenge is a nonce for one address, stored with its expiry; a login consumes it
(one use, ``nonce_ttl_s``) after checking the signed message's domain, URI, chain id
(the EIP-155 id for Ethereum, the Cosmos chain id for ADR-036), its times (issued
no earlier than the nonce's lifetime ago and not in the future; not past its
expiration time) and the signature. The answer is an HS256 JWT for ``jwt_ttl_s``
whose ``sub`` is the account in bech32 (a ``0x`` and a ``vcoin1`` address of the
same 20 bytes are one account).

An API key is ``vk_<id>_<secret>``: ``id`` (12 hex) finds the row, the store keeps
only ``sha256(key)``. A request that shows one is checked in this order: the
client's failure budget (``bad_key_limit`` failed keys a minute per client address:
past it, 429 before any lookup, so a flood of bad keys costs no database work and
does not slow other clients; ``Auth.client_gate``), the key (401 unknown, wrong
or revoked: read from the store on every request, so a revoke holds at once on
every instance), the scope (403), then the key's own rate limit (429).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from chain import crypto
from gateway import jwt
from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import Buckets
from gateway.signin import (
    COSMOS,
    ETH,
    SignInError,
    SignInMessage,
    parse,
    parse_time,
    recover_eth,
    rfc3339,
    verify_adr036,
)
from gateway.store import ApiKeyRow, Store

SCOPES = ("models", "completions", "embeddings", "files", "fine_tuning")
KEY_PREFIX = "vk_"
CLOCK_SKEW_S = 60  # how far in the future a message's Issued At may be
AUDIENCE = "vcoin-gateway"
STATEMENT = "Sign in to the VCoin gateway."


def canonical(address: str) -> tuple[str, str]:
    """(bech32 account, wallet kind) of a ``0x…`` or ``vcoin1…`` address."""
    try:
        raw = crypto.parse_address(address.strip())
    except crypto.AddressError as e:
        raise ApiError(400, f"address: {e}", "invalid_address", param="address") from e
    return crypto.to_bech32(raw), ETH if address.strip().lower().startswith("0x") else COSMOS


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    address: str  # bech32


class Auth:
    def __init__(
        self,
        cfg: GatewayConfig,
        store: Store,
        metrics: GatewayMetrics,
        chain_ids: Callable[[str], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self._chain_ids = chain_ids  # ETH -> "1234", COSMOS -> "vcoin-devnet-1"
        self._clock = clock
        self._secret = cfg.secret()
        self.key_buckets = Buckets(60.0)
        self.failure_buckets = Buckets(60.0)
        self._gates: dict[str, asyncio.Condition] = {}
        self._inflight: dict[str, int] = {}
        self._waiting: dict[str, int] = {}

    # -- sign-in ---------------------------------------------------------------
    def challenge(self, address: str) -> dict[str, object]:
        account, kind = canonical(address)
        shown = address.strip()
        if kind == ETH:
            shown = crypto.to_eth_address(crypto.parse_address(shown))
        now = self._clock()
        nonce = secrets.token_hex(16)
        expires = int(now) + self.cfg.nonce_ttl_s
        self.store.put_nonce(nonce, account, expires)
        msg = SignInMessage(
            domain=self.cfg.signin_domain,
            kind=kind,
            address=shown,
            statement=STATEMENT,
            uri=self.cfg.signin_uri,
            chain_id=self._chain_ids(kind),
            nonce=nonce,
            issued_at=rfc3339(now),
            expiration_time=rfc3339(expires),
        )
        return {
            "nonce": nonce,
            "expires_at": expires,
            "message": msg.render(),
            "domain": msg.domain,
            "uri": msg.uri,
            "chain_id": msg.chain_id,
        }

    def login(self, message: str, signature: str, pub_key: str | None) -> dict[str, object]:
        kind = "unknown"
        try:
            m = parse(message)
            kind = m.kind
            account, addr_kind = canonical(m.address)
            if addr_kind != m.kind:
                raise SignInError(f"an {m.kind} message needs an address of that kind")
            self._check_fields(m)
            if m.kind == ETH:
                signer = recover_eth(message, signature)
                if signer.lower() != m.address.lower():
                    raise SignInError("the signature is not the address's")
            else:
                verify_adr036(m.address, pub_key or "", signature, message)
            if not self.store.take_nonce(m.nonce, account, int(self._clock())):
                raise SignInError("the nonce is unknown, used or expired: ask for a new challenge")
        except SignInError as e:
            self.metrics.logins.labels(kind, "refused").inc()
            raise ApiError(401, f"sign-in refused: {e}", "signin_refused") from e
        self.metrics.logins.labels(kind, "ok").inc()
        now = int(self._clock())
        exp = now + self.cfg.jwt_ttl_s
        claims = {
            "sub": account,
            "aud": AUDIENCE,
            "iss": self.cfg.signin_domain,
            "iat": now,
            "exp": exp,
            "jti": secrets.token_hex(8),
        }
        return {
            "access_token": jwt.encode(claims, self._secret),
            "token_type": "bearer",
            "expires_in": self.cfg.jwt_ttl_s,
            "address": account,
            "eth_address": crypto.to_eth_address(crypto.from_bech32(account)),
        }

    def _check_fields(self, m: SignInMessage) -> None:
        if m.domain != self.cfg.signin_domain:
            raise SignInError(f"the message is for {m.domain!r}, not {self.cfg.signin_domain!r}")
        if m.uri != self.cfg.signin_uri:
            raise SignInError(f"the message's URI is not {self.cfg.signin_uri}")
        if m.chain_id != self._chain_ids(m.kind):
            raise SignInError(f"the message's chain id is not {self._chain_ids(m.kind)}")
        now = self._clock()
        issued = parse_time(m.issued_at, "Issued At")
        if issued > now + CLOCK_SKEW_S:
            raise SignInError("Issued At is in the future")
        if issued < now - self.cfg.nonce_ttl_s - CLOCK_SKEW_S:
            raise SignInError("the message is too old: ask for a new challenge")
        if m.expiration_time and parse_time(m.expiration_time, "Expiration Time") <= now:
            raise SignInError("the message has expired")

    def session(self, token: str) -> Session:
        try:
            claims = jwt.decode(token, self._secret, now=self._clock())
        except jwt.TokenError as e:
            self.metrics.auth_failures.labels("jwt").inc()
            raise ApiError(401, f"invalid session token: {e}", "invalid_token") from e
        if claims.get("aud") != AUDIENCE or not isinstance(claims.get("sub"), str):
            self.metrics.auth_failures.labels("jwt").inc()
            raise ApiError(401, "invalid session token: not this gateway's", "invalid_token")
        return Session(str(claims["sub"]))

    # -- API keys ----------------------------------------------------------------
    def new_key(
        self, owner: str, name: str, scopes: tuple[str, ...], spend_cap: int, rate_limit: int
    ) -> tuple[str, ApiKeyRow]:
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKeyRow(
            id=key_id,
            owner=owner,
            name=name,
            key_hash=key_hash(key),
            scopes=scopes,
            spend_cap=spend_cap,
            spent=0,
            rate_limit=rate_limit,
            created_at=int(self._clock()),
            revoked_at=None,
        )
        self.store.add_key(row)
        self.metrics.keys.labels("created").inc()
        return key, row

    @asynccontextmanager
    async def client_gate(self, client: str) -> AsyncIterator[None]:
        """Hold one of ``client``'s failure tokens while its key is looked up.

        At most as many lookups as the client has failure tokens left run at once
        (the rest wait their turn, a few milliseconds each); with none left the answer
        is 429 before any lookup. So a burst of bad keys costs at most
        ``bad_key_limit`` lookups a minute, and a client whose keys are good is
        never refused for sending many at once."""
        cap = self.cfg.bad_key_limit
        cond = self._gates.get(client)
        if cond is None:
            cond = self._gates[client] = asyncio.Condition()
        async with cond:
            while True:
                tokens = self.failure_buckets.level(client, cap)
                if tokens < 1.0:
                    self._drop_gate(client, cond)
                    self.metrics.rate_limited.labels("client").inc()
                    raise ApiError(
                        429,
                        "too many failed authentications from this address; slow down",
                        "too_many_failed_authentications",
                        headers={"Retry-After": str(max(1, round(60 / cap)))},
                    )
                if self._inflight.get(client, 0) < int(tokens):
                    self._inflight[client] = self._inflight.get(client, 0) + 1
                    break
                self._waiting[client] = self._waiting.get(client, 0) + 1
                try:
                    await cond.wait()
                finally:
                    self._waiting[client] -= 1
        try:
            yield
        finally:
            async with cond:
                self._inflight[client] -= 1
                cond.notify_all()
                self._drop_gate(client, cond)

    def _drop_gate(self, client: str, cond: asyncio.Condition) -> None:
        if not self._inflight.get(client) and not self._waiting.get(client):
            self._inflight.pop(client, None)
            self._waiting.pop(client, None)
            if self._gates.get(client) is cond:
                del self._gates[client]

    def check_key(self, key: str, client: str) -> ApiKeyRow:
        """The live key row for ``key``, or 401 (counted against ``client``)."""
        row = None
        key_id, sep, secret = key.removeprefix(KEY_PREFIX).partition("_")
        if key.startswith(KEY_PREFIX) and sep and secret and len(key_id) == 12:
            row = self.store.get_key(key_id)
        reason = ""
        if row is None or not hmac.compare_digest(row.key_hash, key_hash(key)):
            reason = "unknown"
        elif row.revoked_at is not None:
            reason = "revoked"
        if reason:
            self.failure_buckets.take(client, self.cfg.bad_key_limit)
            self.metrics.auth_failures.labels(reason).inc()
            msg = "this API key has been revoked" if reason == "revoked" else "invalid API key"
            raise ApiError(401, msg, "invalid_api_key")
        assert row is not None
        return row

    def admit(self, row: ApiKeyRow, scope: str) -> None:
        """403 without ``scope``; 429 past the key's rate limit."""
        if scope not in row.scopes:
            raise ApiError(403, f"this API key lacks the scope {scope!r}", "insufficient_scope")
        ok, wait = self.key_buckets.take(row.id, row.rate_limit)
        if not ok:
            self.metrics.rate_limited.labels("key").inc()
            raise ApiError(
                429,
                f"rate limit reached for this key: {row.rate_limit} requests per minute",
                "rate_limit_exceeded",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
