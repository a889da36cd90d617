"""REST routes of the market's modules: jobs, staking, verification, reputation."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import Depends, FastAPI, Query

from app.rest.common import Reader, addr, pagination
from app.rest.paging import Item, PageRequest, paginate_all, paginate_cursor
from app.rest.schemas import answers
from app.rest.stats import JobStats, bond_keys
from chain.rest.errors import bad_request
from chain.rest.params import whole_number
from chain.rpc import jsonbody
from modules.staking.keys import ROLES

JOBS, STAKING = "/vcoin/jobs/v1", "/vcoin/staking/v1"
VERIFICATION, REPUTATION = "/vcoin/verification/v1", "/vcoin/reputation/v1"
PAGE = Depends(pagination)


def _after(cursor: str) -> dict[str, str]:
    return {"after": cursor} if cursor else {}


def _by_id(it: Item) -> str:
    return str(it["id"])


def _by_address(it: Item) -> str:
    return str(it["address"])


def mount_jobs(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["jobs"]
    stats = JobStats()

    def max_page() -> int:
        return int(r.q("jobs", "params")["max_page"])

    @get(
        JOBS + "/jobs/{id}",
        tags=tag,
        response_model=None,
        responses=answers("job", "job", not_found=True),
        summary="A job (404 when there is none)",
    )
    def job(id: str) -> dict[str, Any]:
        return {"job": r.q("jobs", "job", id=str(whole_number("id", id)))}

    @get(
        JOBS + "/jobs",
        tags=tag,
        response_model=None,
        responses=answers("jobs", "job", many=True),
        summary="Jobs in a state, of a poster or of a worker",
    )
    def jobs(
        state: str = Query("", description="queued, claimed, submitted, checking, settled, …"),
        poster: str = Query("", description="vcoin1… or 0x…"),
        worker: str = Query("", description="vcoin1… or 0x…"),
        page: PageRequest = PAGE,
    ) -> dict[str, Any]:
        given = [n for n, v in (("state", state), ("poster", poster), ("worker", worker)) if v]
        if len(given) != 1:
            raise bad_request(
                "filter by exactly one of state, poster or worker"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if state:
            req: dict[str, str] = {"state": state}
        elif poster:
            req = {"poster": addr("poster", poster)}
        else:
            req = {"worker": addr("worker", worker)}

        def fetch(after: str, limit: int) -> tuple[list[Item], str | None]:
            out = r.q("jobs", "jobs", **req, **_after(after), limit=limit)
            return out["jobs"], out["next_after"]

        items, pg = paginate_cursor(fetch, _by_id, page, max_page())
        return {"jobs": items, "pagination": pg}

    @get(
        JOBS + "/workers",
        tags=tag,
        response_model=None,
        responses=answers("workers", "worker", many=True),
        summary="Registered workers, by address",
    )
    def workers(page: PageRequest = PAGE) -> dict[str, Any]:
        def fetch(after: str, limit: int) -> tuple[list[Item], str | None]:
            out = r.q("jobs", "workers", **_after(after), limit=limit)
            return out["workers"], out["next_after"]

        items, pg = paginate_cursor(fetch, _by_address, page, max_page())
        return {"workers": items, "pagination": pg}

    @get(
        JOBS + "/workers/{address}",
        tags=tag,
        response_model=None,
        responses=answers("worker", "worker", not_found=True),
        summary="A registered worker",
    )
    def worker(address: str) -> dict[str, Any]:
        return {"worker": r.q("jobs", "worker", address=addr("address", address))}

    @get(
        JOBS + "/models",
        tags=tag,
        response_model=None,
        responses=answers("models", "model", many=True),
        summary="The model registry",
    )
    def models(page: PageRequest = PAGE) -> dict[str, Any]:
        items, pg = paginate_all(r.q("jobs", "models")["models"], _by_id, page)
        return {"models": items, "pagination": pg}

    @get(
        JOBS + "/models/{name}",
        tags=tag,
        response_model=None,
        responses=answers("model", "model", not_found=True),
        summary="A registered model",
    )
    def model(name: str) -> dict[str, Any]:
        return {"model": r.q("jobs", "model", id=name)}

    @get(
        JOBS + "/queue",
        tags=tag,
        response_model=None,
        responses=answers("jobs", "job", many=True),
        summary="The best open jobs, best first (max_page of them)",
    )
    def queue(page: PageRequest = PAGE) -> dict[str, Any]:
        items, pg = paginate_all(r.q("jobs", "queue", limit=max_page())["jobs"], _by_id, page)
        return {"jobs": items, "pagination": pg}

    @get(
        JOBS + "/stats",
        tags=tag,
        response_model=None,
        responses=answers("stats", "stats"),
        summary="Jobs by state; burned, to_treasury, paid, refunded",
    )
    def job_stats() -> dict[str, Any]:
        return {"stats": r.at_commit(stats)}

    @get(
        JOBS + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The jobs module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("jobs", "params")}


def mount_staking(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["staking"]

    @get(
        STAKING + "/bonds",
        tags=tag,
        response_model=None,
        responses=answers("bonds", "bond", many=True),
        summary="Every bond (optionally of one role)",
    )
    def bonds(
        role: str = Query("", description="worker, oracle or validator"),
        page: PageRequest = PAGE,
    ) -> dict[str, Any]:
        if role and role not in ROLES:
            raise bad_request(f"role {jsonbody.describe(role)} is not one of {list(ROLES)}")
        bond = r.query_fn("staking", "bond")

        def read(ctx: Any) -> list[Item]:
            keys = bond_keys(ctx, role)
            return [bond(ctx, {"address": a, "role": ro}) for ro, a in keys]

        items, pg = paginate_all(r.at_commit(read), lambda b: f"{b['role']}/{b['address']}", page)
        return {"bonds": items, "pagination": pg}

    @get(
        STAKING + "/bonds/{address}",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="One address's bond in every role",
    )
    def bonds_of(address: str) -> dict[str, Any]:
        out: dict[str, Any] = r.q("staking", "bonds", address=addr("address", address))
        return out

    @get(
        STAKING + "/validators",
        tags=tag,
        response_model=None,
        responses=answers("validators", "validator", many=True),
        summary="The CometBFT validator set in state",
    )
    def validators(page: PageRequest = PAGE) -> dict[str, Any]:
        vals = r.q("staking", "validator_set")["validators"]
        items, pg = paginate_all(vals, lambda v: str(v["consensus_address"]), page)
        return {"validators": items, "pagination": pg}

    @get(
        STAKING + "/pool",
        tags=tag,
        response_model=None,
        responses=answers("pool"),
        summary="Bonded per role, and unbonding",
    )
    def pool() -> dict[str, Any]:
        return {"pool": r.q("staking", "pool")}

    @get(
        STAKING + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The staking module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("staking", "params")}


def mount_verification(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["verification"]

    @get(
        VERIFICATION + "/attestations/{job_id}",
        tags=tag,
        response_model=None,
        responses=answers(not_found=True),
        summary="A job's verification: stage, attestations, stake tally (404: no such job)",
    )
    def attestations(job_id: str) -> dict[str, Any]:
        out: dict[str, Any] = r.q(
            "verification", "status", job_id=str(whole_number("job_id", job_id))
        )
        return out

    @get(
        VERIFICATION + "/pending",
        tags=tag,
        response_model=None,
        responses=answers("pending", "pending", many=True),
        summary="Results waiting for attestations",
    )
    def pending(page: PageRequest = PAGE) -> dict[str, Any]:
        def fetch(after: str, limit: int) -> tuple[list[Item], str | None]:
            out = r.q("verification", "checking", **_after(after), limit=limit)
            return out["pending"], out["next_after"]

        items, pg = paginate_cursor(fetch, lambda p: str(p["job_id"]), page, 500)
        return {"pending": items, "pagination": pg}

    @get(
        VERIFICATION + "/risk/{worker}",
        tags=tag,
        response_model=None,
        responses=answers(),
        summary="The audit rate and the expected value of faking a result of price",
    )
    def risk(
        worker: str,
        price: str = Query("0", description="avcn"),
        task_type: str = Query("", description="the job's task type: decides the detection floor"),
        spec: str = Query("", description="the job's spec (JSON): sampled text has no floor"),
    ) -> dict[str, Any]:
        # the module reads it (ASCII digits, up to 2^64-1 avcn) and names it when it refuses
        out: dict[str, Any] = r.q(
            "verification",
            "risk",
            worker=addr("worker", worker),
            price=price or "0",
            task_type=task_type,
            spec=spec,
        )
        return out

    @get(
        VERIFICATION + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The verification module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("verification", "params")}


def mount_reputation(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["reputation"]

    @get(
        REPUTATION + "/workers/{address}",
        tags=tag,
        response_model=None,
        responses=answers("reputation", "reputation"),
        summary="A score and its inputs",
    )
    def score(address: str) -> dict[str, Any]:
        return {"reputation": r.q("reputation", "score", address=addr("address", address))}

    @get(
        REPUTATION + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The reputation module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("reputation", "params")}
