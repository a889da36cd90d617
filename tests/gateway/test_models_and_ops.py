"""GET /v1/models against a node in process; two instances on one store; /metrics and
the OpenAPI document; the CLI (--help, start, SIGTERM)."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from eth_account import Account
from fastapi.testclient import TestClient

from app.node import Node
from chain.client import NodeClient
from gateway.app import create_app
from modules.jobs.msgs import MsgRegisterOwnModel
from modules.jobs.params import Params
from tests.gateway.conftest import (
    REPO,
    URI,
    Gw,
    bearer,
    challenge,
    eth_sign,
    login_eth,
    make_cfg,
    new_key,
)
from tests.support.chain import FAUCET
from tests.support.nodes import free_port


def test_models_lists_the_chains_registered_models(gw: Gw, node: Node) -> None:
    key = new_key(gw.client, login_eth(gw.client), scopes=["models"])["key"]
    r = gw.client.get("/v1/models", headers=bearer(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    with NodeClient(f"http://{node.cfg.rpc_laddr}") as c:
        on_chain = c.query("jobs", "models")["models"]
    assert [m["id"] for m in body["data"]] == [m["id"] for m in on_chain]
    assert {"tiny-lm", "all-minilm-l6-v2"} <= {m["id"] for m in body["data"]}
    owners = {m["id"]: m.get("owner") or "vcoin" for m in on_chain}
    for m in body["data"]:
        assert m["object"] == "model" and m["owned_by"] == owners[m["id"]]
        assert m["task_types"]
    assert {m["owned_by"] for m in body["data"] if m["id"] in ("tiny-lm", "all-minilm-l6-v2")} == {
        "vcoin"
    }


def test_an_accounts_own_model_is_owned_by_that_account(gw: Gw, node: Node) -> None:
    """A model registered with MsgRegisterOwnModel shows its owner's address in owned_by;
    the authority's models stay "vcoin"."""
    msg = MsgRegisterOwnModel(
        owner=FAUCET.bech32,
        model_id=f"faucets-lm-{secrets.token_hex(3)}",
        kind="causal-lm",
        weights_sha256=hashlib.sha256(b"faucet's manifest").hexdigest(),
        config_sha256=hashlib.sha256(b"faucet's config").hexdigest(),
        total_bytes=1234,
        min_gpu_memory_mib=0,
        description="faucet's model",
        max_fee=str(Params().model_registration_fee * 10),
    )
    with NodeClient(f"http://{node.cfg.rpc_laddr}") as c:
        c.send_tx(FAUCET, [msg], gas="auto")
    key = new_key(gw.client, login_eth(gw.client), scopes=["models"])["key"]
    r = gw.client.get("/v1/models", headers=bearer(key))
    assert r.status_code == 200, r.text
    owned = {m["id"]: m["owned_by"] for m in r.json()["data"]}
    assert owned[msg.model_id] == FAUCET.bech32
    assert owned["tiny-lm"] == "vcoin" and owned["all-minilm-l6-v2"] == "vcoin"


def test_two_instances_share_nonces_and_revocations(gw: Gw, node: Node, tmp_path: Path) -> None:
    """A second gateway on the same store (SQLite file or PostgreSQL database): a nonce
    one instance issued is taken once across both, a revoke on one holds on the other."""
    cfg2 = make_cfg(tmp_path / "gw2", node, gw.cfg.database_url)
    with TestClient(create_app(cfg2), base_url=URI) as other:
        acct = Account.create()
        msg = challenge(gw.client, acct.address)["message"]
        body = {"message": msg, "signature": eth_sign(acct, msg)}
        r = other.post("/v1/auth/login", json=body)
        assert r.status_code == 200, r.text
        assert gw.client.post("/v1/auth/login", json=body).status_code == 401
        token = r.json()["access_token"]
        k = new_key(other, token)
        assert gw.client.get("/v1/models", headers=bearer(k["key"])).status_code == 200
        assert gw.client.delete(f"/v1/keys/{k['id']}", headers=bearer(token)).status_code == 200
        assert other.get("/v1/models", headers=bearer(k["key"])).status_code == 401


def test_metrics_and_openapi(gw: Gw) -> None:
    login_eth(gw.client)
    gw.client.get("/v1/models", headers=bearer("vk_000000000000_bad"))
    text = gw.client.get("/metrics").text
    assert 'vcoin_gateway_logins_total{kind="Ethereum",result="ok"} 1.0' in text
    assert 'vcoin_gateway_auth_failures_total{reason="unknown"} 1.0' in text
    assert 'route="/v1/auth/login",status="200"' in text
    spec = gw.client.get("/openapi.json").json()
    for path in (
        "/v1/auth/challenge",
        "/v1/auth/login",
        "/v1/keys",
        "/v1/keys/{key_id}",
        "/v1/models",
    ):
        assert path in spec["paths"], path
    assert gw.client.get("/docs").status_code == 200


def test_cli_help_start_and_sigterm(node: Node, tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "gateway.cli"]
    out = subprocess.run([*exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "EIP-4361" in out and "VCOIN_GATEWAY_" in out
    port = free_port()
    env = {
        **os.environ,
        "VCOIN_GATEWAY_HOME": str(tmp_path / "home"),
        "VCOIN_GATEWAY_RPC": f"http://{node.cfg.rpc_laddr}",
        "VCOIN_GATEWAY_LISTEN": f"127.0.0.1:{port}",
    }
    bad = subprocess.run(
        [*exe, "start"],
        env={**env, "VCOIN_GATEWAY_LISTEN": "nope"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "listen must look like" in bad.stderr
    proc = subprocess.Popen([*exe, "start"], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.1)
        r = httpx.get(f"{base}/v1/auth/challenge", params={"address": Account.create().address})
        assert r.status_code == 200 and f"127.0.0.1:{port} wants you" in r.json()["message"]
        assert "vcoin_gateway_requests_total" in httpx.get(f"{base}/metrics").text
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert '"msg": "stopped"' in err and "closing the store" in err
    assert (tmp_path / "home" / "gateway.sqlite3").exists()
    assert (tmp_path / "home" / "jwt.secret").stat().st_mode & 0o777 == 0o600
