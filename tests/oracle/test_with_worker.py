"""The real worker and the oracle agree: a ``vcoin-worker`` process runs text generation,
embeddings and LoRA training in its process sandbox; the oracle checks each job (every
result is picked: the greedy text by prefill, the others by re-execution) and attests a
pass with similarity 10000."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from nacl.signing import SigningKey

from genesis.devnet import dev_key
from tests.oracle._node import ORACLE1, POSTER, bond_oracle, market_node, post_job
from tests.oracle.conftest import Models
from tests.oracle.test_daemon import CountingRunner, make_oracle
from tests.worker.agent_env import WorkerProc

ALWAYS = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}
TEXTS = ["the cat sat on the mat", "a dog ran in the park", "birds sing at dawn"]


@pytest.mark.slow
def test_every_task_type_of_a_real_worker_passes_the_oracle(tmp_path: Path, models: Models) -> None:
    with market_node(tmp_path / "node", models, **ALWAYS) as net:
        signer = SigningKey.generate()
        bond_oracle(net, ORACLE1, bytes(signer.verify_key))
        market = SimpleNamespace(node=SimpleNamespace(rpc=net.rpc), artifacts=net.rest)
        worker = WorkerProc(
            market,  # type: ignore[arg-type]
            tmp_path / "worker",
            "worker1",
            sandbox="process",
            price_floor=0,
            max_concurrent=1,
        )
        worker.setup(stake="1000VCN")
        worker.start()
        runner = CountingRunner()
        oracle = make_oracle(net, tmp_path / "oracle", ORACLE1, signer, runner, cheap_checks=True)
        oracle.open()
        try:
            jobs = [
                post_job(net, POSTER, {"prompts": ["Hello", "World"]}),
                post_job(net, POSTER, {"texts": TEXTS}, task="embedding", model="minilm", spec=""),
                post_job(
                    net,
                    POSTER,
                    {"texts": TEXTS, "eval_texts": TEXTS[:1]},
                    task="lora-train",
                    spec='{"params": {"steps": 3}}',
                ),
            ]

            def settled() -> bool:
                return all(net.job(j)["state"] == "settled" for j in jobs)

            net.wait_for(settled, timeout=300, step=oracle.step)
        finally:
            worker.close()
        got = {int(e["job_id"]): e for e in net.attested_events(ORACLE1.bech32)}
        assert sorted(got) == sorted(jobs)
        for j in jobs:
            assert (got[j]["verdict"], got[j]["similarity_bps"]) == ("pass", "10000")
            assert net.job(j)["worker"] == dev_key("worker1").bech32
        # greedy text checked by prefill, embeddings on drawn rows (both in process), LoRA
        # re-executed in the sandbox
        assert runner.jobs == [str(jobs[2])]
        evidence = [json.loads(p.read_bytes()) for p in (tmp_path / "oracle/evidence").iterdir()]
        metrics = sorted(json.dumps(e, sort_keys=True) for e in evidence)
        assert any("greedy-prefill" in m for m in metrics), metrics
        assert any("embedding-row-subset-cosine" in m for m in metrics), metrics
