"""``python -m compute.runtime --job job.json --inputs DIR --models DIR --out DIR``

Runs one job inside the sandbox and writes ``result.json`` to ``--out``:

* success: ``{"ok": true, "output": {"file", "sha256", "size"}, "output_hash", …}``
  and exit status 0; ``output_hash`` is the result hash that goes on chain.
* a job at fault (spec, input, model): ``{"ok": false, "error": {"code",
  "message"}}`` and exit status 2.
* anything else: the same shape with code ``runtime_error`` and exit status 1.

``result.json`` is written last, atomically, so its presence means the run is
complete. A run killed by the sandbox (memory, time) leaves none.

``--await-job`` (the docker sandbox's warm containers): load the libraries
first, say ``vcoin-runtime: ready`` on stderr, then wait for the ``--job`` file
to appear (the sandbox hands it over by renaming it into place) and run that
one job exactly as above. The job's own set-up (seeds, deterministic kernels,
threads) happens after the wait, per job, so the output is the same bits.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from compute.runtime.determinism import prepare_env
from compute.runtime.errors import EXIT_JOB_ERROR, EXIT_RUNTIME_ERROR, JobError
from compute.runtime.hashing import canonical_json, sha256_file
from compute.runtime.jsonlimits import JSONLimitError, loads
from compute.runtime.models import KIND_TASKS, materialize
from compute.runtime.spec import JobSpec, check_input, parse_spec
from compute.runtime.training_tasks import check_refs, serves

RESULT_FILE = "result.json"
MAX_INPUT_BYTES = 64 * 1024 * 1024


def _read_input(spec: JobSpec, inputs_dir: Path) -> dict[str, Any]:
    if spec.input_inline is not None:
        return check_input(spec.task, spec.input_inline)
    assert spec.input_sha256 is not None
    path = inputs_dir / spec.input_sha256
    if not path.is_file():
        raise JobError("input_not_found", f"input {spec.input_sha256} is not in the inputs folder")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise JobError("bad_input", f"the input is over {MAX_INPUT_BYTES} bytes")
    actual = sha256_file(path)
    if actual != spec.input_sha256:
        raise JobError("input_hash_mismatch", f"input named {spec.input_sha256} hashes to {actual}")
    try:
        doc = loads(path.read_bytes(), MAX_INPUT_BYTES)
    except JSONLimitError as e:
        raise JobError("bad_input", f"the input artifact: {e}") from None
    return check_input(spec.task, doc)


# What a task raises when the input it was given cannot be processed (a text
# its tokenizer refuses, a number out of range): the same input fails the same
# way on every worker, so it is the poster's fault, not this one's. Resource
# and environment failures (MemoryError, OSError, CUDA's RuntimeError) are not
# among them.
INPUT_FAULTS = (
    ValueError,
    TypeError,
    LookupError,
    ArithmeticError,
    RecursionError,
)


def _run_task(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except INPUT_FAULTS as e:
        raise JobError(
            "bad_input", f"the task cannot process this input: {type(e).__name__}: {e}"[:2000]
        ) from e


def run_job(
    job_file: Path,
    inputs_dir: Path,
    models_dir: Path,
    out_dir: Path,
    scratch: Path | None = None,
    device: str = "auto",
    own_process: bool = False,
) -> dict[str, Any]:
    """Run one job and return what goes into result.json (raises JobError).

    ``scratch``: where the model is put together; without one, a temporary folder
    that is removed when the job ends, however it ends (a long-lived caller, such as
    an oracle running jobs in process, would otherwise leave one per job).
    ``own_process``: this process runs this one job and exits (``main``), so
    the libraries loaded at start-up may be frozen out of garbage collection.
    """
    if scratch is not None:
        return _run_job(job_file, inputs_dir, models_dir, out_dir, scratch, device, own_process)
    own = Path(tempfile.mkdtemp(prefix="vcoin-run-"))
    try:
        return _run_job(job_file, inputs_dir, models_dir, out_dir, own, device, own_process)
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _run_job(
    job_file: Path,
    inputs_dir: Path,
    models_dir: Path,
    out_dir: Path,
    scratch: Path,
    device: str,
    own_process: bool,
) -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        raw = job_file.read_bytes()
    except OSError as e:
        raise JobError("bad_job_spec", f"cannot read the job file: {e.strerror}") from None
    spec = parse_spec(raw)
    inputs = _read_input(spec, inputs_dir)
    if spec.refs:  # the training tasks: the artifacts their input names, each checked
        check_refs(spec.refs, inputs, inputs_dir)
    manifest, model_dir = materialize(models_dir, spec.model, scratch)
    if not serves(KIND_TASKS[manifest.kind], spec.task):
        raise JobError(
            "bad_model", f"model {manifest.name} ({manifest.kind}) cannot run {spec.task}"
        )

    load_libraries(own_process)
    from compute.runtime.determinism import pick_device, setup_torch, versions
    from compute.runtime.tasks import TASKS

    setup_torch(spec.params["seed"])
    dev = pick_device(device)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_load = time.monotonic()
    fn = TASKS[spec.task]
    if spec.refs:
        fn = functools.partial(fn, inputs_dir=inputs_dir)
    path, metrics = _run_task(fn, model_dir, spec.model, inputs, spec.params, dev, out_dir)
    digest = sha256_file(path)
    if dev == "cuda":
        import torch

        metrics["gpu_name"] = torch.cuda.get_device_name()
        metrics["cuda_max_memory_bytes"] = int(torch.cuda.max_memory_allocated())
    return {
        "ok": True,
        "job_id": spec.job_id,
        "task": spec.task,
        "model": spec.model,
        "model_name": manifest.name,
        "input": spec.input_sha256 or sha256_bytes(canonical_json(spec.input_inline)),
        "params": spec.params,
        "output": {"file": path.name, "sha256": digest, "size": path.stat().st_size},
        "output_hash": digest,
        "device": dev,
        "versions": versions(),
        "metrics": {
            **metrics,
            "setup_seconds": round(t_load - t0, 4),
            "run_seconds": round(time.monotonic() - t_load, 4),
        },
    }


def load_libraries(own_process: bool) -> None:
    """Import torch and transformers' model code, which every task needs.

    Most of a short job's time is these imports, and a fifth of that is the
    cyclic garbage collector walking the ever larger heap of new modules,
    classes and functions, which are never garbage. So the collector waits
    until they are loaded; in a process of its own they are then frozen
    (``gc.freeze``), so the job's own collections skip them.
    """
    prepare_env()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
        import transformers.modeling_utils  # noqa: F401
    finally:
        if own_process:
            gc.freeze()
        if was_enabled:
            gc.enable()


# Model code most jobs load: the causal LMs (text generation, LoRA), the BERT
# family (sentence embeddings), and peft. Importing them ahead is what a warm
# container is for; a model family not listed here is imported when it loads.
PRELOAD = (
    "compute.runtime.tasks",
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
    "transformers.models.llama.modeling_llama",
    "transformers.models.bert.modeling_bert",
    "peft",
)
AWAIT_POLL_S = 0.005
ALIVE_FILE = ".alive"  # next to the job file; the sandbox touches it while it waits


def await_job(job_file: Path, alive_timeout_s: float = 60.0) -> None:
    """Load what jobs need, then block until ``job_file`` exists (a warm container).

    Exits (status 3) once the sandbox has stopped touching ``.alive`` next to the
    job file for ``alive_timeout_s``: the worker that made this container is gone,
    and nothing else would ever end the wait.
    """
    import importlib

    load_libraries(own_process=True)
    gc.disable()
    try:
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional family missing from this install
                pass
    finally:
        gc.freeze()
        gc.enable()
    print("vcoin-runtime: ready", file=sys.stderr, flush=True)
    alive = job_file.parent / ALIVE_FILE
    next_check = 0.0
    while not job_file.exists():
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 1.0
            try:
                idle = time.time() - alive.stat().st_mtime
            except OSError:  # no keep-alive file: a caller that does not use one
                idle = 0.0
            if idle > alive_timeout_s:
                print(f"vcoin-runtime: no keep-alive for {idle:.0f} s; exiting", file=sys.stderr)
                sys.stderr.flush()
                os._exit(3)
        time.sleep(AWAIT_POLL_S)


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def write_result(out_dir: Path, doc: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (RESULT_FILE + ".tmp")
    tmp.write_bytes(canonical_json(doc) + b"\n")
    os.replace(tmp, out_dir / RESULT_FILE)
    return out_dir / RESULT_FILE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m compute.runtime", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--job", type=Path, required=True, help="job spec (JSON)")
    ap.add_argument("--inputs", type=Path, required=True, help="input blobs, named by sha256")
    ap.add_argument("--models", type=Path, required=True, help="model blobs, named by sha256")
    ap.add_argument("--out", type=Path, required=True, help="writable folder for the outputs")
    ap.add_argument("--scratch", type=Path, default=None, help="writable scratch (default: tmp)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument(
        "--await-job",
        action="store_true",
        help="load the libraries, then wait for the --job file to appear (warm container)",
    )
    ap.add_argument(
        "--alive-timeout",
        type=float,
        default=60.0,
        help="with --await-job: exit when the job folder's .alive goes this long untouched",
    )
    args = ap.parse_args(argv)
    if args.await_job:
        await_job(args.job, args.alive_timeout)
    try:
        doc = run_job(
            args.job,
            args.inputs,
            args.models,
            args.out,
            args.scratch,
            args.device,
            own_process=True,
        )
    except JobError as e:
        write_result(args.out, {"ok": False, "error": {"code": e.code, "message": e.message}})
        print(f"job failed: {e.code}: {e.message}", file=sys.stderr)
        return EXIT_JOB_ERROR
    except Exception as e:  # noqa: BLE001 - any other failure is reported, not raised
        traceback.print_exc()
        msg = f"{type(e).__name__}: {e}"[:2000]
        write_result(args.out, {"ok": False, "error": {"code": "runtime_error", "message": msg}})
        return EXIT_RUNTIME_ERROR
    write_result(args.out, doc)
    print(f"job done: output_hash={doc['output_hash']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    code = main()
    # result.json is in place; tearing down torch's modules would add about a
    # second before the sandbox sees the exit, for nothing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
