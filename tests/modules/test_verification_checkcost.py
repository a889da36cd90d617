"""Which jobs the detection floor applies to: those whose oracle check is cheap, read
from the job record alone (``modules/verification/checkcost.py``). The chain's reading
of a spec agrees with the oracle's (``oracle.similarity.sampled_decoding``) on every
spec, so a job drawn at the floor is one the oracle checks by prefill or drawn rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modules.jobs.msgs import MAX_SPEC_PARSE_BYTES
from modules.verification.checkcost import MAX_SPEC_BYTES, cheap_check, spec_params
from modules.verification.params import Params
from oracle.executor import _replay_applies
from oracle.similarity import sampled_decoding

FLOOR = Params().detection_floor_tasks


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "{}",
        '{"params": {}}',
        '{"params": {"temperature": 0}}',
        '{"params": {"temperature": 0.0, "max_new_tokens": 32}}',
        '{"params": {"temperature": -1}}',
        '{"params": {"do_sample": false}}',
        '{"params": {"temperature": "0.7"}}',  # not a number: the runtime refuses it
    ],
)
def test_greedy_text_is_cheap(spec: str) -> None:
    assert cheap_check("text-generation", spec, FLOOR, 1)


@pytest.mark.parametrize(
    "spec",
    [
        '{"params": {"temperature": 0.7}}',
        '{"params": {"temperature": 1}}',
        '{"params": {"temperature": 1e-9}}',
        '{"params": {"temperature": 0.0000000000000000000001}}',
        '{"params": {"do_sample": true}}',
        '{"params": {"do_sample": 1, "temperature": 0}}',
    ],
)
def test_sampled_text_is_re_executed_so_not_cheap(spec: str) -> None:
    assert not cheap_check("text-generation", spec, FLOOR, 1)


@pytest.mark.parametrize("spec", ["[1]", '{"params": 3}', '{"params": [1]}', "{bad"])
def test_a_spec_that_cannot_run_is_cheap_the_check_fails_it_unrun(spec: str) -> None:
    assert spec_params(spec) is None
    assert cheap_check("text-generation", spec, FLOOR, 1)


@pytest.mark.parametrize(("rows", "cheap"), [(0, False), (1, True), (8, True)])
def test_embeddings_are_cheap_while_only_some_rows_are_checked(rows: int, cheap: bool) -> None:
    assert cheap_check("embedding", "", FLOOR, rows) is cheap


def test_only_the_listed_types_and_any_type_an_operator_lists() -> None:
    for task in ("lora-train", "lora-aggregate", "", "Embedding"):
        assert not cheap_check(task, "", FLOOR, 1)
    assert cheap_check("lora-aggregate", "", ("lora-aggregate",), 1)
    assert not cheap_check("text-generation", "", ("embedding",), 1)


@pytest.mark.parametrize(
    ("spec", "cheap"),
    [
        ('{"params": {"steps": 32, "checkpoint_every": 4}}', True),
        ('{"params": {"steps": 32, "checkpoint_every": 1}}', True),
        ('{"params": {"steps": 32, "checkpoint_every": 0}}', False),
        ('{"params": {"steps": 32, "checkpoint_every": 4.0}}', False),
        ('{"params": {"steps": 32}}', False),
        ("", False),
        ("{}", False),
        ('{"public": true}', False),
    ],
)
def test_lora_listed_by_an_operator_is_cheap_only_with_checkpoints(spec: str, cheap: bool) -> None:
    # without checkpoints the oracle re-runs the whole training
    assert cheap_check("lora-train", spec, ("lora-train",), 1) is cheap


def test_the_spec_bound_is_the_jobs_modules() -> None:
    # a posted spec always parses here: the jobs module took it with the same bound
    assert MAX_SPEC_BYTES == MAX_SPEC_PARSE_BYTES


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(
    temperature=st.one_of(st.just(None), _values),
    do_sample=st.one_of(st.just(None), _values),
    extra=st.dictionaries(st.sampled_from(["max_new_tokens", "top_p"]), _values, max_size=2),
)
def test_the_chain_reads_sampling_as_the_oracle_does(
    temperature: Any, do_sample: Any, extra: dict[str, Any]
) -> None:
    params = dict(extra)
    if temperature is not None:
        params["temperature"] = temperature
    if do_sample is not None:
        params["do_sample"] = do_sample
    spec = json.dumps({"params": params})
    oracle_greedy = not sampled_decoding(json.loads(spec)["params"])
    assert cheap_check("text-generation", spec, FLOOR, 1) is oracle_greedy, spec


@settings(max_examples=300, deadline=None)
@given(every=st.one_of(st.just(None), _values))
def test_the_chain_reads_checkpoints_as_the_oracle_does(every: Any) -> None:
    params: dict[str, Any] = {"steps": 8}
    if every is not None:
        params["checkpoint_every"] = every
    spec = json.dumps({"params": params})
    job = {"task_type": "lora-train", "draw_block_hash": "ab" * 32}
    oracle_replays = _replay_applies(job, {"params": json.loads(spec)["params"]})  # type: ignore[typeddict-item]
    assert cheap_check("lora-train", spec, ("lora-train",), 1) is oracle_replays, spec
