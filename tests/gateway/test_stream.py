"""``/v1/jobs/stream``, the gateway's job-event websocket, with a real websocket client
(``websockets``) against the gateway under uvicorn, over a devnet-like marketplace
(``vcoind`` with 1 s blocks, a worker, an oracle): a completion posted through the
gateway shows its events in chain order through to settlement; another user's jobs do
not show; bad, scope-less and revoked keys are refused at the upgrade; a client that
stops reading is closed 1008 once its queue is full, and the gateway lets it go.

One marketplace and one gateway (SQLite store) for the whole file.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chain.client import NodeClient
from chain.crypto import PrivateKey
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.stream import JobEventHub
from modules.jobs.msgs import MsgPostJob
from tests.gateway.on_market import create_key, funded_genesis, gateway_on_market, login

VCN = 10**18
POST_JOB = "/vcoin.jobs.v1.MsgPostJob"
USER = PrivateKey(hashlib.sha256(b"vcoin-stream-test-user").digest())
OTHER = PrivateKey(hashlib.sha256(b"vcoin-stream-test-other").digest())
SLOW = PrivateKey(hashlib.sha256(b"vcoin-stream-test-slow").digest())
GATEWAY = PrivateKey(hashlib.sha256(b"vcoin-stream-test-gateway").digest())


@dataclass
class Env:
    node: NodeClient
    gw: str  # http://127.0.0.1:<port>
    ws: str  # ws://127.0.0.1:<port>/v1/jobs/stream
    app: FastAPI
    keys: dict[str, str]  # USER's keys by name: "all" (every scope), "models" (that only)


def _genesis() -> dict[str, Any]:
    return funded_genesis(USER, OTHER, SLOW, GATEWAY)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("gw-stream")
    # a small send buffer on the listening socket, which its connections inherit: a client
    # that stops reading fills it after some 200 events, not the thousands that Linux's
    # send buffer autotuning (up to 4 MiB) would hold
    with gateway_on_market(
        tmp, _genesis(), user=USER, gateway=GATEWAY, grant=20 * VCN, max_price=VCN, sndbuf=8192
    ) as s:
        token = login(s.gw, USER)
        keys = {
            "all": create_key(s.gw, token, name="all", spend_cap=str(10 * VCN))["key"],
            "models": create_key(s.gw, token, name="models", scopes=["models"])["key"],
        }
        yield Env(s.node, s.gw, f"ws://127.0.0.1:{s.port}/v1/jobs/stream", s.app, keys)


@contextmanager
def stream(
    env: Env, bearer: str | None = None, query: str = "", **kw: Any
) -> Iterator[ClientConnection]:
    """A job stream, past its ``subscribed`` message."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    with connect(env.ws + query, additional_headers=headers, open_timeout=20, **kw) as ws:
        first = json.loads(ws.recv(timeout=20))
        assert first["type"] == "subscribed" and first["height"] > 0, first
        yield ws


def read_until(ws: ClientConnection, done: Any, timeout: float = 180.0) -> list[dict[str, Any]]:
    """Messages until ``done(msg)`` is true (that one included)."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {[(m.get('job_id'), m.get('event')) for m in out]}"
        msg = json.loads(ws.recv(timeout=left))
        out.append(msg)
        if done(msg):
            return out


def drain(ws: ClientConnection, quiet: float = 1.0) -> list[dict[str, Any]]:
    """What the stream has to say until it stays quiet for ``quiet`` seconds."""
    out = []
    while True:
        try:
            out.append(json.loads(ws.recv(timeout=quiet)))
        except TimeoutError:
            return out


def post_direct(node: NodeClient, key: PrivateKey, n: int = 1, **kw: Any) -> list[int]:
    """``n`` text-generation jobs posted by ``key`` itself in one tx; their ids."""
    fields: dict[str, Any] = {
        "poster": key.bech32, "task_type": "text-generation", "model": "tiny-lm",
        "inline_input": b'{"prompts": ["direct"]}', "max_price": str(VCN // 10),
        "spec": json.dumps({"params": {"max_new_tokens": 2}}), **kw,
    }  # fmt: skip
    resp = node.send_tx(key, [MsgPostJob(**fields) for _ in range(n)], gas="auto")
    assert resp.ok, resp
    return [int(x) for x in resp.attributes("JobPosted", "job_id")]


def test_a_completion_streams_its_events_in_order_and_others_jobs_do_not_show(
    env: Env,
) -> None:
    with (
        stream(env, env.keys["all"]) as mine,  # an API key in the header
        stream(env, query=f"?access_token={login(env.gw, OTHER)}") as theirs,  # a JWT
    ):
        (other_job,) = post_direct(env.node, OTHER)
        r = httpx.post(
            f"{env.gw}/v1/completions",
            json={"model": "tiny-lm", "prompt": "The GPU marketplace", "max_tokens": 4},
            headers={"Authorization": f"Bearer {env.keys['all']}"},
            timeout=300,
        )
        assert r.status_code == 200, r.text
        vcoin = r.json()["vcoin"]
        job_id = int(vcoin["job_id"])
        msgs = read_until(mine, lambda m: m["job_id"] == job_id and m["event"] == "settled")
        # only USER's jobs: OTHER's, posted just before, never shows
        assert {m["job_id"] for m in msgs} == {job_id}, msgs
        names = [m["event"] for m in msgs]
        assert names[:4] == ["posted", "claimed", "result_submitted", "sampled"], names
        assert names[-1] == "settled" and set(names[4:]) <= {
            "attested",
            "verdict",
            "refunded",
            "settled",
        }, names
        heights = [m["height"] for m in msgs]
        assert heights == sorted(heights) and heights[0] < heights[-1]
        assert [m["state"] for m in msgs[:3]] == ["queued", "claimed", "submitted"]
        assert msgs[-1]["state"] == "settled" == vcoin["state"]
        assert msgs[0]["tx_hash"] == vcoin["tx_hash"]  # the gateway's MsgExec
        assert msgs[0]["attributes"]["poster"] == USER.bech32
        job = env.node.query("jobs", "job", {"id": str(job_id)})
        assert job["state"] == "settled" and msgs[-1]["attributes"]["worker"] == job["worker"]
        claimed = next(m for m in msgs if m["event"] == "claimed")
        assert claimed["height"] == int(job["claimed_height"])

        # OTHER's stream has OTHER's job, and nothing of USER's (whose events the gateway
        # had all sent out by now: every stream is fed in the same pass)
        seen = read_until(theirs, lambda m: m["job_id"] == other_job)
        assert seen[0]["event"] == "posted" and seen[0]["attributes"]["poster"] == OTHER.bech32
        seen += drain(theirs)
        assert {m["job_id"] for m in seen} == {other_job}, seen


def test_bad_missing_scopeless_and_revoked_keys_are_refused_at_the_upgrade(env: Env) -> None:
    def refused(bearer: str | None = None, query: str = "") -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        with (
            pytest.raises(InvalidStatus) as e,
            connect(env.ws + query, additional_headers=headers, open_timeout=20),
        ):
            pass
        res = e.value.response
        return res.status_code, json.loads(res.body or b"{}")["error"]

    status, err = refused("vk_0123456789ab_not-the-secret")
    assert status == 401 and err["code"] == "invalid_api_key"
    status, err = refused(query="?api_key=vk_0123456789ab_not-the-secret")
    assert status == 401 and err["code"] == "invalid_api_key"
    status, err = refused()
    assert status == 401 and err["code"] == "missing_credentials"
    status, err = refused("not-a-jwt")
    assert status == 401 and err["code"] == "invalid_token"
    status, err = refused(env.keys["models"])  # a key without a job scope
    assert status == 403 and err["code"] == "insufficient_scope"

    token = login(env.gw, USER)
    k = create_key(env.gw, token, name="revoked", scopes=["embeddings"])
    with stream(env, query=f"?api_key={k['key']}"):
        pass  # a job scope is enough
    r = httpx.delete(f"{env.gw}/v1/keys/{k['id']}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    status, err = refused(k["key"])
    assert status == 401 and "revoked" in err["message"]


def test_a_client_that_stops_reading_is_closed_1008_and_let_go(env: Env) -> None:
    """Two streams of one user see the same events: the one that reads gets them all;
    the one that stops reading is closed 1008 once its socket's buffers and its queue
    are full, and the gateway holds nothing more for it."""
    hub: JobEventHub = env.app.state.job_events
    hub.max_queue = 100  # the streams opened from now on (a block's burst fits)
    token = login(env.gw, SLOW)
    stack = ExitStack()
    # a small receive window and a one-message client queue: the client stops reading
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
    sock.connect(("127.0.0.1", int(env.gw.rsplit(":", 1)[1])))
    try:
        good = stack.enter_context(stream(env, token, max_queue=None))
        slow = stack.enter_context(
            stream(env, token, sock=sock, compression=None, max_queue=1, max_size=2**20)
        )
        before = hub.count()
        ids: list[int] = []
        for _ in range(12):  # jobs no worker can take (8 GPUs): one event each, for now
            ids += post_direct(env.node, SLOW, 64, min_gpu_count=8)
            deadline = time.monotonic() + 2
            while hub.count() >= before and time.monotonic() < deadline:
                time.sleep(0.1)
            if hub.count() < before:
                break
        assert hub.count() == before - 1, f"the stream that stopped reading kept {len(ids)}"
        got: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as e:
            while True:
                got.append(json.loads(slow.recv(timeout=30)))
        assert e.value.rcvd is not None and e.value.rcvd.code == 1008, e.value
        assert "too slow" in e.value.rcvd.reason
        assert 0 < len(got) < len(ids)  # some came, the rest were dropped, not held
        assert all(m["job_id"] in ids for m in got)
        # the stream that read is open and has every job
        posted: set[int] = set()
        while not posted >= set(ids):
            m = json.loads(good.recv(timeout=30))
            posted |= {m["job_id"]} if m["event"] == "posted" else set()
        assert hub.count() == before - 1
    finally:
        hub.max_queue = 1000
        stack.close()


def test_without_the_nodes_event_stream_a_stream_is_closed_1013(tmp_path: Path) -> None:
    """A gateway whose node does not answer: the stream is accepted, then closed 1013."""
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    cfg = GatewayConfig(
        home=str(tmp_path), rpc=dead, database=f"sqlite:///{tmp_path / 'gw.sqlite3'}",
        jwt_secret="test-secret", account=GATEWAY.bech32, log_level="warning",
    )  # fmt: skip
    cfg.validate()
    app = create_app(cfg)
    key, _ = app.state.auth.new_key(USER.bech32, "k", ("completions",), 0, 60)
    with (
        TestClient(app) as c,
        c.websocket_connect("/v1/jobs/stream", headers={"Authorization": f"Bearer {key}"}) as ws,
        pytest.raises(WebSocketDisconnect) as e,
    ):
        ws.receive_json()
    assert e.value.code == 1013 and "unavailable" in e.value.reason
    assert app.state.job_events.count() == 0
