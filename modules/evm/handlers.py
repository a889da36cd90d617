"""The evm module's one handler: an Ethereum tx, validate → state → events.

It is not a Cosmos message route: the framework hands the whole tx over
(chain/foreign.py) and ``EvmKeeper.apply`` calls this.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chain.context import Ctx, Mode
from chain.results import TxResult
from modules.evm import executor, state, txs

if TYPE_CHECKING:
    from modules.evm.keeper import EvmKeeper


def apply_eth_tx(keeper: EvmKeeper, ctx: Ctx, raw: bytes, ahead: bytes | None = None) -> TxResult:
    """Decode, check against state, run and write ``raw`` on ``ctx``; a refusal
    (ChainError) leaves ``ctx`` untouched. ``ahead``: it decoded ahead (txs.decode)."""
    p = state.get_params(ctx)
    etx = txs.decode(raw, p.chain_id, ahead)
    base_fee = state.base_fee(ctx)
    backend = keeper.backend(ctx)
    executor.precheck(ctx, etx, backend, base_fee)
    out = executor.run_tx(ctx, etx, backend, base_fee)
    if ctx.mode is Mode.DELIVER and keeper.traces is not None:  # off consensus
        keeper.traces.record(
            ctx.block.height, etx.hash, out.computation, etx.sender, etx.gas, out.gas_used
        )
    res = executor.tx_result(etx, out, base_fee)
    out.ctx.write()
    if ctx.mode is Mode.DELIVER:
        state.add_block_gas(ctx, out.gas_used)
    if not res.ok and ctx.mode in (Mode.CHECK, Mode.RECHECK):
        # a tx that runs and fails is still a valid tx: it pays its gas and uses its
        # nonce in a block, as on Ethereum, so the mempool admits it (the check state
        # has its gas and nonce) and says what it will do
        return replace(res, code=0, codespace="", log=f"admitted; it will fail: {res.log}")
    return res
