"""Response schemas for /openapi.json: the answer's wrapper, the gateway's error and
``pagination`` exactly, and the main records' fields (amounts and ids as strings).

They describe; they do not filter: a route answers what its module query answers
(routes are declared with ``response_model=None``), so a field a module adds shows up
in the answer before it does here.
"""

from __future__ import annotations

from typing import Any

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
OBJ: dict[str, Any] = {"type": "object", "additionalProperties": True}

ERROR: dict[str, Any] = {
    "type": "object",
    "description": "the gRPC gateway's error: a gRPC code (3 bad argument, 5 not found)",
    "properties": {"code": INT, "message": STR, "details": {"type": "array", "items": OBJ}},
    "required": ["code", "message", "details"],
}
PAGINATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "next_key": {
            "anyOf": [{"type": "string", "format": "byte"}, {"type": "null"}],
            "description": "pass as pagination.key for the next page; null on the last",
        },
        "total": {**STR, "description": "the list's size with pagination.count_total, else 0"},
    },
    "required": ["next_key", "total"],
}


def _record(*names: str, ints: tuple[str, ...] = (), bools: tuple[str, ...] = ()) -> Any:
    props = {n: STR for n in names} | {n: INT for n in ints} | {n: BOOL for n in bools}
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": True,
    }


RECORDS: dict[str, dict[str, Any]] = {
    "job": _record(
        "id",
        "poster",
        "worker",
        "state",
        "model",
        "task_type",
        "max_price",
        "price",
        "paid",
        "burned",
        "refunded",
        "escrow",
        "output_hash",
        "artifact_ref",
        ints=("posted_height", "claimed_height", "submitted_height", "finished_height"),
    ),
    "worker": _record("address", "gpu_model", "price_floor", ints=("memory_mib", "gpu_count")),
    "model": _record("id", "weights_sha256", "config_sha256", "description"),
    "bond": _record(
        "address", "role", "bonded", "min_bond", "jailed_until", bools=("tombstoned", "active")
    ),
    "validator": _record("address", "consensus_pubkey", "consensus_address", "power"),
    "pending": _record("job_id", "worker", "stage", ints=("submitted_height", "due")),
    "grant": _record("granter", "grantee", "msg_type_url", "expiration_height", bools=("expired",)),
    "stats": _record(
        "height",
        "jobs_total",
        "jobs_open",
        "burned",
        "to_treasury",
        "paid_to_workers",
        "refunded",
        "escrow_balance",
        "treasury_balance",
        "denom",
    ),
    "reputation": _record(
        "address", "score", "successes", "total", ints=("score_bps",), bools=("has_history",)
    ),
    "training": _record(
        "poster",
        "model",
        "state",
        "dataset",
        "manifest",
        "aggregation",
        "price_per_shard",
        "aggregate_price",
        "escrow_left",
        "adapter",
        ints=("id", "records", "shards", "rounds", "round"),
    ),
    "training_ref": _record(ints=("training", "round")),
    "account": _record(
        "address", "bech32", "balance", "nonce", "code_hash", bools=("is_contract",)
    ),
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def answers(
    field: str | None = None,
    record: str | None = None,
    *,
    many: bool = False,
    not_found: bool = False,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: ``{field: record}``, ``{field: [record], pagination}``
    (``many``), or the module's answer as it is (``field`` None); 400 always, 404 when
    the route names one thing that may not exist."""
    item = RECORDS.get(record or "", OBJ)
    if field is None:
        ok = item
    elif many:
        ok = {
            "type": "object",
            "properties": {field: {"type": "array", "items": item}, "pagination": PAGINATION},
            "required": [field, "pagination"],
        }
    else:
        ok = {"type": "object", "properties": {field: item}, "required": [field]}
    out: dict[int | str, dict[str, Any]] = {
        200: _json(ok, "the answer, read at the last commit"),
        400: _json(ERROR, "a parameter is wrong; the message names it"),
    }
    if not_found:
        out[404] = _json(ERROR, "no such thing")
    return out
