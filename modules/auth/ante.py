"""Auth's ante handler: what every tx must pass before its messages run.

The decorators run in order, each a small check or charge:

    tx size gas → timeout height → fee covers gas → account and sequence
    → public key → signature → fee taken → sequence bumped

The public key is a typed key (chain/crypto.py): a ``secp256k1`` key signs
sha256 of the SignDoc, an ``eth_secp256k1`` key keccak256 of it, and the
account remembers the type with the key, so a later tx without a key is
checked by the same rule.

Signature, sequence and fee are checked against state; the fee is taken and
the sequence bumped. These writes stand even when the messages then fail
(``chain/execute.py``), so a failed tx still pays and cannot be replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chain.ante import TxRules
from chain.coins import DENOM, fmt
from chain.context import Ctx
from chain.crypto import to_bech32, verify_signature
from chain.errors import (
    ChainError,
    ErrInsufficientFee,
    ErrInsufficientFunds,
    ErrInvalidPubKey,
    ErrTxTimeoutHeight,
    ErrUnauthorized,
    ErrUnknownAddress,
    ErrWrongSequence,
)
from chain.gas import GasMeter
from chain.tx.cosmos import CosmosTx, TxLimits
from modules.auth import state as auth
from modules.auth.expected import FeeBank
from modules.auth.params import Params

if TYPE_CHECKING:
    from chain.sigverify import BlockChecks

FEE_COLLECTOR = "fee_collector"


@dataclass(frozen=True)
class AuthRules(TxRules):
    """The decoding rules plus the auth params the decorators charge by."""

    params: Params


def rules_of(params: Params) -> AuthRules:
    limits = TxLimits(params.max_memo_characters, params.tx_sig_limit, params.max_tx_gas)
    return AuthRules(params.max_tx_bytes, limits, params)


class AuthAnte:
    """``chain.ante.AnteHandler`` over the auth store, taking fees through ``bank``."""

    def __init__(self, bank: FeeBank) -> None:
        self.bank = bank

    def rules(self, ctx: Ctx) -> AuthRules:
        return rules_of(auth.get_params(ctx))

    def signing_key(self, ctx: Ctx, tx: CosmosTx) -> tuple[bytes, int] | None:
        acc = auth.get_account(ctx, tx.signer)
        pubkey = None if acc is None else (acc.pubkey or tx.pubkey)
        if acc is None or pubkey is None:
            return None  # the ante refuses it, or it sends after being created
        return pubkey, acc.number

    def run(
        self,
        ctx: Ctx,
        tx: CosmosTx,
        rules: TxRules,
        *,
        verify_sig: bool = True,
        checks: BlockChecks | None = None,
        index: int = -1,
    ) -> None:
        """``checks``/``index``: this tx's signature may have been checked ahead on the
        block's helper process (chain/sigverify.py); its answer is used only when it
        was computed for the same public key and account number."""
        if not isinstance(rules, AuthRules):  # the framework hands back what rules() gave
            raise TypeError(f"AuthAnte.run takes AuthAnte.rules' AuthRules, not {type(rules)}")
        p = rules.params
        consume_size_gas(ctx, tx, p)
        check_timeout(ctx, tx)
        check_fee_covers_gas(tx, p)
        acc = account_in_sequence(ctx, tx)
        pubkey = signing_pubkey(acc, tx)
        ctx_gas(ctx).consume(p.sig_verify_cost_secp256k1, "signature verification")
        if verify_sig:
            check_signature(ctx, tx, acc, pubkey, checks, index)
        if acc.pubkey is None:
            acc = auth.set_pubkey(ctx, acc, pubkey)
        take_fee(ctx, self.bank, tx)
        auth.increment_sequence(ctx, acc)


def ctx_gas(ctx: Ctx) -> GasMeter:
    if ctx.gas is None:
        raise TypeError("the ante handler runs only under a gas meter")
    return ctx.gas


def consume_size_gas(ctx: Ctx, tx: CosmosTx, p: Params) -> None:
    ctx_gas(ctx).consume(p.tx_size_cost_per_byte * len(tx.raw), "tx size")


def check_timeout(ctx: Ctx, tx: CosmosTx) -> None:
    if tx.timeout_height and ctx.block.height > tx.timeout_height:
        raise ErrTxTimeoutHeight(
            f"tx timed out at height {tx.timeout_height}; the chain is at {ctx.block.height}"
        )


def check_fee_covers_gas(tx: CosmosTx, p: Params) -> None:
    needed = tx.gas_limit * p.min_gas_price
    paid = sum(n for d, n in tx.fee if d == DENOM)
    if paid < needed:
        raise ErrInsufficientFee(
            f"fee {paid}{DENOM} is below gas limit {tx.gas_limit} × min gas price "
            f"{p.min_gas_price}{DENOM} = {needed}{DENOM}; raise the fee"
        )


def account_in_sequence(ctx: Ctx, tx: CosmosTx) -> auth.Account:
    acc = auth.get_account(ctx, tx.signer)
    if acc is None:
        raise ErrUnknownAddress(
            f"account {to_bech32(tx.signer)} does not exist on chain; fund it before it sends"
        )
    if acc.sequence != tx.sequence:
        raise ErrWrongSequence(
            f"account sequence mismatch: expected {acc.sequence}, got {tx.sequence}"
        )
    return acc


def signing_pubkey(acc: auth.Account, tx: CosmosTx) -> bytes:
    pubkey = acc.pubkey or tx.pubkey
    if pubkey is None:
        raise ErrInvalidPubKey(
            f"account {to_bech32(tx.signer)} has no public key on chain; include it in the tx"
        )
    if acc.pubkey is not None and tx.pubkey is not None and tx.pubkey != acc.pubkey:
        raise ErrInvalidPubKey("the tx's public key differs from the account's")
    return pubkey


def check_signature(
    ctx: Ctx,
    tx: CosmosTx,
    acc: auth.Account,
    pubkey: bytes,
    checks: BlockChecks | None,
    index: int,
) -> None:
    ok = None if checks is None else checks.verdict(index, pubkey, acc.number)
    if ok is None:
        doc = tx.sign_bytes(ctx.block.chain_id, acc.number)
        ok = verify_signature(pubkey, tx.signature, doc)
    if not ok:
        raise ErrUnauthorized(
            "signature verification failed; please verify account number "
            f"({acc.number}), sequence ({acc.sequence}) and chain-id ({ctx.block.chain_id})"
        )


def take_fee(ctx: Ctx, bank: FeeBank, tx: CosmosTx) -> None:
    if not tx.fee:
        return
    try:
        bank.send_to_module(ctx, tx.signer, FEE_COLLECTOR, tx.fee)
    except ChainError as e:
        if e.kind is ErrInsufficientFunds:
            who = to_bech32(tx.signer)
            raise ErrInsufficientFunds(f"{who} cannot pay the fee {fmt(tx.fee)}: {e}") from e
        raise
