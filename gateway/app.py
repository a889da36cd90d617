"""The gateway's HTTP API (FastAPI): sign-in, API keys, and the OpenAI-compatible routes.

``create_app(cfg)`` builds it; ``gateway.cli`` serves it with uvicorn. OpenAPI at
``/openapi.json``, Swagger UI at ``/docs``, Prometheus at ``/metrics``.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, and
# those name dependencies local to create_app.
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from chain.client import NodeClient, NodeError, QueryFailed
from chain.crypto import PrivateKey
from gateway import errors
from gateway.auth import SCOPES, Auth, Session
from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.files import Files, artifact_client
from gateway.files import install as install_files
from gateway.finetune import FineTuning
from gateway.finetune import install as install_finetune
from gateway.jobs import Jobs
from gateway.metrics import GatewayMetrics
from gateway.openai_api import Inference
from gateway.openai_api import install as install_openai
from gateway.proto import POST_TRAINING_URL
from gateway.signin import ETH
from gateway.store import ApiKeyRow, Store, open_store

log = logging.getLogger("vcoin.gateway")
POST_JOB = "/vcoin.jobs.v1.MsgPostJob"
MAX_AMOUNT_DIGITS = 78


class LoginRequest(BaseModel):
    message: str = Field(max_length=4096, description="the EIP-4361 / CAIP-122 text signed")
    signature: str = Field(
        max_length=256, description="0x… (65 bytes, personal_sign) or base64 r||s (ADR-036)"
    )
    pub_key: str | None = Field(
        None, max_length=128, description="ADR-036 only: base64 compressed secp256k1 key"
    )


class KeyRequest(BaseModel):
    name: str = Field("", max_length=64)
    scopes: list[str] | None = Field(None, description=f"default: all of {', '.join(SCOPES)}")
    spend_cap: str = Field("0", max_length=MAX_AMOUNT_DIGITS, description="avcn, ≤ the grant")
    rate_limit: int | None = Field(None, description="requests per minute")


def key_json(row: ApiKeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "api_key",
        "name": row.name,
        "owner": row.owner,
        "scopes": list(row.scopes),
        "spend_cap": str(row.spend_cap),
        "spent": str(row.spent),
        "rate_limit": row.rate_limit,
        "created": row.created_at,
        "revoked": row.revoked_at,
    }


class Chain:
    """What the gateway reads from its node (through the RPC's abci_query)."""

    def __init__(self, cfg: GatewayConfig, node: NodeClient) -> None:
        self.cfg = cfg
        self.node = node
        self._ids: dict[str, str] = {}

    def chain_id(self, kind: str) -> str:
        if kind not in self._ids:
            try:
                if kind == ETH:
                    n = self.cfg.eth_chain_id
                    n = n or int(self.node.query("evm", "params")["chain_id"])
                    self._ids[kind] = str(n)
                else:
                    self._ids[kind] = self.node.chain_id()
            except NodeError as e:
                raise ApiError(502, f"the node did not answer: {e}", "node_unavailable") from e
        return self._ids[kind]

    def grant_left(self, granter: str) -> int:
        """What is left of ``granter``'s post-job and post-training grants to the gateway's
        account, together (0: none): a key spends through either."""
        if not self.cfg.account:
            return 0
        return sum(self._left(granter, url) for url in (POST_JOB, POST_TRAINING_URL))

    def _left(self, granter: str, url: str) -> int:
        req = {"granter": granter, "grantee": self.cfg.account, "msg_type_url": url}
        try:
            g = self.node.query("authz", "grant", req)
        except QueryFailed:
            return 0
        except NodeError as e:
            raise ApiError(502, f"the node did not answer: {e}", "node_unavailable") from e
        if g.get("expired"):
            return 0
        return int(g["spend_limit"]["amount"])

    def models(self) -> list[dict[str, Any]]:
        try:
            return list(self.node.query("jobs", "models")["models"])
        except NodeError as e:
            raise ApiError(502, f"the node did not answer: {e}", "node_unavailable") from e


def _bearer(request: Request) -> str:
    h = request.headers.get("authorization", "")
    scheme, _, token = h.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "no credentials: send Authorization: Bearer <token or key>", "missing_credentials"
        )
    return token.strip()


def create_app(
    cfg: GatewayConfig,
    *,
    store: Store | None = None,
    node: NodeClient | None = None,
    clock: Callable[[], float] = time.time,
    jobs: Jobs | None = None,
) -> FastAPI:
    """The API over ``cfg``'s store and node (or those given); ``clock`` (seconds since
    the epoch) decides nonce, message and token expiry. ``jobs`` (else one signing with
    ``cfg.key``, when set) posts the inference endpoints' jobs."""
    metrics = GatewayMetrics()
    store = store or open_store(cfg.database_url)
    node = node or NodeClient(cfg.rpc, timeout=10.0)
    if jobs is None and cfg.key:
        jobs = Jobs(node, load_key(cfg), cfg.rest)
    if jobs is not None and not cfg.account:
        cfg = cfg.with_(account=jobs.account)
    chain = Chain(cfg, node)
    auth = Auth(cfg, store, metrics, chain.chain_id, clock)
    files = Files(
        store, artifact_client(cfg.rest, jobs.key if jobs else None), clock, cfg.files_quota_bytes
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("gateway up", extra={"listen": cfg.listen, "store": store.kind, "rpc": cfg.rpc})
        yield
        log.info("gateway stopping: closing the store and the node client")
        store.close()
        node.close()
        if jobs is not None:
            jobs.close()
        files.artifacts.close()

    app = FastAPI(
        title="VCoin gateway",
        version="0.1.0",
        description="Wallet sign-in, API keys and OpenAI-compatible endpoints over a VCoin node.",
        lifespan=lifespan,
    )
    app.state.auth = auth
    app.state.store = store
    app.state.metrics = metrics
    errors.install(app)

    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "other")
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        metrics.seconds.labels(path).observe(time.perf_counter() - t0)
        return response

    async def session(request: Request) -> Session:
        token = _bearer(request)
        return auth.session(token)

    def api_key(scope: str) -> Callable[[Request], Awaitable[ApiKeyRow]]:
        async def dep(request: Request) -> ApiKeyRow:
            key = _bearer(request)
            client = request.client.host if request.client else "unknown"
            async with auth.client_gate(client):  # a flood of bad keys costs no lookups
                row = await run_in_threadpool(auth.check_key, key, client)
            auth.admit(row, scope)
            return row

        return dep

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/auth/challenge", tags=["auth"])
    def challenge(address: Annotated[str, Query(max_length=100)]) -> dict[str, Any]:
        """A single-use nonce and the message to sign (EIP-4361 for 0x, ADR-036 for vcoin1)."""
        return auth.challenge(address)

    @app.post("/v1/auth/login", tags=["auth"])
    def login(req: LoginRequest) -> dict[str, Any]:
        """Exchange a signed challenge for a short-lived session token (JWT)."""
        return auth.login(req.message, req.signature, req.pub_key)

    @app.post("/v1/keys", tags=["keys"], status_code=201)
    def create_key(req: KeyRequest, s: Annotated[Session, Depends(session)]) -> dict[str, Any]:
        """A new API key; its secret is in this answer only."""
        scopes = tuple(dict.fromkeys(req.scopes if req.scopes is not None else SCOPES))
        bad = [x for x in scopes if x not in SCOPES]
        if bad or not scopes:
            raise ApiError(
                400, f"scopes must be some of {', '.join(SCOPES)}", "invalid_scope", param="scopes"
            )
        if not req.spend_cap.isascii() or not req.spend_cap.isdigit():
            raise ApiError(
                400, "spend_cap is a whole number of avcn", "invalid_parameter", param="spend_cap"
            )
        cap = int(req.spend_cap)
        rate = cfg.default_rate_limit if req.rate_limit is None else req.rate_limit
        if not 0 < rate <= cfg.max_rate_limit:
            raise ApiError(
                400,
                f"rate_limit must be 1 to {cfg.max_rate_limit} per minute",
                "invalid_parameter",
                param="rate_limit",
            )
        if cap:
            left = chain.grant_left(s.address)
            if cap > left:
                raise ApiError(
                    400,
                    f"spend_cap {cap} avcn is above what your authz grant to the gateway "
                    f"({cfg.account or 'not configured'}) has left: {left} avcn",
                    "spend_cap_above_grant",
                    param="spend_cap",
                )
        key, row = auth.new_key(s.address, req.name, scopes, cap, rate)
        return {**key_json(row), "key": key}

    @app.get("/v1/keys", tags=["keys"])
    def list_keys(s: Annotated[Session, Depends(session)]) -> dict[str, Any]:
        return {"object": "list", "data": [key_json(r) for r in store.list_keys(s.address)]}

    @app.delete("/v1/keys/{key_id}", tags=["keys"])
    def revoke_key(key_id: str, s: Annotated[Session, Depends(session)]) -> dict[str, Any]:
        if not store.revoke_key(s.address, key_id, int(clock())):
            raise ApiError(404, f"you have no live key {key_id!r}", "key_not_found")
        metrics.keys.labels("revoked").inc()
        return {"id": key_id, "object": "api_key", "deleted": True}

    @app.get("/v1/models", tags=["openai"])
    async def models(
        row: Annotated[ApiKeyRow, Depends(api_key("models"))],
    ) -> dict[str, Any]:
        """The models registered on chain, in OpenAI's list shape."""
        found = await run_in_threadpool(chain.models)
        data = [
            {
                "id": m["id"],
                "object": "model",
                "created": 0,  # the chain keeps the registration height, not a time
                "owned_by": m.get("owner") or "vcoin",  # an account's own model: its owner
                "task_types": m.get("task_types", []),
                "registered_height": m.get("registered_height", 0),
            }
            for m in found
        ]
        return {"object": "list", "data": data}

    install_openai(app, Inference(cfg, store, jobs, chain.models), api_key)
    install_files(app, files, api_key)  # /v1/files
    install_finetune(app, FineTuning(cfg, store, jobs, files, chain.models, clock), api_key)
    from gateway.stream import JobEventHub
    from gateway.stream import install as install_stream

    install_stream(app, auth, JobEventHub(cfg.rpc, node))  # /v1/jobs/stream (websocket)
    return app


def load_key(cfg: GatewayConfig) -> PrivateKey:
    """The gateway's signing key ``cfg.key`` from ``<home>/keys`` (as the worker's)."""
    from chain.keystore import Keystore, read_passphrase

    ks = Keystore(cfg.home_path)
    if not ks.needs_passphrase(cfg.key):
        return ks.load(cfg.key)
    phrase = read_passphrase(cfg.key_passphrase_file or None, prompt="Gateway key passphrase: ")
    return ks.load(cfg.key, phrase)
