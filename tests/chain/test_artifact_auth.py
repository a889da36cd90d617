"""The node's artifact store asks who is uploading and who is reading (issue 17).

One node in process (devnet genesis plus a model of our own), real httpx requests,
real tokens: uploads need a signed token of an account the chain knows, a quota
binds each account, a job's input and output are read only by its poster, its
worker and the oracles unless the poster made the job public, model blobs are
public, and garbage collection keeps every referenced blob.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.node import Node
from chain.artifact_auth import OpenReads, artifact_token, token_payload, verify_token
from chain.artifact_gc import STALE_PARTIAL_S, collect_garbage, start_gc
from chain.artifact_policy import ChainPolicy
from chain.artifacts import ArtifactClient, ArtifactStore, Forbidden, QuotaExceeded, Unauthorized
from chain.client import NodeClient
from chain.crypto import ETH_SECP256K1, PrivateKey
from genesis.devnet import dev_key, genesis_doc
from modules.jobs import msgs as jm
from tests.support.genesis import weights_of
from tests.support.market import bond_worker_and_oracle, claim_and_submit
from tests.support.nodes import inproc_node
from tests.support.wait import wait_for

QUOTA = 4096
VCN = 10**18
ALICE, BOB, WORKER, ORACLE = (dev_key(n) for n in ("alice", "bob", "worker1", "oracle1"))
STRANGER = dev_key("worker2")  # funded, but no part of any job below
FILE = b"model weights " * 20
CONFIG = b'{"hidden": 8}'
MANIFEST = json.dumps(
    {
        "format": "vcoin-model/1",
        "name": "auth-test-model",
        "kind": "causal-lm",
        "files": {
            "model.safetensors": {"sha256": hashlib.sha256(FILE).hexdigest(), "size": len(FILE)},
            "config.json": {"sha256": hashlib.sha256(CONFIG).hexdigest(), "size": len(CONFIG)},
        },
    },
    sort_keys=True,
).encode()


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    g = genesis_doc()
    models = g["app_state"]["jobs"]["models"]
    for m in models:  # the receipts of tests.support.market name these weights
        m["weights_sha256"] = weights_of(m["id"]).hex()
    models.append(
        {
            "id": "auth-test-model",
            "task_types": ["text-generation"],
            "weights_sha256": sha(MANIFEST),
            "config_sha256": sha(CONFIG),
            "min_gpu_memory_mib": 0,
            "registered_height": 0,
            "description": "",
        }
    )
    home = tmp_path_factory.mktemp("artifact-auth")
    with inproc_node(home, g, artifact_quota_bytes=QUOTA, artifact_gc_interval_s=0) as n:
        bond_worker_and_oracle(NodeClient(f"http://{n.cfg.rpc_laddr}"), WORKER, ORACLE, "o1")
        yield n


@pytest.fixture(scope="module")
def base(node: Node) -> str:
    return f"http://{node.cfg.rest_laddr}"


def auth(key: PrivateKey, op: str, digest: str, ttl_s: int = 600) -> dict[str, str]:
    return {"authorization": f"VCoin-Artifact {artifact_token(key, op, digest, ttl_s)}"}


def put(base: str, data: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.put(f"{base}/artifacts/{sha(data)}", content=data, headers=headers or {})


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(payload: bytes, sign_with: PrivateKey) -> str:
    """A token whose payload names one key and whose signature is another's."""
    return f"{b64url(payload)}.{b64url(sign_with.sign(payload))}"


def post_job(client: NodeClient, input_hash: str, spec: str = "") -> int:
    msg = jm.MsgPostJob(
        poster=ALICE.bech32,
        task_type="text-generation",
        model="tiny-lm",
        input_hash=input_hash,
        spec=spec,
        max_price=str(2 * VCN),
    )
    resp = client.send_tx(ALICE, [msg], gas="auto")
    return int(resp.attributes("JobPosted", "job_id")[0])


def test_the_background_collector_runs_until_stopped(tmp_path: Path) -> None:
    store = ArtifactStore.local(tmp_path)
    old = store.put_bytes(b"old and unreferenced", ALICE.address)
    stop = threading.Event()
    thread = start_gc(store, OpenReads(), retention_s=0, interval_s=0.05, stop=stop)
    assert thread is not None
    try:
        wait_for("the collector to delete the blob", lambda: not store.has(old), 10)
        assert store.used(ALICE.address) == 0
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert start_gc(store, OpenReads(), 0, 0, stop) is None  # interval 0: none


def test_gc_sweeps_partial_uploads_left_an_hour_and_keeps_fresher_ones(tmp_path: Path) -> None:
    store = ArtifactStore.local(tmp_path)
    kept = store.put_bytes(b"a finished upload", ALICE.address)
    tmp = tmp_path / "tmp"
    now = float(int(time.time()))  # whole seconds: the file times compare exactly
    for name, age in (("stale", STALE_PARTIAL_S + 1), ("at", STALE_PARTIAL_S), ("busy", 1)):
        f = tmp / f".upload-{name}"
        f.write_bytes(b"x" * 10)
        os.utime(f, (now - age, now - age))
    report = collect_garbage(store, OpenReads(), retention_s=10**9, now=now)
    # left an hour or more: a crash or a dropped client; younger: an upload still writing
    assert sorted(p.name for p in tmp.iterdir()) == [".upload-busy"]
    assert report.partial_deleted == 2 and report.freed_bytes == 20
    assert report.deleted == [] and store.has(kept)


def test_token_round_trip_for_both_key_types() -> None:
    for key in (ALICE, PrivateKey.from_seed(b"eth", ETH_SECP256K1)):
        token = artifact_token(key, "put", "ab" * 32)
        assert verify_token(token, "put", "ab" * 32) == key.address


def test_an_anonymous_upload_is_refused(base: str) -> None:
    r = put(base, b"anonymous bytes")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert httpx.head(f"{base}/artifacts/{sha(b'anonymous bytes')}").status_code == 404


@pytest.mark.parametrize(
    "case", ["forged", "expired", "too_long", "wrong_digest", "wrong_op", "malformed", "scheme"]
)
def test_a_bad_token_is_refused(base: str, case: str) -> None:
    data = f"bad token {case}".encode()
    digest, now = sha(data), int(time.time())
    tokens = {
        # alice's key named, bob's signature: the account would be alice's
        "forged": forge(token_payload(ALICE.account_key, "put", digest, now + 60), BOB),
        "expired": artifact_token(ALICE, "put", digest, now=now - 700),
        "too_long": artifact_token(ALICE, "put", digest, ttl_s=3600 + 60),
        "wrong_digest": artifact_token(ALICE, "put", sha(b"other")),
        "wrong_op": artifact_token(ALICE, "get", digest),
        "malformed": "not-a-token",
        "scheme": "",
    }
    header = f"VCoin-Artifact {tokens[case]}" if case != "scheme" else "Bearer abc"
    r = put(base, data, {"authorization": header})
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorized" and r.json()["message"]
    assert httpx.head(f"{base}/artifacts/{digest}").status_code == 404


def test_an_upload_with_a_good_token_is_kept_and_the_query_form_works(base: str) -> None:
    data = b"signed upload"
    token = artifact_token(ALICE, "put", sha(data))
    r = httpx.put(f"{base}/artifacts/{sha(data)}?token={token}", content=data)
    assert r.status_code == 201 and r.json()["created"] is True
    with ArtifactClient(base, ALICE) as c:
        assert c.download_bytes(sha(data)) == data


def test_an_account_unknown_to_the_chain_may_not_upload(base: str) -> None:
    nobody = PrivateKey.from_seed(b"never funded")
    with ArtifactClient(base, nobody) as c, pytest.raises(Forbidden, match="unknown to the chain"):
        c.upload_bytes(b"from nobody")


def test_the_quota_binds_at_just_under_and_just_over(base: str) -> None:
    # bob's own uploads: 4095 bytes, then 1 (at the quota exactly), then 1 more: refused
    under, at, over = b"u" * (QUOTA - 1), b"a", b"o"
    with ArtifactClient(base, BOB) as c:
        c.upload_bytes(under)
        c.upload_bytes(at)
        with pytest.raises(QuotaExceeded, match="quota of 4096"):
            c.upload_bytes(over)
        r = put(base, over, auth(BOB, "put", sha(over)))
        assert r.status_code == 413 and r.json()["error"] == "quota_exceeded"
        # bytes already stored cost nothing, even for a full account
        assert c.upload_bytes(b"signed upload") == sha(b"signed upload")
    # a declared length past the quota is refused before the body is read
    big = b"b" * (QUOTA + 1)
    with ArtifactClient(base, STRANGER) as c, pytest.raises(QuotaExceeded):
        c.upload_bytes(big)


def test_a_streamed_upload_with_no_length_is_held_to_the_quota(base: str) -> None:
    key = dev_key("worker3")
    data = b"c" * (QUOTA + 1)

    def chunks() -> Iterator[bytes]:
        yield data[:QUOTA]
        yield data[QUOTA:]

    r = httpx.put(
        f"{base}/artifacts/{sha(data)}", content=chunks(), headers=auth(key, "put", sha(data))
    )
    assert r.status_code == 413 and r.json()["error"] == "quota_exceeded"
    assert httpx.head(f"{base}/artifacts/{sha(data)}").status_code == 404


def test_claiming_a_stored_blob_without_its_bytes_gains_nothing(base: str) -> None:
    secret = b"alice's private notes"
    with ArtifactClient(base, ALICE) as a:
        a.upload_bytes(secret)
    url = f"{base}/artifacts/{sha(secret)}"
    # the stranger names alice's blob but sends other bytes: refused, and still unreadable
    r = httpx.put(url, content=b"guess", headers=auth(STRANGER, "put", sha(secret)))
    assert r.status_code == 422 and r.json()["error"] == "hash_mismatch"
    assert httpx.get(url, headers=auth(STRANGER, "get", sha(secret))).status_code == 403


@pytest.fixture(scope="module")
def jobs(node: Node, base: str) -> dict[str, Any]:
    """A private job and a public one, each claimed by worker1 with an output uploaded."""
    client = NodeClient(f"http://{node.cfg.rpc_laddr}")
    out: dict[str, Any] = {}
    for kind, spec in (("private", ""), ("public", '{"public": true, "params": {}}')):
        inp, output = f"{kind} input".encode(), f"{kind} output".encode()
        with ArtifactClient(base, ALICE) as a, ArtifactClient(base, WORKER) as w:
            a.upload_bytes(inp)
            job_id = post_job(client, sha(inp), spec)
            claim_and_submit(client, WORKER, job_id, bytes.fromhex(sha(output)))
            w.upload_bytes(output)
        out[kind] = {"id": job_id, "input": inp, "output": output}
    return out


def test_a_private_output_is_unreadable_to_a_stranger(base: str, jobs: dict[str, Any]) -> None:
    output = jobs["private"]["output"]
    url = f"{base}/artifacts/{sha(output)}"
    anon = httpx.get(url)
    assert anon.status_code == 401 and anon.json()["error"] == "unauthorized"
    stranger = httpx.get(url, headers=auth(STRANGER, "get", sha(output)))
    assert stranger.status_code == 403 and stranger.json()["error"] == "forbidden"
    assert httpx.head(url, headers=auth(STRANGER, "get", sha(output))).status_code == 403
    with ArtifactClient(base, STRANGER) as c, pytest.raises(Forbidden):
        c.download_bytes(sha(output))
    with ArtifactClient(base) as c, pytest.raises(Unauthorized):
        c.download_bytes(sha(output))
    # the input too
    inp = jobs["private"]["input"]
    r = httpx.get(f"{base}/artifacts/{sha(inp)}", headers=auth(STRANGER, "get", sha(inp)))
    assert r.status_code == 403


def test_poster_worker_and_oracle_read_a_private_job(base: str, jobs: dict[str, Any]) -> None:
    j = jobs["private"]
    for key in (ALICE, WORKER, ORACLE):
        with ArtifactClient(base, key) as c:
            assert c.download_bytes(sha(j["output"])) == j["output"]
            assert c.download_bytes(sha(j["input"])) == j["input"]
    # a link with the token in its query, as a browser follows it
    link = ArtifactClient(base, ALICE).signed_url(sha(j["output"]))
    r = httpx.get(link)
    assert r.status_code == 200 and r.content == j["output"]
    assert r.headers["cache-control"].startswith("private")


def test_a_public_jobs_input_and_output_are_open(base: str, jobs: dict[str, Any]) -> None:
    j = jobs["public"]
    for blob in (j["input"], j["output"]):
        r = httpx.get(f"{base}/artifacts/{sha(blob)}")
        assert r.status_code == 200 and r.content == blob
        assert r.headers["cache-control"].startswith("public")


def test_model_blobs_are_public(base: str) -> None:
    with ArtifactClient(base, dev_key("platform")) as c:
        for blob in (MANIFEST, FILE, CONFIG):
            c.upload_bytes(blob)
    for blob in (MANIFEST, FILE, CONFIG):
        r = httpx.get(f"{base}/artifacts/{sha(blob)}")
        assert r.status_code == 200 and r.content == blob
    # an unrelated upload of the same account is not
    with ArtifactClient(base, dev_key("platform")) as c:
        c.upload_bytes(b"platform private notes")
    assert httpx.get(f"{base}/artifacts/{sha(b'platform private notes')}").status_code == 401


def test_gc_keeps_referenced_and_young_blobs_and_deletes_old_unreferenced_ones(
    node: Node, base: str, jobs: dict[str, Any]
) -> None:
    test_model_blobs_are_public(base)
    store = ArtifactStore.local(node.cfg.artifact_dir)
    policy = ChainPolicy(node, store.read_small)
    referenced = [MANIFEST, FILE, CONFIG] + [
        jobs[k][f] for k in ("private", "public") for f in ("input", "output")
    ]
    junk = b"unreferenced and old"
    with ArtifactClient(base, ALICE) as c:
        c.upload_bytes(junk)
    # everything is young: nothing goes
    assert collect_garbage(store, policy, retention_s=3600).deleted == []
    # an hour and more later, the unreferenced blobs go, every referenced one stays
    report = collect_garbage(store, policy, retention_s=3600, now=time.time() + 3700)
    assert sha(junk) in report.deleted
    assert sha(b"platform private notes") in report.deleted
    for blob in referenced:
        assert store.has(sha(blob)), blob
        assert sha(blob) not in report.deleted
    assert not store.has(sha(junk))
    with ArtifactClient(base, ALICE) as c:
        assert not c.exists(sha(junk))
    # bob's quota is given back when his blobs go
    assert store.used(BOB.address) == 0

    # the command line, against the running node, keeps a young blob
    young = b"unreferenced and young"
    with ArtifactClient(base, ALICE) as c:
        c.upload_bytes(young)
    out = subprocess.run(
        [sys.executable, "-m", "chain.artifacts", "gc", "--home", node.cfg.home,
         "--node", f"http://{node.cfg.rpc_laddr}", "--retention-s", "3600"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    report_cli = json.loads(out.stdout)
    assert report_cli["deleted"] == [] and report_cli["kept_young"] >= 1
    assert store.has(sha(young))
    for blob in referenced:
        assert store.has(sha(blob))
