"""EvmKeeper: Ethereum txs in VCoin blocks, calls, and the block hooks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chain.context import Ctx
from chain.crypto import module_address
from chain.errors import ChainError
from chain.results import TxResult
from modules.evm import envelope, state
from modules.evm.bridge import Bridge
from modules.evm.errors import ErrEthInvalid
from modules.evm.expected import AccountKeeper, BankKeeper

if TYPE_CHECKING:
    from modules.evm.executor import Outcome
    from modules.evm.statedb import EvmBackend
    from modules.evm.tracing import TraceStore

# py-evm (about half a second to import) is loaded on the first EVM tx or call,
# not by the wiring: the CLI builds the wiring too (app/node.py warms it for a node)

log = logging.getLogger("vcoin.evm")
FEE_COLLECTOR = "fee_collector"


class EvmKeeper:
    """The EVM over the bank (balances), auth (nonces) and its own store (code, storage).

    ``blocked``: module accounts the EVM may not credit (the bank's blocked set)."""

    def __init__(
        self, bank: BankKeeper, accounts: AccountKeeper, blocked: frozenset[bytes]
    ) -> None:
        self.bank = bank
        self.accounts = accounts
        self.blocked = blocked
        self.coinbase = module_address(FEE_COLLECTOR)
        # the precompiles' reach into the native modules; the wiring sets it
        self.bridge: Bridge | None = None
        # where the call traces of a node's blocks go (modules/evm/tracing.py); the node sets it
        self.traces: TraceStore | None = None

    def backend(self, ctx: Ctx) -> EvmBackend:
        from modules.evm.statedb import EvmBackend

        return EvmBackend(ctx, self.bank, self.accounts, self.blocked, self.coinbase, self.bridge)

    # -- txs (chain.foreign.ForeignTxs) ------------------------------------------------
    def claims(self, raw: bytes) -> bool:
        return envelope.is_ethereum(raw)

    def check_stateless(self, raw: bytes, chain_id: int | None = None) -> None:
        """Refuse what is wrong with the bytes alone (a ChainError)."""
        if chain_id is None:
            envelope.unwrap(raw)  # no state at hand: the envelope and size only
            return
        from modules.evm import txs

        txs.decode(raw, chain_id)

    def block_gas(self, raw: bytes, ctx: Ctx) -> tuple[bytes, int] | None:
        from modules.evm import txs

        try:
            etx = txs.decode(raw, state.get_params(ctx).chain_id)
        except ChainError:
            return None
        return etx.sender, etx.gas

    def block_gas_limit(self, ctx: Ctx) -> int:
        return state.get_params(ctx).block_gas_limit

    def apply(self, ctx: Ctx, raw: bytes, hint: bytes | None = None) -> TxResult:
        """Run ``raw`` on ``ctx`` (CheckTx, simulation or a block); never raises.
        ``hint``: it decoded ahead by ``prepass`` on the helper process."""
        try:
            return self._apply(ctx, raw, hint)
        except ChainError as e:
            return TxResult.fail(e)

    def _apply(self, ctx: Ctx, raw: bytes, hint: bytes | None = None) -> TxResult:
        from modules.evm import handlers

        return handlers.apply_eth_tx(self, ctx, raw, hint)

    def prepass(self) -> str:
        """A large block's Ethereum txs are decoded and their senders recovered
        ahead, on the signature helper process."""
        return "modules.evm.txs:decode_ahead"

    def call(
        self,
        ctx: Ctx,
        sender: bytes,
        to: bytes | None,
        data: bytes,
        value: int = 0,
        gas: int | None = None,
    ) -> Outcome:
        """Run a message on a throwaway branch of ``ctx`` (eth_call); nothing is written."""
        p = state.get_params(ctx)
        g = p.block_gas_limit if gas is None else gas
        if not 0 < g <= p.block_gas_limit:
            raise ErrEthInvalid(f"gas must be in 1..{p.block_gas_limit}")
        from modules.evm import executor

        branch = ctx.branch()
        return executor.run_call(branch, self.backend(branch), sender, to, data, value, g)

    # -- block hooks ------------------------------------------------------------------------
    def begin_block(self, ctx: Ctx) -> None:
        state.record_block_hash(ctx)
        state.clear_block_gas(ctx)

    def end_block(self, ctx: Ctx) -> None:
        """The next block's base fee, from this block's EVM gas (EIP-1559)."""
        p = state.get_params(ctx)
        used = state.block_gas(ctx)
        fee = state.base_fee(ctx)
        state.set_base_fee(ctx, state.next_base_fee(p, fee, used))
        state.clear_block_gas(ctx)
