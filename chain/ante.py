"""The ante handler: what every tx must pass before its messages run.

Signature, sequence and fee are checked against state; the fee is taken and
the sequence bumped. These writes stand even when the messages then fail, so a
failed tx still pays and cannot be replayed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chain.coins import DENOM, fmt
from chain.context import Ctx
from chain.crypto import to_bech32, verify_signature
from chain.errors import (
    ErrInsufficientFee,
    ErrInsufficientFunds,
    ErrInvalidPubKey,
    ErrTxTimeoutHeight,
    ErrUnauthorized,
    ErrUnknownAddress,
    ErrWrongSequence,
)
from chain.tx.cosmos import CosmosTx
from modules.auth import state as auth
from modules.auth.params import Params as AuthParams
from modules.bank.state import BankKeeper

if TYPE_CHECKING:
    from chain.sigverify import BlockChecks

FEE_COLLECTOR = "fee_collector"


def run_ante(
    ctx: Ctx,
    tx: CosmosTx,
    params: AuthParams,
    bank: BankKeeper,
    *,
    verify_sig: bool = True,
    checks: BlockChecks | None = None,
    index: int = -1,
) -> auth.Account:
    """``checks``/``index``: this tx's signature may have been checked ahead on the
    block's helper process (chain/sigverify.py); its answer is used only when it
    was computed for the same public key and account number."""
    assert ctx.gas is not None
    ctx.gas.consume(params.tx_size_cost_per_byte * len(tx.raw), "tx size")
    if tx.timeout_height and ctx.block.height > tx.timeout_height:
        raise ErrTxTimeoutHeight(
            f"tx timed out at height {tx.timeout_height}; the chain is at {ctx.block.height}"
        )
    needed = tx.gas_limit * params.min_gas_price
    paid = sum(n for d, n in tx.fee if d == DENOM)
    if paid < needed:
        raise ErrInsufficientFee(
            f"fee {paid}{DENOM} is below gas limit {tx.gas_limit} × min gas price "
            f"{params.min_gas_price}{DENOM} = {needed}{DENOM}; raise the fee"
        )
    acc = auth.get_account(ctx, tx.signer)
    who = to_bech32(tx.signer)
    if acc is None:
        raise ErrUnknownAddress(f"account {who} does not exist on chain; fund it before it sends")
    if acc.sequence != tx.sequence:
        raise ErrWrongSequence(
            f"account sequence mismatch: expected {acc.sequence}, got {tx.sequence}"
        )
    pubkey = acc.pubkey or tx.pubkey
    if pubkey is None:
        raise ErrInvalidPubKey(f"account {who} has no public key on chain; include it in the tx")
    if acc.pubkey is not None and tx.pubkey is not None and tx.pubkey != acc.pubkey:
        raise ErrInvalidPubKey("the tx's public key differs from the account's")
    ctx.gas.consume(params.sig_verify_cost_secp256k1, "signature verification")
    if verify_sig:
        ok = None if checks is None else checks.verdict(index, pubkey, acc.number)
        if ok is None:
            doc = tx.sign_bytes(ctx.block.chain_id, acc.number)
            ok = verify_signature(pubkey, tx.signature, doc)
        if not ok:
            raise ErrUnauthorized(
                "signature verification failed; please verify account number "
                f"({acc.number}), sequence ({acc.sequence}) and chain-id ({ctx.block.chain_id})"
            )
    if acc.pubkey is None:
        acc = auth.set_pubkey(ctx, acc, pubkey)
    if tx.fee:
        try:
            bank.send_to_module(ctx, tx.signer, FEE_COLLECTOR, tx.fee)
        except Exception as e:
            if getattr(e, "kind", None) is ErrInsufficientFunds:
                raise ErrInsufficientFunds(f"{who} cannot pay the fee {fmt(tx.fee)}: {e}") from e
            raise
    return auth.increment_sequence(ctx, acc)
