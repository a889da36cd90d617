"""State transition: a tx, then a block, as plain functions over a context.

    apply_block  → begin_block hooks → apply_tx for each tx → end_block hooks
    apply_tx     → decode → ante (fee, sequence, signature) → validate → messages

Cheap checks come first: size, envelope, canonical protobuf, signer, then
the ante's fee and signature. Only a signed tx that can pay has its messages'
content checked (``validate``: JSON, hashes, amounts), so an unsigned or
unfunded tx costs the node almost nothing. A tx refused before its messages
run leaves no trace. A tx whose messages fail keeps the ante's writes (the fee
is paid, the sequence used) and drops everything its messages did.

``apply_tx`` never raises: an exception from any stage is logged with the
tx's hash and becomes a failed result (``ErrInternal``), so one transaction
cannot stop a block. Only MemoryError goes up: a node out of memory must stop
rather than decide a tx differently from the others.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from chain.ante import run_ante
from chain.coins import fmt
from chain.context import Ctx
from chain.crypto import to_bech32
from chain.errors import ChainError, ErrTxTooLarge, register
from chain.events import Event
from chain.gas import GasMeter
from chain.module import Module, MsgSpec
from chain.results import TxResult, short_log
from chain.tx import cosmos
from chain.tx.router import require_cosmos
from modules.auth import state as auth
from modules.auth.params import Params as AuthParams
from modules.bank.state import BankKeeper

if TYPE_CHECKING:
    from chain.sigverify import BlockChecks

log = logging.getLogger("vcoin.execute")
ErrInternal = register("vcoin", 2, "internal error")


def limits_of(p: AuthParams) -> cosmos.TxLimits:
    return cosmos.TxLimits(p.max_memo_characters, p.tx_sig_limit, p.max_tx_gas)


def decode_tx(
    raw: bytes, routes: Mapping[str, MsgSpec], params: AuthParams, *, simulate: bool = False
) -> cosmos.CosmosTx:
    if len(raw) > params.max_tx_bytes:
        raise ErrTxTooLarge(f"tx is {len(raw)} bytes; the limit is {params.max_tx_bytes}")
    require_cosmos(raw)
    return cosmos.decode(raw, routes, limits_of(params), simulate=simulate)


def _tx_events(tx: cosmos.CosmosTx) -> list[Event]:
    who = to_bech32(tx.signer)
    return [
        Event("tx", (("fee", fmt(tx.fee)), ("fee_payer", who))),
        Event("tx", (("acc_seq", f"{who}/{tx.sequence}"),)),
        Event("tx", (("signature", tx.signature.hex()),)),
    ]


@dataclass(frozen=True)
class Predecoded:
    """A block's txs decoded ahead under the auth params of the block's start:
    each a CosmosTx or the ChainError its decoding raised."""

    params: AuthParams
    txs: list[cosmos.CosmosTx | ChainError]


def predecode_one(
    raw: bytes, routes: Mapping[str, MsgSpec], params: AuthParams
) -> cosmos.CosmosTx | ChainError:
    try:
        return decode_tx(raw, routes, params)
    except ChainError as e:
        return e
    except MemoryError:
        raise
    except Exception as e:
        return crash_error(raw, "decoding", e)


def check_stateless(raw: bytes, routes: Mapping[str, MsgSpec], params: AuthParams) -> None:
    """What CheckTx refuses of ``raw`` without looking at state: a ChainError, never
    anything else. PrepareProposal and ProcessProposal keep such txs out of blocks."""
    try:
        cosmos.validate_msgs(decode_tx(raw, routes, params))
    except ChainError:
        raise
    except MemoryError:
        raise
    except Exception as e:
        raise crash_error(raw, "checking", e) from e


def apply_tx(
    block_ctx: Ctx,
    raw: bytes,
    routes: Mapping[str, MsgSpec],
    bank: BankKeeper,
    *,
    verify_sig: bool = True,
    gas_limit_override: int | None = None,
    pre: Predecoded | None = None,
    checks: BlockChecks | None = None,
    index: int = -1,
) -> TxResult:
    """``pre``/``checks``/``index``: tx ``index`` of a block decoded ahead (used only
    while the auth params are still those it was decoded with) and its signature
    maybe checked ahead (chain/sigverify.py). Neither changes the result."""
    try:
        return _apply_tx(
            block_ctx,
            raw,
            routes,
            bank,
            verify_sig=verify_sig,
            gas_limit_override=gas_limit_override,
            pre=pre,
            checks=checks,
            index=index,
        )
    except MemoryError:
        raise
    except Exception as e:  # the stages' own bugs; nothing they wrote stays
        return TxResult.fail(crash_error(raw, "checking", e))


def crash_error(raw: bytes, stage: str, e: BaseException) -> ChainError:
    """The refusal of a tx whose ``stage`` raised something unexpected, logged
    with the tx's hash so that the bug can be found."""
    h = hashlib.sha256(raw).hexdigest().upper()
    log.error("tx %s: %s crashed", h, stage, exc_info=e)
    return ErrInternal(f"{type(e).__name__} while {stage} tx {h}")


def _apply_tx(
    block_ctx: Ctx,
    raw: bytes,
    routes: Mapping[str, MsgSpec],
    bank: BankKeeper,
    *,
    verify_sig: bool = True,
    gas_limit_override: int | None = None,
    pre: Predecoded | None = None,
    checks: BlockChecks | None = None,
    index: int = -1,
) -> TxResult:
    params = auth.get_params(block_ctx)
    got = pre.txs[index] if pre is not None and pre.params == params else None
    if isinstance(got, ChainError):
        return TxResult.fail(got)
    if got is not None:
        tx = got
    else:
        try:
            # a simulation runs under its own gas limit, so the tx's own may be 0
            tx = decode_tx(raw, routes, params, simulate=gas_limit_override is not None)
        except ChainError as e:
            return TxResult.fail(e)
    gas_limit = gas_limit_override or tx.gas_limit
    meter = GasMeter(gas_limit)
    ante = Ctx(block_ctx.store.branch(), block_ctx.block, block_ctx.mode, meter)
    try:
        run_ante(ante, tx, params, bank, verify_sig=verify_sig, checks=checks, index=index)
    except ChainError as e:
        return TxResult.fail(e, tx.gas_limit, meter.consumed)
    try:
        cosmos.validate_msgs(tx)
    except ChainError as e:  # refused like a tx that does not decode: no fee, no trace
        return TxResult.fail(e, tx.gas_limit, meter.consumed)
    ante_events = tuple(_tx_events(tx) + ante.events)
    run = Ctx(ante.store.branch(), block_ctx.block, block_ctx.mode, meter)
    failure: ChainError | None = None
    try:
        for spec, msg in tx.msgs:
            url = spec.type_url
            run.emit(
                Event(
                    "message",
                    (("action", url), ("sender", spec.signer(msg)), ("module", _module_of(url))),
                )
            )
            spec.handler(run, msg)
    except ChainError as e:
        failure = e
    except MemoryError:
        raise
    except Exception as e:  # a bug in a handler must not halt the chain
        h = tx.hash.hex().upper()
        log.error("tx %s: a handler crashed", h, exc_info=e)
        failure = ErrInternal(f"{type(e).__name__} while executing tx {h}")
    if failure is not None:
        if not block_ctx.is_check:
            ante.store.write()  # in a block the fee is paid and the sequence used
        return TxResult(
            code=failure.code,
            codespace=failure.codespace,
            log=short_log(failure.log()),
            gas_wanted=tx.gas_limit,
            gas_used=meter.consumed,
            events=ante_events,
            sender=tx.signer,
            sequence=tx.sequence,
        )
    run.store.write()
    ante.store.write()
    return TxResult(
        gas_wanted=tx.gas_limit,
        gas_used=meter.consumed,
        events=ante_events + tuple(run.events),
        sender=tx.signer,
        sequence=tx.sequence,
    )


@lru_cache(maxsize=1024)
def _module_of(type_url: str) -> str:
    # "/cosmos.bank.v1beta1.MsgSend" -> "bank"; "/vcoin.jobs.v1.MsgPostJob" -> "jobs"
    parts = type_url.lstrip("/").split(".")
    return parts[1] if len(parts) > 2 else ""


def run_hooks(ctx: Ctx, modules: list[Module], which: str) -> None:
    for m in modules:
        hook = m.begin_block if which == "begin" else m.end_block
        if hook is not None:
            hook(ctx)
