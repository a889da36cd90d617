"""State transition: a tx, then a block, as plain functions over a context.

    apply_block  → begin_block hooks → apply_tx for each tx → end_block hooks
    apply_tx     → decode → ante (fee, sequence, signature) → messages

A tx whose messages fail keeps the ante's writes (the fee is paid, the
sequence used) and drops everything its messages did.
"""

from __future__ import annotations

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
from chain.results import TxResult
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
    except Exception as e:  # a bug in a handler must not halt the chain
        log.exception("handler crashed on tx %s", tx.hash.hex())
        failure = ErrInternal(f"{type(e).__name__} while executing the tx")
    if failure is not None:
        if not block_ctx.is_check:
            ante.store.write()  # in a block the fee is paid and the sequence used
        return TxResult(
            code=failure.code,
            codespace=failure.codespace,
            log=failure.log(),
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
