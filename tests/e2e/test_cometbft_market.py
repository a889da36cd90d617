"""The marketplace end to end on four real CometBFT validators (``app.testnet.Testnet``).

A real ``vcoin-worker`` and ``vcoin-oracle`` run against node 1's CometBFT RPC and its
artifact store (``app.testnet_market.TestnetMarket``, what ``scripts/testnet
--with-market`` runs); alice posts a text-generation job through node 2. The job is
claimed, run and submitted by the worker, picked for checking (every result is: the
sampling rate is 100 % in this genesis), re-executed and attested by the oracle, and
settled: the worker paid, a share burned, the rest of alice's escrow refunded. Every
validator then reports the same job, the same balances and the same app hash at every
height.

Jobs run in the process sandbox (the docker one is exercised by tests/e2e/
test_marketplace.py; here the subject is the consensus layer underneath). The oracle
posts no canaries, so the only job is alice's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.testnet import Testnet, rpc
from app.testnet_market import TestnetMarket
from chain.artifact_auth import artifact_token
from chain.client import NodeClient
from genesis.devnet import dev_key
from tests.e2e.market import ALICE, PRICE, job_msg
from tests.support.nodes import free_port_block, needs_cometbft
from tests.support.wait import wait_for

pytestmark = [pytest.mark.slow, needs_cometbft]

BASE_PORT = free_port_block(200)  # metrics ports at +100
MARKET_NODE, POSTER_NODE = 1, 2


class SampledTestnet(Testnet):
    """The testnet's genesis with every result picked for an oracle check."""

    __test__ = False

    def genesis(self) -> dict[str, Any]:
        doc = super().genesis()
        params = doc["app_state"].setdefault("verification", {}).setdefault("params", {})
        params.update(base_sample_bps=10_000, max_sample_bps=10_000)
        return doc


def job_events(c: NodeClient, job_id: int, first: int) -> list[tuple[int, str, dict[str, str]]]:
    """(height, type, attributes) of every event naming ``job_id`` from block ``first`` on."""
    out = []
    for h in range(first, c.latest_height() + 1):
        r = c.block_results(h)
        evs = [e for t in r.get("txs_results") or [] if t["code"] == 0 for e in t["events"]]
        evs += r.get("finalize_block_events") or []
        for e in evs:
            attrs = {a["key"]: a["value"] for a in e["attributes"]}
            if attrs.get("job_id") == str(job_id):
                out.append((h, e["type"], attrs))
    return out


def app_hashes(net: Testnet, i: int, upto: int) -> list[str]:
    url = net.validators[i].rpc_url
    return [
        rpc(url, "block", {"height": str(h)})["block"]["header"]["app_hash"]
        for h in range(2, upto + 1)
    ]


def test_a_job_posted_through_one_validator_is_run_checked_and_settled_on_all(
    tmp_path: Path,
) -> None:
    t0 = time.monotonic()
    net = SampledTestnet(tmp_path / "net", 4, base_port=BASE_PORT)
    node = net.validators[MARKET_NODE]
    market = TestnetMarket(
        tmp_path / "market",
        node.rpc_url,
        node.rest_url,
        workers=("worker1",),
        oracles=("oracle1",),
        sandbox="process",
        metrics_port=BASE_PORT + 100,
        models=["tiny-lm"],
        worker_settings={"job_memory_mib": 2048, "job_timeout_s": 120},
        canaries=False,
        grace=5,
    )
    worker, oracle = dev_key("worker1").bech32, dev_key("oracle1").bech32
    try:
        net.start(wait_height=1)
        market.publish_models()
        market.setup()
        market.start()
        t_ready = time.monotonic()

        poster = NodeClient(net.validators[POSTER_NODE].rpc_url, timeout=30)
        resp = poster.send_tx(ALICE, [job_msg(0)], gas="auto")
        (job_id,) = (int(x) for x in resp.attributes("JobPosted", "job_id"))
        posted_at = resp.height

        def settled() -> dict[str, Any] | None:
            for d in market.daemons:
                assert d.alive(), f"{d.name} died:\n{d.log.read_text()[-3000:]}"
            j: dict[str, Any] = poster.query("jobs", "job", {"id": str(job_id)})
            assert j["state"] not in ("rejected", "failed", "expired", "cancelled"), j
            return j if j["state"] == "settled" else None

        job = wait_for(f"job {job_id} to settle", settled, 240, 0.5)
        t_settled = time.monotonic()

        # -- what happened to it, as node 2 saw it -------------------------------------------
        evs = job_events(poster, job_id, posted_at)
        kinds = [t for _, t, _ in evs]
        by = {t: a for _, t, a in evs}
        assert by["JobClaimed"]["worker"] == worker, evs
        assert by["ResultSubmitted"]["worker"] == worker, evs
        assert "VerificationRequested" in kinds, evs  # picked for checking
        assert [a["oracle"] for _, t, a in evs if t == "Attested"] == [oracle], evs
        assert (by["VerdictReached"]["verdict"], by["VerdictReached"]["how"]) == (
            "pass",
            "quorum",
        ), evs
        assert by["JobSettled"]["worker"] == worker
        paid = int(by["WorkerPaid"]["amount"].removesuffix("avcn"))
        burned = int(by["FeeBurned"]["amount"].removesuffix("avcn"))
        treasury = int(by["TreasuryCredited"]["amount"].removesuffix("avcn"))
        assert by["WorkerPaid"]["worker"] == worker and paid == int(job["paid"]) > 0
        price = int(job["price"])
        assert burned > 0 and burned + treasury == price, (burned, treasury, price)
        assert int(job["escrow"]) == 0 and int(job["max_price"]) == PRICE
        assert int(job["refunded"]) == PRICE - price
        assert job["worker"] == worker and job["output_hash"]
        # the output is in node 1's artifact store, where the worker put it
        # the poster reads it with a token (a job's output is private to its poster,
        # worker and the oracles)
        token = artifact_token(ALICE, "get", job["output_hash"])
        out = httpx.get(f"{node.rest_url}/artifacts/{job['output_hash']}?token={token}", timeout=10)
        assert out.status_code == 200

        # -- every validator agrees ------------------------------------------------------------
        settle_height = max(h for h, t, _ in evs if t == "JobSettled")
        net.wait_height(settle_height + 1, timeout=60)
        for i in range(4):
            c = NodeClient(net.validators[i].rpc_url, timeout=30)
            assert c.query("jobs", "job", {"id": str(job_id)}) == job, i
            for who in (worker, ALICE.bech32):
                assert c.balance(who) == poster.balance(who), (i, who)
        top = min(v.height() for v in net.validators)
        first = app_hashes(net, 0, top)
        for i in range(1, 4):
            assert app_hashes(net, i, top) == first, i

        codes = market.stop()
        assert codes == {"worker1": 0, "oracle1": 0}, codes
    finally:
        market.stop()
        net.stop()
    print(
        f"\nmarket ready in {t_ready - t0:.0f}s, job {job_id} settled "
        f"{t_settled - t_ready:.0f}s after posting, whole test {time.monotonic() - t0:.0f}s"
    )
