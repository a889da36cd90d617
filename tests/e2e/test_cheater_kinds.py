"""The end-to-end cheater's fakes (``tests.e2e.cheater``), each kind made through
``Cheat.apply`` from a real runtime run in this process and judged by the oracle's own
checks in this process: every fake is well formed (the shape the runtime writes, but for
``truncated``; a ``stale`` or ``skipped`` adapter's checkpoint chain holds together by
``oracle.interval.read_chain``), and is caught: greedy text by the prefill check,
embeddings by the row-subset check whichever row is drawn, LoRA by the interval replay:
``stale`` and the others at every interval, ``skipped`` exactly when its interval is
drawn (1 of the m = 3 here). The honest outputs pass the same checks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compute.runtime.spec import check_params
from compute.sandbox.base import JobRun, SandboxResult
from oracle.interval import Replayer, check_interval, read_chain
from oracle.similarity import Comparison, Policy
from tests.e2e import cheater
from tests.e2e.cheater import Cheat

PROMPTS = ["The GPU marketplace", "A story about the river"]
TEXT_RAW = {"max_new_tokens": 8}
SENTENCES = ["job 1 is about the apple", "another river sentence", "stone", "maple leaves"]
EMBED_RAW = {"max_length": 32}
TRAIN = {
    "texts": ["the amber number 3", "more text on amber 3", "last line 3"],
    "eval_texts": ["held out amber 3"],
}
LORA_RAW = {"steps": 3, "checkpoint_every": 1, "batch_size": 2, "rank": 2, "alpha": 4,
            "max_length": 16, "learning_rate": 0.01}  # fmt: skip
M = 3  # intervals


class Runs:
    """Honest runtime runs (``compute.runtime.__main__.run_job``, the code the sandbox
    runs) and the models they ran on."""

    def __init__(self, root: Path) -> None:
        from compute.runtime.models import materialize
        from worker.models.minilm import build_minilm
        from worker.models.tiny_lm import build_tiny_lm

        self.root, self.blobs = root, root / "blobs"
        self.lm = build_tiny_lm(self.blobs, 0).digest
        self.minilm = build_minilm(self.blobs).digest
        self.lm_dir = materialize(self.blobs, self.lm, root / "lm")[1]
        self.minilm_dir = materialize(self.blobs, self.minilm, root / "minilm")[1]
        self.n = 0

    def run(self, task: str, model: str, inline: dict[str, Any], raw: dict[str, Any]) -> JobRun:
        from compute.runtime.__main__ import run_job

        self.n += 1
        job = {"version": 1, "task": task, "model": model, "input": {"inline": inline}}
        jf = self.root / f"job{self.n}.json"
        jf.write_text(json.dumps({**job, "params": raw, "job_id": str(self.n)}))
        out = self.root / f"out{self.n}"
        doc = run_job(jf, self.root / "in", self.blobs, out, self.root / f"s{self.n}", "cpu")
        sandbox = SandboxResult("process", 0, False, False, "", False, 0.0)
        return JobRun(sandbox, doc, out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("cheats"))


def copied(run: JobRun, out: Path) -> JobRun:
    shutil.copytree(run.out_dir, out)
    assert run.result is not None
    return JobRun(run.sandbox, json.loads(json.dumps(run.result)), out)


def faked(honest: JobRun, kind: str, tmp: Path, earlier: JobRun | None = None) -> JobRun:
    """A copy of ``honest`` run through a cheater that fakes every job with ``kind``
    (``cached``: after ``earlier``, whose output it replays); its log entry checked."""
    log = tmp / f"{kind}.jsonl"
    cheat = Cheat(1.0, 0, log, kinds=(kind,))
    if earlier is not None:
        assert earlier.result is not None and earlier.output_path is not None
        cheat.previous[earlier.result["task"]] = earlier.output_path.read_bytes()
    run = copied(honest, tmp / kind)
    cheat.apply(run)
    assert run.output_path is not None and run.result is not None
    entry = json.loads(log.read_text())
    assert entry["kind"] == kind and entry["fake"] == run.result["output_hash"] != entry["honest"]
    return run


# -- text generation: the prefill check ----------------------------------------------------
@pytest.fixture(scope="module")
def prefill(runs: Runs) -> Callable[[Path], Comparison]:
    from oracle.prefill import PrefillChecker

    checker = PrefillChecker(runs.lm_dir)
    params = check_params("text-generation", TEXT_RAW)
    return lambda path: checker.check(PROMPTS, params, path, runs.lm)


@pytest.mark.parametrize("kind", ["truncated", "random", "cached", "perturbed"])
def test_a_faked_completion_is_well_formed_and_fails_the_prefill_check(
    runs: Runs, prefill: Callable[[Path], Comparison], kind: str, tmp_path: Path
) -> None:
    honest = runs.run("text-generation", runs.lm, {"prompts": PROMPTS}, TEXT_RAW)
    assert honest.output_path is not None and prefill(honest.output_path).passed
    earlier = runs.run("text-generation", runs.lm, {"prompts": ["Other", "prompts"]}, TEXT_RAW)
    run = faked(honest, kind, tmp_path, earlier)
    assert run.output_path is not None
    doc, before = (json.loads(p.read_bytes()) for p in (run.output_path, honest.output_path))
    assert set(doc) == set(before) and len(doc["completions"]) == len(PROMPTS)
    for c, h in zip(doc["completions"], before["completions"], strict=True):
        assert set(c) == set(h) and all(isinstance(t, int) for t in c["token_ids"])
        if kind == "truncated":  # the honest tokens, cut short, and their text
            n = len(h["token_ids"])
            assert c["token_ids"] == h["token_ids"][: n // 2] and n // 2 < n
            assert h["completion"].startswith(c["completion"].rstrip("\ufffd"))
    got = prefill(run.output_path)
    assert not got.passed, got
    if kind == "truncated":  # caught by its length alone: every kept token is right
        assert "without an end-of-sequence token" in got.details["error"], got


# -- embeddings: the row-subset check --------------------------------------------------------
@pytest.mark.parametrize("kind", ["truncated", "random", "cached", "perturbed"])
def test_faked_embeddings_are_well_formed_and_fail_whichever_row_is_drawn(
    runs: Runs, kind: str, tmp_path: Path
) -> None:
    from safetensors.numpy import load_file

    from oracle.subset import Embedder, compare_embedded

    honest = runs.run("embedding", runs.minilm, {"texts": SENTENCES}, EMBED_RAW)
    earlier = runs.run("embedding", runs.minilm, {"texts": list(reversed(SENTENCES))}, EMBED_RAW)
    run = faked(honest, kind, tmp_path, earlier)
    assert honest.output_path is not None and run.output_path is not None
    mine = Embedder(runs.minilm_dir).embed(SENTENCES, EMBED_RAW["max_length"])
    n = len(SENTENCES)
    rows = load_file(str(run.output_path))["embeddings"]
    assert rows.dtype.name == "float32" and rows.shape[1] == mine.shape[1]
    assert rows.shape[0] == (n // 2 if kind == "truncated" else n)
    for r in range(n):
        assert compare_embedded(mine[[r]], honest.output_path, [r], n, Policy()).passed
        got = compare_embedded(mine[[r]], run.output_path, [r], n, Policy())
        assert not got.passed, (r, got)


# -- LoRA with checkpoints: the chain check and the interval replay ----------------------------
@pytest.fixture(scope="module")
def lora(runs: Runs) -> tuple[JobRun, JobRun]:
    other = {"texts": ["a different text", "for another job", "of the same shape"],
             "eval_texts": TRAIN["eval_texts"]}  # fmt: skip
    return runs.run("lora-train", runs.lm, TRAIN, LORA_RAW), runs.run(
        "lora-train", runs.lm, other, LORA_RAW
    )


@pytest.fixture(scope="module")
def replay(runs: Runs) -> Callable[[Path, int], Comparison]:
    from oracle.lora_eval import loss_evaluator

    params = check_params("lora-train", LORA_RAW)
    loss_of = loss_evaluator(runs.lm_dir, params, TRAIN["eval_texts"])

    def check(path: Path, interval: int) -> Comparison:
        replayer = Replayer(runs.lm_dir, params, TRAIN["texts"], "cpu")
        return check_interval(path, replayer, params, runs.lm, interval, Policy(), loss_of)

    return check


@pytest.mark.parametrize(
    ("kind", "caught_at"),
    [
        ("stale", [0, 1, 2]),
        ("skipped", [2]),  # the last interval, as the log says: 1/m of the checks
        ("random", [0, 1, 2]),
        ("cached", [0, 1, 2]),
        ("perturbed", [0, 1, 2]),
    ],
)
def test_a_faked_adapter_is_caught_by_the_interval_replay_when_its_interval_is_drawn(
    lora: tuple[JobRun, JobRun],
    runs: Runs,
    replay: Callable[[Path, int], Comparison],
    kind: str,
    caught_at: list[int],
    tmp_path: Path,
) -> None:
    honest, earlier = lora
    assert honest.output_path is not None
    assert [replay(honest.output_path, j).passed for j in range(M)] == [True] * M
    run = faked(honest, kind, tmp_path, earlier)
    assert run.output_path is not None
    params = check_params("lora-train", LORA_RAW)
    if kind in ("stale", "skipped", "cached"):
        # well formed: the whole commitment checks out (digests, links, the loss log,
        # the adapter = the last checkpoint, no interval idle); only a replay can tell
        assert not isinstance(read_chain(run.output_path, params, runs.lm), Comparison)
    if kind == "skipped":
        entry = json.loads((tmp_path / "skipped.jsonl").read_text())
        assert (entry["interval"], entry["intervals"]) == (M - 1, M)
    got = {j: replay(run.output_path, j) for j in range(M)}
    assert [j for j, c in got.items() if not c.passed] == caught_at, got


def test_an_untrained_interval_copied_forward_is_refused_by_the_chain_check_alone(
    lora: tuple[JobRun, JobRun], runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the nudge a stale or skipped adapter has an interval that ends bit for bit
    where it started: the oracle refuses the chain before any replay (whatever is drawn),
    which is why the cheater nudges."""
    monkeypatch.setattr(cheater, "NUDGE", 0.0)
    params = check_params("lora-train", LORA_RAW)
    for kind, idle in (("stale", 0), ("skipped", M - 1)):
        run = faked(lora[0], kind, tmp_path)
        assert run.output_path is not None
        got = read_chain(run.output_path, params, runs.lm)
        assert isinstance(got, Comparison) and not got.passed
        assert got.details["idle_interval"] == idle, got


def test_the_tasks_to_fake_first_go_through_their_kinds_before_any_other_task_is_faked(
    lora: tuple[JobRun, JobRun], runs: Runs, tmp_path: Path
) -> None:
    """``VCOIN_TEST_CHEAT_FIRST=lora-train``: text stays honest until each LoRA kind was
    faked once (in turn, the task's own first), then it is faked too."""
    text = runs.run("text-generation", runs.lm, {"prompts": PROMPTS}, TEXT_RAW)
    cheat = Cheat(1.0, 0, tmp_path / "log.jsonl", first=frozenset({"lora-train"}))
    jobs = [text, *[lora[n % 2] for n in range(5)], text]
    for n, job in enumerate(jobs):
        cheat.apply(copied(job, tmp_path / f"run{n}"))
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(e["task"], e["kind"]) for e in log] == [
        *(("lora-train", k) for k in ("stale", "skipped", "random", "cached", "perturbed")),
        ("text-generation", "truncated"),
    ]
