"""A jobs genesis that could not describe a real chain is refused, naming what is wrong;
one exported from a running market imports into the same jobs state.

The exported section comes from a real market (a registered worker, a posted and a
claimed job), so every refusal below starts from a document the node itself wrote.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from chain.errors import ChainError
from modules.jobs import genesis
from modules.jobs.errors import ErrInvalidParams
from tests.support.chain import test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market

WORKER, USER = test_key(0), test_key(10)


@pytest.fixture
def exported(make_app: Callable[..., App]) -> dict[str, Any]:
    m = Market(make_app(market_genesis()))
    m.setup_worker(WORKER)
    m.post(USER, max_price=3 * VCN)
    claimed = m.post(USER, max_price=3 * VCN)
    assert m.claim(WORKER, claimed).code == 0
    doc: dict[str, Any] = m.app.export_genesis()["jobs"]
    assert len(doc["models"]) >= 2 and len(doc["workers"]) == 1 and len(doc["jobs"]) == 2
    return doc


def test_an_exported_jobs_genesis_validates_and_imports_as_the_same_state(
    make_app: Callable[..., App],
) -> None:
    m = Market(make_app(market_genesis()))
    m.setup_worker(WORKER)
    m.post(USER, max_price=3 * VCN)
    assert m.claim(WORKER, m.post(USER, max_price=3 * VCN)).code == 0
    doc = market_genesis()
    doc["app_state"] = m.app.export_genesis()
    genesis.validate(doc["app_state"]["jobs"])
    again = make_app(doc)
    assert again.export_genesis()["jobs"] == doc["app_state"]["jobs"]


def refused(doc: dict[str, Any]) -> str:
    with pytest.raises(ChainError) as e:
        genesis.validate(doc)
    assert e.value.kind is ErrInvalidParams
    return str(e.value)


def test_a_model_listed_twice_is_refused(exported: dict[str, Any]) -> None:
    exported["models"].append(copy.deepcopy(exported["models"][0]))
    assert refused(exported) == "jobs genesis lists a model twice"


@pytest.mark.parametrize(
    ("task_types", "ok"),
    [([], False), (["mining"], False), (["embedding", "mining"], False), (["embedding"], True)],
)
def test_a_model_needs_known_task_types(
    exported: dict[str, Any], task_types: list[str], ok: bool
) -> None:
    exported["models"][0]["task_types"] = task_types
    if ok:
        genesis.validate(exported)
    else:
        assert "has unknown task types" in refused(exported)


@pytest.mark.parametrize("field", ["weights_sha256", "config_sha256"])
@pytest.mark.parametrize(("length", "ok"), [(31, False), (32, True), (33, False)])
def test_model_hashes_are_32_bytes(
    exported: dict[str, Any], field: str, length: int, ok: bool
) -> None:
    exported["models"][0][field] = "ab" * length
    if ok:
        genesis.validate(exported)
    else:
        assert refused(exported).endswith("hashes must be 32 bytes")


def test_a_worker_listed_twice_is_refused(exported: dict[str, Any]) -> None:
    exported["workers"].append(copy.deepcopy(exported["workers"][0]))
    assert refused(exported) == "jobs genesis lists a worker twice"


def test_a_worker_serving_an_unknown_model_is_refused(exported: dict[str, Any]) -> None:
    exported["workers"][0]["models"] = [*exported["workers"][0]["models"], "gpt-9"]
    assert refused(exported).endswith("serves unknown models {'gpt-9'}")


def test_a_job_id_listed_twice_is_refused(exported: dict[str, Any]) -> None:
    exported["jobs"][1]["id"] = exported["jobs"][0]["id"]
    assert refused(exported) == "jobs genesis lists a job id twice"


def test_a_job_in_an_unknown_state_is_refused(exported: dict[str, Any]) -> None:
    exported["jobs"][0]["state"] = "paid-twice"
    assert "has unknown state 'paid-twice'" in refused(exported)


def test_a_job_of_an_unknown_model_is_refused(exported: dict[str, Any]) -> None:
    exported["jobs"][0]["model"] = "gpt-9"
    assert "uses unknown model 'gpt-9'" in refused(exported)


@pytest.mark.parametrize(("next_id", "ok"), [(0, False), (1, True), (2, True)])
def test_job_ids_stay_below_next_job_id(exported: dict[str, Any], next_id: int, ok: bool) -> None:
    """The next post must not reuse an id: next_job_id is above the highest job id."""
    top = max(int(j["id"]) for j in exported["jobs"])
    exported["next_job_id"] = str(top + next_id)
    if ok:
        genesis.validate(exported)
    else:
        assert refused(exported) == f"job id {top} is not below next_job_id {top}"


def test_a_job_id_of_zero_is_refused(exported: dict[str, Any]) -> None:
    exported["jobs"][0]["id"] = "0"
    assert "job id 0 is not below" in refused(exported)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(next_job_id="one"),
        lambda d: d["jobs"][0].pop("state"),
        lambda d: d["workers"][0].update(address="not hex"),
    ],
    ids=["next-id", "missing-field", "bad-address"],
)
def test_a_malformed_entry_is_refused_naming_the_error(
    exported: dict[str, Any], change: Callable[[dict[str, Any]], Any]
) -> None:
    change(exported)
    assert refused(exported).startswith("jobs genesis: ")


def test_a_malformed_param_is_refused_naming_it(exported: dict[str, Any]) -> None:
    exported["params"] = {**exported["params"], "max_claim_blocks": "many"}
    assert refused(exported) == "max_claim_blocks must be a non-negative integer, got 'many'"


@pytest.mark.parametrize(("height", "ok"), [(0, False), (1, True), (2, True)])
def test_a_submitted_job_carries_its_submitted_height(
    exported: dict[str, Any], height: int, ok: bool
) -> None:
    """Its challenge window counts from that height, and blocks start at 1."""
    job = exported["jobs"][1]
    job["state"], job["submitted_height"] = "submitted", height
    if ok:
        genesis.validate(exported)
    else:
        assert refused(exported) == f"job {job['id']} is submitted but has no submitted_height"
