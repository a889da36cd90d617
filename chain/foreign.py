"""Txs that are not signed Cosmos TxRaws: the framework hands them to the app whole.

VCoin's EVM module (modules/evm) takes Ethereum transactions, bare or in a
MsgEthereumTx envelope. The framework asks ``claims`` first (cheaply: it runs
on every tx), and a claimed tx skips the Cosmos decoder and ante: the handler
checks, charges and runs it itself and answers with a TxResult.
"""

from __future__ import annotations

from typing import Protocol

from chain.context import Ctx
from chain.results import TxResult


class ForeignTxs(Protocol):
    def claims(self, raw: bytes) -> bool:
        """Whether ``raw`` is this handler's (looks at the first bytes only)."""
        ...

    def check_stateless(self, raw: bytes, chain_id: int | None = None) -> None:
        """Refuse, with a ChainError, what is wrong with ``raw``'s bytes alone."""
        ...

    def apply(self, ctx: Ctx, raw: bytes, hint: bytes | None = None) -> TxResult:
        """Check, charge and run ``raw`` on ``ctx``; never raises. ``hint``: the
        pre-pass's answer for ``raw`` when it arrived in time (see ``prepass``)."""
        ...

    def prepass(self) -> str:
        """The pure function the signature helper process runs on this handler's
        txs of a large block while it executes (chain/sigverify.py), as
        ``"package.module:function"``: a list of raw txs in, one bytes value (or
        None) per tx out; "" for none. Its answer reaches ``apply`` as ``hint``,
        something ``apply`` could compute itself from ``raw`` alone: with or
        without it the result is the same."""
        ...

    def block_gas(self, raw: bytes, ctx: Ctx) -> tuple[bytes, int] | None:
        """(sender, the gas ``raw`` reserves of its block), or None when it
        reserves none; PrepareProposal fills a block up to ``block_gas_limit``."""
        ...

    def block_gas_limit(self, ctx: Ctx) -> int:
        """The most gas the txs of one block may reserve in all."""
        ...
