"""Invariants of the evm module: every code record's hash is the keccak of its
code, the base fee is at least the min, and the block's gas counter is empty
between blocks."""

from __future__ import annotations

from eth_hash.auto import keccak

from chain.context import Ctx
from chain.module import Invariant
from modules.evm import state


def _code_hashes(ctx: Ctx) -> str | None:
    for k, v in state.code_records(ctx):
        if len(k) != 21 or len(v) <= 32 or keccak(v[32:]) != v[:32]:
            return f"code record of 0x{k[1:].hex()} is malformed or its hash is not its code's"
    return None


def _base_fee(ctx: Ctx) -> str | None:
    fee, floor = state.base_fee(ctx), state.get_params(ctx).min_base_fee
    if fee < floor:
        return f"base fee {fee} is below min_base_fee {floor}"
    if state.block_gas(ctx):
        return "the block gas counter was left set after the block"
    return None


def invariants() -> dict[str, Invariant]:
    return {"code_hashes": _code_hashes, "base_fee": _base_fee}
