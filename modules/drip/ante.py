"""The ante that lets a brand-new key claim its drip without coins for a fee.

A key the chain has never seen can send nothing: every tx pays a fee and is
signed for an account number. For one tx shape the drip pool stands in:

    a lone MsgClaimDrip, from an address with no account, fee 0, gas limit at
    most ``claim_gas_limit``, sequence 0, the public key included, signed for
    account number 0

Its checks are auth's (size gas, timeout, signature) plus the drip's own
(pool, rate limit); then the account is opened with the key and its sequence
used, so the same bytes cannot run twice, and the message pays the drip.
Every other tx goes to auth's ante unchanged. A sponsored claim refused here
is refused like an undecodable tx: no fee, no trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chain.ante import AnteHandler, TxRules
from chain.context import Ctx
from chain.crypto import PrivateKey, to_bech32, verify_signature
from chain.errors import ErrTxTimeoutHeight, ErrUnauthorized
from chain.tx.cosmos import CosmosTx
from chain.tx.sign import sign_tx
from modules.drip import state
from modules.drip.errors import ErrNotSponsored
from modules.drip.keeper import DripKeeper
from modules.drip.msgs import CLAIM_DRIP_URL, MsgClaimDrip

if TYPE_CHECKING:
    from chain.sigverify import BlockChecks

SPONSORED_ACCOUNT_NUMBER = 0  # what a sponsored claim is signed for (the account has none yet)
CLAIM_GAS = 200_000  # enough for a claim; at most the claim_gas_limit param (default 200 000)


def sponsored_claim(key: PrivateKey, chain_id: str, gas_limit: int = CLAIM_GAS) -> bytes:
    """A new key's first tx: its drip claim, fee 0, signed as the sponsored path wants."""
    return sign_tx(
        key,
        [MsgClaimDrip(recipient=key.bech32)],
        chain_id=chain_id,
        account_number=SPONSORED_ACCOUNT_NUMBER,
        sequence=0,
        gas_limit=gas_limit,
        fee_amount=0,
    )


class DripAnte:
    """``chain.ante.AnteHandler``: ``inner`` for every tx but a new key's claim."""

    def __init__(self, inner: AnteHandler, keeper: DripKeeper) -> None:
        self.inner = inner
        self.keeper = keeper

    def rules(self, ctx: Ctx) -> TxRules:
        return self.inner.rules(ctx)

    def signing_key(self, ctx: Ctx, tx: CosmosTx) -> tuple[bytes, int] | None:
        return self.inner.signing_key(ctx, tx)  # None for a new key: run() checks it

    def sponsors(self, ctx: Ctx, tx: CosmosTx) -> bool:
        """Whether ``tx`` takes the sponsored path (a lone claim by an unknown key)."""
        return (
            len(tx.msgs) == 1
            and tx.msgs[0][0].type_url == CLAIM_DRIP_URL
            and not self.keeper.accounts.account_exists(ctx, tx.signer)
        )

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
        if not self.sponsors(ctx, tx):
            self.inner.run(ctx, tx, rules, verify_sig=verify_sig, checks=checks, index=index)
            return
        who = to_bech32(tx.signer)
        p = state.get_params(ctx)
        if any(n for _, n in tx.fee):
            raise ErrNotSponsored(f"a new key's drip claim pays no fee (it has no coins): {who}")
        if tx.gas_limit > p.claim_gas_limit:
            raise ErrNotSponsored(
                f"gas limit {tx.gas_limit} is over claim_gas_limit {p.claim_gas_limit}"
            )
        if tx.sequence != 0:
            raise ErrNotSponsored(f"a new key's first tx has sequence 0, got {tx.sequence}")
        if tx.pubkey is None:
            raise ErrNotSponsored(f"{who} is new: include its public key in the claim")
        _charge(ctx, tx, rules)
        if tx.timeout_height and ctx.block.height > tx.timeout_height:
            raise ErrTxTimeoutHeight(f"tx timed out at height {tx.timeout_height}")
        if verify_sig:
            doc = tx.sign_bytes(ctx.block.chain_id, SPONSORED_ACCOUNT_NUMBER)
            if not verify_signature(tx.pubkey, tx.signature, doc):
                raise ErrUnauthorized(
                    "signature verification failed: a new key signs its drip claim for "
                    f"account number {SPONSORED_ACCOUNT_NUMBER}, sequence 0, chain-id "
                    f"{ctx.block.chain_id}"
                )
        self.keeper.check_drip(ctx, tx.signer)
        self.keeper.accounts.open_sponsored(ctx, tx.signer, tx.pubkey)


def _charge(ctx: Ctx, tx: CosmosTx, rules: TxRules) -> None:
    """Auth's gas for the tx's size and one signature check (auth's params, on ``rules``)."""
    costs: Any = getattr(rules, "params", None)
    if ctx.gas is None or costs is None:
        raise TypeError("a sponsored claim runs under a gas meter with auth's rules")
    ctx.gas.consume(int(costs.tx_size_cost_per_byte) * len(tx.raw), "tx size")
    ctx.gas.consume(int(costs.sig_verify_cost_secp256k1), "signature verification")
