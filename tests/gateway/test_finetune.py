"""``/v1/files`` and ``/v1/fine_tuning/jobs`` with the official ``openai`` client, on a
devnet-like marketplace (``vcoind`` with 1 s blocks, a worker that trains LoRA adapters on
``tiny-lm`` in its sandbox, an oracle): a JSONL file uploaded through the gateway becomes a
``lora-train`` job posted for the user with ``MsgExec``, runs to ``succeeded``, and the
``fine_tuned_model`` and the events equal the chain's settled output. Bad input gets
OpenAI's errors; the store's rows pass on SQLite and PostgreSQL, and so do the file
routes (a second app over the same node on each back end).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from chain.crypto import PrivateKey
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.files import MAX_EXAMPLES, MAX_TEXT_CHARS, training_texts
from gateway.finetune import LORA_EXTRA, MAX_BATCH, MAX_STEPS, adapter_losses, lora_params
from gateway.store import FileRow, FineTuneRow, open_store
from modules.authz.msgs import MsgGrant
from tests.gateway.conftest import bearer, login_chain, new_key
from tests.gateway.on_market import gateway_on_market
from tests.gateway.test_openai import GATEWAY, USER, VCN, _genesis, _login, _new_key

POST_JOB = "/vcoin.jobs.v1.MsgPostJob"
CANCEL_JOB = "/vcoin.jobs.v1.MsgCancelJob"
PRICE = VCN  # the gateway's max_price: above the worker's floor (VCN / 2)
OTHER = PrivateKey(hashlib.sha256(b"vcoin-gateway-test-other").digest())
UNDER_FLOOR = VCN // 4  # no worker claims a job at this price: it stays queued
EXAMPLES = [
    {"messages": [{"role": "user", "content": "What is VCoin?"},
                  {"role": "assistant", "content": "A GPU compute market."}]},
    {"prompt": "GPUs train ", "completion": "adapters."},
    {"text": "Workers stake VCN and run jobs."},
]  # fmt: skip
TEXTS = [
    "user: What is VCoin?\nassistant: A GPU compute market.\n",
    "GPUs train adapters.",
    "Workers stake VCN and run jobs.",
]
JSONL = "".join(json.dumps(e) + "\n" for e in EXAMPLES).encode()
QUICK = {"n_epochs": 1, "batch_size": 2, "rank": 2, "alpha": 4, "max_length": 16}


@dataclass
class Env:
    node: NodeClient
    rest: str
    base_url: str
    gw: str
    key: str  # USER's key, cap 10 VCN, every scope
    cfg: GatewayConfig


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("gw-finetune")
    with gateway_on_market(
        tmp, _genesis(), user=USER, gateway=GATEWAY, grant=20 * VCN, max_price=PRICE
    ) as s:
        key = _new_key(s.gw, _login(s.gw, USER), 10 * VCN)
        yield Env(s.node, s.rest, s.base_url, s.gw, key, s.cfg)


def client(env: Env, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=env.base_url, api_key=key or env.key, max_retries=0)


def upload(c: openai.OpenAI, data: bytes = JSONL, name: str = "train.jsonl") -> Any:
    return c.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune")


def wait_final(c: openai.OpenAI, ft_id: str, timeout: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = c.fine_tuning.jobs.retrieve(ft_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"{ft_id} still {job.status}"
        time.sleep(1.0)


# -- without a node ------------------------------------------------------------------------
def test_jsonl_examples_become_training_texts_and_bad_files_are_refused() -> None:
    assert training_texts(JSONL + b"\n\n") == TEXTS  # blank lines are skipped
    bad = {
        b"not json at all\n": "line 1 is not JSON",
        b'{"text": "ok"}\n[1, 2]\n': "line 2: each line must be a JSON object",
        b'{"messages": [{"role": "user", "content": "no answer"}]}\n': "assistant message",
        b'{"prompt": "p"}\n': "prompt and completion must both be strings",
        b'{"other": 1}\n': "an example is",
        b"\xff\xfe{}": "not UTF-8",
        b"\n\n": "no examples",
        b'{"text": "x"}\n' * (MAX_EXAMPLES + 1): f"at most {MAX_EXAMPLES} examples",
        json.dumps({"text": "x" * (MAX_TEXT_CHARS + 1)}).encode(): "at most",
    }
    for data, why in bad.items():
        with pytest.raises(ApiError) as e:
            training_texts(data)
        assert e.value.status == 400 and why in e.value.message, (data[:40], e.value.message)


def test_the_gateways_lora_bounds_are_the_runtimes() -> None:
    from compute.runtime.spec import MAX_ITEMS, TASK_PARAMS
    from compute.runtime.spec import MAX_TEXT_CHARS as RUNTIME_TEXT

    lora = TASK_PARAMS["lora-train"]
    assert (MAX_EXAMPLES, MAX_TEXT_CHARS) == (MAX_ITEMS, RUNTIME_TEXT)
    assert lora["steps"][3] == MAX_STEPS and lora["batch_size"][3] == MAX_BATCH
    for name, (_kind, default, lo, hi) in LORA_EXTRA.items():
        assert lora[name][1:] == (default, lo, hi), name
    params, shown = lora_params({"n_epochs": 3, "learning_rate_multiplier": 2}, 10, 7)
    assert params == {"steps": 8, "batch_size": 4, "learning_rate": 2e-3, "seed": 7,
                      "rank": 4, "alpha": 8, "max_length": 64}  # fmt: skip
    assert shown["n_epochs"] == 3 and shown["steps"] == 8
    assert lora_params(None, 2, 0)[0]["batch_size"] == 2  # auto: min(4, examples)
    for hp, param in [
        ({"n_epochs": 1000}, "hyperparameters.n_epochs"),  # 10,000 examples' worth of steps
        ({"batch_size": 0}, "hyperparameters.batch_size"),
        ({"rank": 65}, "hyperparameters.rank"),
        ({"learning_rate_multiplier": "fast"}, "hyperparameters.learning_rate_multiplier"),
        ({"warmup": 3}, "hyperparameters"),
    ]:
        with pytest.raises(ApiError) as e:
            lora_params(hp, 10 if param.endswith("n_epochs") else 4, 0)
        assert e.value.status == 400 and e.value.param == param, (hp, e.value.message)


def test_the_store_keeps_files_and_fine_tunes_per_owner(store_url: str) -> None:
    store = open_store(store_url)
    try:
        a, b = "vcoin1owner", "vcoin1other"
        store.add_file(FileRow("file-1", a, "t.jsonl", "fine-tune", 10, "ab" * 32, 5))
        store.add_file(FileRow("file-2", a, "u.jsonl", "fine-tune", 12, "cd" * 32, 6))
        assert [f.id for f in store.list_files(a)] == ["file-2", "file-1"]  # newest first
        assert store.list_files(b) == [] and store.get_file(b, "file-1") is None
        assert not store.delete_file(b, "file-1") and store.delete_file(a, "file-1")
        assert store.get_file(a, "file-1") is None and not store.delete_file(a, "file-1")
        ft = FineTuneRow("ftjob-1", a, "k1", "tiny-lm", "file-2", None, "{}", "sfx", 0,
                         5 * 10**20, "ef" * 32, None, None, 7, False)  # fmt: skip
        store.add_fine_tune(ft)
        store.add_fine_tune(FineTuneRow(**{**ft.__dict__, "id": "ftjob-0", "created_at": 3}))
        store.drop_fine_tune("ftjob-0")  # never posted: forgotten
        store.set_fine_tune_posted("ftjob-1", 42, "AB" * 32)
        store.drop_fine_tune("ftjob-1")  # posted: kept
        got = store.get_fine_tune(a, "ftjob-1")
        assert got is not None and (got.job_id, got.price, got.accounted) == (42, 5 * 10**20, False)
        assert [r.id for r in store.list_fine_tunes(a)] == ["ftjob-1"]
        assert store.get_fine_tune(b, "ftjob-1") is None
        assert store.mark_accounted("ftjob-1") and not store.mark_accounted("ftjob-1")
    finally:
        store.close()


# -- on the marketplace --------------------------------------------------------------------
def test_a_fine_tuning_job_runs_to_succeeded_and_equals_the_settled_output(env: Env) -> None:
    from safetensors.numpy import load

    c = client(env)
    f = upload(c)
    assert f.purpose == "fine-tune" and f.bytes == len(JSONL) and f.filename == "train.jsonl"
    assert c.files.content(f.id).read() == JSONL
    assert f.id in [x.id for x in c.files.list().data]
    job = c.fine_tuning.jobs.create(
        model="tiny-lm", training_file=f.id, suffix="docs", seed=3,
        hyperparameters=QUICK,  # type: ignore[arg-type]  # rank, alpha, max_length: VCoin's
    )  # fmt: skip
    vcoin = (job.model_extra or {})["vcoin"]
    assert (
        job.status in ("queued", "running")
        and (job.model_extra or {})["suffix"] == "docs"
        and job.seed == 3
    )
    chain_job = env.node.query("jobs", "job", {"id": str(vcoin["job_id"])})
    assert chain_job["poster"] == USER.bech32 and chain_job["task_type"] == "lora-train"
    assert json.loads(chain_job["spec"]) == {"params": {
        "steps": 2, "batch_size": 2, "learning_rate": 1e-3, "seed": 3, "rank": 2, "alpha": 4,
        "max_length": 16}}  # fmt: skip
    inp = ArtifactClient(env.rest, USER).download_bytes(chain_job["input_hash"])  # the poster
    assert hashlib.sha256(inp).hexdigest() == chain_job["input_hash"] == vcoin["input_sha256"]
    assert json.loads(inp) == {"texts": TEXTS}

    done = wait_final(c, job.id)
    assert done.status == "succeeded", done
    vcoin = (done.model_extra or {})["vcoin"]
    settled = env.node.query("jobs", "job", {"id": str(vcoin["job_id"])})
    assert settled["state"] == "settled" == vcoin["state"]
    assert done.fine_tuned_model == settled["output_hash"] == vcoin["output_hash"]
    assert done.finished_at and done.finished_at >= done.created_at - 5
    out = ArtifactClient(env.rest, USER).download_bytes(settled["output_hash"])
    assert hashlib.sha256(out).hexdigest() == done.fine_tuned_model
    assert any("lora_A" in name for name in load(out))  # the adapter's weights
    (result,) = done.result_files  # the adapter as a file of the user's, through the key
    assert c.files.retrieve(result).purpose == "fine-tune-results"
    assert c.files.content(result).read() == out
    losses, _ = adapter_losses(out)
    assert len(losses) == 2

    events = c.fine_tuning.jobs.list_events(job.id, limit=50).data
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["train_loss"] for e in reversed(metrics)] == losses  # type: ignore[index]
    assert "settled" in events[0].message and settled["output_hash"] in events[0].message
    assert events[-1].message.startswith(f"Created fine-tuning job {job.id}")
    assert [e.created_at for e in events] == sorted((e.created_at for e in events), reverse=True)
    assert job.id in [j.id for j in c.fine_tuning.jobs.list().data]
    # the key's spent is what the chain paid (the rest of the escrow came back)
    keys = httpx.get(f"{env.gw}/v1/keys", headers=bearer(_login(env.gw, USER))).json()["data"]
    assert int(keys[0]["spent"]) == int(settled["paid"]) > 0


def test_a_queued_job_is_cancelled_under_the_cancel_grant(env: Env) -> None:
    c = client(env)
    f = upload(c)
    job = c.fine_tuning.jobs.create(
        model="tiny-lm", training_file=f.id, hyperparameters=QUICK,  # type: ignore[arg-type]
        extra_body={"max_price": str(UNDER_FLOOR)},  # under every worker's floor: stays queued
    )  # fmt: skip
    assert job.status == "queued"
    with pytest.raises(openai.PermissionDeniedError) as e:  # no cancel-job grant yet
        c.fine_tuning.jobs.cancel(job.id)
    assert "cancel-job" in str(e.value)
    grant = MsgGrant(granter=USER.bech32, grantee=GATEWAY.bech32, msg_type_url=CANCEL_JOB)
    assert env.node.send_tx(USER, [grant], gas="auto").ok
    done = c.fine_tuning.jobs.cancel(job.id)
    assert done.status == "cancelled" and done.fine_tuned_model is None
    vcoin = (done.model_extra or {})["vcoin"]
    assert env.node.query("jobs", "job", {"id": str(vcoin["job_id"])})["state"] == "cancelled"
    with pytest.raises(openai.BadRequestError):  # the chain cancels queued jobs only
        c.fine_tuning.jobs.cancel(job.id)
    assert "cancelled" in c.fine_tuning.jobs.list_events(job.id).data[0].message


def test_bad_fine_tuning_requests_get_openai_errors(env: Env) -> None:
    c = client(env)
    with pytest.raises(openai.BadRequestError) as e:
        upload(c, b"name,text\nfoo,bar\n", "train.csv")
    assert "line 1 is not JSON" in str(e.value)
    f = upload(c)
    before = len(env.node.query("jobs", "jobs", {"poster": USER.bech32})["jobs"])
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.create(model="tiny-lm", training_file="file-nosuchfile")
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.create(model="no-such-model", training_file=f.id)
    with pytest.raises(openai.BadRequestError):  # an embedding model: no lora-train
        c.fine_tuning.jobs.create(model="all-minilm-l6-v2", training_file=f.id)
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.create(
            model="tiny-lm", training_file=f.id, hyperparameters={"n_epochs": 1000}
        )
    assert (e.value.body or {})["param"] == "hyperparameters.n_epochs"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.retrieve("ftjob-nosuchjob")
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve("file-nosuchfile")
    token = _login(env.gw, USER)
    narrow = httpx.post(
        f"{env.gw}/v1/keys", json={"scopes": ["completions"]}, headers=bearer(token)
    ).json()["key"]
    with pytest.raises(openai.PermissionDeniedError):
        upload(client(env, narrow))
    with pytest.raises(openai.PermissionDeniedError):
        client(env, narrow).fine_tuning.jobs.create(model="tiny-lm", training_file=f.id)
    small = _new_key(env.gw, token, VCN // 2)  # under one job's escrow
    g = upload(client(env, small))  # a file of this key's owner: the same user's
    with pytest.raises(openai.APIStatusError) as over:
        client(env, small).fine_tuning.jobs.create(model="tiny-lm", training_file=g.id)
    assert over.value.status_code == 402 and "spend cap" in str(over.value)
    assert len(env.node.query("jobs", "jobs", {"poster": USER.bech32})["jobs"]) == before


def test_the_file_routes_on_both_store_back_ends(env: Env, store_url: str) -> None:
    """A second gateway app over the same node, on SQLite and on PostgreSQL; another
    account's file is 404 to it, as an unknown one."""
    cfg = env.cfg.with_(database=store_url)
    with TestClient(create_app(cfg), base_url="http://testserver") as tc:
        key = new_key(tc, login_chain(tc, USER))["key"]
        other = new_key(tc, login_chain(tc, OTHER))["key"]
        c = openai.OpenAI(base_url="http://testserver/v1", api_key=key, http_client=tc)
        f = upload(c)
        assert c.files.retrieve(f.id).bytes == len(JSONL)
        assert c.files.content(f.id).read() == JSONL
        digest = hashlib.sha256(JSONL).hexdigest()  # uploaded by the gateway's account
        assert ArtifactClient(env.rest, GATEWAY).download_bytes(digest) == JSONL
        o = openai.OpenAI(base_url="http://testserver/v1", api_key=other, http_client=tc)
        with pytest.raises(openai.NotFoundError):
            o.files.retrieve(f.id)
        assert o.files.list().data == []
        assert c.files.delete(f.id).deleted
        with pytest.raises(openai.NotFoundError):
            c.files.retrieve(f.id)
        r = tc.post("/v1/files", json={"purpose": "fine-tune"}, headers=bearer(key))
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_a_users_files_are_held_to_the_files_quota(env: Env, tmp_path: Path) -> None:
    """One user may keep ``files_quota_bytes`` of files: at the quota is fine, a byte over is
    413 quota_exceeded with nothing stored, and deleting a file makes room again."""
    small = b'{"text": "a"}\n'
    cfg = env.cfg.with_(
        database=f"sqlite:///{tmp_path / 'q.sqlite3'}", files_quota_bytes=2 * len(small) + 1
    )
    with TestClient(create_app(cfg), base_url="http://testserver") as tc:
        key = new_key(tc, login_chain(tc, USER))["key"]
        c = openai.OpenAI(base_url="http://testserver/v1", api_key=key, http_client=tc)
        first = upload(c, small)
        upload(c, small + b"\n")  # 2 * len(small) + 1 bytes in all: at the quota
        over = b'{"text": "b"}\n'  # one byte past it
        with pytest.raises(openai.APIStatusError) as e:
            upload(c, over)
        assert e.value.status_code == 413 and "files_quota_bytes" in str(e.value)
        assert len(c.files.list().data) == 2
        assert not ArtifactClient(env.rest, GATEWAY).readable(hashlib.sha256(over).hexdigest())
        c.files.delete(first.id)
        assert upload(c, over).bytes == len(over)  # room again


def test_the_training_data_is_private(env: Env) -> None:
    """The JSONL blob reads only with the gateway's token; the job's input (the texts)
    with the poster's, never a stranger's or none."""
    from chain.artifacts import Forbidden

    c = client(env)
    data = b'{"text": "private training data"}\n'
    f = upload(c, data)
    job = c.fine_tuning.jobs.create(
        model="tiny-lm", training_file=f.id, hyperparameters=QUICK,  # type: ignore[arg-type]
        extra_body={"max_price": str(UNDER_FLOOR)},  # stays queued: nobody else reads it
    )  # fmt: skip
    input_sha = (job.model_extra or {})["vcoin"]["input_sha256"]
    file_sha = hashlib.sha256(data).hexdigest()
    assert ArtifactClient(env.rest, GATEWAY).download_bytes(file_sha) == data
    assert json.loads(ArtifactClient(env.rest, USER).download_bytes(input_sha)) == {
        "texts": ["private training data"]
    }
    for digest in (file_sha, input_sha):
        assert httpx.get(f"{env.rest}/artifacts/{digest}").status_code in (401, 403)
        with pytest.raises(Forbidden):
            ArtifactClient(env.rest, OTHER).download_bytes(digest)
