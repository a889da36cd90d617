"""What the framework asks of the app's ante handler: the checks every tx passes
before its messages run.

The framework decodes a tx under ``TxRules`` (size, memo, signature count, gas
ceiling) and then hands it to the ``AnteHandler``, which checks and charges it
against state (in VCoin: ``modules/auth/ante.py``: fee, sequence, signature).
The ante's writes stand even when the messages then fail, so a failed tx still
pays and cannot be replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chain.context import Ctx
from chain.tx.cosmos import CosmosTx, TxLimits

if TYPE_CHECKING:
    from chain.sigverify import BlockChecks


@dataclass(frozen=True)
class TxRules:
    """The limits a tx is decoded under, read from state once per tx.

    Two equal rules decode every tx alike, so a block decoded ahead under the
    rules of its start stays valid while the rules do not change. An ante
    handler may subclass it to carry its own params along."""

    max_tx_bytes: int
    limits: TxLimits


class AnteHandler(Protocol):
    def rules(self, ctx: Ctx) -> TxRules:
        """The rules txs are decoded and checked under at ``ctx``."""
        ...

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
        """Check ``tx`` against state and charge it; raise a ChainError to refuse.

        ``checks``/``index``: the tx's signature may have been checked ahead on
        the block's helper process (chain/sigverify.py)."""
        ...

    def signing_key(self, ctx: Ctx, tx: CosmosTx) -> tuple[bytes, int] | None:
        """The public key and account number ``tx`` must be signed with, when
        state knows them before the block runs (for the signature pre-pass);
        None when only running the tx can tell."""
        ...
