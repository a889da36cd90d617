"""Fixtures of the gateway tests: a node in process (one per module), the store on both
back ends (SQLite in a temp folder; a fresh database per test on the PostgreSQL server
that scripts/setup-postgres starts), and the gateway app with a clock the test moves."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.node import Node
from chain.crypto import PrivateKey
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.signin import adr036_sign_doc
from tests.support.chain import BOB
from tests.support.nodes import inproc_node

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "gateway.test"
URI = "https://gateway.test"
SECRET = "test-jwt-secret"
GATEWAY_ACCOUNT = BOB  # the grantee of users' authz grants


def postgres_url() -> str | None:
    """The test server's URL (scripts/setup-postgres starts it), or None without one."""
    r = subprocess.run(
        [str(REPO / "scripts" / "setup-postgres")], capture_output=True, text=True, timeout=300
    )
    if r.returncode != 0:
        if os.environ.get("VCOIN_REQUIRE_POSTGRES"):
            pytest.fail(f"scripts/setup-postgres failed:\n{r.stderr}")
        return None
    return r.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def pg_server() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL server (scripts/setup-postgres); scripts/test requires one")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
        return
    import psycopg

    base: str = request.getfixturevalue("pg_server")
    name = "gw_" + secrets.token_hex(6)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("gwnode")) as n:
        yield n


@dataclass
class Clock:
    t: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.t


@dataclass
class Gw:
    cfg: GatewayConfig
    app: FastAPI
    client: TestClient
    clock: Clock


def make_cfg(home: Path, node: Node, store_url: str, **kw: Any) -> GatewayConfig:
    base: dict[str, Any] = {
        "home": str(home),
        "rpc": f"http://{node.cfg.rpc_laddr}",
        "database": store_url,
        "domain": DOMAIN,
        "uri": URI,
        "account": GATEWAY_ACCOUNT.bech32,
        "jwt_secret": SECRET,
        "bad_key_limit": 20,
    }
    base.update(kw)
    cfg = GatewayConfig(**base)
    cfg.validate()
    return cfg


@pytest.fixture
def gw(store_url: str, node: Node, tmp_path: Path) -> Iterator[Gw]:
    clock = Clock()
    cfg = make_cfg(tmp_path / "gw", node, store_url)
    app = create_app(cfg, clock=clock)
    with TestClient(app, base_url=URI, client=("198.51.100.7", 40000)) as c:
        yield Gw(cfg, app, c, clock)


# -- wallets -------------------------------------------------------------------
def challenge(c: TestClient, address: str) -> dict[str, Any]:
    r = c.get("/v1/auth/challenge", params={"address": address})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def eth_sign(acct: Any, message: str) -> str:
    signed = acct.sign_message(encode_defunct(text=message))
    return "0x" + bytes(signed.signature).hex()


def adr036_sign(key: PrivateKey, message: str) -> dict[str, str]:
    sig = key.sign(adr036_sign_doc(key.bech32, message.encode()))
    return {
        "signature": base64.b64encode(sig).decode(),
        "pub_key": base64.b64encode(key.public_key).decode(),
    }


def login_eth(c: TestClient, acct: Any | None = None) -> str:
    acct = acct or Account.create()
    msg = challenge(c, acct.address)["message"]
    r = c.post("/v1/auth/login", json={"message": msg, "signature": eth_sign(acct, msg)})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def login_chain(c: TestClient, key: PrivateKey) -> str:
    msg = challenge(c, key.bech32)["message"]
    r = c.post("/v1/auth/login", json={"message": msg, **adr036_sign(key, msg)})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_key(c: TestClient, token: str, **body: Any) -> dict[str, Any]:
    r = c.post("/v1/keys", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out
