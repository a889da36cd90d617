"""The chain-level training tests' market: two lora workers, an oracle, a poster; every
block's result kept (``TMarket.log``) and every invariant checked after each block."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from app.app import App
from chain.results import BlockResult
from modules.training import msgs as tm
from tests.support.chain import block_events, test_key
from tests.support.genesis import market_genesis
from tests.support.market import Market, output_of
from tests.support.stake import VCN

W1, W2 = test_key(0), test_key(1)
POSTER = test_key(10)
ORACLE = test_key(20)
MODEL = "tiny-lora"  # serves lora-train (tests/support/genesis.py)
DATASET = "d" * 64
MANIFEST = "e" * 64
LORA_TASKS = ("lora-train", "lora-shard", "lora-aggregate")
FLOOR = 3 * VCN  # each worker's price: what a claim pays
# only the always-checked aggregates are drawn, unless a test samples everything
NO_SAMPLING = {
    "base_sample_bps": 0,
    "low_rep_factor_bps": 0,
    "new_worker_sample_bps": 0,
    "cost_share_bps": 0,
}


def post_fields(key: Any = POSTER, **kw: Any) -> dict[str, Any]:
    """A good MsgPostTraining's fields (2 shards × 2 rounds of 10 records), ``kw`` over them."""
    fields: dict[str, Any] = {
        "poster": key.bech32,
        "model": MODEL,
        "dataset": DATASET,
        "manifest": MANIFEST,
        "records": 10,
        "shards": 2,
        "rounds": 2,
        "steps": 4,
        "rank": 4,
        "alpha": 8,
        "target_modules": ["q_proj", "v_proj"],
        "lr_micro": 1000,
        "batch_size": 2,
        "seed": 7,
        "max_length": 64,
        "aggregation": "ffa-mean",
        "price_per_shard": str(5 * VCN),
        "aggregate_price": str(4 * VCN),
    }
    fields.update(kw)
    return fields


class TMarket(Market):
    def __init__(self, app: App) -> None:
        super().__init__(app)
        self.log: list[BlockResult] = []
        self.genesis_doc: dict[str, Any] = {}

    def block(self, txs: Sequence[bytes], time_ns: int | None = None) -> BlockResult:
        r = super().block(txs, time_ns)
        self.log.append(r)
        return r

    def events(self, type_: str) -> list[dict[str, str]]:
        return block_events(self.log, type_)

    def training(self, tid: int) -> dict[str, Any]:
        return dict(self.q("training", "training", id=tid))

    def post_training(self, key: Any = POSTER, **kw: Any) -> Any:
        return self.tx(key, tm.MsgPostTraining(**post_fields(key, **kw)))

    def finish(self, worker: Any, job_id: int, honest: bool = True) -> None:
        """``worker`` claims and submits ``job_id``; blocks run until it is final (an
        oracle attests a checked one: pass for an honest output, else fail)."""
        assert self.claim(worker, job_id).code == 0
        assert self.submit(worker, job_id, output=output_of(job_id, honest)).code == 0
        for _ in range(20):
            j = self.job(job_id)
            if j.state == "checking":
                verdict = "pass" if honest else "fail"
                assert self.attest(ORACLE, job_id, verdict).code == 0
            elif j.state in ("settled", "rejected"):
                return
            else:
                self.block([])
        raise AssertionError(f"job {job_id} is still {self.job(job_id).state}")


def inline(m: TMarket, job_id: int) -> dict[str, Any]:
    return dict(json.loads(m.job(job_id).inline_input))


def open_jobs(t: dict[str, Any]) -> list[int]:
    rd = t["rounds_detail"][t["round"]]
    return [s["job_id"] for s in rd["shards"] if s["state"] == "open"]


@pytest.fixture
def make_market(make_app: Callable[..., App]) -> Callable[..., TMarket]:
    def make(
        verification: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
        jobs: dict[str, Any] | None = None,
    ) -> TMarket:
        doc = market_genesis(
            verification={
                "challenge_window_blocks": 2,
                "attest_window_blocks": 10,
                **NO_SAMPLING,
                **(verification or {}),
            },
            jobs={"default_claim_blocks": 50, "default_result_blocks": 10, **(jobs or {})},
            training=training or {},
        )
        m = TMarket(make_app(copy.deepcopy(doc)))
        m.genesis_doc = doc
        for w in (W1, W2):
            m.setup_worker(w, models=(MODEL,), task_types=LORA_TASKS, price_floor=FLOOR)
        assert m.bond_oracle(ORACLE, "o1").code == 0
        return m

    return make


@pytest.fixture
def m(make_market: Callable[..., TMarket]) -> TMarket:
    return make_market()
