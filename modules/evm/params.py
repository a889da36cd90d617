"""Params of the evm module, changed only by the platform authority.

Fees (EIP-1559, paid in ``avcn``: VCN has 18 decimals, so 1 wei = 1 avcn):

* every block has a base fee per gas, kept in state; the next block's follows
  EIP-1559 from this block's EVM gas against the target
  (``block_gas_limit / elasticity_multiplier``), moving by at most
  ``1 / base_fee_change_denominator`` per block and never below ``min_base_fee``;
* a tx pays ``gas_used × (base fee + tip)``, the tip being
  ``min(max_priority_fee, max_fee − base fee)`` (a legacy or 2930 tx's gas
  price is both caps);
* the base fee part is burned (the supply falls by it); the tip goes to the
  ``fee_collector`` module account, as the fees of Cosmos txs do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.evm.errors import ErrInvalidParams

# "VC": the EVM chain id of the devnet; a network sets its own in genesis
DEFAULT_CHAIN_ID = 0x5643


@dataclass(frozen=True)
class Params:
    chain_id: int = DEFAULT_CHAIN_ID
    block_gas_limit: int = 30_000_000
    # the native min gas price (auth's ``min_gas_price``) is 1 gwei as well
    min_base_fee: int = 1_000_000_000
    base_fee_change_denominator: int = 8
    elasticity_multiplier: int = 2

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ErrInvalidParams(f"{f.name} must be a positive integer, got {v!r}")
        if self.chain_id >= 2**64:
            raise ErrInvalidParams("chain_id must fit in 64 bits")
        if self.block_gas_limit < 21_000 * self.elasticity_multiplier:
            raise ErrInvalidParams("block_gas_limit is too small for one transfer per block")
        if self.block_gas_limit >= 2**63:
            raise ErrInvalidParams("block_gas_limit must fit in 63 bits")

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "evm", int_strings=True)
