"""What a training post is refused for (each refusal names its field and nothing is
escrowed), the internal task types, and the module's genesis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from modules.training import genesis
from tests.modules.training.chain.conftest import (
    LORA_TASKS,
    MODEL,
    POSTER,
    TMarket,
)
from tests.support.chain import test_key
from tests.support.stake import VCN

BAD: list[tuple[dict[str, Any], str]] = [
    ({"rank": 0}, "rank"),
    ({"rank": 65}, "rank must be in 1..64"),
    ({"alpha": 257}, "alpha must be in 1..256"),
    ({"steps": 1001}, "steps must be in 1..1000"),
    ({"lr_micro": 1_000_001}, "lr_micro must be in 1..1000000"),
    ({"batch_size": 65}, "batch_size must be in 1..64"),
    ({"max_length": 7}, "max_length must be in 8..512"),
    ({"max_length": 513}, "max_length must be in 8..512"),
    ({"records": (1 << 20) + 1}, "records must be at most 1048576"),
    ({"shards": 0}, "shards"),
    ({"shards": 11}, "shards (11) must be at most records (10)"),
    ({"shards": 40, "records": 100}, "max_shards"),
    ({"rounds": 0}, "rounds"),
    ({"rounds": 51}, "max_rounds"),
    ({"steps": 0}, "steps"),
    ({"target_modules": []}, "target_modules"),
    ({"target_modules": ["lm_head"]}, "target_modules: 'lm_head'"),
    ({"aggregation": "mean"}, "aggregation"),
    ({"price_per_shard": "0"}, "price_per_shard"),
    ({"aggregate_price": "1.5"}, "aggregate_price"),
    ({"dataset": "abc"}, "dataset"),
    ({"manifest": "F" * 64}, "manifest"),
    ({"model": "tiny-lm"}, "does not serve lora-train"),
    ({"model": "no-such-model"}, "not registered"),
    ({"shard_blocks": 10**9}, "shard_blocks"),
    ({"price_per_shard": str(10**30)}, "insufficient"),
]


@pytest.mark.parametrize(("fields", "says"), BAD, ids=[s for _, s in BAD])
def test_a_bad_training_is_refused_naming_the_field_and_escrows_nothing(
    m: TMarket, fields: dict[str, Any], says: str
) -> None:
    before = m.balance(POSTER)
    r = m.post_training(**fields)
    assert r.code != 0
    assert says.lower() in r.log.lower(), r.log
    assert m.module_balance("training") == 0
    assert m.q("training", "trainings", poster=POSTER.bech32)["trainings"] == []
    assert not m.events("JobPosted")
    assert m.balance(POSTER) > before - VCN  # at most the tx fee went


def test_a_config_at_the_runtimes_limits_is_taken(m: TMarket) -> None:
    top = {"rank": 64, "alpha": 256, "steps": 1000, "lr_micro": 1_000_000, "batch_size": 64}
    assert m.post_training(**top, max_length=512, records=1 << 20).code == 0
    low = {"rank": 1, "alpha": 1, "steps": 1, "lr_micro": 1, "batch_size": 1}
    assert m.post_training(**low, max_length=8).code == 0


def test_the_chains_config_limits_are_the_job_runtimes() -> None:
    """A config the chain takes must run: the post limits equal what the runtime checks."""
    from compute.training import inputs, manifest
    from modules.training import msgs

    runtime = {k: v for k, v in inputs.CONFIG_INTS.items() if k != "seed"}
    assert msgs.CONFIG_RANGES == runtime
    assert msgs.MAX_RECORDS == manifest.MAX_RECORDS


def test_max_rank_below_the_runtimes_limit_is_the_chains(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(training={"max_rank": 8})
    assert "max_rank" in m.post_training(rank=9).log
    assert m.post_training(rank=8).code == 0


def test_a_price_under_the_jobs_min_price_is_refused(make_market: Callable[..., TMarket]) -> None:
    m = make_market(jobs={"min_price": 10 * VCN})
    r = m.post_training(price_per_shard=str(20 * VCN), aggregate_price=str(5 * VCN))
    assert r.code != 0 and "aggregate_price must be at least" in r.log
    assert m.module_balance("training") == 0


@pytest.mark.parametrize("task_type", ["lora-shard", "lora-aggregate"])
def test_msg_post_job_of_an_internal_task_type_is_refused(m: TMarket, task_type: str) -> None:
    r = m.tx(POSTER, m.post_msg(POSTER, model=MODEL, task_type=task_type))
    assert r.code != 0
    assert "internal" in r.log and "MsgPostTraining" in r.log
    assert m.module_balance("escrow") == 0


def test_a_worker_registers_the_internal_task_types_a_model_does_not(m: TMarket) -> None:
    w = test_key(5)
    assert m.tx(w, m.register_worker_msg(w, models=(MODEL,), task_types=LORA_TASKS)).code == 0
    assert set(m.q("jobs", "worker", address=w.bech32)["task_types"]) == set(LORA_TASKS)


def test_an_unknown_training_and_job_are_not_found(m: TMarket) -> None:
    with pytest.raises(Exception, match="no training 9"):
        m.q("training", "training", id=9)
    with pytest.raises(Exception, match="not a training's job"):
        m.q("training", "by_job", job_id=1)


def test_genesis_exports_what_it_imports(m: TMarket) -> None:
    assert m.post_training().code == 0
    ctx = m.app.query_ctx().branch()
    out = genesis.export(ctx)
    assert out["next_id"] == "2" and len(out["trainings"]) == 1
    assert len(out["jobs"]) == 2 and out["trainings"][0]["rounds_detail"][0]["round"] == 0
    genesis.validate(out)
    genesis.init(ctx, out)
    assert genesis.export(ctx) == out
    assert genesis.default()["trainings"] == []
    genesis.validate(genesis.default())
