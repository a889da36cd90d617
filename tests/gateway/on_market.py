"""A gateway served by uvicorn over a devnet-like marketplace, for the gateway tests that need
real jobs (``test_openai``, ``test_openai_npm``, ``test_stream``, ``test_finetune``).

``gateway_on_market`` starts ``vcoind`` with 1 s blocks (``tests.e2e.market``), a worker
serving ``tiny-lm`` and ``all-minilm-l6-v2`` and an oracle without canaries; the user grants
the gateway's account ``MsgPostJob`` up to ``grant`` (``x/authz``); the gateway (SQLite
store, its key in its own keystore) listens on a free port. It yields a ``Served``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from fastapi import FastAPI

from chain.client import NodeClient
from chain.crypto import PrivateKey
from chain.keystore import Keystore
from gateway.app import create_app
from gateway.config import GatewayConfig
from modules.authz.msgs import MsgGrant
from tests.gateway.conftest import adr036_sign

VCN = 10**18
POST_JOB = "/vcoin.jobs.v1.MsgPostJob"


@dataclass
class Served:
    market: Any  # tests.e2e.market.Market
    node: NodeClient
    rest: str  # the node's REST root (and artifact store)
    gw: str  # http://127.0.0.1:<port>
    port: int
    app: FastAPI
    cfg: GatewayConfig

    @property
    def base_url(self) -> str:
        """What the ``openai`` clients take as their base URL."""
        return f"{self.gw}/v1"


def funded_genesis(*keys: PrivateKey, amount: int = 1000 * VCN) -> dict[str, Any]:
    """The e2e marketplace's genesis with ``amount`` avcn for each of ``keys``."""
    from tests.e2e.market import E2E_GENESIS
    from tests.support.genesis import market_genesis

    doc = market_genesis(**E2E_GENESIS)
    for k in keys:
        doc["app_state"]["bank"]["balances"].append(
            {"address": k.bech32, "coins": [{"denom": "avcn", "amount": str(amount)}]}
        )
    return doc


def login(gw: str, key: PrivateKey) -> str:
    """An ADR-036 sign-in: the session JWT."""
    with httpx.Client(base_url=gw) as c:
        msg = c.get("/v1/auth/challenge", params={"address": key.bech32}).json()["message"]
        r = c.post("/v1/auth/login", json={"message": msg, **adr036_sign(key, msg)})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def create_key(gw: str, token: str, **body: Any) -> dict[str, Any]:
    """``POST /v1/keys`` with the session ``token``: the new key's JSON (``key`` holds it)."""
    r = httpx.post(f"{gw}/v1/keys", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _listener(sndbuf: int | None) -> socket.socket:
    sock = socket.socket()
    if sndbuf is not None:
        # connections inherit it: a client that stops reading fills it soon
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def gateway_on_market(
    tmp: Path,
    genesis: dict[str, Any],
    *,
    user: PrivateKey,
    gateway: PrivateKey,
    grant: int,
    max_price: int,
    job_timeout_s: float = 240.0,
    sndbuf: int | None = None,
) -> Iterator[Served]:
    from tests.e2e.market import market_of

    with market_of(tmp, genesis) as m:
        m.worker("worker1").start()
        m.oracle("oracle1", "--no-canaries").start()
        node = NodeClient(m.node.rpc, timeout=30.0)
        msg = MsgGrant(
            granter=user.bech32,
            grantee=gateway.bech32,
            msg_type_url=POST_JOB,
            spend_limit=Coin(denom="avcn", amount=str(grant)),
        )
        assert node.send_tx(user, [msg], gas="auto").ok
        home = tmp / "gateway"
        Keystore(home).import_secret("gateway", gateway.secret.hex(), None, "test")
        sock = _listener(sndbuf)
        port = int(sock.getsockname()[1])
        cfg = GatewayConfig(
            home=str(home),
            listen=f"127.0.0.1:{port}",
            rpc=m.node.rpc,
            rest=m.node.rest,
            key="gateway",
            jwt_secret="test-secret",
            max_price=str(max_price),
            job_timeout_s=job_timeout_s,
            log_level="warning",
        )
        cfg.validate()
        app = create_app(cfg)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        t = threading.Thread(target=server.run, args=([sock],), daemon=True)
        t.start()
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.1)
        try:
            yield Served(m, node, m.node.rest, f"http://127.0.0.1:{port}", port, app, cfg)
        finally:
            server.should_exit = True
            t.join(10)
            node.close()
