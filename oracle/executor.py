"""Check a job's result: fetch what it needs, run it (or the cheap part), judge the output.

Checks cost a fraction of the work where the task allows (``cheap_checks``,
on by default): greedy text generation by one prefill pass over the claimed
tokens (``prefill``), embeddings by re-embedding the rows drawn from the draw
block's hash (``subset``; the daemon puts that hash and ``embed_check_rows``
into the job), LoRA training with checkpoints by replaying one interval
drawn from that hash (``interval``). All three run in the oracle's process
(the model files checked by hash, as ``lora_eval`` does), not in the sandbox:
the sandbox's per-job model load would cost more than the check. Everything
else, and any check with ``cheap_checks=False``, is a full re-execution, which
stays the fallback and the dispute path.

Everything comes from the artifact store by sha256 and is checked on arrival
(``ArtifactClient`` re-hashes every download): the model's manifest and
files, the input, and the worker's output, fetched by the *output hash on
chain*, so the oracle judges exactly what the worker committed to. With the chain
to ask (``chain``), the manifest is held to the chain's record of the model before
any file is fetched (``compute.runtime.models.check_record``): a model whose kind,
``total_bytes`` or size past ``max_model_bytes`` disagrees with its record, or whose
manifest names a pickle file, is refused (``bad_model``) and its weights never
downloaded; a check of such a job fails as one that cannot run (an honest worker
refuses it).

A check ends in one of two ways:

* a ``Comparison`` (pass or fail) the daemon attests; a job the runtime says
  cannot run at all (bad spec, bad input) fails with similarity 0, since no
  result can be right; a worker output missing from the store fails too (the
  worker must upload before it submits);
* an ``Abstain``: the oracle could not judge (its sandbox failed, a download
  failed, a time limit, or ``compare`` raised ``OracleFault``: its own file,
  metric or device failed, logged with the job id). It attests nothing and
  may try again before the deadline: an oracle never votes on what it did
  not see.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from oracle.expected import Runner, RunOutcome, SpecError, place_inline_input, runtime_spec
from oracle.similarity import (
    EMBEDDING,
    LORA,
    TEXT_GENERATION,
    Comparison,
    OracleFault,
    Policy,
    compare,
    sampled_decoding,
)
from oracle.training_check import LORA_SHARD, TRAINING_TASKS, compare_training

if TYPE_CHECKING:
    from compute.jobspec import RuntimeJob
    from compute.runtime.errors import JobError

MAX_INPUT_BYTES = 64 * 1024 * 1024
log = logging.getLogger("vcoin.oracle.executor")


class ArtifactSource(Protocol):
    def fetch_to_cache(self, digest: str, cache_dir: str | Path) -> Path: ...


class ChainQuery(Protocol):
    """The app queries the executor asks (``chain.client.NodeClient.query``)."""

    def query(self, module: str, name: str, req: dict[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class Abstain:
    reason: str
    retry: bool = True


@dataclass(frozen=True)
class Checked:
    comparison: Comparison
    run: RunOutcome | None
    expected_hash: str | None


class FetchError(Exception):
    pass


class _NoCheapCheck(Exception):
    """The cheap check cannot run for this job; a full re-execution will."""


class Executor:
    def __init__(
        self,
        artifacts: ArtifactSource,
        runner: Runner,
        home: Path,
        device: str = "cpu",
        keep_runs: bool = False,
        cheap_checks: bool = True,
        chain: ChainQuery | None = None,
    ) -> None:
        """``chain``: where the model records and the jobs params are read (a client used
        by this executor's thread alone); None: manifests are not held to their records."""
        self.chain = chain
        self.artifacts = artifacts
        self.runner = runner
        self.device = device
        self.keep_runs = keep_runs
        self.cheap_checks = cheap_checks
        self.models = home / "cache" / "models"
        self.inputs = home / "cache" / "inputs"
        self.outputs = home / "cache" / "outputs"
        self.runs = home / "runs"
        for d in (self.models, self.inputs, self.outputs, self.runs):
            d.mkdir(parents=True, exist_ok=True)

    # -- fetching ------------------------------------------------------------------------
    def _fetch(self, digest: str, into: Path, what: str) -> Path:
        try:
            path = self.artifacts.fetch_to_cache(digest, into)
        except Exception as e:  # noqa: BLE001 - any store failure means "cannot judge now"
            raise FetchError(f"cannot fetch {what} {digest[:16]}…: {e}") from e
        # Downloads land 0600; the docker sandbox runs the runtime as another user,
        # which must read the mounted models and inputs (as the worker's cache allows).
        os.chmod(path, 0o444)
        return path

    def fetch_model(self, model_hash: str) -> Path:
        """The models folder holding the manifest ``model_hash`` and all its files."""
        from compute.runtime.models import load_manifest

        self._fetch(model_hash, self.models, "model manifest")
        manifest = load_manifest(self.models, model_hash)
        for digest, _ in sorted(set(manifest.files.values())):
            self._fetch(digest, self.models, "model file")
        return self.models

    def model_refusal(self, job: dict[str, Any], model_hash: str) -> JobError | None:
        """Why the job's model must not be fetched, fetching its manifest alone: it disagrees
        with the chain's record of the model or names a pickle file (``bad_model``); None
        when it agrees, or without a chain to ask. A FetchError when the chain or the store
        cannot answer (the caller abstains)."""
        from compute.runtime.errors import JobError
        from compute.runtime.models import check_record, load_manifest

        if self.chain is None:
            return None
        model_id = str(job.get("model", ""))
        try:
            record = self.chain.query("jobs", "model", {"id": model_id})
            limit = None
            if record.get("owner"):
                limit = int(self.chain.query("jobs", "params")["max_model_bytes"])
        except Exception as e:  # noqa: BLE001 - the node cannot answer now
            raise FetchError(f"cannot read model {model_id!r}'s record: {e}") from e
        if str(record.get("weights_sha256")) != model_hash:
            raise FetchError(f"the chain's record of model {model_id!r} names another manifest")
        self._fetch(model_hash, self.models, "model manifest")
        try:
            check_record(load_manifest(self.models, model_hash), record, limit)
        except JobError as e:
            return e
        return None

    def place_input(self, job: dict[str, Any]) -> Path:
        """The job's input in the inputs folder: written when inline, else fetched."""
        if job.get("inline_input"):
            place_inline_input(job, self.inputs)
            return self.inputs / str(job["input_hash"])
        return self._fetch(str(job["input_hash"]), self.inputs, "input")

    def place_refs(self, job: dict[str, Any]) -> None:
        """The artifacts a training task's inline input names (``ref_digests``: dataset,
        manifest, global adapter, updates) beside the input, as ``inputs/<sha256>``, each
        checked by hash as the worker fetches them; a malformed inline input is a
        SpecError (the job cannot run), a blob the store cannot give a FetchError."""
        from compute.jobspec import ref_digests
        from compute.runtime.errors import JobError

        try:
            digests = ref_digests(job)
        except JobError as e:
            raise SpecError(f"{e.code}: {e.message}") from e
        for digest in digests:
            self._fetch(digest, self.inputs, "ref")

    def input_doc(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job's input as a JSON object."""
        path = self.place_input(job)
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise ValueError("the input is too large")
        loaded = json.loads(path.read_bytes())
        return loaded if isinstance(loaded, dict) else {}

    # -- running -------------------------------------------------------------------------
    def run(self, job: dict[str, Any], model_hash: str, run_dir: Path) -> RunOutcome:
        """Run the job as a worker would; the output lands in ``run_dir/out``. A model the
        chain's record refuses fails the run as the job's fault (``bad_model``), unfetched."""
        spec = runtime_spec(job, model_hash)
        refusal = self.model_refusal(job, model_hash)
        if refusal is not None:
            return RunOutcome(False, None, None, refusal.code, refusal.message, None, 0.0)
        self.fetch_model(model_hash)
        self.place_input(job)
        self.place_refs(job)
        return self.runner.run(spec, self.inputs, self.models, run_dir / "out")

    def new_run_dir(self, job_id: Any) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"job{job_id}-", dir=self.runs))

    @contextmanager
    def local_run(self, job: dict[str, Any], model_hash: str, tag: str) -> Iterator[RunOutcome]:
        """Run ``job`` here to learn its right answer (a canary's, a plant's): the outcome,
        with its output file while the block runs; RuntimeError when the run failed. The
        run's folder is removed after."""
        run_dir = self.new_run_dir(tag)
        try:
            run = self.run(job, model_hash, run_dir)
            if not run.ok or run.output_path is None or run.output_hash is None:
                raise RuntimeError(f"the local run failed: {run.error_code}: {run.error_message}")
            yield run
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    def check(self, job: dict[str, Any], model_hash: str, policy: Policy) -> Checked | Abstain:
        """Check the worker's output of ``job``: cheaply where the task allows, else (and
        whenever the cheap check cannot load the model) by re-executing it."""
        try:
            spec = runtime_spec(job, model_hash)
            self.place_input(job)
            self.place_refs(job)
            refusal = self.model_refusal(job, model_hash)
        except SpecError as e:
            cmp = Comparison(job["task_type"], "job-cannot-run", 0, False, {"error": str(e)})
            return Checked(cmp, None, None)
        except FetchError as e:
            return Abstain(str(e))
        if refusal is not None:
            detail = {"error": f"{refusal.code}: {refusal.message}"[:500]}
            return Checked(
                Comparison(job["task_type"], "job-cannot-run", 0, False, detail), None, None
            )
        try:
            if self.cheap_checks and _prefill_applies(job, spec):
                return self._prefill(job, spec, model_hash, policy)
            if self.cheap_checks and _subset_applies(job):
                return self._embedding_subset(job, spec, model_hash, policy)
            if self.cheap_checks and _replay_applies(job, spec):
                return self._lora_replay(job, spec, model_hash, policy)
        except FetchError as e:
            return Abstain(str(e))
        except OracleFault as e:
            log.error("cannot judge, abstaining: %s", e, extra={"job_id": job.get("id")})
            return Abstain(f"the oracle cannot judge: {e}")
        except _NoCheapCheck as e:
            # the model does not load as the cheap check needs it: the runtime decides
            log.info("full re-execution: %s", e, extra={"job_id": job.get("id")})
        run_dir = self.new_run_dir(job["id"])
        try:
            try:
                run = self.run(job, model_hash, run_dir)
                return self._judge(job, spec, run, model_hash, policy, run_dir)
            except FetchError as e:
                return Abstain(str(e))
        finally:
            if not self.keep_runs:
                shutil.rmtree(run_dir, ignore_errors=True)

    def _model_serves(self, model_hash: str, task: str) -> None:
        """The runtime refuses a model whose manifest is bad or of another kind; a cheap
        check leaves that verdict to it (``_NoCheapCheck``: a full re-execution)."""
        from compute.runtime.models import KIND_TASKS, load_manifest

        try:
            kind = load_manifest(self.models, model_hash).kind
        except Exception as e:  # noqa: BLE001
            raise _NoCheapCheck(f"the model manifest: {e}") from e
        if task not in KIND_TASKS.get(kind, ()):
            raise _NoCheapCheck(f"a {kind} model does not serve {task}")

    def _ready(
        self, job: dict[str, Any], spec: RuntimeJob, model_hash: str
    ) -> tuple[dict[str, Any], dict[str, Any], Path] | Checked:
        """What the prefill and replay checks start from: the job's params and input as
        the runtime checks them (a job that cannot run fails), the model fetched and able
        to serve the task, and the worker's output; or the verdict when one of these
        already decides."""
        from compute.runtime.errors import JobError
        from compute.runtime.spec import check_input, check_params

        task = job["task_type"]
        try:
            params = check_params(task, spec["params"])
            doc = check_input(task, self.input_doc(job))
        except (JobError, ValueError) as e:
            detail = {"error": str(e)[:500]}
            return Checked(Comparison(task, "job-cannot-run", 0, False, detail), None, None)
        self.fetch_model(model_hash)
        self._model_serves(model_hash, task)
        actual = self._worker_output(job)
        if isinstance(actual, Comparison):
            return Checked(actual, None, None)
        return params, doc, actual

    def _prefill(
        self, job: dict[str, Any], spec: RuntimeJob, model_hash: str, policy: Policy
    ) -> Checked:
        """Greedy text generation checked by one forward pass (``oracle.prefill``)."""
        from compute.runtime.models import materialize
        from oracle.prefill import checker_for

        task = job["task_type"]
        ready = self._ready(job, spec, model_hash)
        if isinstance(ready, Checked):
            return ready
        params, doc, actual = ready
        prompts = doc["prompts"]
        scratch = self.models.parent / "prefill"
        try:
            ck = checker_for(
                model_hash, lambda: materialize(self.models, model_hash, scratch)[1], self.device
            )
        except Exception as e:  # noqa: BLE001 - any load failure: let the runtime judge
            raise _NoCheapCheck(f"prefill cannot load the model: {e}") from e
        t0 = time.monotonic()
        cmp = ck.check(prompts, params, actual, model_hash, policy.tie_margin)
        details = {**cmp.details, "compare_seconds": round(time.monotonic() - t0, 3)}
        return Checked(
            Comparison(task, cmp.metric, cmp.similarity_bps, cmp.passed, details), None, None
        )

    def _embedding_subset(
        self, job: dict[str, Any], spec: RuntimeJob, model_hash: str, policy: Policy
    ) -> Checked | Abstain:
        """Re-embed the rows drawn from the draw block's hash (``oracle.subset``), in this
        process with the model kept loaded, as the prefill check does."""
        from compute.runtime.errors import JobError
        from compute.runtime.models import materialize
        from compute.runtime.spec import check_input, check_params
        from modules.verification.keeper import subset_rows
        from oracle.subset import compare_embedded, embedder_for

        task = job["task_type"]
        try:
            texts = check_input(task, self.input_doc(job))["texts"]
        except (JobError, ValueError) as e:
            detail = {"error": str(e)[:500]}
            return Checked(Comparison(task, "job-cannot-run", 0, False, detail), None, None)
        except FetchError as e:
            return Abstain(str(e))
        seed = bytes.fromhex(str(job["draw_block_hash"]))
        rows = subset_rows(seed, int(job["id"]), len(texts), int(job["check_rows"]))
        try:
            params = check_params(task, spec["params"])
            self.fetch_model(model_hash)
            self._model_serves(model_hash, task)
            actual = self._worker_output(job)  # a FetchError abstains, below
            if isinstance(actual, Comparison):
                return Checked(actual, None, None)
            scratch = self.models.parent / "embedder"
            try:
                emb = embedder_for(
                    model_hash,
                    lambda: materialize(self.models, model_hash, scratch)[1],
                    self.device,
                )
            except Exception as e:  # noqa: BLE001 - any load failure: let the runtime judge
                raise _NoCheapCheck(f"the embedder cannot load the model: {e}") from e
            mine = emb.embed([texts[i] for i in rows], int(params["max_length"]))
        except FetchError as e:
            return Abstain(str(e))
        except JobError as e:
            detail = {"error": f"{e.code}: {e.message}"[:500]}
            return Checked(Comparison(task, "job-cannot-run", 0, False, detail), None, None)
        return Checked(compare_embedded(mine, actual, rows, len(texts), policy), None, None)

    def _lora_replay(
        self, job: dict[str, Any], spec: RuntimeJob, model_hash: str, policy: Policy
    ) -> Checked:
        """LoRA training checked by replaying the interval drawn from the draw block's hash
        against the worker's committed checkpoints (``oracle.interval``), in process."""
        from compute.runtime.models import materialize
        from oracle.interval import Replayer, check_interval, replay_interval

        task = job["task_type"]
        ready = self._ready(job, spec, model_hash)
        if isinstance(ready, Checked):
            return ready
        params, doc, actual = ready
        scratch = Path(tempfile.mkdtemp(prefix="replay-", dir=self.runs))
        try:
            try:
                model_dir = materialize(self.models, model_hash, scratch)[1]
                replayer = Replayer(model_dir, params, doc["texts"], self.device)
            except Exception as e:  # noqa: BLE001 - any load failure: let the runtime judge
                raise _NoCheapCheck(f"the replay cannot load the model: {e}") from e
            from compute.runtime.checkpoints import boundaries

            m = len(boundaries(params["steps"], params["checkpoint_every"])) - 1
            j = replay_interval(bytes.fromhex(str(job["draw_block_hash"])), int(job["id"]), m)
            loss_of = _Lazy(lambda: self._loss_evaluator(job, spec, model_hash, scratch))
            t0 = time.monotonic()
            cmp = check_interval(actual, replayer, params, model_hash, j, policy, loss_of)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        details = {**cmp.details, "compare_seconds": round(time.monotonic() - t0, 3)}
        return Checked(
            Comparison(task, cmp.metric, cmp.similarity_bps, cmp.passed, details), None, None
        )

    def _worker_output(self, job: dict[str, Any]) -> Path | Comparison:
        """The worker's output file, fetched into the cache; a failed ``missing-output``
        comparison when the store does not have it; a FetchError when the store
        cannot be reached (the caller abstains)."""
        try:
            return self.artifacts.fetch_to_cache(job["output_hash"], self.outputs)
        except Exception as e:  # noqa: BLE001
            if _not_found(e):
                detail = {"error": f"the worker's output {job['output_hash']} is not in the store"}
                return Comparison(job["task_type"], "missing-output", 0, False, detail)
            raise FetchError(f"cannot fetch the worker's output: {e}") from e

    def _judge(
        self,
        job: dict[str, Any],
        spec: RuntimeJob,
        run: RunOutcome,
        model_hash: str,
        policy: Policy,
        run_dir: Path,
    ) -> Checked | Abstain:
        task = job["task_type"]
        if not run.ok:
            if run.job_at_fault:
                detail = {"error": f"{run.error_code}: {run.error_message}"[:500]}
                return Checked(Comparison(task, "job-cannot-run", 0, False, detail), run, None)
            return Abstain(f"re-execution failed: {run.error_code}: {run.error_message[:300]}")
        assert run.output_path is not None
        try:
            actual = self._worker_output(job)
        except FetchError as e:
            return Abstain(str(e))
        if isinstance(actual, Comparison):
            return Checked(actual, run, run.output_hash)
        if task in TRAINING_TASKS:
            return self._judge_training(job, run, actual, model_hash, run_dir)
        loss_of = None
        if task == LORA:
            # built only when the weights differ: an exact match needs no forward pass
            loss_of = _Lazy(lambda: self._loss_evaluator(job, spec, model_hash, run_dir))
        t0 = time.monotonic()
        try:
            cmp = compare(
                task, run.output_path, actual, policy, params=spec["params"], loss_of=loss_of
            )
        except OracleFault as e:
            # the oracle's own trouble says nothing about the worker's output
            log.error("cannot judge, abstaining: %s", e, extra={"job_id": job.get("id")})
            return Abstain(f"the oracle cannot judge: {e}")
        details = {**cmp.details, "compare_seconds": round(time.monotonic() - t0, 3)}
        cmp = Comparison(cmp.task, cmp.metric, cmp.similarity_bps, cmp.passed, details)
        return Checked(cmp, run, run.output_hash)

    def _judge_training(
        self, job: dict[str, Any], run: RunOutcome, actual: Path, model_hash: str, run_dir: Path
    ) -> Checked | Abstain:
        """A shard by the LoRA metric from the round's global, with the held-out loss over
        its records; an aggregate exactly (``oracle.training_check``)."""
        from compute.jobspec import inline_input
        from compute.training.inputs import check_input

        task = str(job["task_type"])
        assert run.output_path is not None
        doc = check_input(task, json.loads(inline_input(job)))  # the run took it already
        global_in = self.inputs / doc["global"] if doc["global"] else None
        loss_of = None
        if task == LORA_SHARD:
            loss_of = _Lazy(lambda: self._shard_loss(doc, model_hash, run_dir))
        t0 = time.monotonic()
        try:
            cmp = compare_training(task, run.output_path, actual, global_in, loss_of)
        except OracleFault as e:
            log.error("cannot judge, abstaining: %s", e, extra={"job_id": job.get("id")})
            return Abstain(f"the oracle cannot judge: {e}")
        details = {**cmp.details, "compare_seconds": round(time.monotonic() - t0, 3)}
        cmp = Comparison(cmp.task, cmp.metric, cmp.similarity_bps, cmp.passed, details)
        return Checked(cmp, run, run.output_hash)

    def _shard_loss(self, doc: dict[str, Any], model_hash: str, run_dir: Path) -> Any:
        from compute.runtime.models import materialize
        from compute.runtime.training_tasks import shard_texts
        from compute.training.verify import loss_evaluator

        texts = shard_texts(doc, self.inputs)
        _, model_dir = materialize(self.models, model_hash, run_dir / "scratch")
        return loss_evaluator(model_dir, doc["config"], texts, self.device)

    def _loss_evaluator(
        self, job: dict[str, Any], spec: RuntimeJob, model_hash: str, run_dir: Path
    ) -> Any:
        from compute.runtime.models import materialize
        from oracle.lora_eval import loss_evaluator

        doc = self.input_doc(job)
        texts = doc.get("eval_texts") or doc.get("texts") or []
        _, model_dir = materialize(self.models, model_hash, run_dir / "scratch")
        return loss_evaluator(model_dir, spec["params"], list(texts), self.device)


class _Lazy:
    """A ``LossEvaluator`` that loads the model on first use."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.ev: Any = None

    def _get(self) -> Any:
        if self.ev is None:
            self.ev = self.make()
        return self.ev

    def __call__(self, adapter: Path | None) -> float:
        return float(self._get()(adapter))

    def base_loss(self) -> float:
        return float(self._get().base_loss())


def _prefill_applies(job: dict[str, Any], spec: RuntimeJob) -> bool:
    params = spec.get("params")
    return (
        job.get("task_type") == TEXT_GENERATION
        and isinstance(params, dict)
        and not sampled_decoding(params)
    )


def _subset_applies(job: dict[str, Any]) -> bool:
    """An embedding job that the daemon gave a draw block hash and a row count (> 0)."""
    return (
        job.get("task_type") == EMBEDDING
        and bool(job.get("draw_block_hash"))
        and int(job.get("check_rows") or 0) > 0
    )


def _replay_applies(job: dict[str, Any], spec: RuntimeJob) -> bool:
    """A LoRA job whose spec asks for checkpoints and that the daemon gave a draw block
    hash (without checkpoints there is nothing to replay from: a full re-execution)."""
    params = spec.get("params")
    return (
        job.get("task_type") == LORA
        and bool(job.get("draw_block_hash"))
        and isinstance(params, dict)
        and isinstance(params.get("checkpoint_every"), int)
        and params["checkpoint_every"] > 0
    )


def _not_found(e: Exception) -> bool:
    from chain.artifacts import NotFound

    cause = e.__cause__ if isinstance(e, FetchError) else e
    return isinstance(cause, NotFound)
