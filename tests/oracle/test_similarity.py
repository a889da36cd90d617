"""Similarity metrics on real runtime outputs: identical passes, perturbed and unrelated fail.

The outputs come from the worker runtime run in this process on the tiny LM
and all-MiniLM-L6-v2; perturbed ones are those files edited the way a
cheating worker would (a changed token, noisy vectors, a scaled adapter).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from oracle.fixedpoint import BPS, cosine_bps, exact_dot, geometric_mean_bps
from oracle.similarity import Policy, compare
from oracle.textsim import free_text_bps, overlap_bps
from tests.oracle.conftest import Models, RunJob

POLICY = Policy(threshold_bps=9500)
PROMPTS = {"prompts": ["Hello world", "The cat sat on"]}
TEXTS = {
    "texts": [
        "The invoice is due at the end of the month.",
        "Solar panels convert sunlight into electricity.",
        "The train to Lyon leaves at nine.",
    ]
}
LORA_INPUT = {
    "texts": ["the cat sat on the mat", "a dog ran in the park", "birds sing at dawn"],
    "eval_texts": ["the cat ran in the park"],
}


# -- fixed point ---------------------------------------------------------------------------
def test_cosine_is_exact_floor_in_basis_points() -> None:
    a = np.array([1.0, 0.0], dtype=np.float32)
    b = np.array([1.0, 1.0], dtype=np.float32)
    assert cosine_bps(a, b) == 7071  # 0.70710678… rounds down
    assert cosine_bps(a, a) == BPS
    assert cosine_bps(a, np.array([0.0, 1.0], dtype=np.float32)) == 0
    assert cosine_bps(a, -a) == 0  # opposite counts as dissimilar, not negative
    assert cosine_bps(a, np.array([np.nan, 1.0], dtype=np.float32)) == 0
    assert cosine_bps(a, np.zeros(2, dtype=np.float32)) == 0
    assert cosine_bps(a, np.ones(3, dtype=np.float32)) == 0  # shape mismatch


def test_cosine_does_not_depend_on_summation_order() -> None:
    # Two oracles whose BLAS adds in another order must send the same integer:
    # the dot product is the correctly rounded sum of exact products.
    rng = np.random.default_rng(7)
    a = rng.normal(size=50_000).astype(np.float32)
    b = (a + rng.normal(scale=0.05, size=a.size)).astype(np.float32)
    perm = rng.permutation(a.size)
    assert exact_dot(a, b) == exact_dot(a[perm], b[perm])
    assert cosine_bps(a, b) == cosine_bps(a[perm], b[perm])
    assert 9980 <= cosine_bps(a, b) < BPS


def test_geometric_mean_and_overlap_are_integers_rounded_down() -> None:
    assert geometric_mean_bps([10_000, 8_100]) == 9_000
    assert geometric_mean_bps([9_999, 9_999]) == 9_999
    assert geometric_mean_bps([10_000, 0]) == 0
    assert overlap_bps("The cat sat", "the CAT sat") == BPS  # case and width folded
    assert overlap_bps("a b c d", "a b c e") == 7500  # 2·3/8
    assert overlap_bps("", "") == BPS


# -- free text ---------------------------------------------------------------------------
def test_free_text_separates_same_edited_paraphrased_unrelated() -> None:
    base = "The quick brown fox jumps over the lazy dog."
    same = free_text_bps(base, base)
    one_word = free_text_bps(base, "The quick brown fox leaps over the lazy dog.")
    number = free_text_bps("The invoice total is 120 dollars.", "The invoice total is 920 dollars.")
    unrelated = free_text_bps(base, "Quarterly revenue grew by eight percent in Asia.")
    assert same == {"cosine": BPS, "overlap": BPS, "similarity": BPS}
    # an edited output is close in meaning but must not pass the 0.95 threshold
    assert 8000 < one_word["similarity"] < 9500
    assert number["similarity"] < 9500
    assert unrelated["similarity"] < 2000
    assert one_word["cosine"] > one_word["similarity"]  # overlap pulls an edit down


# -- text generation (greedy) ------------------------------------------------------------
def test_greedy_text_passes_only_on_the_exact_output(
    run_job: RunJob, models: Models, tmp_path: Path
) -> None:
    ours = run_job("text-generation", models.lm, PROMPTS, max_new_tokens=12)
    theirs = run_job("text-generation", models.lm, PROMPTS, max_new_tokens=12)
    same = compare("text-generation", ours, theirs, POLICY)
    assert (same.passed, same.similarity_bps, same.metric) == (True, BPS, "exact-sha256")

    doc = json.loads(theirs.read_bytes())
    doc["completions"][1]["completion"] = doc["completions"][1]["completion"][:-1] + "x"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    c = compare("text-generation", ours, edited, POLICY)
    assert not c.passed and c.verdict == "fail"
    assert c.details["items"][0]["similarity"] == BPS  # the untouched completion
    assert c.similarity_bps < BPS

    other = run_job("text-generation", models.lm, {"prompts": ["Hello world", "Zebra"]})
    u = compare("text-generation", ours, other, POLICY)
    assert not u.passed and u.similarity_bps == 0  # a prompt differs: not this job's output

    junk = tmp_path / "junk.json"
    junk.write_bytes(b"not json at all")
    j = compare("text-generation", ours, junk, POLICY)
    assert (j.passed, j.similarity_bps, j.metric) == (False, 0, "unreadable")


def test_sampled_text_passes_on_free_text_similarity(tmp_path: Path) -> None:
    def out(name: str, completion: str) -> Path:
        p = tmp_path / name
        doc = {"completions": [{"prompt": "p", "completion": completion, "token_ids": []}]}
        p.write_text(json.dumps(doc))
        return p

    a = out("a.json", "Paris is the capital of France and its largest city.")
    b = out("b.json", "Paris is the capital of France and its largest city!")
    c = out("c.json", "Bananas are rich in potassium.")
    params = {"temperature": 0.7}
    ok = compare("text-generation", a, b, POLICY, params=params)
    assert ok.passed and ok.similarity_bps >= 9500 and ok.metric.startswith("free-text")
    bad = compare("text-generation", a, c, POLICY, params=params)
    assert not bad.passed and bad.similarity_bps < 2000
    greedy = compare("text-generation", a, b, POLICY)
    assert not greedy.passed  # without sampling the same edit fails: exact is required


# -- embeddings ------------------------------------------------------------------------------
def test_embedding_cosine_tolerates_float_noise_not_other_vectors(
    run_job: RunJob, models: Models, tmp_path: Path
) -> None:
    ours = run_job("embedding", models.minilm, TEXTS)
    theirs = run_job("embedding", models.minilm, TEXTS)
    assert compare("embedding", ours, theirs, POLICY).similarity_bps == BPS

    emb = load_file(str(ours))["embeddings"]
    rng = np.random.default_rng(1)

    def variant(name: str, arr: np.ndarray) -> Path:
        p = tmp_path / name
        save_file({"embeddings": arr.astype(np.float32)}, str(p))
        return p

    # another device's float noise (~1e-6) is far above the threshold
    noisy = compare(
        "embedding", ours, variant("n.st", emb + rng.normal(0, 1e-6, emb.shape)), POLICY
    )
    assert noisy.passed and noisy.similarity_bps >= 9990
    # one text embedded from a different sentence: that row falls, and the minimum with it
    swapped = run_job("embedding", models.minilm, {"texts": [*TEXTS["texts"][:2], "Cats purr."]})
    s = compare("embedding", ours, swapped, POLICY)
    assert not s.passed and s.details["rows_bps"][:2] == [BPS, BPS]
    assert s.similarity_bps == s.details["rows_bps"][2] < 5000
    unrelated = variant("u.st", rng.normal(size=emb.shape))
    assert compare("embedding", ours, unrelated, POLICY).similarity_bps < 2000
    short = compare("embedding", ours, variant("s.st", emb[:2]), POLICY)
    assert (short.passed, short.similarity_bps) == (False, 0)


# -- LoRA -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lora(run_job: RunJob, models: Models, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    from compute.runtime.models import materialize
    from oracle.lora_eval import loss_evaluator

    params = {"steps": 6, "learning_rate": 0.01}
    ours = run_job("lora-train", models.lm, LORA_INPUT, **params)
    _, model_dir = materialize(models.folder, models.lm, tmp_path_factory.mktemp("scratch"))
    loss_of = loss_evaluator(model_dir, params, LORA_INPUT["eval_texts"])
    return ours, loss_of, params


def _adapter(tmp: Path, name: str, src: Path, change: object) -> Path:
    tensors = load_file(str(src))
    out = {k: change(k, v).astype(np.float32) for k, v in tensors.items()}  # type: ignore[operator]
    save_file(out, str(tmp / name))
    return tmp / name


def test_lora_same_adapter_passes(run_job: RunJob, models: Models, lora: tuple) -> None:
    ours, loss_of, params = lora
    theirs = run_job("lora-train", models.lm, LORA_INPUT, **params)
    c = compare("lora-train", ours, theirs, POLICY, loss_of=loss_of)
    assert (c.passed, c.similarity_bps) == (True, BPS)


def test_lora_perturbed_adapters_fail_and_float_noise_passes(lora: tuple, tmp_path: Path) -> None:
    ours, loss_of, _ = lora
    rng = np.random.default_rng(3)

    def rms(v: np.ndarray) -> float:
        return float(np.sqrt((v.astype(np.float64) ** 2).mean()))

    def check(name: str, change: object) -> object:
        return compare(
            "lora-train", ours, _adapter(tmp_path, name, ours, change), POLICY, loss_of=loss_of
        )

    tiny = check("tiny", lambda k, v: v + rng.normal(0, 1e-5 * rms(v), v.shape))
    assert tiny.passed and tiny.similarity_bps >= 9990 and tiny.details["loss_check"] == "ok"

    noisy = check(
        "noisy", lambda k, v: v + rng.normal(0, 0.5 * rms(v), v.shape) if "lora_B" in k else v
    )
    assert not noisy.passed and noisy.similarity_bps < 9500

    untrained = check("zero", lambda k, v: v * 0 if "lora_B" in k else v)
    assert (untrained.passed, untrained.similarity_bps) == (False, 0)

    # Cosine is blind to scale; the held-out loss is not.
    scaled = check("scaled", lambda k, v: v * 3 if "lora_B" in k else v)
    assert scaled.similarity_bps >= 9990
    assert not scaled.passed and scaled.details["loss_check"] == "out of tolerance"
    assert (
        abs(scaled.details["loss_actual"] - scaled.details["loss_expected"])
        > (scaled.details["loss_allowed_diff"])
    )

    renamed = _adapter(tmp_path, "renamed", ours, lambda k, v: v)
    tensors = load_file(str(renamed))
    save_file({k.replace("q_proj", "k_proj"): v for k, v in tensors.items()}, str(renamed))
    r = compare("lora-train", ours, renamed, POLICY, loss_of=loss_of)
    assert (r.passed, r.similarity_bps) == (False, 0)
