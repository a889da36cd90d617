"""What the oracle writes into its evidence for each comparison, field by field, and the
LoRA held-out-loss tolerance at, just under and just over its bound.

The details of a ``Comparison`` go into the evidence document whose sha256 the
attestation carries on chain, so a worker who disputes a verdict reads them; they are
checked here exactly, on small hand-made outputs. The loss evaluator is a table of
losses by file (``TableLoss``): the real one (``oracle.lora_eval``) runs a model, and
what is tested here is the arithmetic around it, with losses that floats hold exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from oracle import similarity
from oracle.similarity import Policy, compare, sampled_decoding

POLICY = Policy(threshold_bps=9_500)
LORA = "lora(weight-cosine,heldout-loss)"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def adapter(path: Path, **tensors: list[list[float]]) -> Path:
    save_file({k: np.array(v, dtype=np.float32) for k, v in tensors.items()}, str(path))
    return path


class TableLoss:
    """A held-out loss evaluator answering from a table (path name -> loss)."""

    def __init__(self, base: float, losses: dict[str, float]) -> None:
        self.base, self.losses, self.calls = base, losses, 0

    def base_loss(self) -> float:
        return self.base

    def __call__(self, adapter: Path) -> float:
        self.calls += 1
        return self.losses[adapter.name]


# -- LoRA ---------------------------------------------------------------------------------
def test_the_same_adapter_is_an_exact_pass(tmp_path: Path) -> None:
    a = adapter(tmp_path / "ours.st", w=[[1, 2]])
    b = adapter(tmp_path / "theirs.st", w=[[1, 2]])
    c = compare("lora-train", a, b, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == ("lora-train", LORA, 10_000, "pass")
    assert c.details == {"expected_sha256": sha(a), "actual_sha256": sha(b), "exact": True}


def test_other_tensor_names_fail_naming_the_first_eight_of_each(tmp_path: Path) -> None:
    ours = adapter(tmp_path / "ours.st", **{f"t{i:02}": [[1.0]] for i in range(10)})
    theirs = adapter(tmp_path / "theirs.st", **{f"x{i:02}": [[1.0]] for i in range(9)})
    c = compare("lora-train", ours, theirs, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == ("lora-train", LORA, 0, "fail")
    missing = [f"t{i:02}" for i in range(8)]
    extra = [f"x{i:02}" for i in range(8)]
    assert c.details == {
        "expected_sha256": sha(ours),
        "actual_sha256": sha(theirs),
        "error": f"adapter tensors differ: missing {missing}, extra {extra}",
    }


def test_without_an_evaluator_the_weights_decide_and_the_evidence_says_so(tmp_path: Path) -> None:
    ours = adapter(tmp_path / "ours.st", a=[[3, 4]], b=[[1, 0]])
    theirs = adapter(tmp_path / "theirs.st", a=[[4, 3]], b=[[1, 0]])  # cos = 24/25
    c = compare("lora-train", ours, theirs, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == ("lora-train", LORA, 9_600, "pass")
    assert c.details == {
        "expected_sha256": sha(ours),
        "actual_sha256": sha(theirs),
        "exact": False,
        "weight_cosine_bps": 9_600,
        "tensors_bps": {"a": 9_600, "b": 10_000},
        "loss_check": "skipped: no evaluator",
    }


# weights at cos = 0.95 exactly (19/20; see test_similarity_boundaries), and one under
AT, UNDER = [[19, 5, 3, 2, 1]], [[100, 31, 11, 0, 0]]
REF = [[1, 0, 0, 0, 0]]


@pytest.mark.parametrize(("weights", "bps", "evaluated"), [(AT, 9_500, 1), (UNDER, 9_499, 0)])
def test_the_loss_is_evaluated_from_exactly_the_weight_threshold(
    tmp_path: Path, weights: list[list[float]], bps: int, evaluated: int
) -> None:
    ours = adapter(tmp_path / "ours.st", w=REF)
    theirs = adapter(tmp_path / "theirs.st", w=weights)
    loss = TableLoss(3.0, {"ours.st": 1.0, "theirs.st": 1.0})
    c = compare("lora-train", ours, theirs, POLICY, loss_of=loss)
    assert loss.calls == 2 * evaluated  # the oracle's adapter and the worker's
    assert (c.similarity_bps, c.passed) == (bps, bool(evaluated))
    if evaluated:
        assert c.details["loss_check"] == "ok"
    else:
        assert "loss_check" not in c.details and "loss_actual" not in c.details


# Training effect |3.0 - 1.0| = 2.0; tolerance 50 % of it: the worker's loss may be off
# by 1.0. With no effect (base = oracle = 2.0) the floor of 100 % of the loss counts:
# effect 2.0 again, allowed 1.0.
EFFECT = Policy(threshold_bps=9_500, loss_tolerance_bps=5_000, loss_floor_bps=1)
FLOOR = Policy(threshold_bps=9_500, loss_tolerance_bps=5_000, loss_floor_bps=10_000)
OVER = float(np.nextafter(2.0, 3.0))  # the next float above 2.0


@pytest.mark.parametrize(
    ("policy", "base", "oracle_loss", "worker_loss", "ok"),
    [
        (EFFECT, 3.0, 1.0, 2.0, True),  # off by exactly the allowed 1.0
        (EFFECT, 3.0, 1.0, OVER, False),  # just over
        (EFFECT, 3.0, 1.0, 0.0, True),  # 1.0 under: the bound is two-sided, and met
        (EFFECT, 3.0, 1.0, -0.5, False),
        (EFFECT, 3.0, 1.0, float("nan"), False),
        (FLOOR, 2.0, 2.0, 3.0, True),  # no training effect: the floor allows 1.0
        (FLOOR, 2.0, 2.0, float(np.nextafter(3.0, 4.0)), False),
    ],
    ids=["at", "over", "under-at", "under-over", "nan", "floor-at", "floor-over"],
)
def test_the_held_out_loss_tolerance_to_the_last_float(
    tmp_path: Path,
    policy: Policy,
    base: float,
    oracle_loss: float,
    worker_loss: float,
    ok: bool,
) -> None:
    ours = adapter(tmp_path / "ours.st", w=[[3, 4]])
    theirs = adapter(tmp_path / "theirs.st", w=[[3, 4.0001]])
    loss = TableLoss(base, {"ours.st": oracle_loss, "theirs.st": worker_loss})
    c = compare("lora-train", ours, theirs, policy, loss_of=loss)
    assert c.passed is ok and c.similarity_bps == c.details["weight_cosine_bps"] >= 9_999
    details = {k: v for k, v in c.details.items() if k.startswith("loss_")}
    assert details == {
        "loss_base": base,
        "loss_expected": oracle_loss,
        "loss_actual": pytest.approx(worker_loss, nan_ok=True),
        "loss_allowed_diff": 1.0,
        "loss_check": "ok" if ok else "out of tolerance",
    }


# -- embeddings and text ------------------------------------------------------------------
def test_embedding_evidence_lists_rows_up_to_64(tmp_path: Path) -> None:
    rows = [[1.0, 0.0]] * 65
    theirs_rows = [[1.0, 0.0]] * 64 + [[3.0, 4.0]]  # the last row: cos 3/5
    ours = adapter(tmp_path / "ours.st", embeddings=rows)
    theirs = adapter(tmp_path / "theirs.st", embeddings=theirs_rows)
    c = compare("embedding", ours, theirs, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == (
        "embedding", "embedding-row-cosine", 6_000, "fail",
    )  # fmt: skip
    assert c.details == {
        "expected_sha256": sha(ours),
        "actual_sha256": sha(theirs),
        "exact": False,
        "rows": 65,
        "min_row_bps": 6_000,
        "rows_bps": [10_000] * 64,  # the first 64 rows only
    }


def test_embedding_of_another_shape_fails_saying_both_shapes(tmp_path: Path) -> None:
    ours = adapter(tmp_path / "ours.st", embeddings=[[1.0, 0.0, 0.0]] * 2)
    theirs = adapter(tmp_path / "theirs.st", embeddings=[[1.0, 0.0]] * 2)
    c = compare("embedding", ours, theirs, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.passed) == (
        "embedding", "embedding-row-cosine", 0, False,
    )  # fmt: skip
    assert c.details["error"] == "shape (2, 2), due (2, 3)"


def completions(path: Path, *pairs: tuple[str, str]) -> Path:
    doc = {"completions": [{"prompt": p, "completion": c, "token_ids": []} for p, c in pairs]}
    path.write_text(json.dumps(doc))
    return path


def test_text_evidence_for_a_count_or_prompt_mismatch(tmp_path: Path) -> None:
    ours = completions(tmp_path / "ours.json", ("p", "a b c"), ("q", "d e f"))
    short = completions(tmp_path / "short.json", ("p", "a b c"))
    c = compare("text-generation", ours, short, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.passed) == (
        "text-generation", "exact-sha256", 0, False,
    )  # fmt: skip
    assert c.details["error"] == "1 completions, 2 due"
    other = completions(tmp_path / "other.json", ("p", "a b c"), ("r", "d e f"))
    c = compare("text-generation", ours, other, POLICY)
    assert (c.similarity_bps, c.verdict, c.details["exact"]) == (0, "fail", False)
    assert c.details["items"][1] == {
        "cosine": 0,
        "overlap": 0,
        "similarity": 0,
        "prompt_differs": True,
    }
    same = completions(tmp_path / "same.json", ("p", "a b c"), ("q", "d e f"))
    c = compare("text-generation", ours, same, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == (
        "text-generation", "exact-sha256", 10_000, "pass",
    )  # fmt: skip
    assert c.details == {"expected_sha256": sha(ours), "actual_sha256": sha(same), "exact": True}


@pytest.mark.parametrize(
    ("params", "sampled"),
    [
        ({}, False),
        ({"temperature": 0}, False),
        ({"temperature": 0.0}, False),
        ({"temperature": 1e-9}, True),
        ({"temperature": 1}, True),
        ({"temperature": "0.7"}, False),  # not a number: the runtime decodes greedily
        ({"do_sample": True}, True),
        ({"do_sample": True, "temperature": 0}, True),
        ({"do_sample": False, "temperature": 0.5}, True),
    ],
)
def test_which_specs_are_sampled(params: dict[str, object], sampled: bool) -> None:
    assert sampled_decoding(params) is sampled


def test_an_output_over_the_size_limit_is_unreadable_from_one_byte_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is 256 MiB; here it is lowered to the size of the test's output."""
    ours = completions(tmp_path / "ours.json", ("p", "a b c"))
    limit = ours.stat().st_size
    monkeypatch.setattr(similarity, "MAX_OUTPUT_BYTES", limit)
    at = completions(tmp_path / "at.json", ("p", "a b c"))
    assert compare("text-generation", ours, at, POLICY).verdict == "pass"  # at the limit
    over = tmp_path / "over.json"
    over.write_bytes(at.read_bytes() + b" ")
    c = compare("text-generation", ours, over, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == (
        "text-generation",
        "unreadable",
        0,
        "fail",
    )
    assert c.details == {
        "expected_sha256": sha(ours),
        "actual_sha256": sha(over),
        "error": f"the output is over {limit} bytes",
    }


def test_every_completion_is_scored_after_a_prompt_mismatch(tmp_path: Path) -> None:
    ours = completions(tmp_path / "ours.json", ("p", "a b c"), ("q", "d e f"))
    theirs = completions(tmp_path / "theirs.json", ("x", "a b c"), ("q", "d e f"))
    c = compare("text-generation", ours, theirs, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == (
        "text-generation", "exact-sha256", 0, "fail",
    )  # fmt: skip
    items = c.details["items"]
    assert len(items) == 2 and items[0]["prompt_differs"] is True
    assert items[1]["similarity"] == 10_000  # the second, same prompt and text, still scored


def test_sampled_text_passes_from_exactly_the_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The free-text score (MiniLM cosine x token overlap) cannot be steered to one basis
    point with real text; ``free_text_bps`` is replaced by a table of scores here."""
    import oracle.textsim

    scores = {"at": 9_500, "under": 9_499, "over": 9_501}

    def table_score(expected: str, actual: str) -> dict[str, int]:
        s = scores[actual]
        return {"cosine": s, "overlap": s, "similarity": s}

    monkeypatch.setattr(oracle.textsim, "free_text_bps", table_score)
    ours = completions(tmp_path / "ours.json", ("p", "reference"))
    for name, s in scores.items():
        theirs = completions(tmp_path / f"{name}.json", ("p", name))
        c = compare("text-generation", ours, theirs, POLICY, params={"temperature": 0.7})
        assert (c.metric, c.similarity_bps, c.passed) == (
            "free-text(minilm-cosine,token-overlap)", s, s >= 9_500,
        )  # fmt: skip
        assert c.details["exact"] is False and c.details["items"] == [
            {"cosine": s, "overlap": s, "similarity": s}
        ]


def test_the_same_embeddings_are_an_exact_pass(tmp_path: Path) -> None:
    ours = adapter(tmp_path / "ours.st", embeddings=[[1.0, 2.0], [3.0, 4.0]])
    theirs = adapter(tmp_path / "theirs.st", embeddings=[[1.0, 2.0], [3.0, 4.0]])
    c = compare("embedding", ours, theirs, POLICY)
    assert (c.task, c.metric, c.similarity_bps, c.verdict) == (
        "embedding", "embedding-row-cosine", 10_000, "pass",
    )  # fmt: skip
    assert c.details == {"expected_sha256": sha(ours), "actual_sha256": sha(theirs), "exact": True}


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("[]", "output.json has no completions list"),  # JSON, but not an object
        ('{"completions": []}', "output.json has no completions list"),
        ('{"completions": {"a": 1}}', "output.json has no completions list"),
        ('{"completions": [{"completion": 5}]}', "each completion needs a completion string"),
        ('{"completions": ["text"]}', "each completion needs a completion string"),
    ],
    ids=["a-list", "empty", "not-a-list", "not-a-string", "not-an-object"],
)
def test_malformed_completions_fail_the_worker_not_the_oracle(
    tmp_path: Path, content: str, error: str
) -> None:
    """Evidence against the worker (a fail), never an oracle fault (an abstention)."""
    ours = completions(tmp_path / "ours.json", ("p", "a b c"))
    theirs = tmp_path / "theirs.json"
    theirs.write_text(content)
    c = compare("text-generation", ours, theirs, POLICY)
    assert (c.metric, c.similarity_bps, c.passed) == ("unreadable", 0, False)
    assert c.details["error"] == error
