"""Queries of the training module (JSON in, JSON out; abci paths
``custom/training/<name>``):

* ``training`` ``{"id": T}``: the record with ``rounds_detail`` (every round so far).
* ``trainings`` ``{"poster": bech32, "after": T, "limit": n}``: the poster's
  trainings in id order, without ``rounds_detail``; ``next_after`` pages on.
* ``by_job`` ``{"job_id": J}``: ``{"training","round","shard"}`` or
  ``{"training","round","aggregate": true}`` for a job the module posted.
* ``params``.
"""

from __future__ import annotations

from typing import Any

from chain.bounded import InputError, read_uint
from chain.context import Ctx
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidRequest, ErrNotFound
from modules.training import state
from modules.training.records import Training

MAX_PAGE = 100


def _uint(req: dict[str, Any], *names: str) -> int:
    for name in names:
        if name in req:
            try:
                return read_uint(req[name], name)
            except InputError as e:
                raise ErrInvalidRequest(str(e)) from e
    raise ErrInvalidRequest(f"give {names[0]}")


def view(ctx: Ctx, t: Training) -> dict[str, Any]:
    d = t.to_json()
    d["rounds_detail"] = [r.to_json() for r in state.rounds_of(ctx, t.id)]
    return d


def training(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    tid = _uint(req, "id", "training_id")
    t = state.get_training(ctx, tid)
    if t is None:
        raise ErrNotFound(f"no training {tid}")
    return view(ctx, t)


def trainings(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    try:
        poster = from_bech32(str(req.get("poster", "")))
    except AddressError as e:
        raise ErrInvalidRequest(f"poster: {e}") from e
    after = _uint(req, "after") if "after" in req else 0
    limit = min(_uint(req, "limit") if "limit" in req else MAX_PAGE, MAX_PAGE) or MAX_PAGE
    ids = state.ids_of_poster(ctx, poster, after, limit)
    out = []
    for tid in ids:
        t = state.get_training(ctx, tid)
        if t is not None:
            out.append(t.to_json())
    return {"trainings": out, "next_after": ids[-1] if len(ids) == limit else None}


def by_job(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    job_id = _uint(req, "job_id", "id")
    ref = state.get_job_ref(ctx, job_id)
    if ref is None:
        raise ErrNotFound(f"job {job_id} is not a training's job")
    return ref


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()
