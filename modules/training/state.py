"""The only code that touches the training store: params, trainings, rounds and
the poster and job indexes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.training import keys
from modules.training.keys import NAME
from modules.training.params import Params
from modules.training.records import Round, Training, canonical

PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


def next_id(ctx: Ctx) -> int:
    raw = ctx.kv(NAME).get(keys.NEXT_ID)
    return 1 if raw is None else int.from_bytes(raw, "big")


def set_next_id(ctx: Ctx, n: int) -> None:
    ctx.kv(NAME).set(keys.NEXT_ID, n.to_bytes(8, "big"))


def take_id(ctx: Ctx) -> int:
    n = next_id(ctx)
    set_next_id(ctx, n + 1)
    return n


def get_training(ctx: Ctx, tid: int) -> Training | None:
    raw = ctx.kv(NAME).get(keys.training(tid))
    return None if raw is None else Training.from_json(json.loads(raw))


def put_training(ctx: Ctx, t: Training) -> None:
    kv = ctx.kv(NAME)
    kv.set(keys.training(t.id), canonical(t.to_json()))
    kv.set(keys.by_poster(t.poster, t.id), b"")


def get_round(ctx: Ctx, tid: int, r: int) -> Round | None:
    raw = ctx.kv(NAME).get(keys.round_(tid, r))
    return None if raw is None else Round.from_json(json.loads(raw))


def put_round(ctx: Ctx, tid: int, r: Round) -> None:
    ctx.kv(NAME).set(keys.round_(tid, r.round), canonical(r.to_json()))


def rounds_of(ctx: Ctx, tid: int) -> list[Round]:
    p = keys.ROUND_PREFIX + tid.to_bytes(8, "big")
    return [Round.from_json(json.loads(v)) for _, v in ctx.kv(NAME).iterate(p, prefix_end(p))]


def get_job_ref(ctx: Ctx, job_id: int) -> dict[str, Any] | None:
    raw = ctx.kv(NAME).get(keys.by_job(job_id))
    return None if raw is None else dict(json.loads(raw))


def set_job_ref(ctx: Ctx, job_id: int, ref: dict[str, Any]) -> None:
    ctx.kv(NAME).set(keys.by_job(job_id), canonical(ref))


def iterate_job_refs(ctx: Ctx) -> Iterator[tuple[int, dict[str, Any]]]:
    p = keys.BY_JOB_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield int.from_bytes(k[len(p) :], "big"), dict(json.loads(v))


def iterate_trainings(ctx: Ctx) -> Iterator[Training]:
    p = keys.TRAINING_PREFIX
    for _, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield Training.from_json(json.loads(v))


def ids_of_poster(ctx: Ctx, poster: bytes, after: int, limit: int) -> list[int]:
    p = keys.BY_POSTER_PREFIX + keys.lp(poster)
    out = []
    for k, _ in ctx.kv(NAME).iterate(p + (after + 1).to_bytes(8, "big"), prefix_end(p)):
        out.append(int.from_bytes(k[len(p) :], "big"))
        if len(out) >= limit:
            break
    return out
