"""OpenAI-compatible fine-tuning: ``/v1/fine_tuning/jobs``, each one LoRA job on chain.

``POST /v1/fine_tuning/jobs`` (``model``, ``training_file``, optional ``validation_file``,
``hyperparameters`` or ``method.supervised.hyperparameters``, ``suffix``, ``seed``)
reads the owner's training file (``gateway.files``) back from the artifact store,
uploads the job's input ``{"texts": [...], "eval_texts": [...]}`` (canonical JSON) to
it, and posts a ``lora-train`` job for the key's owner with ``MsgExec`` (the user's
authz grant pays, as for inference), the input by its sha256. It answers at once,
without waiting for the job. Parameters (chain spec ``{"params": {...}}``):

* ``n_epochs`` (1 to 50, ``auto`` 1), ``batch_size`` (1 to 64, ``auto`` min(4, examples))
  and ``learning_rate_multiplier`` (``auto`` 1: learning rate 1e-3 × it) give
  ``steps`` = ceil(n_epochs × examples / batch_size), at most 1000;
* VCoin's own, in the same object: ``rank`` (1 to 64, default 4), ``alpha`` (1 to 256,
  8), ``max_length`` (8 to 512 tokens, 64); ``seed`` (default 0) is the job's seed.

Out-of-range values are 400 naming the parameter, an unknown model or file 404, a
model that does not serve ``lora-train`` 400, a key whose ``spend_cap`` does not
cover ``max_price`` 402 (nothing posted), a grant the chain refuses 402.

Status, from the chain job's state: ``validating_files`` until the chain took the post,
``queued`` (queued), ``running`` (claimed, submitted, checking), ``succeeded``
(settled), ``failed`` (rejected, expired, failed), ``cancelled``. ``fine_tuned_model``
is the LoRA adapter's artifact hash (the job's settled ``output_hash``: a safetensors
file of the adapter, with its losses in the metadata); ``result_files`` names it as
the owner's file (purpose ``fine-tune-results``), so ``/v1/files/{id}/content``
downloads it with the API key (the store lets the gateway read outputs of the jobs it
posted; the owner may also read it with a token of their own). Every object also carries
``vcoin: {job_id, state, tx_hash, input_sha256, output_hash, paid}``.

Distributed training: ``hyperparameters`` with ``n_shards`` or ``n_rounds`` (VCoin
extensions) post a training of the training module instead (``gateway.training``; its
docstring has the rules); the same routes read, list and cancel it.

Events (``/events``, newest first): created, queued (posted height), claimed, result
submitted, the training losses step by step (``metrics`` events, read from the
adapter's metadata when the store lets the gateway read it) and the end; each dated
by its block's time. ``/cancel`` sends ``MsgExec([MsgCancelJob])`` under the user's
``cancel-job`` grant to the gateway: the chain cancels a queued job only (400
otherwise; 403 without that grant).

The key's ``spent`` holds a job's ``max_price`` from its post until the gateway first
reads the job final (any GET or list), then what the job paid: the settlement is
squared once (``fine_tunes.accounted``), whichever instance reads it.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
import hashlib
import json
import math
import secrets
import struct
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool

from chain.client import NodeError
from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.files import FILE_ID_PREFIX, PURPOSE, Files, training_texts
from gateway.jobs import FINAL_STATES, Jobs
from gateway.openai_api import admit, max_price
from gateway.store import ApiKeyRow, FileRow, FineTuneRow, Store
from gateway.training import (
    Rounds,
    dataset_of,
    escrow_of,
    is_training,
    job_object,
    paid_of,
    status_of,
    training_params,
)

TASK = "lora-train"
RESULTS = "fine-tune-results"  # the purpose of an adapter's file
ID_PREFIX = "ftjob-"
BASE_LEARNING_RATE = 1e-3
MAX_STEPS = 1000
MAX_EPOCHS = 50
# name -> (kind, default, min, max): compute.runtime.spec.TASK_PARAMS["lora-train"]'s bounds
LORA_EXTRA: dict[str, tuple[type, int, int, int]] = {
    "rank": (int, 4, 1, 64),
    "alpha": (int, 8, 1, 256),
    "max_length": (int, 64, 8, 512),
}
MAX_BATCH = 64
MAX_SEED = 2**31 - 1
STATUS = {
    "queued": "queued",
    "claimed": "running",
    "submitted": "running",
    "checking": "running",
    "settled": "succeeded",
    "rejected": "failed",
    "expired": "failed",
    "failed": "failed",
    "cancelled": "cancelled",
}

KeyDep = Callable[[str], Callable[[Request], Awaitable[ApiKeyRow]]]


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, message, "invalid_parameter", param=param)


def _int(v: Any, name: str, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _bad(f"{name} must be an integer from {lo} to {hi}", f"hyperparameters.{name}")
    return v


def lora_params(hp: Any, examples: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the chain spec's params, the hyperparameters the job object shows) of OpenAI's
    ``hyperparameters`` over ``examples`` training texts (module docstring)."""
    if hp is None:
        hp = {}
    if not isinstance(hp, dict):
        raise _bad("hyperparameters must be an object", "hyperparameters")
    known = {"n_epochs", "batch_size", "learning_rate_multiplier", *LORA_EXTRA}
    unknown = sorted(set(hp) - known)
    if unknown:
        raise _bad(f"unknown hyperparameters {unknown}; known: {sorted(known)}", "hyperparameters")
    epochs = hp.get("n_epochs", "auto")
    epochs = 1 if epochs == "auto" else _int(epochs, "n_epochs", 1, MAX_EPOCHS)
    batch = hp.get("batch_size", "auto")
    batch = min(4, examples) if batch == "auto" else _int(batch, "batch_size", 1, MAX_BATCH)
    mult = hp.get("learning_rate_multiplier", "auto")
    if mult == "auto":
        mult = 1.0
    if not isinstance(mult, int | float) or isinstance(mult, bool) or not 1e-4 <= mult <= 1e3:
        raise _bad(
            "learning_rate_multiplier must be a number from 0.0001 to 1000",
            "hyperparameters.learning_rate_multiplier",
        )
    steps = math.ceil(epochs * examples / batch)
    if steps > MAX_STEPS:
        raise _bad(
            f"n_epochs × examples / batch_size is {steps} steps; at most {MAX_STEPS}",
            "hyperparameters.n_epochs",
        )
    params: dict[str, Any] = {
        "steps": steps,
        "batch_size": batch,
        "learning_rate": BASE_LEARNING_RATE * float(mult),
        "seed": seed,
    }
    for name, (_kind, default, lo, hi) in LORA_EXTRA.items():
        params[name] = _int(hp.get(name, default), name, lo, hi)
    shown = {
        "n_epochs": epochs,
        "batch_size": batch,
        "learning_rate_multiplier": float(mult),
        **{k: params[k] for k in ("steps", *LORA_EXTRA)},
    }
    return params, shown


def adapter_losses(output: bytes) -> tuple[list[float], float | None]:
    """(train losses step by step, eval loss) from a LoRA output's safetensors metadata."""
    (n,) = struct.unpack_from("<Q", output, 0)
    meta = json.loads(output[8 : 8 + n]).get("__metadata__", {})
    losses = [float(x) for x in json.loads(meta.get("train_losses") or "[]")]
    ev = meta.get("eval_loss") or ""
    return losses, float(ev) if ev else None


def result_file_id(ft: FineTuneRow) -> str:
    """The id of a fine-tune's adapter file: its own id's hex, as a file id."""
    return FILE_ID_PREFIX + ft.id.removeprefix(ID_PREFIX)


class FineTuning:
    def __init__(
        self,
        cfg: GatewayConfig,
        store: Store,
        jobs: Jobs | None,
        files: Files,
        models: Callable[[], Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.store, self.jobs, self.files = cfg, store, jobs, files
        self.models, self.clock = models, clock
        self._times: dict[int, int] = {}
        self.rounds = Rounds(self._jobs, self.block_time)

    def _jobs(self) -> Jobs:
        if self.jobs is None:
            raise ApiError(
                503, "this gateway has no signing key (setting `key`)", "fine_tuning_disabled"
            )
        return self.jobs

    def _texts(self, owner: str, file_id: Any, param: str) -> list[str]:
        if not isinstance(file_id, str) or not file_id:
            raise _bad(f"{param} must be a file id", param)
        f = self.files.get(owner, file_id, param)
        if f.purpose != PURPOSE:
            raise _bad(f"the file {file_id!r} is not for {PURPOSE}", param)
        return training_texts(self.files.download(f.sha256))

    def _price(self, body: dict[str, Any]) -> int:
        return max_price(body, self.cfg.max_price)

    def create(self, row: ApiKeyRow, body: dict[str, Any]) -> dict[str, Any]:
        jobs = self._jobs()
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _bad("model is required", "model")
        found = {m["id"]: m for m in self.models()}
        if model not in found:
            raise ApiError(
                404, f"the model {model!r} does not exist", "model_not_found", param="model"
            )
        if TASK not in found[model].get("task_types", []):
            raise _bad(f"the model {model!r} cannot be fine-tuned (no {TASK})", "model")
        hp = body.get("hyperparameters")
        method = body.get("method")
        if method is not None:
            if not isinstance(method, dict) or method.get("type") != "supervised":
                raise _bad("method.type must be supervised (LoRA)", "method")
            hp = (method.get("supervised") or {}).get("hyperparameters", hp)
        seed = body.get("seed")
        seed = 0 if seed is None else seed
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
            raise _bad(f"seed must be an integer from 0 to {MAX_SEED}", "seed")
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or not 1 <= len(suffix) <= 64):
            raise _bad("suffix is 1 to 64 characters", "suffix")
        if is_training(hp):
            return self._create_training(row, body, model, hp, seed, suffix)
        texts = self._texts(row.owner, body.get("training_file"), "training_file")
        doc: dict[str, Any] = {"texts": texts}
        vfile = body.get("validation_file")
        if vfile is not None:
            doc["eval_texts"] = self._texts(row.owner, vfile, "validation_file")
        params, shown = lora_params(hp, len(texts), seed)
        price = self._price(body)
        data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        input_sha = hashlib.sha256(data).hexdigest()
        admit(self.store, row, price)
        ft = FineTuneRow(
            id=ID_PREFIX + secrets.token_hex(12), owner=row.owner, key_id=row.id, model=model,
            training_file=str(body["training_file"]), validation_file=vfile,
            hyperparameters=json.dumps(shown), suffix=suffix, seed=seed, price=price,
            input_sha256=input_sha, job_id=None, tx_hash=None, created_at=int(self.clock()),
            accounted=False,
        )  # fmt: skip
        self.store.add_fine_tune(ft)
        try:
            self.files.upload(data)  # after the cap's check: a refused request stores nothing
            posted = jobs.post(
                row.owner, model=model, task_type=TASK, input=b"", input_hash=input_sha,
                spec=json.dumps({"params": params}, separators=(",", ":")), max_price=price,
            )  # fmt: skip
        except BaseException:
            self.store.refund_spent(row.id, price)  # nothing was escrowed
            self.store.drop_fine_tune(ft.id)
            raise
        self.store.set_fine_tune_posted(ft.id, posted.job_id, posted.tx_hash)
        return self.get(row.owner, ft.id)

    def _create_training(
        self, row: ApiKeyRow, body: dict[str, Any], model: str, hp: dict[str, Any], seed: int,
        suffix: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        """A distributed training for the key's owner (``gateway.training``)."""
        jobs = self._jobs()
        texts = self._texts(row.owner, body.get("training_file"), "training_file")
        if body.get("validation_file") is not None:
            raise _bad(
                "a distributed training (n_shards, n_rounds) takes no validation_file: each "
                "shard holds out its own examples",
                "validation_file",
            )
        fields, shown = training_params(hp, len(texts), LORA_EXTRA)
        price = self._price(body)
        escrow = escrow_of(fields["shards"], fields["rounds"], price)
        jsonl, manifest = dataset_of(texts)
        manifest_sha = hashlib.sha256(manifest).hexdigest()
        admit(self.store, row, escrow)
        ft = FineTuneRow(
            id=ID_PREFIX + secrets.token_hex(12), owner=row.owner, key_id=row.id, model=model,
            training_file=str(body["training_file"]), validation_file=None,
            hyperparameters=json.dumps(shown), suffix=suffix, seed=seed, price=escrow,
            input_sha256=manifest_sha, job_id=None, tx_hash=None, created_at=int(self.clock()),
            accounted=False,
        )  # fmt: skip
        self.store.add_fine_tune(ft)
        try:
            self.files.upload(jsonl)  # after the cap's check: a refused request stores nothing
            self.files.upload(manifest)
            posted = jobs.post_training(
                row.owner, model=model, dataset=hashlib.sha256(jsonl).hexdigest(),
                manifest=manifest_sha, records=len(texts), seed=seed,
                price_per_shard=str(price), aggregate_price=str(price), **fields,
            )  # fmt: skip
        except BaseException:
            self.store.refund_spent(row.id, escrow)  # nothing was escrowed
            self.store.drop_fine_tune(ft.id)
            raise
        self.store.set_fine_tune_posted(ft.id, posted.job_id, posted.tx_hash)
        return self.get(row.owner, ft.id)

    @staticmethod
    def _is_training(ft: FineTuneRow) -> bool:
        return is_training(json.loads(ft.hyperparameters))

    def _training(self, ft: FineTuneRow) -> dict[str, Any] | None:
        """The chain's record of a training row; squares the key's spent once it is final."""
        if ft.job_id is None:
            return None
        t = self._jobs().training(ft.job_id)
        if t.get("state") != "running" and not ft.accounted:
            if self.store.mark_accounted(ft.id):
                paid = paid_of(self._jobs(), t)
                self.store.refund_spent(ft.key_id, max(0, ft.price - paid))
                if t.get("state") == "completed":
                    self._result_file(ft, {"id": ft.job_id, "output_hash": t["adapter"]})
        return t

    def _training_view(self, ft: FineTuneRow, t: dict[str, Any] | None) -> dict[str, Any]:
        jobs = self._jobs()
        status = "validating_files"
        if t is not None:
            status = status_of(t, lambda job_id: str(jobs.job(job_id).get("state")))
        finished = int(t.get("finished_height") or 0) if t else 0
        rid = result_file_id(ft)
        has = status == "succeeded" and self._has(ft.owner, rid)
        return job_object(ft, t, status, self.block_time(finished) if finished else None,
                          [rid] if has else [])  # fmt: skip

    def _training_events(self, ft: FineTuneRow) -> list[tuple[int, str, str, Any]]:
        t = self._training(ft)
        if t is None:
            return []
        posted = int(t["posted_height"])
        out = [(self.block_time(posted), f"Queued on chain as training {ft.job_id} (tx "
                f"{ft.tx_hash}, height {posted}, escrow {ft.price} avcn: {t['rounds']} rounds "
                f"of {t['shards']} shards and an aggregate)", "message", None)]  # fmt: skip
        out += self.rounds.events(t)
        fin = int(t.get("finished_height") or 0)
        if fin and t["state"] != "running":
            msg = f"The training ended {t['state']} at height {fin}"
            if t["state"] == "completed":
                msg = f"The training completed at height {fin}: fine-tuned model {t['adapter']}"
            out.append((self.block_time(fin), msg, "message", None))
        return out

    def _row(self, owner: str, ft_id: str) -> FineTuneRow:
        ft = self.store.get_fine_tune(owner, ft_id)
        if ft is None:
            raise ApiError(
                404, f"no such fine-tuning job: {ft_id!r}", "fine_tune_not_found", param="id"
            )
        return ft

    def _chain_job(self, ft: FineTuneRow) -> dict[str, Any] | None:
        if ft.job_id is None:
            return None
        job = self._jobs().job(ft.job_id)
        if job.get("state") in FINAL_STATES and not ft.accounted:
            if self.store.mark_accounted(ft.id):
                paid = int(job.get("paid") or 0) if job.get("state") == "settled" else 0
                self.store.refund_spent(ft.key_id, max(0, ft.price - paid))
                if job.get("state") == "settled":
                    self._result_file(ft, job)
        return job

    def _result_file(self, ft: FineTuneRow, job: dict[str, Any]) -> None:
        """The adapter as the owner's file ``result_files[0]`` (purpose
        ``fine-tune-results``), so an API key downloads it through ``/v1/files``; skipped
        when the gateway cannot read the output (the job then has no result file)."""
        try:
            size = len(self._jobs().output(job))  # hash-checked
        except ApiError:
            return
        self.store.add_file(
            FileRow(result_file_id(ft), ft.owner, f"{ft.id}-adapter.safetensors", RESULTS,
                    size, str(job["output_hash"]), int(self.clock()))
        )  # fmt: skip

    def block_time(self, height: int) -> int:
        """The block's time (unix seconds); cached."""
        if height not in self._times:
            try:
                t = str(self._jobs().node.block(height)["block"]["header"]["time"])
            except (NodeError, KeyError) as e:
                raise ApiError(502, f"the node did not answer: {e}", "node_unavailable") from e
            head, _, _frac = t.rstrip("Z").partition(".")
            if len(self._times) > 100_000:  # a bound, not an eviction policy
                self._times.clear()
            self._times[height] = int(datetime.fromisoformat(head + "+00:00").timestamp())
        return self._times[height]

    def view(self, ft: FineTuneRow, job: dict[str, Any] | None) -> dict[str, Any]:
        if self._is_training(ft):
            return self._training_view(ft, job)
        state = str(job["state"]) if job else ""
        status = STATUS.get(state, "validating_files") if job else "validating_files"
        finished = int(job.get("finished_height") or 0) if job else 0
        out_hash = str(job.get("output_hash") or "") if job else ""
        error = None
        if status == "failed" and job:
            msg = str(job.get("last_error") or f"the chain job ended {state}")
            error = {"code": f"job_{state}", "message": msg, "param": None}
        hp = json.loads(ft.hyperparameters)
        rid = result_file_id(ft)
        return {
            "id": ft.id,
            "object": "fine_tuning.job",
            "created_at": ft.created_at,
            "error": error,
            "fine_tuned_model": out_hash if status == "succeeded" else None,
            "finished_at": self.block_time(finished) if finished and status != "running" else None,
            "hyperparameters": hp,
            "model": ft.model,
            "organization_id": ft.owner,
            "result_files": [rid] if status == "succeeded" and self._has(ft.owner, rid) else [],
            "seed": ft.seed,
            "status": status,
            "trained_tokens": None,
            "training_file": ft.training_file,
            "validation_file": ft.validation_file,
            "estimated_finish": None,
            "integrations": [],
            "suffix": ft.suffix,
            "method": {"type": "supervised", "supervised": {"hyperparameters": hp}},
            "vcoin": {
                "job_id": ft.job_id,
                "state": state or None,
                "tx_hash": ft.tx_hash,
                "input_sha256": ft.input_sha256,
                "output_hash": out_hash or None,
                "paid": str(job.get("paid", "0")) if job else "0",
            },
        }

    def _has(self, owner: str, file_id: str) -> bool:
        return self.store.get_file(owner, file_id) is not None

    def _chain(self, ft: FineTuneRow) -> dict[str, Any] | None:
        """The chain's job (or training record) of a row."""
        return self._training(ft) if self._is_training(ft) else self._chain_job(ft)

    def get(self, owner: str, ft_id: str) -> dict[str, Any]:
        ft = self._row(owner, ft_id)
        return self.view(ft, self._chain(ft))

    def list_jobs(self, owner: str, after: str | None, limit: int) -> dict[str, Any]:
        rows = self.store.list_fine_tunes(owner)
        if after is not None:
            ids = [r.id for r in rows]
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        page = rows[:limit]
        data = [self.view(r, self._chain(r)) for r in page]
        return {"object": "list", "data": data, "has_more": len(rows) > limit}

    def cancel(self, owner: str, ft_id: str) -> dict[str, Any]:
        ft = self._row(owner, ft_id)
        if ft.job_id is None:
            raise ApiError(409, f"{ft_id} is not on chain yet", "not_posted")
        training = self._is_training(ft)
        try:
            if training:
                self._jobs().cancel_training(owner, ft.job_id)
            else:
                self._jobs().cancel(owner, ft.job_id)
        except ApiError as e:
            if e.code == "grant_refused":
                what = "cancel-training" if training else "cancel-job"
                raise ApiError(
                    403,
                    f"{e.message}; to let the gateway cancel your jobs: vcoind tx authz grant "
                    f"{self._jobs().account} {what} --from you",
                    "grant_refused",
                ) from e
            raise
        return self.get(owner, ft_id)

    def events(self, owner: str, ft_id: str, after: str | None, limit: int) -> dict[str, Any]:
        ft = self._row(owner, ft_id)
        training = self._is_training(ft)
        job = None if training else self._chain_job(ft)
        out: list[dict[str, Any]] = []

        def ev(at: int, message: str, kind: str = "message", data: Any = None) -> None:
            out.append({
                "id": f"ftevent-{ft.id.removeprefix(ID_PREFIX)}-{len(out)}", "object":
                "fine_tuning.job.event", "created_at": at, "level": "info",
                "message": message, "data": data, "type": kind,
            })  # fmt: skip

        ev(ft.created_at, f"Created fine-tuning job {ft.id} on {ft.model}")
        for at, message, kind, data in self._training_events(ft) if training else []:
            ev(at, message, kind, data)
        if job:
            posted = int(job["posted_height"])
            ev(self.block_time(posted), f"Queued on chain as job {ft.job_id} (tx {ft.tx_hash}, "
               f"height {posted}, escrow {job['max_price']} avcn)")  # fmt: skip
            if int(job.get("claimed_height") or 0):
                h = int(job["claimed_height"])
                worker = job.get("worker") or "?"  # bech32 in the query's view
                ev(self.block_time(h), f"Claimed by worker {worker} at height {h}; training")
            if int(job.get("submitted_height") or 0):
                h = int(job["submitted_height"])
                at = self.block_time(h)
                out_hash = job.get("output_hash")
                for i, (loss, ev_loss) in enumerate(self._losses(job)):
                    data = {"step": i + 1, "train_loss": loss}
                    if ev_loss is not None:
                        data["eval_loss"] = ev_loss
                    ev(at, f"Step {i + 1}: training loss={loss:.4f}", "metrics", data)
                ev(at, f"Adapter submitted at height {h}: {out_hash}")
            fin = int(job.get("finished_height") or 0)
            state = str(job["state"])
            if fin and state in FINAL_STATES:
                if state == "settled":
                    msg = f"The job settled at height {fin}: paid {job['paid']} avcn; "
                    msg += f"fine-tuned model {job['output_hash']}"
                else:
                    msg = f"The job ended {state} at height {fin}: {job.get('last_error', '')}"
                ev(self.block_time(fin), msg.rstrip(": "))
        out.reverse()  # newest first, as OpenAI lists them
        if after is not None:
            ids = [e["id"] for e in out]
            out = out[ids.index(after) + 1 :] if after in ids else []
        return {"object": "list", "data": out[:limit], "has_more": len(out) > limit}

    def _losses(self, job: dict[str, Any]) -> list[tuple[float, float | None]]:
        """Per step (train loss, eval loss on the last step); [] when the adapter is not
        readable to the gateway (a private output) or not a LoRA output."""
        try:
            losses, ev_loss = adapter_losses(self._jobs().output(job))
        except (ApiError, ValueError, KeyError, struct.error):
            return []
        return [(x, ev_loss if i == len(losses) - 1 else None) for i, x in enumerate(losses)]


CREATE_DOC = """Post a LoRA fine-tuning for the key's owner on chain; answers at once.

OpenAI's body (`model`, `training_file`, `validation_file`, `hyperparameters` or
`method.supervised.hyperparameters`, `suffix`, `seed`) plus VCoin's `max_price` (avcn a job).
Hyperparameters: `n_epochs`, `batch_size`, `learning_rate_multiplier`, and VCoin's `rank`,
`alpha`, `max_length`. Without `n_shards` and `n_rounds` it is one `lora-train` job.

**Distributed training (VCoin extensions):** `n_shards` (1 to 32) and `n_rounds` (1 to 50)
post a `MsgPostTraining` under your `post-training` grant to the gateway: the examples are
split into `n_shards` shards trained on separate workers each round and averaged on chain
(FFA-LoRA); `target_modules` (default `["q_proj", "v_proj"]`) picks the adapted modules.
Every shard job and aggregate costs `max_price`, so the escrow is
n_rounds × (n_shards + 1) × max_price, taken at once (402 past the key's spend cap). The
answer carries `training_id`; `status` follows the training (queued, running, succeeded,
failed, cancelled), `/events` has each round's mean training loss, `fine_tuned_model` is
the final adapter's sha256, and `/cancel` sends `MsgCancelTraining` (`cancel-training`
grant).
"""


def install(app: FastAPI, ft: FineTuning, api_key: KeyDep) -> None:
    Key = Annotated[ApiKeyRow, Depends(api_key("fine_tuning"))]
    Limit = Annotated[int, Query(ge=1, le=100)]
    After = Annotated[str | None, Query(max_length=64)]

    @app.post("/v1/fine_tuning/jobs", tags=["fine-tuning"], description=CREATE_DOC)
    async def create(body: Annotated[dict[str, Any], Body()], row: Key) -> dict[str, Any]:
        return await run_in_threadpool(ft.create, row, body)

    @app.get("/v1/fine_tuning/jobs", tags=["fine-tuning"])
    async def list_jobs(row: Key, after: After = None, limit: Limit = 20) -> dict[str, Any]:
        return await run_in_threadpool(ft.list_jobs, row.owner, after, limit)

    @app.get("/v1/fine_tuning/jobs/{ft_id}", tags=["fine-tuning"])
    async def get_job(ft_id: str, row: Key) -> dict[str, Any]:
        return await run_in_threadpool(ft.get, row.owner, ft_id)

    @app.get("/v1/fine_tuning/jobs/{ft_id}/events", tags=["fine-tuning"])
    async def job_events(
        ft_id: str, row: Key, after: After = None, limit: Limit = 20
    ) -> dict[str, Any]:
        return await run_in_threadpool(ft.events, row.owner, ft_id, after, limit)

    @app.post("/v1/fine_tuning/jobs/{ft_id}/cancel", tags=["fine-tuning"])
    async def cancel(ft_id: str, row: Key) -> dict[str, Any]:
        """Cancel a queued job (the chain's rule), under your cancel-job grant."""
        return await run_in_threadpool(ft.cancel, row.owner, ft_id)


__all__ = ["FineTuning", "install", "lora_params"]
