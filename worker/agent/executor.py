"""Running one claimed job: fetch, sandbox, upload; what goes on chain afterwards.

Steps, each with its own way to fail:

1. job.json from the chain record (``jobspec``): a bad spec fails the job;
2. the input, the artifacts a training task's inline input names (its *refs*,
   ``compute.jobspec.ref_digests``: dataset, manifest, the round's global
   adapter, the updates to aggregate; each lands beside the input as
   ``inputs/<sha256>``), and the model's manifest and files from the artifact store into
   content-addressed folders, every blob checked by sha256 (a blob missing
   from the store or one whose bytes do not match its name fails the job);
   the manifest is held to the chain's record of the model before any file is
   fetched (``compute.runtime.models.check_record``: kind, ``total_bytes``,
   ``max_model_bytes``; a pickle file is refused too): a mismatch fails the job
   as ``bad_model`` and its weights are never downloaded;
3. the sandbox runs ``python -m compute.runtime`` (OOM, timeout and the
   runtime's own refusals fail the job);
4. the output file goes to the artifact store; its sha256 is the result hash.

``Outcome.retry`` separates the job's faults (the job fails on chain, the
poster is refunded, nobody's reputation changes) from this worker's (no
engine, store unreachable, a runtime crash): those give the job back for
another worker. A malformed spec or input is the job's fault wherever it shows:
here, in the runtime's checks, or inside a task that cannot process it
(``compute/runtime/__main__.py``); another worker would fail the same way.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chain.artifacts import ArtifactClient, ArtifactError, HashMismatch, NotFound, sha256_file
from compute.jobspec import ref_digests, runtime_job, write_inline_input
from compute.runtime.errors import JobError
from compute.runtime.models import check_record, parse_manifest
from compute.sandbox import JobRun, Limits, Sandbox, SandboxError, execute_job

log = logging.getLogger("vcoin.worker.exec")

MIB = 1 << 20
# Failures that are the job's (its spec, input or model, or what it asked of
# the machine): reported on chain as the job's failure, with a refund.
JOB_FAULTS = frozenset(
    {
        "bad_job_spec",
        "unknown_task",
        "bad_input",
        "input_not_found",
        "input_hash_mismatch",
        "model_not_found",
        "model_hash_mismatch",
        "bad_model",
        "out_of_memory",
        "timeout",
    }
)


@dataclass
class Outcome:
    ok: bool
    output_hash: str = ""
    artifact_ref: str = ""
    compute_units: int = 0
    image_digest: str = ""
    model_hash: str = ""
    input_hash: str = ""
    error_code: str = ""
    error_message: str = ""
    retry: bool = False  # the worker's fault: give the job back rather than fail it
    seconds: float = 0.0

    @property
    def reason(self) -> str:
        """The one line that goes on chain as the failure reason (≤ 256 characters)."""
        text = f"{self.error_code}: {self.error_message}" if self.error_message else self.error_code
        return text[:256]


def _fail(code: str, message: str, retry: bool | None = None) -> Outcome:
    return Outcome(
        ok=False,
        error_code=code,
        error_message=message,
        retry=code not in JOB_FAULTS if retry is None else retry,
    )


def _readable_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o755)
    return path


class ModelCache:
    """Model blobs by sha256 in one folder (the runtime's ``--models`` layout), each
    fetched once and hashed once per process."""

    def __init__(self, folder: Path, artifacts: ArtifactClient) -> None:
        self.folder = _readable_dir(folder)
        self.artifacts = artifacts
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def blob(self, digest: str, what: str) -> Path:
        path = self.folder / digest
        with self._lock:
            if digest in self._verified and path.is_file():
                return path
        try:
            self.artifacts.fetch_to_cache(digest, self.folder)
        except NotFound:
            raise JobError(
                "model_not_found", f"{what} {digest} is not in the artifact store"
            ) from None
        except HashMismatch as e:
            raise JobError(
                "model_hash_mismatch",
                f"{what} {digest} from the artifact store hashes to {e.actual}",
            ) from None
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        with self._lock:
            self._verified.add(digest)
        return path

    def fetch(
        self,
        manifest_digest: str,
        record: Mapping[str, Any] | None = None,
        max_model_bytes: int | None = None,
    ) -> None:
        """The manifest and every file it lists, checked by hash; with the chain's
        ``record`` of the model, the manifest is held to it before any file is fetched."""
        raw = self.blob(manifest_digest, "model manifest").read_bytes()
        manifest = parse_manifest(raw)
        if record is not None:
            check_record(manifest, record, max_model_bytes)
        for rel, (digest, _size) in sorted(manifest.files.items()):
            self.blob(digest, f"model file {rel}")


class Executor:
    def __init__(
        self,
        sandbox: Sandbox,
        artifacts: ArtifactClient,
        work_dir: Path,
        limits: Limits,
        device: str = "cpu",
        gpus: tuple[str, ...] = (),
        max_model_bytes: Callable[[], int] | None = None,
    ) -> None:
        """``max_model_bytes``: reads the jobs param of that name from the chain, asked
        before an account's model is fetched (None: that limit is not checked)."""
        self.sandbox = sandbox
        self.max_model_bytes = max_model_bytes
        self.artifacts = artifacts
        self.work_dir = _readable_dir(work_dir)
        self.models = ModelCache(work_dir / "models", artifacts)
        self.limits = limits
        self.device = device
        self.gpus = gpus if device == "cuda" else ()
        self.image_digest = _image_digest(sandbox)
        _check_reachable(sandbox, self.work_dir)

    def prewarm(self) -> None:
        """Have the sandbox keep a warm container for this executor's jobs (docker,
        unless warm_pool is off): their folder under the work folder, so an agent's
        orphan clean-up finds them too."""
        prewarm = getattr(self.sandbox, "prewarm", None)
        if prewarm is not None:
            prewarm(self.work_dir / "warm", self.models.folder, self.limits, self.device, self.gpus)

    def stop_warm(self) -> None:
        stop = getattr(self.sandbox, "stop_warm", None)
        if stop is not None:
            stop()

    def job_dir(self, job_id: int) -> Path:
        return self.work_dir / "jobs" / str(job_id)

    def run(self, job: dict[str, Any], model: dict[str, Any]) -> Outcome:
        """Run ``job`` (a ``jobs/job`` answer) with ``model`` (``jobs/model``); never raises
        for anything the job does."""
        job_id = int(job["id"])
        base = self.job_dir(job_id)
        shutil.rmtree(base, ignore_errors=True)  # a run cut short before a restart
        try:
            out = self._run(job, model, base)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        out.model_hash = str(model["weights_sha256"])
        out.input_hash = str(job["input_hash"])
        return out

    def _model_limit(self, model: Mapping[str, Any]) -> int | None:
        """The jobs param ``max_model_bytes`` when ``model`` is an account's (has an owner)."""
        if not model.get("owner") or self.max_model_bytes is None:
            return None
        return int(self.max_model_bytes())

    def _run(self, job: dict[str, Any], model: dict[str, Any], base: Path) -> Outcome:
        try:
            limit = self._model_limit(model)
        except Exception as e:  # noqa: BLE001 - the node did not answer: not the job's fault
            return _fail("node_error", f"cannot read max_model_bytes: {e}", retry=True)
        try:
            spec = runtime_job(job, model)
            inputs = _readable_dir(base / "inputs")
            if write_inline_input(job, inputs) is None:
                self._fetch_input(str(job["input_hash"]), inputs)
            for digest in ref_digests(job):
                self._fetch_input(digest, inputs, "ref")
            self.models.fetch(str(model["weights_sha256"]), model, limit)
        except JobError as e:
            return _fail(e.code, e.message)
        except (httpx.TransportError, ArtifactError) as e:
            return _fail("artifact_store_error", f"{type(e).__name__}: {e}", retry=True)
        _readable_dir(base)
        try:
            run = execute_job(
                self.sandbox,
                spec,
                inputs,
                self.models.folder,
                base / "out",
                self.limits,
                self.device,
                self.gpus,
            )
        except SandboxError as e:
            return _fail("sandbox_unavailable", str(e), retry=True)
        log.info(
            "job %s ran in a %s container in %.2f s",
            job["id"],
            "warm" if run.sandbox.warm else "new",
            run.sandbox.duration_s,
        )
        if not run.ok:
            return self._failed_run(run)
        return self._upload(run)

    def _fetch_input(self, digest: str, inputs: Path, what: str = "input") -> None:
        """``inputs/<digest>``, checked by hash: the job's input, or one of its refs (an
        artifact a training task's inline input names), with the same failure codes."""
        if (inputs / digest).is_file():
            return  # a ref that is also the input, or named twice
        try:
            path = self.artifacts.download(digest, inputs / digest)
        except NotFound:
            raise JobError(
                "input_not_found", f"{what} {digest} is not in the artifact store"
            ) from None
        except HashMismatch as e:
            raise JobError(
                "input_hash_mismatch",
                f"{what} {digest} from the artifact store hashes to {e.actual}",
            ) from None
        os.chmod(path, 0o444)

    def _failed_run(self, run: JobRun) -> Outcome:
        code = run.error_code or "sandbox_error"
        msg = run.error_message
        if code not in JOB_FAULTS:
            tail = run.sandbox.logs.strip().splitlines()[-1:] if run.sandbox.logs else []
            log.warning("job run crashed: %s %s; last log line: %s", code, msg, tail)
        out = _fail(code, msg)
        out.seconds = run.sandbox.duration_s
        return out

    def _upload(self, run: JobRun) -> Outcome:
        path = run.output_path
        claimed = run.output_hash
        if path is None or claimed is None or not path.is_file():
            return _fail("sandbox_error", "the runtime reported success but wrote no output")
        digest = sha256_file(path)
        if digest != claimed:
            return _fail("sandbox_error", f"output hashes to {digest}, result.json says {claimed}")
        try:
            self.artifacts.upload_file(path)
        except (httpx.TransportError, ArtifactError) as e:
            return _fail("artifact_store_error", f"output upload failed: {e}", retry=True)
        metrics = (run.result or {}).get("metrics") or {}
        seconds = float(metrics.get("run_seconds") or run.sandbox.duration_s)
        return Outcome(
            ok=True,
            output_hash=digest,
            artifact_ref=digest,
            # milliseconds of model run time (not sandbox start-up), per GPU used
            compute_units=max(1, math.ceil(seconds * 1000)) * max(1, len(self.gpus)),
            image_digest=run.sandbox.image or self.image_digest,
            seconds=run.sandbox.duration_s,
        )


def _check_reachable(sandbox: Sandbox, work_dir: Path) -> None:
    """The process sandbox runs jobs as another uid, straight on this machine's
    folders: every folder above the work folder must let that user through."""
    uid = getattr(sandbox, "run_as", None)
    if sandbox.name != "process" or uid is None or uid == os.geteuid():
        return
    for p in [work_dir.resolve(), *work_dir.resolve().parents]:
        if not p.stat().st_mode & stat.S_IXOTH:
            raise SandboxError(
                f"the process sandbox runs jobs as uid {uid}, which cannot enter {p}: "
                f"put the worker home where other users may pass (chmod o+x {p}) "
                "or use the docker sandbox"
            )


def _image_digest(sandbox: Sandbox) -> str:
    """What the receipt names as the image: the docker image id, or for the
    process backend the content tag of the runtime it runs."""
    image_id = getattr(sandbox, "image_id", "")
    if image_id:
        return str(image_id)
    try:
        from compute.image import image_tag

        tag = image_tag()
    except Exception:  # noqa: BLE001 - no image recipe on this install
        src = Path(__file__).resolve().parents[1] / "runtime"
        h = hashlib.sha256()
        for p in sorted(src.glob("*.py")):
            h.update(p.name.encode() + p.read_bytes())
        tag = "runtime-" + h.hexdigest()[:16]
    return f"{sandbox.name}:{tag}"
