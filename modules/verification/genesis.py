"""Genesis of the verification module: default, validate, init, export (symmetric)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from modules.verification import state
from modules.verification.errors import ErrInvalidParams
from modules.verification.params import Params
from modules.verification.records import STAGE_BYTE, VERDICTS, Attestation, Canary, Pending


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "pending": [], "attestations": [], "canaries": []}


def _parse(g: dict[str, Any]) -> tuple[Params, list[Pending], list[Attestation], list[Canary]]:
    try:
        return (
            Params.from_json(g.get("params", {})),
            [Pending.from_json(p) for p in g.get("pending", [])],
            [Attestation.from_json(a) for a in g.get("attestations", [])],
            [Canary.from_json(c) for c in g.get("canaries", [])],
        )
    except (KeyError, ValueError, TypeError) as e:
        raise ErrInvalidParams(f"verification genesis: {type(e).__name__}: {e}") from e


def validate(g: dict[str, Any]) -> None:
    _, pending, atts, canaries = _parse(g)
    if len({p.job_id for p in pending}) != len(pending):
        raise ErrInvalidParams("verification genesis lists a pending job twice")
    for p in pending:
        if p.stage not in STAGE_BYTE:
            raise ErrInvalidParams(f"pending job {p.job_id} has unknown stage {p.stage!r}")
    for a in atts:
        if a.verdict not in VERDICTS:
            raise ErrInvalidParams(f"attestation on job {a.job_id} has verdict {a.verdict!r}")
    if len({(a.job_id, a.oracle) for a in atts}) != len(atts):
        raise ErrInvalidParams("verification genesis lists an attestation twice")
    if len({c.commitment for c in canaries}) != len(canaries):
        raise ErrInvalidParams("verification genesis lists a canary commitment twice")


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    params, pending, atts, canaries = _parse(g)
    state.set_params(ctx, params)
    for p in pending:
        state.put_pending(ctx, p)
    for a in atts:
        state.set_attestation(ctx, a)
    for c in canaries:
        state.set_canary(ctx, c)


def export(ctx: Ctx) -> dict[str, Any]:
    return {
        "params": state.get_params(ctx).to_json(),
        "pending": [p.to_json() for p in state.iterate_pending(ctx)],
        "attestations": [a.to_json() for a in state.iterate_attestations(ctx)],
        "canaries": [c.to_json() for c in state.iterate_canaries(ctx)],
    }
