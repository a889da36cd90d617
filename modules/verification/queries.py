"""Queries of the verification module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.bounded import InputError, read_uint
from chain.context import Ctx
from chain.crypto import to_bech32
from chain.errors import ErrInvalidRequest, ErrNotFound
from modules.verification import msgs, state
from modules.verification.checkcost import spec_params
from modules.verification.errors import ErrInvalidCanary
from modules.verification.keeper import VerificationKeeper
from modules.verification.records import DRAW, WINDOW, Attestation, Pending


def _int(req: dict[str, Any], key: str, default: int = 0) -> int:
    try:
        return read_uint(req.get(key, default), key)
    except InputError as e:
        raise ErrInvalidRequest(str(e)) from e


def pending_view(p: Pending) -> dict[str, Any]:
    d = p.to_json()
    d["worker"] = to_bech32(p.worker)
    return d


def attestation_view(a: Attestation) -> dict[str, Any]:
    d = a.to_json()
    d["oracle"] = to_bech32(a.oracle)
    return d


def make_queries(k: VerificationKeeper) -> dict[str, Any]:
    def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        return state.get_params(ctx).to_json()

    def status(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """Where a job's result stands in verification: stage, due height, tally."""
        job_id = _int(req, "job_id", _int(req, "id"))
        job = k.jobs.get_job(ctx, job_id)
        if job is None:
            raise ErrNotFound(f"no job {job_id}")
        p = state.get_pending(ctx, job_id)
        passed, failed, atts = k.tally(ctx, job_id)
        view = None if p is None else pending_view(p)
        if p is None and job.state == "submitted":
            # drawn at the end of the block after submission; unpicked, settled at the window
            drawn = ctx.block.height > job.submitted_height
            window = state.get_params(ctx).challenge_window_blocks
            view = {
                "job_id": str(job_id),
                "worker": to_bech32(job.worker),
                "submitted_height": job.submitted_height,
                "stage": WINDOW if drawn else DRAW,
                "due": job.submitted_height + (window if drawn else 1),
            }
        return {
            "job_id": str(job_id),
            "pending": view,
            "attestations": [attestation_view(a) for a in atts],
            "pass_stake": str(passed),
            "fail_stake": str(failed),
            "oracle_stake": str(k.oracle_stake(ctx)),
        }

    def checking(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """Jobs waiting for attestations (what an oracle catches up on after a restart)."""
        limit = min(_int(req, "limit", 100) or 100, 500)
        ids = state.checking_ids(ctx, _int(req, "after"), limit)
        out = [pending_view(p) for p in (state.get_pending(ctx, i) for i in ids) if p]
        return {"pending": out, "next_after": str(ids[-1]) if len(ids) == limit else None}

    def canary(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        c = state.get_canary(
            ctx, msgs.hash32(str(req.get("commitment", "")), "commitment", ErrInvalidCanary)
        )
        if c is None:
            raise ErrNotFound("no such commitment (never made, revealed, or expired)")
        d = c.to_json()
        d["oracle"] = to_bech32(c.oracle)
        return d

    def sample_rate(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """The reputation rule's rate (bps) for ``address``; ``risk`` has the full rate."""
        addr = msgs.addr(str(req.get("address", "")), "address")
        score = k.reputation.score(ctx, addr)
        return {"score_bps": score, "rate_bps": state.get_params(ctx).sample_rate_bps(score)}

    def risk(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """The audit rate of a result of ``price`` (base units), ``task_type`` and ``spec``
        (both optional: without a type, no detection floor; without a spec, greedy text)
        by ``worker`` if drawn now, the detection per faked result and the expected value
        of faking it (``risk.py``)."""
        addr = msgs.addr(str(req.get("worker", "")), "worker")
        price = _int(req, "price")
        task = req.get("task_type") or ""
        if not isinstance(task, str) or len(task) > 64:
            raise ErrInvalidRequest(f"task_type must be a task type name, got {task!r:.70}")
        spec = req.get("spec") or ""
        if not isinstance(spec, str) or spec_params(spec) is None:
            raise ErrInvalidRequest(
                'spec must be a job spec, a JSON object such as {"params": {"temperature": 0}}'
                f", got {spec!r:.70}"
            )
        stats = k.reputation.stats(ctx, addr)
        r = k.risk(ctx, addr, price, task, spec)
        return {
            "worker": to_bech32(addr),
            "price": str(price),
            "task_type": task,
            "score_bps": str(stats.score_bps),
            "stake": str(k.staking.bonded(ctx, addr, "worker")),
            "age_jobs": str(stats.total),
            **r.to_json(),
        }

    return {
        "params": params,
        "status": status,
        "checking": checking,
        "canary": canary,
        "sample_rate": sample_rate,
        "risk": risk,
    }
