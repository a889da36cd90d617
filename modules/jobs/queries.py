"""Queries of the jobs module (JSON in, JSON out); addresses are bech32."""

from __future__ import annotations

from typing import Any

from chain.bounded import InputError, read_uint
from chain.context import Ctx
from chain.crypto import to_bech32
from chain.errors import ErrInvalidRequest, ErrNotFound
from modules.jobs import eligibility, msgs, state
from modules.jobs.expected import StakingKeeper
from modules.jobs.records import STATES, Job, Model, Worker
from modules.jobs.settlement import split


def job_view(j: Job) -> dict[str, Any]:
    d = j.to_json()
    d["poster"] = to_bech32(j.poster)
    d["worker"] = to_bech32(j.worker) if j.worker else ""
    d["last_timeout_worker"] = to_bech32(j.last_timeout_worker) if j.last_timeout_worker else ""
    d["escrow"] = str(j.escrow)
    if j.inline_input:
        try:
            d["inline_text"] = j.inline_input.decode()
        except UnicodeDecodeError:
            d["inline_text"] = None
    return d


def worker_view(w: Worker) -> dict[str, Any]:
    d = w.to_json()
    d["address"] = to_bech32(w.address)
    return d


def model_view(m: Model) -> dict[str, Any]:
    d = m.to_json()
    if m.owner:
        d["owner"] = to_bech32(m.owner)
    return d


def _int(req: dict[str, Any], key: str, default: int = 0) -> int:
    try:
        return read_uint(req.get(key, default), key)
    except InputError as e:
        raise ErrInvalidRequest(str(e)) from e


def _limit(ctx: Ctx, req: dict[str, Any]) -> int:
    most = state.get_params(ctx).max_page
    return min(_int(req, "limit", 100) or 100, most)


def _job(ctx: Ctx, req: dict[str, Any]) -> Job:
    job_id = _int(req, "id", _int(req, "job_id"))
    j = state.get_job(ctx, job_id)
    if j is None:
        raise ErrNotFound(f"no job {job_id}")
    return j


def job(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return job_view(_job(ctx, req))


def jobs(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """Jobs by ``state``, ``poster`` or ``worker`` (one of them), ``limit`` a page, and
    ``after`` the ``next_after`` of the previous page."""
    limit = _limit(ctx, req)
    if req.get("state"):
        # open states page in due order (deadline, submission height); the cursor is a key
        if req["state"] not in STATES:
            raise ErrInvalidRequest(f"unknown state {req['state']!r}; known: {list(STATES)}")
        try:
            cursor = bytes.fromhex(str(req.get("after") or ""))
        except ValueError as e:
            raise ErrInvalidRequest("after is the next_after cursor of the last page") from e
        ids, last = state.job_ids_in_state(ctx, req["state"], cursor, limit)
        out = [job_view(j) for j in (state.get_job(ctx, i) for i in ids) if j is not None]
        return {"jobs": out, "next_after": last.hex() if len(ids) == limit else None}
    after = _int(req, "after")
    if req.get("poster"):
        ids = state.job_ids_of_poster(ctx, msgs.addr(req["poster"], "poster"), after, limit)
    elif req.get("worker"):
        ids = state.job_ids_of_worker(ctx, msgs.addr(req["worker"], "worker"), after, limit)
    else:
        raise ErrInvalidRequest("filter by one of state, poster or worker")
    out = [job_view(j) for j in (state.get_job(ctx, i) for i in ids) if j is not None]
    return {"jobs": out, "next_after": str(ids[-1]) if len(ids) == limit else None}


def queue(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """The best open jobs, best first (max price, then priority, then age)."""
    ids = state.queue_ids(ctx, _limit(ctx, req))
    return {"jobs": [job_view(j) for j in (state.get_job(ctx, i) for i in ids) if j is not None]}


def worker(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    addr = msgs.addr(str(req.get("address", "")), "address")
    w = state.get_worker(ctx, addr)
    if w is None:
        raise ErrNotFound(f"{req.get('address')} is not a registered worker")
    return worker_view(w)


def workers(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    after = msgs.addr(req["after"], "after") if req.get("after") else b""
    limit = _limit(ctx, req)
    out = [worker_view(w) for w in state.iterate_workers(ctx, after, limit)]
    return {"workers": out, "next_after": out[-1]["address"] if len(out) == limit else None}


def models(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return {"models": [model_view(m) for m in state.iterate_models(ctx)]}


def model(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    m = state.get_model(ctx, str(req.get("id", "")))
    if m is None:
        raise ErrNotFound(f"no model {req.get('id')!r}")
    return model_view(m)


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


def make_why_unclaimed(staking: StakingKeeper) -> Any:
    def why_unclaimed(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """Why a job is not being claimed: a funnel over the workers of its model."""
        return eligibility.diagnose(ctx, staking, _job(ctx, req))

    return why_unclaimed


def settlement_preview(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """How a price would be split on settlement under the current params."""
    price = msgs.price(str(req.get("price", "0")), "price", ErrInvalidRequest)
    s = split(state.get_params(ctx), price, price)
    return {"burned": str(s.burned), "to_treasury": str(s.to_treasury), "worker": str(s.paid)}


def queries(staking: StakingKeeper) -> dict[str, Any]:
    return {
        "job": job,
        "jobs": jobs,
        "queue": queue,
        "worker": worker,
        "workers": workers,
        "models": models,
        "model": model,
        "params": params,
        "why_unclaimed": make_why_unclaimed(staking),
        "settlement_preview": settlement_preview,
    }
