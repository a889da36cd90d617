"""The gateway's API (``vcoin-gateway``): sign-in, API keys and the OpenAI-compatible routes.

    from vcoin_sdk import EthKey, GatewayClient
    gw = GatewayClient("http://127.0.0.1:8080")
    gw.login(EthKey.from_mnemonic("…"))       # EIP-4361, personal_sign; a Key: ADR-036
    key = gw.create_key(name="app", spend_cap="10VCN")   # the secret, shown once
    api = GatewayClient("http://127.0.0.1:8080", api_key=key.key)
    api.completions("tiny-lm", "The GPU marketplace", max_tokens=16)["choices"][0]["text"]
    for chunk in api.chat_stream("tiny-lm", [{"role": "user", "content": "Hi"}]): …

Sign-in: ``login(key)`` asks ``GET /v1/auth/challenge`` for the key's address and signs
the message it answers: an ``EthKey`` (``eth_secp256k1``) signs the EIP-4361 text for its
``0x…`` address with EIP-191 ``personal_sign``; a ``Key`` (``secp256k1``) signs the
CAIP-122 text for its ``vcoin1…`` address as ADR-036 data (the amino-JSON sign doc of
one ``sign/MsgSignData``). The answer's session token (a JWT) then authorises the key
calls (``create_key``, ``keys``, ``revoke_key``). The OpenAI routes take the API key.

The gateway posts each request as a job for the key's owner with ``MsgExec``: the user
first grants the gateway's account ``MsgPostJob`` with a spend limit (``grant_msg``,
sent with ``Client.send_tx``). Every refusal raises ``GatewayError`` with the HTTP status
and OpenAI's ``code``, ``type`` and ``param`` (401 a bad key or token, 402 past a spend
limit, 403 a missing scope, 404 an unknown model or key, 429 rate limited, 400 bad
parameters, 5xx the node or the job); a gateway that does not answer raises
``GatewayUnavailable``. ``AsyncGatewayClient`` has the same methods, awaitable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin as CoinPb

from vcoin_sdk.amounts import parse_coin
from vcoin_sdk.errors import NodeUnavailable, VCoinError
from vcoin_sdk.keys import EthKey, Key, parse_address
from vcoin_sdk.proto.authz.tx_pb2 import MsgGrant, MsgRevoke

POST_JOB_URL = "/vcoin.jobs.v1.MsgPostJob"
SCOPES = ("models", "completions", "embeddings", "files", "fine_tuning")
DEFAULT_TIMEOUT = 300.0  # s: an inference request waits for its job to settle


class GatewayError(VCoinError):
    """The gateway refused a request: ``status`` (HTTP) and OpenAI's ``code``, ``type``,
    ``param``; ``message`` is the gateway's text."""

    def __init__(
        self, status: int, message: str, code: str | None = None, type: str = "", param: Any = None
    ) -> None:
        super().__init__(f"gateway {status} {code or type}: {message}")
        self.status = status
        self.message = message
        self.code = code
        self.type = type
        self.param = param


class GatewayUnavailable(NodeUnavailable):
    """The gateway did not answer (refused, timed out)."""


@dataclass(frozen=True)
class ApiKey:
    """An API key as ``/v1/keys`` describes it; ``key`` (the secret) only when just made."""

    id: str
    name: str
    owner: str
    scopes: tuple[str, ...]
    spend_cap: int
    spent: int
    rate_limit: int
    created: int
    revoked: int | None
    key: str = ""

    @classmethod
    def of(cls, d: dict[str, Any]) -> ApiKey:
        return cls(
            id=str(d["id"]),
            name=str(d.get("name", "")),
            owner=str(d.get("owner", "")),
            scopes=tuple(d.get("scopes") or ()),
            spend_cap=int(d.get("spend_cap") or 0),
            spent=int(d.get("spent") or 0),
            rate_limit=int(d.get("rate_limit") or 0),
            created=int(d.get("created") or 0),
            revoked=None if d.get("revoked") is None else int(d["revoked"]),
            key=str(d.get("key") or ""),
        )


@dataclass(frozen=True)
class Session:
    """A sign-in's answer: the JWT, its lifetime and the account in both forms."""

    access_token: str
    expires_in: int
    address: str
    eth_address: str


def grant_msg(granter: str, gateway_account: str, spend_limit: str | int) -> MsgGrant:
    """The authz grant that lets the gateway's account post jobs for ``granter``
    (``MsgPostJob``), up to ``spend_limit`` (``"20VCN"`` or avcn)."""
    coin = parse_coin(spend_limit)
    return MsgGrant(
        granter=parse_address(granter),
        grantee=parse_address(gateway_account),
        msg_type_url=POST_JOB_URL,
        spend_limit=CoinPb(denom=coin.denom, amount=str(coin.amount)),
    )


def revoke_msg(granter: str, gateway_account: str) -> MsgRevoke:
    """Revoke that grant: the gateway can post no more jobs for ``granter``."""
    return MsgRevoke(
        granter=parse_address(granter),
        grantee=parse_address(gateway_account),
        msg_type_url=POST_JOB_URL,
    )


def adr036_sign_doc(signer: str, data: bytes) -> bytes:
    """ADR-036's amino-JSON sign bytes of ``data`` signed by ``signer`` (``vcoin1…``)."""
    doc = {
        "account_number": "0",
        "chain_id": "",
        "fee": {"amount": [], "gas": "0"},
        "memo": "",
        "msgs": [
            {
                "type": "sign/MsgSignData",
                "value": {"data": base64.b64encode(data).decode(), "signer": signer},
            }
        ],
        "sequence": "0",
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def signin_address(key: Key) -> str:
    """The address a key signs in as: ``0x…`` for an ``EthKey``, ``vcoin1…`` otherwise."""
    return key.eip55_address if isinstance(key, EthKey) else key.address


def login_body(key: Key, challenge: dict[str, Any]) -> dict[str, str]:
    """The ``/v1/auth/login`` body for ``challenge`` (``GET /v1/auth/challenge``'s answer)."""
    message = str(challenge["message"])
    lines = message.split("\n")
    if len(lines) < 2 or lines[1] != signin_address(key):
        raise GatewayError(0, "the challenge does not name this key's address", "bad_challenge")
    if isinstance(key, EthKey):
        return {"message": message, "signature": "0x" + key.personal_sign(message).hex()}
    sig = key.sign(adr036_sign_doc(key.address, message.encode()))
    return {
        "message": message,
        "signature": base64.b64encode(sig).decode(),
        "pub_key": base64.b64encode(key.public_key).decode(),
    }


def _error(r: httpx.Response) -> GatewayError:
    try:
        e = r.json().get("error") or {}
    except (ValueError, AttributeError):
        e = {}
    if not isinstance(e, dict):
        e = {"message": str(e)}
    msg = str(e.get("message") or r.text[:500] or r.reason_phrase)
    return GatewayError(r.status_code, msg, e.get("code"), str(e.get("type") or ""), e.get("param"))


def _json(r: httpx.Response) -> dict[str, Any]:
    if r.status_code >= 400:
        raise _error(r)
    out: dict[str, Any] = r.json()
    return out


def _sse_data(line: str) -> dict[str, Any] | None:
    """A chunk from one SSE line, None for other lines; raises StopIteration at [DONE]."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        raise StopIteration
    chunk: dict[str, Any] = json.loads(data)
    if "error" in chunk:
        e = chunk["error"]
        raise GatewayError(0, str(e.get("message")), e.get("code"), str(e.get("type") or ""))
    return chunk


def _key_body(
    name: str, scopes: Sequence[str] | None, spend_cap: str | int, rate_limit: int | None
) -> dict[str, Any]:
    cap = spend_cap if isinstance(spend_cap, int) else parse_coin(spend_cap).amount
    body: dict[str, Any] = {"name": name, "spend_cap": str(cap)}
    if scopes is not None:
        body["scopes"] = list(scopes)
    if rate_limit is not None:
        body["rate_limit"] = rate_limit
    return body


def _completion_body(
    model: str, prompt: str | list[str], max_tokens: int | None, stream: bool, extra: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": prompt, **extra}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    return body


def _chat_body(
    model: str,
    messages: Sequence[dict[str, Any]],
    max_tokens: int | None,
    stream: bool,
    extra: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": list(messages), **extra}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    return body


class _Base:
    def __init__(self, base_url: str, api_key: str | None, token: str | None) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.api_key = api_key
        self.token = token

    def _auth(self, kind: str) -> dict[str, str]:
        secret = self.api_key if kind == "key" else self.token if kind == "jwt" else None
        if kind != "none" and not secret:
            what = "an API key (api_key=)" if kind == "key" else "a session (login() first)"
            raise GatewayError(401, f"this call needs {what}", "missing_credentials")
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    def _unavailable(self, e: Exception) -> GatewayUnavailable:
        return GatewayUnavailable(f"the gateway at {self.base_url} did not answer: {e}")


class GatewayClient(_Base):
    """A synchronous client of one gateway (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, token)
        self._http = http or httpx.Client(timeout=timeout)

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, auth: str, **kw: Any) -> dict[str, Any]:
        headers = self._auth(auth)
        try:
            r = self._http.request(method, self.base_url + path, headers=headers, **kw)
        except httpx.TransportError as e:
            raise self._unavailable(e) from e
        return _json(r)

    def _stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        headers = self._auth("key")
        try:
            with self._http.stream("POST", self.base_url + path, json=body, headers=headers) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _error(r)
                for line in r.iter_lines():
                    try:
                        chunk = _sse_data(line)
                    except StopIteration:
                        return
                    if chunk is not None:
                        yield chunk
        except httpx.TransportError as e:
            raise self._unavailable(e) from e

    # -- sign-in and keys ----------------------------------------------------------
    def challenge(self, address: str) -> dict[str, Any]:
        return self._call("GET", "/v1/auth/challenge", "none", params={"address": address})

    def login(self, key: Key) -> Session:
        """Sign in with ``key`` (see the module docstring); keeps and returns the session."""
        body = login_body(key, self.challenge(signin_address(key)))
        d = self._call("POST", "/v1/auth/login", "none", json=body)
        self.token = str(d["access_token"])
        return Session(self.token, int(d["expires_in"]), str(d["address"]), str(d["eth_address"]))

    def create_key(
        self,
        *,
        name: str = "",
        scopes: Sequence[str] | None = None,
        spend_cap: str | int = 0,
        rate_limit: int | None = None,
    ) -> ApiKey:
        """A new API key (``key.key`` is its secret, shown this once). ``spend_cap``: avcn
        or ``"10VCN"``, at most what is left of your grant to the gateway."""
        body = _key_body(name, scopes, spend_cap, rate_limit)
        return ApiKey.of(self._call("POST", "/v1/keys", "jwt", json=body))

    def keys(self) -> list[ApiKey]:
        return [ApiKey.of(d) for d in self._call("GET", "/v1/keys", "jwt")["data"]]

    def revoke_key(self, key_id: str) -> None:
        self._call("DELETE", f"/v1/keys/{key_id}", "jwt")

    # -- the OpenAI-compatible routes ----------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/models", "key")["data"])

    def completions(
        self, model: str, prompt: str | list[str], *, max_tokens: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        body = _completion_body(model, prompt, max_tokens, False, extra)
        return self._call("POST", "/v1/completions", "key", json=body)

    def completions_stream(
        self, model: str, prompt: str | list[str], *, max_tokens: int | None = None, **extra: Any
    ) -> Iterator[dict[str, Any]]:
        return self._stream(
            "/v1/completions", _completion_body(model, prompt, max_tokens, True, extra)
        )

    def chat(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = _chat_body(model, messages, max_tokens, False, extra)
        return self._call("POST", "/v1/chat/completions", "key", json=body)

    def chat_stream(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> Iterator[dict[str, Any]]:
        """``chat.completion.chunk`` objects as the gateway sends them (SSE), to ``[DONE]``."""
        return self._stream(
            "/v1/chat/completions", _chat_body(model, messages, max_tokens, True, extra)
        )

    def embeddings(
        self, model: str, input: str | list[str], *, encoding_format: str = "float", **extra: Any
    ) -> dict[str, Any]:
        body = {"model": model, "input": input, "encoding_format": encoding_format, **extra}
        return self._call("POST", "/v1/embeddings", "key", json=body)


class AsyncGatewayClient(_Base):
    """The same calls as ``GatewayClient``, awaitable (streams are async iterators)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, token)
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncGatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, auth: str, **kw: Any) -> dict[str, Any]:
        headers = self._auth(auth)
        try:
            r = await self._http.request(method, self.base_url + path, headers=headers, **kw)
        except httpx.TransportError as e:
            raise self._unavailable(e) from e
        return _json(r)

    async def _stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        headers = self._auth("key")
        try:
            async with self._http.stream(
                "POST", self.base_url + path, json=body, headers=headers
            ) as r:
                if r.status_code >= 400:
                    await r.aread()
                    raise _error(r)
                async for line in r.aiter_lines():
                    try:
                        chunk = _sse_data(line)
                    except StopIteration:
                        return
                    if chunk is not None:
                        yield chunk
        except httpx.TransportError as e:
            raise self._unavailable(e) from e

    async def challenge(self, address: str) -> dict[str, Any]:
        return await self._call("GET", "/v1/auth/challenge", "none", params={"address": address})

    async def login(self, key: Key) -> Session:
        body = login_body(key, await self.challenge(signin_address(key)))
        d = await self._call("POST", "/v1/auth/login", "none", json=body)
        self.token = str(d["access_token"])
        return Session(self.token, int(d["expires_in"]), str(d["address"]), str(d["eth_address"]))

    async def create_key(
        self,
        *,
        name: str = "",
        scopes: Sequence[str] | None = None,
        spend_cap: str | int = 0,
        rate_limit: int | None = None,
    ) -> ApiKey:
        body = _key_body(name, scopes, spend_cap, rate_limit)
        return ApiKey.of(await self._call("POST", "/v1/keys", "jwt", json=body))

    async def keys(self) -> list[ApiKey]:
        return [ApiKey.of(d) for d in (await self._call("GET", "/v1/keys", "jwt"))["data"]]

    async def revoke_key(self, key_id: str) -> None:
        await self._call("DELETE", f"/v1/keys/{key_id}", "jwt")

    async def models(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/v1/models", "key"))["data"])

    async def completions(
        self, model: str, prompt: str | list[str], *, max_tokens: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        body = _completion_body(model, prompt, max_tokens, False, extra)
        return await self._call("POST", "/v1/completions", "key", json=body)

    def completions_stream(
        self, model: str, prompt: str | list[str], *, max_tokens: int | None = None, **extra: Any
    ) -> AsyncIterator[dict[str, Any]]:
        return self._stream(
            "/v1/completions", _completion_body(model, prompt, max_tokens, True, extra)
        )

    async def chat(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = _chat_body(model, messages, max_tokens, False, extra)
        return await self._call("POST", "/v1/chat/completions", "key", json=body)

    def chat_stream(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        return self._stream(
            "/v1/chat/completions", _chat_body(model, messages, max_tokens, True, extra)
        )

    async def embeddings(
        self, model: str, input: str | list[str], *, encoding_format: str = "float", **extra: Any
    ) -> dict[str, Any]:
        body = {"model": model, "input": input, "encoding_format": encoding_format, **extra}
        return await self._call("POST", "/v1/embeddings", "key", json=body)
