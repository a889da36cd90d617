"""REST routes of the training module (distributed LoRA training, issue 16):

    /vcoin/training/v1/trainings/{id}        {"training"}: the record with rounds_detail; 404
    /vcoin/training/v1/trainings?poster=     {"trainings", "pagination"}: the poster's, id order
    /vcoin/training/v1/by_job/{job_id}       {"ref"}: the training, round and shard (or
                                             "aggregate": true) of a job it posted; 404
    /vcoin/training/v1/params                {"params"}

Each answer is the module's query (``modules/training/queries.py``) at the last commit.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import Depends, FastAPI, Query

from app.rest.common import Reader, addr, pagination
from app.rest.paging import Item, PageRequest, paginate_cursor
from app.rest.schemas import answers
from chain.rest.errors import bad_request
from chain.rest.params import whole_number

TRAINING = "/vcoin/training/v1"
PAGE = Depends(pagination)
MAX_PAGE = 100  # modules/training/queries.py: a page of trainings


def _by_id(it: Item) -> str:
    return str(it["id"])


def mount_training(rest: FastAPI, r: Reader) -> None:
    get = rest.get
    tag: list[str | Enum] = ["training"]

    @get(
        TRAINING + "/trainings/{id}",
        tags=tag,
        response_model=None,
        responses=answers("training", "training", not_found=True),
        summary="A distributed training with every round's shards (404 when there is none)",
    )
    def training(id: str) -> dict[str, Any]:
        return {"training": r.q("training", "training", id=str(whole_number("id", id)))}

    @get(
        TRAINING + "/trainings",
        tags=tag,
        response_model=None,
        responses=answers("trainings", "training", many=True),
        summary="A poster's trainings in id order (without rounds_detail)",
    )
    def trainings(
        poster: str = Query("", description="vcoin1… or 0x…"),
        page: PageRequest = PAGE,
    ) -> dict[str, Any]:
        if not poster:
            raise bad_request("poster is required: the trainings of which address?")
        who = addr("poster", poster)

        def fetch(after: str, limit: int) -> tuple[list[Item], str | None]:
            req: dict[str, Any] = {"poster": who, "limit": limit}
            if after:
                req["after"] = after
            out = r.q("training", "trainings", **req)
            nxt = out["next_after"]
            return out["trainings"], None if nxt is None else str(nxt)

        items, pg = paginate_cursor(fetch, _by_id, page, MAX_PAGE)
        return {"trainings": items, "pagination": pg}

    @get(
        TRAINING + "/by_job/{job_id}",
        tags=tag,
        response_model=None,
        responses=answers("ref", "training_ref", not_found=True),
        summary="Which training, round and shard (or aggregate) a job belongs to",
    )
    def by_job(job_id: str) -> dict[str, Any]:
        return {"ref": r.q("training", "by_job", job_id=str(whole_number("job_id", job_id)))}

    @get(
        TRAINING + "/params",
        tags=tag,
        response_model=None,
        responses=answers("params"),
        summary="The training module's params",
    )
    def params() -> dict[str, Any]:
        return {"params": r.q("training", "params")}
