"""Genesis of the training module: default, validate, init, export (symmetric).

Trainings are exported as the query shows them (``rounds_detail`` included), with
the job index and the next id; the training module account's balance is the bank's."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from modules.training import state
from modules.training.errors import ErrInvalidGenesis
from modules.training.params import Params
from modules.training.records import STATES, Round, Training


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "next_id": "1", "trainings": [], "jobs": []}


def _parse(g: dict[str, Any]) -> tuple[int, list[tuple[Training, list[Round]]], list[Any]]:
    try:
        next_id = int(str(g.get("next_id", "1")))
        items = []
        for d in g.get("trainings", []):
            t = Training.from_json(d)
            if t.state not in STATES:
                raise ValueError(f"training {t.id}: unknown state {t.state!r}")
            items.append((t, [Round.from_json(r) for r in d.get("rounds_detail", [])]))
        jobs = [
            (int(str(j["job_id"])), {k: v for k, v in j.items() if k != "job_id"})
            for j in g.get("jobs", [])
        ]
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ErrInvalidGenesis(f"training genesis: {e}") from e
    ids = [t.id for t, _ in items]
    if len(set(ids)) != len(ids) or any(i < 1 or i >= next_id for i in ids):
        raise ErrInvalidGenesis("training ids must be distinct, ≥ 1 and below next_id")
    return next_id, items, jobs


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    _parse(g)


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    validate(g)
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    next_id, items, jobs = _parse(g)
    state.set_next_id(ctx, next_id)
    for t, rounds in items:
        state.put_training(ctx, t)
        for r in rounds:
            state.put_round(ctx, t.id, r)
    for job_id, ref in jobs:
        state.set_job_ref(ctx, job_id, ref)


def export(ctx: Ctx) -> dict[str, Any]:
    trainings = []
    for t in state.iterate_trainings(ctx):
        d = t.to_json()
        d["rounds_detail"] = [r.to_json() for r in state.rounds_of(ctx, t.id)]
        trainings.append(d)
    jobs = [{"job_id": str(j), **ref} for j, ref in state.iterate_job_refs(ctx)]
    return {
        "params": state.get_params(ctx).to_json(),
        "next_id": str(state.next_id(ctx)),
        "trainings": trainings,
        "jobs": jobs,
    }
