"""LoRA training checked by replaying one interval between the worker's committed
checkpoints: an honest run passes every interval (also replayed at two threads); a
stale adapter, a skipped interval and a faked loss log fail when their interval is
drawn; a tampered checkpoint or chain fails whatever is drawn; the drawn interval is a
function of the draw block's hash; the thresholds hold at, just under and just over."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from compute.runtime import checkpoints as ck
from compute.runtime.hashing import canonical_json, save_safetensors
from compute.runtime.models import materialize
from compute.runtime.spec import check_params
from oracle.executor import Checked, Executor
from oracle.expected import InProcessRunner
from oracle.fixedpoint import BPS
from oracle.interval import (
    LOSS_LOG_TOLERANCE,
    REPLAY,
    Replayer,
    check_interval,
    losses_agree,
    replay_interval,
)
from oracle.lora_eval import loss_evaluator
from oracle.similarity import LORA, Policy, compare
from tests.oracle.conftest import Models, RunJob

TEXTS = [f"line {i}: the quick brown fox jumps over the lazy dog" for i in range(6)]
INPUT = {"texts": TEXTS, "eval_texts": TEXTS[:2]}
RAW = {"steps": 8, "checkpoint_every": 2, "batch_size": 2, "learning_rate": 0.01}
PARAMS = check_params("lora-train", RAW)
M = 4  # intervals


@pytest.fixture(scope="module")
def honest(run_job: RunJob, models: Models) -> Path:
    return run_job("lora-train", models.lm, INPUT, **RAW)


@pytest.fixture(scope="module")
def model_dir(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize(models.folder, models.lm, tmp_path_factory.mktemp("replay"))[1]


@pytest.fixture(scope="module")
def loss_of(model_dir: Path) -> Any:
    return loss_evaluator(model_dir, PARAMS, INPUT["eval_texts"])


@pytest.fixture(scope="module")
def judge(models: Models, model_dir: Path, loss_of: Any) -> Any:
    def check(path: Path, interval: int, policy: Policy | None = None, threads: int = 1) -> Any:
        import torch

        torch.set_num_threads(threads)
        try:
            replayer = Replayer(model_dir, PARAMS, TEXTS, "cpu")
            return check_interval(
                path, replayer, PARAMS, models.lm, interval, policy or Policy(), loss_of
            )
        finally:
            torch.set_num_threads(1)

    return check


def _cheat(
    models: Models,
    model_dir: Path,
    out: Path,
    skip: frozenset[int] = frozenset(),
    stop_after: int = M,
    noise: bool = False,
) -> Path:
    """A worker that trains with the runtime's own code but skips the intervals in ``skip``
    and stops training after interval ``stop_after`` (a stale adapter), then commits a chain
    that holds together and a loss log copied from the last real step. An untrained
    interval's end is its start copied, or with ``noise`` nudged (1e-6 relative), as a
    cheater who knows a copy is caught would."""
    import torch

    from compute.runtime.tasks import train_steps

    replayer = Replayer(model_dir, PARAMS, TEXTS, "cpu")
    model, opt, live = replayer.model, replayer.opt, replayer.live
    at = ck.boundaries(PARAMS["steps"], PARAMS["checkpoint_every"])
    saved, losses = [ck.capture(live, opt)], []
    for i, (a, b) in enumerate(zip(at, at[1:], strict=False)):
        if i in skip or i >= stop_after:
            losses += [losses[-1] if losses else 5.0] * (b - a)
            with torch.no_grad():
                for p in live.values() if noise else ():
                    p.add_(1e-6 * p.abs().max() * torch.randn(p.shape))
        else:
            losses += train_steps(model, opt, replayer.tok, TEXTS, PARAMS, "cpu", a, b)
        saved.append(ck.capture(live, opt))
        # a careful cheater: the optimizer's step count says b steps were taken
        ck.restore(live, opt, saved[-1], b)
    return _write(models, out, saved, losses)


def _write(models: Models, out: Path, saved: list[Any], losses: list[float]) -> Path:
    tensors = dict(saved[-1]["w"])
    for i, c in enumerate(saved):
        tensors.update(ck.flatten(c, i))
    doc = ck.manifest(models.lm, PARAMS, saved, losses)
    meta = {"train_losses": json.dumps(losses), ck.META_KEY: canonical_json(doc).decode()}
    save_safetensors(tensors, out, meta)
    return out


def _read(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())  # noqa: SIM118


def _saved(tensors: dict[str, Any]) -> list[dict[str, dict[str, Any]]]:
    return [{p: ck.checkpoint(tensors, i, p) for p in ck.PARTS} for i in range(M + 1)]


def test_the_interval_is_a_function_of_block_hash_and_job() -> None:
    h = hashlib.sha256(b"block").digest()
    j = replay_interval(h, 7, M)
    assert j == replay_interval(h, 7, M) and 0 <= j < M
    assert replay_interval(h, 7, 1) == 0
    with pytest.raises(ValueError):
        replay_interval(h, 7, 0)
    others = {replay_interval(hashlib.sha256(bytes([i])).digest(), 7, M) for i in range(40)}
    assert others == set(range(M))  # other blocks, other intervals
    trials = 4000
    counts = Counter(
        replay_interval(hashlib.sha256(i.to_bytes(4, "big")).digest(), 1, 8) for i in range(trials)
    )
    chi2 = sum((counts[r] - trials / 8) ** 2 / (trials / 8) for r in range(8))
    assert chi2 < 24.3, counts  # the 0.999 quantile with 7 degrees of freedom


def test_an_honest_run_passes_every_interval_bit_for_bit(honest: Path, judge: Any) -> None:
    for j in range(M):
        c = judge(honest, j)
        assert (c.metric, c.passed, c.similarity_bps) == (REPLAY, True, BPS), c.details
        assert c.details["exact"] and c.details["loss_log"] == "ok"
        assert c.details["steps"] == [2 * j, 2 * j + 2]


def test_an_honest_run_replayed_at_two_threads_passes(honest: Path, judge: Any) -> None:
    # another summation order: the false positive a check across machines risks
    c = judge(honest, 3, threads=2)
    assert c.passed and c.similarity_bps >= 9990 and c.details["loss_log"] == "ok", c.details


def test_a_skipped_interval_is_caught_whatever_is_drawn_when_copied_else_when_drawn(
    models: Models, model_dir: Path, judge: Any, tmp_path: Path
) -> None:
    copied = _cheat(models, model_dir, tmp_path / "copied.safetensors", skip=frozenset({1}))
    for j in range(M):
        c = judge(copied, j)
        assert not c.passed and "steps 2 to 4 changed nothing" in c.details["error"], j
    nudged = _cheat(
        models, model_dir, tmp_path / "skip.safetensors", skip=frozenset({1}), noise=True
    )
    caught = judge(nudged, 1)
    assert not caught.passed and caught.details["loss_log"] == "differs from the replay"
    assert caught.details["loss_check"] == "out of tolerance" or caught.similarity_bps < 9500
    assert judge(nudged, 2).passed  # trained honestly from the skipped state: 1/m is the price


def test_a_stale_adapter_fails_every_interval_it_did_not_train(
    models: Models, model_dir: Path, judge: Any, tmp_path: Path
) -> None:
    copied = _cheat(models, model_dir, tmp_path / "copied.safetensors", stop_after=1)
    assert all(not judge(copied, j).passed for j in range(M))  # even interval 0: it idled
    stale = _cheat(models, model_dir, tmp_path / "stale.safetensors", stop_after=1, noise=True)
    assert judge(stale, 0).passed
    for j in (1, 2, 3):
        assert not judge(stale, j).passed, j


def test_a_delivered_adapter_other_than_the_last_checkpoint_fails(
    honest: Path, judge: Any, tmp_path: Path
) -> None:
    tensors, meta = _read(honest)
    for k, v in ck.checkpoint(tensors, 2, "w").items():
        tensors[k] = v  # the adapter of step 4 delivered as the step-8 one
    out = tmp_path / "old.safetensors"
    save_safetensors(tensors, out, meta)
    for j in range(M):
        c = judge(out, j)
        assert not c.passed and "not the last checkpoint" in c.details["error"]


def test_a_tampered_checkpoint_or_chain_fails_whatever_is_drawn(
    honest: Path, judge: Any, tmp_path: Path
) -> None:
    tensors, meta = _read(honest)
    name = next(k for k in tensors if k.startswith("checkpoint.2.m."))
    edited = dict(tensors)
    edited[name] = tensors[name] * 1.001
    out = tmp_path / "tampered.safetensors"
    save_safetensors(edited, out, meta)
    c = judge(out, 0)
    assert (c.passed, c.details["checkpoint"]) == (False, 2)
    doc = json.loads(meta[ck.META_KEY])
    doc["chain"][3] = "00" * 32
    out2 = tmp_path / "chain.safetensors"
    save_safetensors(tensors, out2, {**meta, ck.META_KEY: canonical_json(doc).decode()})
    c = judge(out2, 1)
    assert (c.passed, c.details["link"]) == (False, 3)
    doc = {**json.loads(meta[ck.META_KEY]), "every": 4}
    out3 = tmp_path / "every.safetensors"
    save_safetensors(tensors, out3, {**meta, ck.META_KEY: canonical_json(doc).decode()})
    assert "due at [0, 2, 4, 6, 8]" in judge(out3, 0).details["error"]
    half = tmp_path / "half.safetensors"
    save_safetensors({**tensors, name: tensors[name].half()}, half, meta)
    assert "float32" in judge(half, 2).details["error"]  # a verdict, not an abstention
    no_chain = tmp_path / "none.safetensors"
    save_safetensors(ck.adapter_tensors(tensors), no_chain, {"train_losses": meta["train_losses"]})
    assert not judge(no_chain, 0).passed


def test_a_chain_from_another_start_fails(
    models: Models, model_dir: Path, judge: Any, honest: Path, tmp_path: Path
) -> None:
    # checkpoint 0 moved off the seeded init, every link recomputed: the chain holds
    # together but does not start where the job says
    tensors, meta = _read(honest)
    saved = _saved(tensors)
    key = next(iter(saved[0]["w"]))
    saved[0]["w"][key] = saved[0]["w"][key] + 0.01
    out = _write(models, tmp_path / "start.safetensors", saved, json.loads(meta["train_losses"]))
    c = judge(out, 2)
    assert not c.passed and "fresh adapter" in c.details["error"]


def test_an_adapter_of_another_rank_fails_rather_than_crash(
    run_job: RunJob, models: Models, judge: Any, tmp_path: Path
) -> None:
    # a rank-2 run, its chain recomputed under the job's params: it holds together, but
    # is not the job's LoRA
    other = run_job("lora-train", models.lm, INPUT, **{**RAW, "rank": 2})
    tensors, meta = _read(other)
    out = _write(
        models, tmp_path / "r2.safetensors", _saved(tensors), json.loads(meta["train_losses"])
    )
    c = judge(out, 0)
    assert (c.passed, c.similarity_bps) == (False, 0) and "job's LoRA" in c.details["error"]


def test_a_faked_loss_log_fails(models: Models, honest: Path, judge: Any, tmp_path: Path) -> None:
    tensors, meta = _read(honest)
    losses = json.loads(meta["train_losses"])
    faked = [*losses[:4], *(x * 0.9 for x in losses[4:6]), *losses[6:]]  # interval 2 prettier
    out = _write(models, tmp_path / "log.safetensors", _saved(tensors), faked)
    c = judge(out, 2)
    assert not c.passed and c.details["loss_log"] == "differs from the replay"
    assert c.similarity_bps == BPS  # the weights are the honest ones
    assert judge(out, 0).passed  # an interval the fake did not touch
    # the log edited without the chain: the chain's loss link breaks, whatever is drawn
    out2 = tmp_path / "log2.safetensors"
    save_safetensors(tensors, out2, {**meta, "train_losses": json.dumps(faked)})
    c = judge(out2, 0)
    assert not c.passed and c.details["link"] == 3


def test_thresholds_at_just_under_and_just_over(
    models: Models, honest: Path, judge: Any, tmp_path: Path
) -> None:
    tensors, meta = _read(honest)
    saved = _saved(tensors)
    import torch

    gen = torch.Generator().manual_seed(5)
    for k, v in saved[2]["w"].items():  # the end of interval 1, moved a little
        if "lora_B" in k:
            saved[2]["w"][k] = v + 0.02 * float(v.abs().mean()) * torch.randn(
                v.shape, generator=gen
            )
    out = _write(models, tmp_path / "moved.safetensors", saved, json.loads(meta["train_losses"]))
    sim = judge(out, 1).similarity_bps
    assert 9000 < sim < BPS
    for threshold, passed in ((sim - 1, True), (sim, True), (sim + 1, False)):
        c = judge(out, 1, Policy(threshold_bps=threshold))
        assert (c.similarity_bps, c.passed) == (sim, passed), c.details
    tol = LOSS_LOG_TOLERANCE
    assert losses_agree([1.0], [1.0 + tol / 2], tol) and losses_agree([1.0], [1.0 + tol], tol)
    assert not losses_agree([1.0], [1.0 + 2 * tol], tol)
    assert not losses_agree([1.0], [float("nan")], tol) and not losses_agree([1.0], [], tol)


def test_full_re_execution_judges_a_checkpointed_output_by_its_adapter(
    honest: Path, loss_of: Any, tmp_path: Path
) -> None:
    # the dispute path on another device: float noise on every tensor, the chain no
    # longer bit-equal; the adapter is what the full check compares
    import torch

    tensors, meta = _read(honest)
    gen = torch.Generator().manual_seed(9)
    noisy = {
        k: v + 1e-6 * v.abs().max() * torch.randn(v.shape, generator=gen)
        for k, v in tensors.items()
    }
    out = tmp_path / "noisy.safetensors"
    save_safetensors(noisy, out, meta)
    c = compare(LORA, honest, out, Policy(), loss_of=loss_of)
    assert c.passed and c.similarity_bps >= 9990 and c.details["loss_check"] == "ok", c.details
    assert not any(k.startswith(ck.PREFIX) for k in c.details["tensors_bps"])
    zero_b = {
        k: v * 0 if "lora_B" in k and not k.startswith(ck.PREFIX) else v for k, v in tensors.items()
    }
    save_safetensors(zero_b, out, meta)
    assert not compare(LORA, honest, out, Policy(), loss_of=loss_of).passed


class _Folder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fetch_to_cache(self, digest: str, cache_dir: str | Path) -> Path:
        dst = Path(cache_dir) / digest
        if not dst.exists():
            shutil.copyfile(self.folder / digest, dst)
        return dst


def test_executor_replays_the_drawn_interval_in_process(
    models: Models, model_dir: Path, honest: Path, tmp_path: Path
) -> None:
    class Counting(InProcessRunner):
        runs = 0

        def run(self, spec, inputs, models_dir, out):  # type: ignore[no-untyped-def]
            Counting.runs += 1
            return super().run(spec, inputs, models_dir, out)

    blobs = tmp_path / "blobs"
    shutil.copytree(models.folder, blobs)
    raw = json.dumps(INPUT).encode()
    block = hashlib.sha256(b"draw block").hexdigest()
    j = replay_interval(bytes.fromhex(block), 11, M)
    job = {
        "id": "11",
        "task_type": "lora-train",
        "model": "tiny",
        "spec": json.dumps({"params": RAW}),
        "inline_input": base64.b64encode(raw).decode(),
        "input_hash": hashlib.sha256(raw).hexdigest(),
        "draw_block_hash": block,
    }
    skip = _cheat(models, model_dir, tmp_path / "skip.safetensors", skip=frozenset({j}), noise=True)
    ex = Executor(_Folder(blobs), Counting(), tmp_path / "oracle")
    verdicts = []
    for out in (honest, skip):
        digest = hashlib.sha256(out.read_bytes()).hexdigest()
        shutil.copyfile(out, blobs / digest)
        got = ex.check({**job, "output_hash": digest}, models.lm, Policy())
        assert isinstance(got, Checked) and got.comparison.metric == REPLAY, got
        assert got.comparison.details["interval"] == j  # caught by the replay itself
        verdicts.append(got.comparison.passed)
    assert verdicts == [True, False] and Counting.runs == 0  # no full re-execution
