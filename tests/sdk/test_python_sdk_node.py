"""The Python SDK against a real node with a real worker and oracle (``sdk_devnet``):
send VCN, post a job the worker runs (and the oracle may sample), wait for its
settlement over the websocket, fetch and hash-check its output, read the worker's
reputation and bonds; bond, unbond, register, cancel; the async client; refusals."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vcoin_sdk import (
    VCN,
    AsyncClient,
    Client,
    InvalidAddress,
    Key,
    NotFound,
    TxError,
    WaitTimeout,
    msgs,
)

from tests.sdk.conftest import SDK_PYTHON, SdkDevnet

pytestmark = pytest.mark.slow


@pytest.fixture
def client(sdk_devnet: SdkDevnet) -> Client:
    with Client(sdk_devnet.rpc_url, sdk_devnet.rest_url) as c:
        yield c  # type: ignore[misc]


@pytest.fixture
def key(sdk_devnet: SdkDevnet) -> Key:
    return Key.from_mnemonic(sdk_devnet.mnemonics["python"])


def test_queries(client: Client, key: Key, sdk_devnet: SdkDevnet) -> None:
    assert client.chain_id() == sdk_devnet.chain_id
    assert client.height() >= 1
    assert key.address == sdk_devnet.addresses["python"]
    assert client.balance(key.address) > 0
    assert client.balance(key.eip55_address) == client.balance(key.address)
    acc = client.account(key.address)
    assert acc is not None and acc.address == key.address
    assert client.account(Key.generate()[0].address) is None
    assert client.params("jobs")["default_claim_blocks"]
    assert {m["id"] for m in client.models()} >= {"tiny-lm", "all-minilm-l6-v2"}
    worker_bonds = {b.role: b for b in client.bonds(sdk_devnet.worker)}
    assert worker_bonds["worker"].bonded > 0 and worker_bonds["worker"].active
    with pytest.raises(NotFound):
        client.job(10**9)


def test_send_with_simulated_fee(client: Client, key: Key) -> None:
    to, _ = Key.generate()
    gas = client.estimate_gas(key, [msgs.send(key.address, to.address, "1.5VCN")], "sdk test")
    assert 10_000 < gas < 200_000
    before = client.balance(key.address)
    res = client.send(key, to.eip55_address, "1.5VCN", memo="sdk test")
    assert res.ok and res.height > 0 and res.gas_wanted == gas
    assert client.balance(to.address) == 3 * VCN // 2
    price = int(client.params("auth")["min_gas_price"])
    assert client.balance(key.address) == before - 3 * VCN // 2 - gas * price
    # back-to-back without waiting: the client counts sequences itself
    hashes = [client.send(key, to.address, 1000 + i, wait=False).hash for i in range(5)]
    for h in hashes:
        assert client.wait_tx(h).ok
    assert client.balance(to.address) == 3 * VCN // 2 + sum(1000 + i for i in range(5))


def test_a_job_runs_settles_and_its_output_checks(
    client: Client, key: Key, sdk_devnet: SdkDevnet
) -> None:
    posted = client.post_job(
        key, model="tiny-lm", task_type="text-generation", max_price="2VCN",
        input={"prompts": ["The GPU marketplace"]}, spec={"params": {"max_new_tokens": 8}},
    )  # fmt: skip
    assert posted.job_id > 0 and posted.tx.ok
    job = client.wait_job(posted.job_id, timeout=240)
    sdk_devnet.check_alive()
    assert client.blocks_heard > 0  # it waited on the websocket's new blocks
    assert job.state == "settled", job.raw
    assert job.worker == sdk_devnet.worker and job.output_hash
    assert job.paid > 0 and job.paid + job.refunded <= 2 * VCN
    out = client.job_output(job.id, key)  # the poster's token: the output is not public
    assert hashlib.sha256(out).hexdigest() == job.output_hash
    assert posted.job_id in [j.id for j in client.jobs(poster=key.address)]
    assert posted.job_id in [j.id for j in client.jobs(worker=sdk_devnet.worker)]
    rep = client.reputation(sdk_devnet.worker)
    assert rep.address == sdk_devnet.worker and rep.total >= 1 and 0 < rep.score <= 100
    # an uploaded artifact (a signed upload) comes back to its uploader, hash-checked
    digest = client.put_artifact(key, b"some bytes")
    assert client.fetch_artifact(digest, key) == b"some bytes"


def test_bond_unbond_register_cancel(client: Client, key: Key) -> None:
    assert client.bond(key, "worker", "100VCN").ok
    b = {x.role: x for x in client.bonds(key.address)}["worker"]
    assert b.bonded == 100 * VCN
    assert client.unbond(key, "worker", "40VCN").ok
    b = {x.role: x for x in client.bonds(key.address)}["worker"]
    assert b.bonded == 60 * VCN and b.unbonding
    res = client.register_worker(key, gpu_model="none", memory_mib=1024, models=["tiny-lm"],
                                 task_types=["text-generation"], price_floor="1VCN")  # fmt: skip
    assert res.ok
    assert client.worker(key.address)["address"] == key.address
    # a job no worker can take (8 GPUs): cancelled while queued, refunded
    posted = client.post_job(key, model="tiny-lm", task_type="text-generation", max_price="1VCN",
                             input="hello", min_gpu_count=8)  # fmt: skip
    assert client.job(posted.job_id).state == "queued"
    # waiting by polling (no websocket) ends at its timeout
    with Client(client.rpc_url, client.rest_url, use_websocket=False, poll_interval=0.5) as poll:
        t0 = time.monotonic()
        with pytest.raises(WaitTimeout, match="queued"):
            poll.wait_job(posted.job_id, timeout=2, states=("settled",))
        assert 1.5 < time.monotonic() - t0 < 10 and poll.blocks_heard == 0
    assert client.cancel_job(key, posted.job_id).ok
    assert client.job(posted.job_id).state == "cancelled"


def test_refusals(client: Client, key: Key, sdk_devnet: SdkDevnet) -> None:
    with pytest.raises(TxError) as e:  # more than it has
        client.send(key, sdk_devnet.addresses["bench"], 10**9 * VCN)
    assert e.value.stage == "check" and e.value.codespace
    with pytest.raises(TxError) as e:  # not an oracle
        client.attest(key, 1, verdict="pass", similarity_bps=10_000, signature=b"\x00" * 64)
    assert e.value.codespace == "verification"
    with pytest.raises(TxError) as e:  # no simulation: CheckTx runs the handler and refuses
        client.attest(key, 1, verdict="pass", similarity_bps=10_000, signature=b"\x00" * 64,
                      tx={"gas": 200_000})  # fmt: skip
    assert e.value.stage == "check" and e.value.codespace == "verification", e.value
    with pytest.raises(InvalidAddress):
        client.send(key, sdk_devnet.addresses["bench"][:-1] + "q", "1VCN")
    with pytest.raises(NotFound, match="send it some VCN"):
        client.send(Key.generate()[0], key.address, "1VCN")


def test_the_async_client(sdk_devnet: SdkDevnet, key: Key) -> None:
    async def main() -> None:
        async with AsyncClient(sdk_devnet.rpc_url, sdk_devnet.rest_url) as c:
            assert await c.chain_id() == sdk_devnet.chain_id
            to, _ = Key.generate()
            res = await c.send(key, to.address, "2VCN")
            assert res.ok and await c.balance(to.address) == 2 * VCN
            posted = await c.post_job(key, model="all-minilm-l6-v2", task_type="embedding",
                                      max_price="1VCN", input={"texts": ["hello"]},
                                      spec={"params": {"max_length": 32}})  # fmt: skip
            job = await c.wait_job(posted.job_id, timeout=240)
            assert job.state == "settled", job.raw
            assert c.blocks_heard > 0
            out = await c.job_output(job.id, key)
            assert hashlib.sha256(out).hexdigest() == job.output_hash
            rep = await c.reputation(sdk_devnet.worker)
            assert rep.total >= 1

    asyncio.run(main())


def test_the_readme_quick_start(sdk_devnet: SdkDevnet, tmp_path: Path) -> None:
    """sdk/python/README.md's quick-start script, as printed, against the node."""
    readme = (SDK_PYTHON / "README.md").read_text()
    script = readme.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "quickstart.py").write_text(script)
    env = os.environ | {
        "VCOIN_NODE": sdk_devnet.rpc_url,
        "VCOIN_REST": sdk_devnet.rest_url,
        "ALICE_KEY": sdk_devnet.dev_keys["alice"],
        "PYTHONPATH": str(SDK_PYTHON),
    }
    r = subprocess.run([sys.executable, str(tmp_path / "quickstart.py")], env=env,
                       capture_output=True, text=True, timeout=400)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"chain {sdk_devnet.chain_id}" in r.stdout
    assert re.search(r"job \d+ settled worker " + sdk_devnet.worker, r.stdout), r.stdout
    assert "worker reputation" in r.stdout
