"""The only code that touches the verification store.

``put_pending`` derives a pending result's timer (and its place in the
checking index) from the record, like ``jobs.state.put_job`` does for jobs.
"""

from __future__ import annotations

from collections.abc import Iterator

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.verification import keys
from modules.verification.keys import NAME
from modules.verification.params import Params
from modules.verification.records import (
    CHECKING,
    STAGE_BYTE,
    Attestation,
    Canary,
    Pending,
)

PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


# -- pending results -----------------------------------------------------------
def get_pending(ctx: Ctx, job_id: int) -> Pending | None:
    raw = ctx.kv(NAME).get(keys.pending(job_id))
    return None if raw is None else Pending.decode(raw)


def _index(p: Pending) -> set[bytes]:
    out = {keys.timer(p.due, STAGE_BYTE[p.stage], p.job_id)}
    if p.stage == CHECKING:
        out.add(keys.checking(p.job_id))
    return out


def put_pending(ctx: Ctx, new: Pending, old: Pending | None = None) -> None:
    kv = ctx.kv(NAME)
    kv.set(keys.pending(new.job_id), new.encode())
    want = _index(new)
    if old is not None:
        had = _index(old)
        for k in sorted(had - want):
            kv.delete(k)
        want -= had
    for k in sorted(want):
        kv.set(k, b"")


def delete_pending(ctx: Ctx, p: Pending) -> None:
    kv = ctx.kv(NAME)
    kv.delete(keys.pending(p.job_id))
    for k in sorted(_index(p)):
        kv.delete(k)


def due_timers(ctx: Ctx, height: int) -> list[int]:
    """Job ids whose timer falls at or before ``height``, in timer order."""
    lo, hi = keys.timers_until(height)
    return [keys.split_timer(k)[2] for k, _ in ctx.kv(NAME).iterate(lo, hi)]


def iterate_pending(ctx: Ctx) -> Iterator[Pending]:
    p = keys.PENDING_PREFIX
    for _, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield Pending.decode(v)


def checking_ids(ctx: Ctx, after: int, limit: int) -> list[int]:
    p = keys.CHECKING_PREFIX
    start = p + keys.u64(after + 1) if after else p
    out = []
    for k, _ in ctx.kv(NAME).iterate(start, prefix_end(p)):
        out.append(int.from_bytes(k[1:9], "big"))
        if len(out) >= limit:
            break
    return out


def count_timers(ctx: Ctx) -> int:
    p = keys.TIMER_PREFIX
    return sum(1 for _ in ctx.kv(NAME).iterate(p, prefix_end(p)))


# -- attestations ----------------------------------------------------------------
def get_attestation(ctx: Ctx, job_id: int, oracle: bytes) -> Attestation | None:
    raw = ctx.kv(NAME).get(keys.attestation(job_id, oracle))
    return None if raw is None else Attestation.decode(raw)


def set_attestation(ctx: Ctx, a: Attestation) -> None:
    ctx.kv(NAME).set(keys.attestation(a.job_id, a.oracle), a.encode())


def attestations(ctx: Ctx, job_id: int) -> list[Attestation]:
    p = keys.attestations_of(job_id)
    return [Attestation.decode(v) for _, v in ctx.kv(NAME).iterate(p, prefix_end(p))]


def iterate_attestations(ctx: Ctx) -> Iterator[Attestation]:
    p = keys.ATTEST_PREFIX
    for _, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield Attestation.decode(v)


# -- canary commitments --------------------------------------------------------------
def get_canary(ctx: Ctx, commitment: bytes) -> Canary | None:
    raw = ctx.kv(NAME).get(keys.canary(commitment))
    return None if raw is None else Canary.decode(raw)


def set_canary(ctx: Ctx, c: Canary) -> None:
    kv = ctx.kv(NAME)
    kv.set(keys.canary(c.commitment), c.encode())
    kv.set(keys.canary_expiry(c.expires, c.commitment), b"")


def delete_canary(ctx: Ctx, c: Canary) -> None:
    kv = ctx.kv(NAME)
    kv.delete(keys.canary(c.commitment))
    kv.delete(keys.canary_expiry(c.expires, c.commitment))


def expired_canaries(ctx: Ctx, height: int) -> list[bytes]:
    lo, hi = keys.canary_expiries_until(height)
    return [k[9:] for k, _ in ctx.kv(NAME).iterate(lo, hi)]


def iterate_canaries(ctx: Ctx) -> Iterator[Canary]:
    p = keys.CANARY_PREFIX
    for _, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield Canary.decode(v)
