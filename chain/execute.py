"""State transition: a block, then a tx, as plain functions over a context.

    apply_block  → consensus hooks → begin-block hooks → apply_tx for each tx
                 → end-block hooks → validator updates
    apply_tx     → decode → ante (fee, sequence, signature) → route the messages → events

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

The framework knows no module: the app hands in its modules (hooks and
message routes) and its ante handler (``chain/ante.py``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from chain.ante import AnteHandler, TxRules
from chain.coins import fmt
from chain.context import Ctx, Mode
from chain.crypto import to_bech32
from chain.errors import ChainError, ErrTxTooLarge, register
from chain.events import Event
from chain.foreign import ForeignTxs
from chain.gas import GasMeter
from chain.module import Module, MsgSpec
from chain.results import TxResult, short_log
from chain.tx import cosmos
from chain.tx.router import require_cosmos
from chain.valset import NO_INPUTS, ConsensusInputs, ValidatorUpdate

if TYPE_CHECKING:
    from chain.sigverify import BlockChecks

log = logging.getLogger("vcoin.execute")
ErrInternal = register("vcoin", 2, "internal error")


# -- a block ---------------------------------------------------------------------


@dataclass(frozen=True)
class BlockOutput:
    """What a block did: each tx's result in order, and the block's own events
    (begin- and end-block hooks)."""

    results: tuple[TxResult, ...]
    events: tuple[Event, ...]
    validator_updates: tuple[ValidatorUpdate, ...] = ()


@dataclass(frozen=True)
class Predecoded:
    """A block's txs decoded ahead under the rules of the block's start: each a
    CosmosTx or the ChainError its decoding raised. ``checks`` holds their
    signatures checked ahead on helper processes, when the node has them."""

    rules: TxRules
    txs: list[cosmos.CosmosTx | ChainError]
    checks: BlockChecks | None = None


def apply_block(
    ctx: Ctx,
    txs: Sequence[bytes],
    modules: Sequence[Module],
    routes: Mapping[str, MsgSpec],
    ante: AnteHandler,
    pre: Predecoded | None = None,
    consensus: ConsensusInputs = NO_INPUTS,
    foreign: ForeignTxs | None = None,
) -> BlockOutput:
    """The one block transition, on ``ctx`` (mode BLOCK): consensus hooks,
    begin-block hooks, every tx in order, end-block hooks, validator updates.
    The caller stages ``ctx.store``'s changes.

    ``pre``: the pre-pass's decoded txs and signature checks (``predecode``);
    it changes how fast a block runs, never its result.
    ``consensus``: CometBFT's votes and misbehavior for the block (none from
    the solo driver). ``foreign``: the app's handler of txs that are not Cosmos
    TxRaws (the EVM's)."""
    for m in modules:
        if m.consensus_begin is not None:
            m.consensus_begin(ctx, consensus)
    run_hooks(ctx, modules, "begin")
    deliver = Ctx(ctx.store, ctx.block, Mode.DELIVER)
    results = tuple(
        apply_tx(deliver, raw, routes, ante, pre=pre, index=i, foreign=foreign)
        for i, raw in enumerate(txs)
    )
    end = Ctx(ctx.store, ctx.block, Mode.BLOCK, events=ctx.events)
    run_hooks(end, modules, "end")
    updates: dict[bytes, int] = {}
    for m in modules:
        if m.validator_updates is not None:
            updates.update((u.pubkey, u.power) for u in m.validator_updates(end))
    vals = tuple(ValidatorUpdate(k, updates[k]) for k in sorted(updates))
    return BlockOutput(results, tuple(ctx.events), vals)


def run_hooks(ctx: Ctx, modules: Sequence[Module], which: str) -> None:
    for m in modules:
        hook = m.begin_block if which == "begin" else m.end_block
        if hook is not None:
            hook(ctx)


def predecode(
    ctx: Ctx,
    txs: Sequence[bytes],
    routes: Mapping[str, MsgSpec],
    ante: AnteHandler,
    checks: BlockChecks,
    foreign: ForeignTxs | None = None,
) -> Predecoded:
    """The signature pre-pass: decode the block's txs under the rules of its start
    and send each signature check whose key and account number state knows now
    to ``checks``' helper process, chunk by chunk."""
    pre = Predecoded(ante.rules(ctx), [], checks)
    prepass = foreign.prepass() if foreign is not None else ""
    for i, raw in enumerate(txs):
        if foreign is not None and foreign.claims(raw):
            pre.txs.append(ErrInternal("not a Cosmos tx: its own handler decodes it"))
            if prepass:
                checks.add_foreign(i, raw, prepass)
            continue
        tx = predecode_one(raw, routes, pre.rules)
        pre.txs.append(tx)
        if isinstance(tx, ChainError):
            continue
        key = ante.signing_key(ctx, tx)
        if key is None:
            continue
        pubkey, number = key
        checks.add(i, (pubkey, tx.signature, tx.body_bytes, tx.auth_info_bytes, number))
    checks.flush()
    return pre


def predecode_one(
    raw: bytes, routes: Mapping[str, MsgSpec], rules: TxRules
) -> cosmos.CosmosTx | ChainError:
    try:
        return decode_tx(raw, routes, rules)
    except ChainError as e:
        return e
    except MemoryError:
        raise
    except Exception as e:
        return crash_error(raw, "decoding", e)


# -- a tx ------------------------------------------------------------------------


def decode_tx(
    raw: bytes, routes: Mapping[str, MsgSpec], rules: TxRules, *, simulate: bool = False
) -> cosmos.CosmosTx:
    if len(raw) > rules.max_tx_bytes:
        raise ErrTxTooLarge(f"tx is {len(raw)} bytes; the limit is {rules.max_tx_bytes}")
    require_cosmos(raw)
    return cosmos.decode(raw, routes, rules.limits, simulate=simulate)


def check_stateless(
    raw: bytes,
    routes: Mapping[str, MsgSpec],
    rules: TxRules,
    foreign: ForeignTxs | None = None,
) -> None:
    """What CheckTx refuses of ``raw`` without looking at state: a ChainError, never
    anything else. PrepareProposal and ProcessProposal keep such txs out of blocks."""
    try:
        if len(raw) > rules.max_tx_bytes:
            raise ErrTxTooLarge(f"tx is {len(raw)} bytes; the limit is {rules.max_tx_bytes}")
        if foreign is not None and foreign.claims(raw):
            foreign.check_stateless(raw)
            return
        cosmos.validate_msgs(decode_tx(raw, routes, rules))
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
    ante: AnteHandler,
    *,
    verify_sig: bool = True,
    gas_limit_override: int | None = None,
    pre: Predecoded | None = None,
    index: int = -1,
    foreign: ForeignTxs | None = None,
) -> TxResult:
    """Run one tx on ``block_ctx``: decode → ante → route → events. Never raises.

    ``gas_limit_override``: a simulation's own gas limit. ``pre``/``index``: tx
    ``index`` of a block decoded ahead (used only while the rules are still
    those it was decoded with) and its signature maybe checked ahead. Neither
    changes the result. ``foreign``: the handler of the txs it claims (the EVM's),
    which skip the Cosmos decoder and ante."""
    try:
        if foreign is not None and foreign.claims(raw):
            rules = ante.rules(block_ctx)
            if len(raw) > rules.max_tx_bytes:
                e = ErrTxTooLarge(f"tx is {len(raw)} bytes; the limit is {rules.max_tx_bytes}")
                return TxResult.fail(e)
            hint = None
            if pre is not None and pre.checks is not None and index >= 0:
                hint = pre.checks.hint(index)
            return foreign.apply(block_ctx, raw, hint)
        return _apply_tx(
            block_ctx,
            raw,
            routes,
            ante,
            verify_sig=verify_sig,
            gas_limit_override=gas_limit_override,
            pre=pre,
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
    ante: AnteHandler,
    *,
    verify_sig: bool,
    gas_limit_override: int | None,
    pre: Predecoded | None,
    index: int,
) -> TxResult:
    rules = ante.rules(block_ctx)
    decoded = _decode(raw, routes, rules, pre, index, simulate=gas_limit_override is not None)
    if isinstance(decoded, ChainError):
        return TxResult.fail(decoded)
    tx = decoded
    meter = GasMeter(gas_limit_override or tx.gas_limit)
    ante_ctx = Ctx(block_ctx.store.branch(), block_ctx.block, block_ctx.mode, meter)
    checks = pre.checks if pre is not None else None
    try:
        ante.run(ante_ctx, tx, rules, verify_sig=verify_sig, checks=checks, index=index)
        # refused like a tx that does not decode: no fee, no trace
        parsed = cosmos.validate_msgs(tx)
    except ChainError as e:
        return TxResult.fail(e, tx.gas_limit, meter.consumed)
    run = Ctx(ante_ctx.store.branch(), block_ctx.block, block_ctx.mode, meter)
    failure = _route(run, tx, parsed)
    ante_events = tuple(_tx_events(tx) + ante_ctx.events)
    if failure is not None:
        if not block_ctx.is_check:
            ante_ctx.store.write()  # in a block the fee is paid and the sequence used
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
    ante_ctx.store.write()
    return TxResult(
        gas_wanted=tx.gas_limit,
        gas_used=meter.consumed,
        events=ante_events + tuple(run.events),
        sender=tx.signer,
        sequence=tx.sequence,
    )


def _decode(
    raw: bytes,
    routes: Mapping[str, MsgSpec],
    rules: TxRules,
    pre: Predecoded | None,
    index: int,
    *,
    simulate: bool,
) -> cosmos.CosmosTx | ChainError:
    """The tx decoded ahead when the rules still match, else decoded now (a
    simulation runs under its own gas limit, so the tx's own may be 0)."""
    if pre is not None and pre.rules == rules:
        return pre.txs[index]
    try:
        return decode_tx(raw, routes, rules, simulate=simulate)
    except ChainError as e:
        return e


def _route(run: Ctx, tx: cosmos.CosmosTx, parsed: Sequence[object]) -> ChainError | None:
    """Run the tx's messages in order on ``run``, each handler on its message as
    ``validate_msgs`` parsed it; the first failure, or None."""
    try:
        for (spec, msg), p in zip(tx.msgs, parsed, strict=True):
            url = spec.type_url
            run.emit(
                Event(
                    "message",
                    (("action", url), ("sender", spec.signer(msg)), ("module", _module_of(url))),
                )
            )
            spec.handler(run, p)
    except ChainError as e:
        return e
    except MemoryError:
        raise
    except Exception as e:  # a bug in a handler must not halt the chain
        h = tx.hash.hex().upper()
        log.error("tx %s: a handler crashed", h, exc_info=e)
        return ErrInternal(f"{type(e).__name__} while executing tx {h}")
    return None


def _tx_events(tx: cosmos.CosmosTx) -> list[Event]:
    who = to_bech32(tx.signer)
    return [
        Event("tx", (("fee", fmt(tx.fee)), ("fee_payer", who))),
        Event("tx", (("acc_seq", f"{who}/{tx.sequence}"),)),
        Event("tx", (("signature", tx.signature.hex()),)),
    ]


@lru_cache(maxsize=1024)
def _module_of(type_url: str) -> str:
    # "/cosmos.bank.v1beta1.MsgSend" -> "bank"; "/vcoin.jobs.v1.MsgPostJob" -> "jobs"
    parts = type_url.lstrip("/").split(".")
    return parts[1] if len(parts) > 2 else ""
