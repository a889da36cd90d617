"""authz over the training module: a grantee posts and cancels distributed trainings for
its granter. A post spends its whole escrow, rounds × (shards × price_per_shard +
aggregate_price), from the grant at once (at, under and over the limit); the granter is
the training's poster, pays the escrow and gets every refund (a cancel's, a completed
training's unspent budget); a cancel needs its own ``cancel-training`` grant; the CLI
knows the short names ``post-training`` and ``cancel-training``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.message import Message

from app.app import App
from chain.coins import DENOM
from chain.crypto import PrivateKey, module_address
from chain.proto import type_url
from modules.authz.cli import type_url_of
from modules.authz.msgs import MsgExec, MsgGrant
from modules.training import msgs as tm
from tests.modules.training.chain.conftest import (
    DATASET,
    FLOOR,
    LORA_TASKS,
    MANIFEST,
    MODEL,
    NO_SAMPLING,
    ORACLE,
    W1,
    TMarket,
    open_jobs,
)
from tests.support.chain import GAS_PRICE, events_of, test_key
from tests.support.genesis import market_genesis
from tests.support.market import code
from tests.support.stake import VCN

GRANTER, GRANTEE = test_key(10), test_key(11)
POST, CANCEL = tm.POST_TRAINING_URL, tm.CANCEL_TRAINING_URL
PRICE, AGG = 5 * VCN, 4 * VCN
GAS = 1_000_000  # a post training writes its round's jobs: more than the default 200,000
EXEC_FEE = GAS * GAS_PRICE


def escrow_of(shards: int, rounds: int) -> int:
    return rounds * (shards * PRICE + AGG)


@pytest.fixture
def m(make_app: Callable[..., App]) -> TMarket:
    doc = market_genesis(
        verification={"challenge_window_blocks": 2, "attest_window_blocks": 10, **NO_SAMPLING},
        jobs={"default_claim_blocks": 50, "default_result_blocks": 10},
    )
    mk = TMarket(make_app(copy.deepcopy(doc)))
    mk.setup_worker(W1, models=(MODEL,), task_types=LORA_TASKS, price_floor=FLOOR)
    assert mk.bond_oracle(ORACLE, "o1").code == 0
    return mk


def grant(m: TMarket, url: str, limit: int = 0) -> None:
    g = MsgGrant(granter=GRANTER.bech32, grantee=GRANTEE.bech32, msg_type_url=url)
    if limit:
        g.spend_limit.CopyFrom(Coin(denom=DENOM, amount=str(limit)))
    r = m.tx(GRANTER, g)
    assert r.code == 0, r.log


def post_msg(shards: int = 2, rounds: int = 2) -> tm.MsgPostTraining:
    return tm.MsgPostTraining(
        poster=GRANTER.bech32, model=MODEL, dataset=DATASET, manifest=MANIFEST, records=10,
        shards=shards, rounds=rounds, steps=4, rank=4, alpha=8, target_modules=["q_proj"],
        lr_micro=1000, batch_size=2, seed=7, max_length=64, aggregation="ffa-mean",
        price_per_shard=str(PRICE), aggregate_price=str(AGG),
    )  # fmt: skip


def exec_(m: TMarket, *inner: Message) -> Any:
    packed = [AnyPb(type_url=type_url(type(x)), value=x.SerializeToString()) for x in inner]
    msg = MsgExec(grantee=GRANTEE.bech32, msgs=packed)
    return m.deliver_one(m.sign(GRANTEE, [msg], gas_limit=GAS))


def left(m: TMarket, url: str = POST) -> int:
    g = m.q("authz", "grant", granter=GRANTER.bech32, grantee=GRANTEE.bech32, msg_type_url=url)
    return int(g["spend_limit"]["amount"])


def trainings(m: TMarket, who: PrivateKey = GRANTER) -> list[dict[str, Any]]:
    return list(m.q("training", "trainings", poster=who.bech32)["trainings"])


def snapshot(m: TMarket) -> Any:
    g = m.app.export_genesis()
    return g["authz"], g["training"], g["jobs"], m.balance(GRANTER), m.module_balance("training")


def test_a_post_at_the_limit_spends_the_whole_escrow_from_the_granter(m: TMarket) -> None:
    escrow = escrow_of(2, 2)
    grant(m, POST, escrow)
    granter, grantee = m.balance(GRANTER), m.balance(GRANTEE)
    r = exec_(m, post_msg())
    assert r.code == 0, r.log
    (t,) = trainings(m)
    assert t["poster"] == GRANTER.bech32 and t["state"] == "running"
    assert m.balance(GRANTER) == granter - escrow  # the granter pays the escrow
    assert m.balance(GRANTEE) == grantee - EXEC_FEE  # the grantee only the fee
    assert left(m) == 0
    (ev,) = events_of(r, "AuthzExec")
    assert ev.get("spend") == str(escrow) and ev.get("spend_limit_left") == "0"
    # the grant is spent: one more training, even the smallest, is refused
    before = snapshot(m)
    r = exec_(m, post_msg(shards=1, rounds=1))
    assert code(r) == ("authz", 8) and f"spends {escrow_of(1, 1)}avcn" in r.log, r.log
    assert snapshot(m) == before


def test_under_the_limit_the_rest_is_left_and_over_it_nothing_is_applied(m: TMarket) -> None:
    escrow = escrow_of(2, 2)
    grant(m, POST, escrow + 1)
    assert exec_(m, post_msg()).code == 0
    assert left(m) == 1 and len(trainings(m)) == 1
    grant(m, POST, escrow - 1)  # a new grant replaces the old, its limit too
    before = snapshot(m)
    r = exec_(m, post_msg())
    assert code(r) == ("authz", 8), r.log
    assert f"spends {escrow}avcn" in r.log and f"has {escrow - 1}avcn left" in r.log
    assert snapshot(m) == before and left(m) == escrow - 1
    assert len(trainings(m)) == 1


def test_a_cancel_needs_its_own_grant_and_refunds_the_granter(m: TMarket) -> None:
    escrow = escrow_of(2, 2)
    grant(m, POST, 10 * escrow)
    assert exec_(m, post_msg()).code == 0
    (t,) = trainings(m)
    cancel = tm.MsgCancelTraining(poster=GRANTER.bech32, training_id=int(t["id"]))
    before = snapshot(m)
    r = exec_(m, cancel)
    assert code(r)[0] == "authz" and "no '/vcoin.training.v1.MsgCancelTraining'" in r.log, r.log
    assert snapshot(m) == before
    grant(m, CANCEL)  # spends nothing: no limit needed
    granter = m.balance(GRANTER)
    r = exec_(m, cancel)
    assert r.code == 0, r.log
    (ev,) = events_of(r, "TrainingCancelled")
    # both shard jobs were queued: the whole escrow comes back to the granter
    assert ev.get("refunded") == f"{escrow}avcn"
    assert m.balance(GRANTER) == granter + escrow
    assert m.q("training", "training", id=t["id"])["state"] == "cancelled"
    assert left(m, CANCEL) == 0 and m.module_balance("training") == 0


def test_a_completed_trainings_unspent_budget_goes_back_to_the_granter(m: TMarket) -> None:
    escrow = escrow_of(1, 1)
    grant(m, POST, escrow)
    assert exec_(m, post_msg(shards=1, rounds=1)).code == 0
    (t,) = trainings(m)
    tid = int(t["id"])
    (shard_job,) = open_jobs(m.training(tid))
    granter = m.balance(GRANTER)
    m.finish(W1, shard_job)
    agg = m.training(tid)["rounds_detail"][0]["aggregate_job"]
    m.finish(W1, agg)
    done = m.training(tid)
    assert done["state"] == "completed" and done["adapter"]
    # the worker took FLOOR for each job; every unspent avcn came back to the granter
    assert m.balance(GRANTER) == granter + escrow - 2 * FLOOR
    assert m.module_balance("training") == 0 and m.balance(module_address("training")) == 0


def test_the_cli_knows_the_training_short_names() -> None:
    assert type_url_of("post-training") == POST == "/vcoin.training.v1.MsgPostTraining"
    assert type_url_of("cancel-training") == CANCEL == "/vcoin.training.v1.MsgCancelTraining"
