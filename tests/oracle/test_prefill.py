"""The prefill check of greedy text generation: honest outputs pass (near-ties too),
one faked token, a truncation or a reshaped output fails, and the tie margin holds at,
just under and just over its value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oracle.fixedpoint import BPS
from oracle.prefill import PrefillChecker, judge_logits
from oracle.similarity import TIE_MARGIN
from tests.oracle.conftest import Models, RunJob

PROMPTS = ["The GPU marketplace", "Once upon a time", "Verification by prefill"]
MAX_NEW = 24
TIE_PROMPT = "th"


@pytest.fixture(scope="module")
def checker(models: Models, tmp_path_factory: pytest.TempPathFactory) -> PrefillChecker:
    from compute.runtime.models import materialize

    _, model_dir = materialize(models.folder, models.lm, tmp_path_factory.mktemp("scratch"))
    return PrefillChecker(model_dir)


@pytest.fixture(scope="module")
def honest(run_job: RunJob, models: Models) -> Path:
    return run_job("text-generation", models.lm, {"prompts": PROMPTS}, max_new_tokens=MAX_NEW)


def _write(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    return path


def _check(c: PrefillChecker, models: Models, out: Path, margin: float = TIE_MARGIN) -> Any:
    return c.check(PROMPTS, {"max_new_tokens": MAX_NEW}, out, models.lm, margin)


# -- the judge, on crafted logits (values exact in binary) ------------------------------------
@pytest.mark.parametrize(
    ("runner_up", "accepted"),
    [(1.0 - 0.25, True), (1.0 - 0.25 + 2**-20, True), (1.0 - 0.25 - 2**-20, False)],
    ids=["at-margin", "just-under", "just-over"],
)
def test_margin_at_just_under_and_just_over(runner_up: float, accepted: bool) -> None:
    logits = np.array([[1.0, runner_up, -3.0]])
    [p] = judge_logits(logits, [1])
    assert p.top == 0
    assert p.accepted(0.25) is accepted
    assert p.tie(0.25) is accepted
    assert judge_logits(logits, [0])[0].accepted(0.0)  # the top itself, margin or not


def test_non_finite_logits_accept_nothing() -> None:
    [p] = judge_logits(np.array([[np.nan, 1.0]]), [1])
    assert not p.accepted(1e9)


# -- the real model ------------------------------------------------------------------------
def test_honest_output_passes(checker: PrefillChecker, models: Models, honest: Path) -> None:
    c = _check(checker, models, honest)
    assert (c.passed, c.similarity_bps, c.metric) == (True, BPS, "greedy-prefill(tie-margin)")
    assert c.details["positions"] == c.details["accepted"] > 0
    # the prefill and the runtime's KV-cache decode agree far inside the margin
    assert c.details["max_accepted_gap"] < TIE_MARGIN / 100


def _rejects(checker: PrefillChecker, models: Models, doc: dict[str, Any], tmp: Path) -> Any:
    c = _check(checker, models, _write(doc, tmp / "faked.json"))
    assert not c.passed and c.verdict == "fail" and c.similarity_bps < BPS
    return c


def test_one_faked_token_fails(
    checker: PrefillChecker, models: Models, honest: Path, tmp_path: Path
) -> None:
    doc = json.loads(honest.read_bytes())
    item = doc["completions"][1]
    ids = item["token_ids"]
    logits = checker.logits(checker.prompt_ids(PROMPTS[1]), ids)
    k = len(ids) // 2
    # the token the model likes least at k: far outside any margin
    ids[k] = int(np.argmin(logits[k]))
    item["completion"] = checker.tok.decode(ids, skip_special_tokens=True)
    c = _rejects(checker, models, doc, tmp_path)
    assert c.details["first_rejected"]["completion"] == 1
    assert c.details["first_rejected"]["position"] == k
    assert c.similarity_bps > 9000  # one position of many: the evidence says how far off


def test_truncated_retokenised_and_reshaped_outputs_fail(
    checker: PrefillChecker, models: Models, honest: Path, tmp_path: Path
) -> None:
    base = json.loads(honest.read_bytes())

    def variant(edit: Any) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(json.dumps(base))
        edit(doc)
        return doc

    def truncate(d: dict[str, Any]) -> None:
        it = d["completions"][0]
        it["token_ids"] = it["token_ids"][:-3]
        it["completion"] = checker.tok.decode(it["token_ids"], skip_special_tokens=True)

    def text_only(d: dict[str, Any]) -> None:
        d["completions"][2]["completion"] += "!"

    def swap(d: dict[str, Any]) -> None:
        c = d["completions"]
        c[0], c[1] = c[1], c[0]

    def extra_key(d: dict[str, Any]) -> None:
        d["completions"][0]["note"] = "hi"

    def replayed(d: dict[str, Any]) -> None:
        d["completions"][2] = {**d["completions"][0], "prompt": PROMPTS[2]}

    for edit in (truncate, text_only, swap, extra_key):
        assert _rejects(checker, models, variant(edit), tmp_path).similarity_bps == 0
    assert _rejects(checker, models, variant(replayed), tmp_path).similarity_bps < BPS

    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\xff not json")
    assert not _check(checker, models, junk).passed


def test_early_end_of_sequence_is_judged_like_any_token(
    checker: PrefillChecker, models: Models, honest: Path, tmp_path: Path
) -> None:
    doc = json.loads(honest.read_bytes())
    it = doc["completions"][0]
    it["token_ids"] = it["token_ids"][:5] + [checker.eos]
    it["completion"] = checker.tok.decode(it["token_ids"], skip_special_tokens=True)
    c = _rejects(checker, models, doc, tmp_path)
    assert c.details["first_rejected"]["position"] == 5  # the model did not want to stop


@pytest.fixture(scope="module")
def near_tie(models: Models, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A copy of the model whose output row for token b is a's plus a tiny nudge: wherever a
    is the greedy choice, b trails it by less than the margin (a near-tie, crafted)."""
    import torch
    from safetensors.torch import load_file, save_file

    from compute.runtime.models import materialize

    scratch = tmp_path_factory.mktemp("tie")
    _, src = materialize(models.folder, models.lm, scratch / "src")
    dst = scratch / "model"
    dst.mkdir()
    for f in src.iterdir():
        shutil.copyfile(f.resolve(), dst / f.name)
    w = load_file(str(dst / "model.safetensors"))
    ck = PrefillChecker(dst)
    ids, greedy = ck.prompt_ids(TIE_PROMPT), list[int]()
    for _ in range(4):
        greedy.append(int(np.argmax(ck.logits(ids, [*greedy, 0])[-1])))
    a = greedy[3]  # a token the unchanged model picks at position 3
    b = next(t for t in range(ck.vocab) if t not in greedy and t != ck.eos)
    head = w["lm_head.weight"]
    nudge = torch.randn(head.shape[1], generator=torch.Generator().manual_seed(7))
    head[b] = head[a] - 1e-5 * nudge / nudge.norm()  # |Δlogit| ≤ 1e-5·|h| ≪ margin
    save_file(w, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return dst, a, b


def test_near_tie_passes_for_either_token_and_fails_outside_the_margin(
    near_tie: tuple[Path, int, int], tmp_path: Path
) -> None:
    model_dir, a, b = near_tie
    ck = PrefillChecker(model_dir)
    prompt = TIE_PROMPT
    ids = ck.prompt_ids(prompt)
    claimed: list[int] = []
    for _ in range(16):  # greedy, as the runtime does it, one token at a time
        claimed.append(int(np.argmax(ck.logits(ids, [*claimed, 0])[-1])))
    assert a in claimed or b in claimed
    k = next(i for i, t in enumerate(claimed) if t in (a, b))
    row = ck.logits(ids, claimed)[k]
    assert abs(row[a] - row[b]) < TIE_MARGIN and {int(np.argmax(row))} <= {a, b}

    def out(tokens: list[int]) -> Path:
        doc = {
            "task": "text-generation",
            "model": "m",
            "completions": [
                {
                    "prompt": prompt,
                    "completion": ck.tok.decode(tokens, skip_special_tokens=True),
                    "token_ids": tokens,
                }
            ],
        }
        return _write(doc, tmp_path / f"o{len(list(tmp_path.iterdir()))}.json")

    def check(tokens: list[int], margin: float = TIE_MARGIN) -> Any:
        return ck.check([prompt], {"max_new_tokens": 16}, out(tokens), "m", margin)

    # either token of the near-tie at k: each continuation re-decoded greedily after it
    for pick in (a, b):
        toks = [*claimed[:k], pick]
        while len(toks) < 16:
            toks.append(int(np.argmax(ck.logits(ids, [*toks, 0])[-1])))
        c = check(toks)
        assert c.passed, c.details
        assert c.details["ties"] >= (1 if pick != int(np.argmax(row)) else 0)
    # the runner-up of the tie with no margin at all, and a token outside the margin, fail
    runner_up = b if int(np.argmax(row)) == a else a
    toks = [*claimed[:k], runner_up]
    while len(toks) < 16:
        toks.append(int(np.argmax(ck.logits(ids, [*toks, 0])[-1])))
    assert not check(toks, margin=0.0).passed
    outside = sorted(range(ck.vocab), key=lambda t: row[t])[-3]  # third best: clearly apart
    assert row[int(np.argmax(row))] - row[outside] > TIE_MARGIN
    assert not check([*claimed[:k], outside, *claimed[k + 1 :]]).passed
