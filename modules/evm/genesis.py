"""Genesis of the evm module: default, validate, init, export (symmetric).

The default genesis deploys the two facade contracts (contracts/README.md) at
their fixed addresses, runtime code only (they have no constructor and no
storage to set up): ``VCoin.sol`` over the bank and ``JobMarket.sol`` over the
jobs module, from the committed artifacts in ``contracts/build/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from chain.context import Ctx
from modules.evm import state
from modules.evm.errors import ErrInvalidGenesis
from modules.evm.params import Params

ARTIFACTS = Path(__file__).resolve().parents[2] / "contracts" / "build"
VCOIN_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000c01")
JOBMARKET_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000c02")
GENESIS_CONTRACTS = {"VCoin": VCOIN_ADDRESS, "JobMarket": JOBMARKET_ADDRESS}
MAX_CODE_SIZE = 24_576  # EIP-170


def artifact(name: str) -> dict[str, Any]:
    """A compiled contract of ``contracts/build`` (abi, bytecode, deployedBytecode)."""
    path = ARTIFACTS / f"{name}.json"
    try:
        d: dict[str, Any] = json.loads(path.read_text())
    except OSError as e:
        raise FileNotFoundError(
            f"{path} is missing: run scripts/build-contracts (it is committed in the repo)"
        ) from e
    return d


def default() -> dict[str, Any]:
    contracts = []
    for name, addr in GENESIS_CONTRACTS.items():
        contracts.append(
            {"name": name, "address": "0x" + addr.hex(), "code": artifact(name)["deployedBytecode"]}
        )
    return {
        "params": Params().to_json(),
        "base_fee": str(Params().min_base_fee),
        "contracts": contracts,
    }


def _hex(v: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(v, str) or not v.startswith("0x"):
        raise ErrInvalidGenesis(f"{what} must be a 0x-prefixed hex string, got {v!r:.80}")
    try:
        b = bytes.fromhex(v[2:])
    except ValueError as e:
        raise ErrInvalidGenesis(f"{what} is not hex: {v!r:.80}") from e
    if size is not None and len(b) != size:
        raise ErrInvalidGenesis(f"{what} must be {size} bytes, got {len(b)}")
    return b


def _word(v: Any, what: str) -> int:
    b = _hex(v, what)
    if len(b) > 32:
        raise ErrInvalidGenesis(f"{what} is over 32 bytes")
    return int.from_bytes(b, "big")


def _contracts(g: dict[str, Any]) -> list[tuple[bytes, bytes, dict[int, int]]]:
    out = []
    seen: set[bytes] = set()
    for d in g.get("contracts", []):
        if not isinstance(d, dict):
            raise ErrInvalidGenesis(f"contract {d!r:.80} is not an object")
        addr = _hex(d.get("address"), "contract address", 20)
        if addr in seen:
            raise ErrInvalidGenesis(f"contract 0x{addr.hex()} is listed twice")
        seen.add(addr)
        code = _hex(d.get("code"), f"code of 0x{addr.hex()}")
        if not code or len(code) > MAX_CODE_SIZE:
            raise ErrInvalidGenesis(
                f"code of 0x{addr.hex()} must be 1..{MAX_CODE_SIZE} bytes (EIP-170)"
            )
        raw_storage = d.get("storage", {})
        if not isinstance(raw_storage, dict):
            raise ErrInvalidGenesis(f"storage of 0x{addr.hex()} must be an object")
        storage = {
            _word(k, "storage slot"): _word(v, "storage value") for k, v in raw_storage.items()
        }
        out.append((addr, code, storage))
    return out


def validate(g: dict[str, Any]) -> None:
    p = Params.from_json(g.get("params", {}))
    fee = int(str(g.get("base_fee", p.min_base_fee)))
    if fee < p.min_base_fee:
        raise ErrInvalidGenesis(f"base_fee {fee} is below min_base_fee {p.min_base_fee}")
    _contracts(g)
    _block_hashes(g)


def _block_hashes(g: dict[str, Any]) -> list[tuple[int, bytes]]:
    """The last blocks' hashes of an exported chain (BLOCKHASH keeps answering)."""
    out = []
    items = g.get("block_hashes", [])
    if not isinstance(items, list) or len(items) > state.BLOCK_HASHES_KEPT:
        raise ErrInvalidGenesis(
            f"block_hashes must be a list of at most {state.BLOCK_HASHES_KEPT} entries"
        )
    for d in items:
        try:
            height = int(str(d["height"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ErrInvalidGenesis(f"block hash entry {d!r:.80}: {e}") from e
        if not 0 < height < 2**63:
            raise ErrInvalidGenesis(f"block hash entry {d!r:.80}: height out of range")
        out.append((height, _hex(d.get("hash"), "block hash", 32)))
    return out


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    validate(g)
    p = Params.from_json(g.get("params", {}))
    state.set_params(ctx, p)
    state.set_base_fee(ctx, int(str(g.get("base_fee", p.min_base_fee))))
    for addr, code, storage in _contracts(g):
        state.set_code(ctx, addr, code, keccak(code))
        for slot, value in sorted(storage.items()):
            state.set_storage(ctx, addr, slot, value)
    for height, h in _block_hashes(g):
        state.set_block_hash(ctx, height, h)


def export(ctx: Ctx) -> dict[str, Any]:
    contracts = []
    for addr, code in state.contracts(ctx):
        d: dict[str, Any] = {"address": "0x" + addr.hex(), "code": "0x" + code.hex()}
        storage = {
            "0x" + slot.to_bytes(32, "big").hex(): "0x" + v.to_bytes(32, "big").hex()
            for slot, v in state.storage_of(ctx, addr)
        }
        if storage:
            d["storage"] = storage
        contracts.append(d)
    return {
        "params": state.get_params(ctx).to_json(),
        "base_fee": str(state.base_fee(ctx)),
        "contracts": contracts,
        "block_hashes": [
            {"height": str(h), "hash": "0x" + v.hex()} for h, v in state.block_hashes(ctx)
        ],
    }
