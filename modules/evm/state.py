"""The only code that touches the evm store outside the account database:
params, the base fee, the block's gas and recent block hashes."""

from __future__ import annotations

from collections.abc import Iterator

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.evm import keys
from modules.evm.keys import NAME
from modules.evm.params import Params

PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set
# BLOCKHASH reaches back 256 blocks
BLOCK_HASHES_KEPT = 256


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def _enc(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


def base_fee(ctx: Ctx) -> int:
    """The base fee per gas of the block being built (the min base fee until a block set one)."""
    raw = ctx.kv(NAME).get(keys.BASE_FEE)
    return get_params(ctx).min_base_fee if raw is None else _int(raw)


def set_base_fee(ctx: Ctx, fee: int) -> None:
    ctx.kv(NAME).set(keys.BASE_FEE, _enc(fee))


def block_gas(ctx: Ctx) -> int:
    return _int(ctx.kv(NAME).get(keys.BLOCK_GAS))


def add_block_gas(ctx: Ctx, gas: int) -> None:
    ctx.kv(NAME).set(keys.BLOCK_GAS, _enc(block_gas(ctx) + gas))


def clear_block_gas(ctx: Ctx) -> None:
    ctx.kv(NAME).delete(keys.BLOCK_GAS)


def next_base_fee(p: Params, fee: int, used: int) -> int:
    """EIP-1559: the base fee after a block that used ``used`` gas, floored at the min."""
    target = p.block_gas_limit // p.elasticity_multiplier
    if used == target:
        new = fee
    elif used > target:
        new = fee + max(fee * (used - target) // target // p.base_fee_change_denominator, 1)
    else:
        new = fee - fee * (target - used) // target // p.base_fee_change_denominator
    return max(new, p.min_base_fee)


def record_block_hash(ctx: Ctx) -> None:
    """Keep this block's hash for BLOCKHASH and forget the one 256 blocks back."""
    kv = ctx.kv(NAME)
    h = ctx.block.height
    kv.set(keys.block_hash(h), ctx.block.hash or b"\x00" * 32)
    if h > BLOCK_HASHES_KEPT:
        kv.delete(keys.block_hash(h - BLOCK_HASHES_KEPT))


def ancestor_hashes(ctx: Ctx) -> Iterator[bytes]:
    """The hashes of the blocks before this one, newest first (py-evm's prev_hashes)."""
    kv = ctx.kv(NAME)
    for h in range(ctx.block.height - 1, max(ctx.block.height - 1 - BLOCK_HASHES_KEPT, 0), -1):
        raw = kv.get(keys.block_hash(h))
        if raw is None:
            return
        yield raw


def code_record(ctx: Ctx, addr: bytes) -> bytes | None:
    """keccak(code) ‖ code, or None for an account without code."""
    return ctx.kv(NAME).get(keys.code(addr))


def delete_code(ctx: Ctx, addr: bytes) -> None:
    ctx.kv(NAME).delete(keys.code(addr))


def delete_storage(ctx: Ctx, addr: bytes) -> None:
    kv = ctx.kv(NAME)
    p = keys.storage_of(addr)
    for k, _ in list(kv.iterate(p, prefix_end(p))):
        kv.delete(k)


def code_records(ctx: Ctx) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, code record), raw, for the invariants."""
    p = keys.CODE_PREFIX
    yield from ctx.kv(NAME).iterate(p, prefix_end(p))


def code_of(ctx: Ctx, addr: bytes) -> bytes:
    rec = ctx.kv(NAME).get(keys.code(addr))
    return b"" if rec is None else rec[32:]


def code_hash_of(ctx: Ctx, addr: bytes) -> bytes | None:
    rec = ctx.kv(NAME).get(keys.code(addr))
    return None if rec is None else rec[:32]


def set_code(ctx: Ctx, addr: bytes, code: bytes, code_hash: bytes) -> None:
    ctx.kv(NAME).set(keys.code(addr), code_hash + code)


def storage_at(ctx: Ctx, addr: bytes, slot: int) -> int:
    return _int(ctx.kv(NAME).get(keys.storage(addr, slot)))


def set_storage(ctx: Ctx, addr: bytes, slot: int, value: int) -> None:
    if value:
        ctx.kv(NAME).set(keys.storage(addr, slot), _enc(value))
    else:
        ctx.kv(NAME).delete(keys.storage(addr, slot))


def storage_of(ctx: Ctx, addr: bytes) -> Iterator[tuple[int, int]]:
    p = keys.storage_of(addr)
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield int.from_bytes(k[21:], "big"), _int(v)


def contracts(ctx: Ctx) -> Iterator[tuple[bytes, bytes]]:
    """Every (address, code), in address order."""
    p = keys.CODE_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[1:], v[32:]


def block_hashes(ctx: Ctx) -> Iterator[tuple[int, bytes]]:
    """The kept (height, hash) pairs, oldest first (for genesis export)."""
    p = keys.BLOCK_HASH_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield int.from_bytes(k[1:], "big"), v


def set_block_hash(ctx: Ctx, height: int, h: bytes) -> None:
    ctx.kv(NAME).set(keys.block_hash(height), h)
