"""OpenAI-compatible inference: ``/v1/completions``, ``/v1/chat/completions``, ``/v1/embeddings``.

Each request becomes one chain job, posted for the key's owner with ``MsgExec``
(``gateway.jobs``), and is answered once the job is final:

* completions: ``text-generation``, input ``{"prompts": [prompt, …]}`` (a string or a list
  of strings), spec ``{"params": {"max_new_tokens": max_tokens}}`` (default 16, 1 to 1024);
* chat completions: the messages rendered to one prompt, one line per message,
  ``"<role>: <content>\\n"``, then ``"assistant:"``; the completion is the answer;
* embeddings: ``embedding``, input ``{"texts": [input, …]}``, spec
  ``{"params": {"max_length": 256}}``; ``encoding_format`` ``float`` or ``base64``
  (little-endian float32, what the official client asks for by default).

Price: each job escrows ``max_price`` avcn, the request's extra field ``max_price`` (a
whole number of avcn, as a string or an integer) or else the gateway's ``max_price``
setting. Models carry no price on chain; workers take jobs at or above their own
price floor and the unpaid escrow goes back to the user. The key's ``spent`` counts
the escrow while the job runs and what was paid once it settles; a request that would
take it past the key's ``spend_cap`` is refused 402 before anything is posted.

Answers are OpenAI's shapes with ``usage`` (``completion_tokens`` counts the generated
token ids in the output; the chain does not record prompt tokens, so ``prompt_tokens``
is 0) and ``vcoin: {"job_id", "state", "tx_hash"}``. ``stream: true`` sends the answer
as server-sent events once the job is final (a role chunk, a content chunk, a finish
chunk, ``data: [DONE]``). A job that is not final within ``job_timeout_s`` is answered
504 naming its id; a job that ends other than settled is answered 502 with its state.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
import base64
import json
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.jobs import Jobs, JobTimeout, Posted, completions_of, embeddings_of
from gateway.store import ApiKeyRow, Store

TEXT, EMBED = "text-generation", "embedding"
DEFAULT_MAX_TOKENS = 16
MAX_TOKENS = 1024
EMBED_MAX_LENGTH = 256
MAX_ITEMS = 32
MAX_TEXT = 16_384

KeyDep = Callable[[str], Callable[[Request], Awaitable[ApiKeyRow]]]


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid_parameter", param=param)


def max_price(body: dict[str, Any], default: str) -> int:
    """A request's ``max_price`` (avcn, each job's escrow), ``default`` when it names none."""
    v = body.get("max_price", default)
    text = str(v)
    if isinstance(v, bool) or not text.isascii() or not text.isdigit() or int(text) == 0:
        raise _bad("max_price is a positive whole number of avcn", "max_price")
    return int(text)


def admit(store: Store, row: ApiKeyRow, price: int) -> None:
    """Count a job's escrow against the key's spend cap, or refuse it (402, nothing spent)."""
    if not store.add_spent(row.id, price):
        raise ApiError(
            402,
            f"this key's spend cap ({row.spend_cap} avcn) does not cover a job of "
            f"{price} avcn: {row.spent} avcn spent",
            "spend_cap_exceeded",
        )


def _texts(v: Any, param: str) -> list[str]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items or not all(isinstance(x, str) for x in items):
        raise _bad(f"{param} must be a string or a non-empty list of strings", param)
    if len(items) > MAX_ITEMS:
        raise _bad(f"{param}: at most {MAX_ITEMS} items", param)
    if any(not x or len(x) > MAX_TEXT for x in items):
        raise _bad(f"{param}: each item is 1 to {MAX_TEXT} characters", param)
    return items


def render_chat(messages: Any) -> str:
    """The chat prompt: ``"<role>: <content>\\n"`` per message, then ``"assistant:"``."""
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty list", "messages")
    lines = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise _bad("each message needs a role and a content", "messages")
        content = m.get("content")
        if isinstance(content, list):  # content parts: their text
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise _bad("a message's content must be text", "messages")
        lines.append(f"{m['role']}: {content}\n")
    return "".join(lines) + "assistant:"


def _max_tokens(body: dict[str, Any]) -> int:
    v = body.get("max_completion_tokens", body.get("max_tokens"))
    if v is None:
        return DEFAULT_MAX_TOKENS
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_TOKENS:
        raise _bad(f"max_tokens must be an integer from 1 to {MAX_TOKENS}", "max_tokens")
    return v


def _one_choice(body: dict[str, Any]) -> None:
    n = body.get("n", 1)
    if n != 1:
        raise _bad("n must be 1: a job gives one completion per prompt", "n")


class Inference:
    def __init__(
        self, cfg: GatewayConfig, store: Store, jobs: Jobs | None, models: Callable[[], Any]
    ) -> None:
        self.cfg, self.store, self.jobs, self.models = cfg, store, jobs, models

    def _price(self, body: dict[str, Any]) -> int:
        return max_price(body, self.cfg.max_price)

    def _model(self, body: dict[str, Any], task: str) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _bad("model is required", "model")
        found = {m["id"]: m for m in self.models()}
        if model not in found:
            raise ApiError(404, f"the model {model!r} does not exist", "model_not_found")
        if task not in found[model].get("task_types", []):
            raise _bad(f"the model {model!r} does not serve {task}", "model")
        return model

    def run(
        self, row: ApiKeyRow, body: dict[str, Any], task: str, payload: dict[str, Any],
        params: dict[str, Any],
    ) -> tuple[Posted, dict[str, Any], bytes]:  # fmt: skip
        """Post the job for the key's owner, wait, fetch the checked output."""
        if self.jobs is None:
            raise ApiError(
                503, "this gateway has no signing key (setting `key`)", "inference_disabled"
            )
        model = self._model(body, task)
        price = self._price(body)
        admit(self.store, row, price)
        try:
            posted = self.jobs.post(
                row.owner,
                model=model,
                task_type=task,
                input=json.dumps(payload, separators=(",", ":")).encode(),
                spec=json.dumps({"params": params}, separators=(",", ":")),
                max_price=price,
            )
        except BaseException:
            self.store.refund_spent(row.id, price)  # nothing was escrowed
            raise
        try:
            job = self.jobs.wait(posted, self.cfg.job_timeout_s)
        except JobTimeout as e:
            raise ApiError(
                504,
                f"job {e.job_id} did not settle within {self.cfg.job_timeout_s:g}s "
                f"(state {e.state!r}, tx {e.tx_hash}); it goes on on chain",
                "job_timeout",
            ) from e
        paid = int(job.get("paid") or 0) if job.get("state") == "settled" else 0
        self.store.refund_spent(row.id, max(0, price - paid))
        if job.get("state") != "settled":
            raise ApiError(
                502, f"job {posted.job_id} ended {job.get('state')!r}", "job_" + str(job["state"])
            )
        return posted, job, self.jobs.output(job)


def _vcoin(posted: Posted, job: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": posted.job_id, "state": job.get("state"), "tx_hash": posted.tx_hash}


def _sse(chunks: list[dict[str, Any]]) -> StreamingResponse:
    def gen() -> Iterator[str]:
        for c in chunks:
            yield f"data: {json.dumps(c)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream")


def install(app: FastAPI, inf: Inference, api_key: KeyDep) -> None:
    JsonBody = Annotated[dict[str, Any], Body()]

    @app.post("/v1/completions", tags=["openai"], response_model=None)
    async def completions(
        body: JsonBody, row: Annotated[ApiKeyRow, Depends(api_key("completions"))]
    ) -> JSONResponse | StreamingResponse:
        """A text-generation job per request; one choice per prompt."""
        prompts = _texts(body.get("prompt"), "prompt")
        _one_choice(body)
        params = {"max_new_tokens": _max_tokens(body)}
        posted, job, out = await run_in_threadpool(
            inf.run, row, body, TEXT, {"prompts": prompts}, params
        )
        done = completions_of(out)
        rid, created, model = f"cmpl-{uuid.uuid4().hex}", int(time.time()), body["model"]
        used = sum(len(c["token_ids"]) for c in done)
        finish = [
            "length" if len(c["token_ids"]) >= params["max_new_tokens"] else "stop" for c in done
        ]
        usage = {"prompt_tokens": 0, "completion_tokens": used, "total_tokens": used}
        base = {"id": rid, "object": "text_completion", "created": created, "model": model}
        if body.get("stream"):
            chunks = [
                {
                    **base,
                    "choices": [
                        {
                            "index": i,
                            "text": c["completion"],
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }  # fmt: skip
                for i, c in enumerate(done)
            ]
            chunks += [
                {
                    **base,
                    "choices": [{"index": i, "text": "", "logprobs": None, "finish_reason": f}],
                }  # fmt: skip
                for i, f in enumerate(finish)
            ]
            chunks[-1] = {**chunks[-1], "usage": usage, "vcoin": _vcoin(posted, job)}
            return _sse(chunks)
        choices = [
            {"index": i, "text": c["completion"], "logprobs": None, "finish_reason": finish[i]}
            for i, c in enumerate(done)
        ]
        return JSONResponse(
            {**base, "choices": choices, "usage": usage, "vcoin": _vcoin(posted, job)}
        )

    @app.post("/v1/chat/completions", tags=["openai"], response_model=None)
    async def chat(
        body: JsonBody, row: Annotated[ApiKeyRow, Depends(api_key("completions"))]
    ) -> JSONResponse | StreamingResponse:
        """The messages rendered to one prompt (module docstring); one choice."""
        prompt = render_chat(body.get("messages"))
        _one_choice(body)
        params = {"max_new_tokens": _max_tokens(body)}
        posted, job, out = await run_in_threadpool(
            inf.run, row, body, TEXT, {"prompts": [prompt]}, params
        )
        c = completions_of(out)[0]
        rid, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), body["model"]
        used = len(c["token_ids"])
        finish = "length" if used >= params["max_new_tokens"] else "stop"
        usage = {"prompt_tokens": 0, "completion_tokens": used, "total_tokens": used}
        if body.get("stream"):
            base = {"id": rid, "object": "chat.completion.chunk", "created": created,
                    "model": model}  # fmt: skip
            return _sse([
                {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                      "finish_reason": None}]},
                {**base, "choices": [{"index": 0, "delta": {"content": c["completion"]},
                                      "finish_reason": None}]},
                {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                 "usage": usage, "vcoin": _vcoin(posted, job)},
            ])  # fmt: skip
        msg = {"role": "assistant", "content": c["completion"], "refusal": None}
        return JSONResponse({
            "id": rid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}],
            "usage": usage, "vcoin": _vcoin(posted, job),
        })  # fmt: skip

    @app.post("/v1/embeddings", tags=["openai"], response_model=None)
    async def embeddings(
        body: JsonBody, row: Annotated[ApiKeyRow, Depends(api_key("embeddings"))]
    ) -> JSONResponse:
        """An embedding job; one vector per input."""
        texts = _texts(body.get("input"), "input")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise _bad("encoding_format is float or base64", "encoding_format")
        if body.get("dimensions") is not None:
            raise _bad("dimensions is not supported: the model's own size", "dimensions")
        posted, job, out = await run_in_threadpool(
            inf.run, row, body, EMBED, {"texts": texts}, {"max_length": EMBED_MAX_LENGTH}
        )
        vectors = embeddings_of(out)
        data = [
            {"object": "embedding", "index": i,
             "embedding": v if fmt == "float"
             else base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()}
            for i, v in enumerate(vectors)
        ]  # fmt: skip
        return JSONResponse({
            "object": "list", "data": data, "model": body["model"],
            "usage": {"prompt_tokens": 0, "total_tokens": 0}, "vcoin": _vcoin(posted, job),
        })  # fmt: skip


__all__ = ["Inference", "install", "render_chat"]
