"""Params of the auth module, changed only by the platform authority."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.crypto import module_address, to_bech32
from chain.params import params_from_json
from modules.auth.errors import ErrInvalidParams

# Until governance exists the authority is whoever genesis names; this default
# is the (keyless) gov module address, so a chain without one is frozen.
DEFAULT_AUTHORITY = to_bech32(module_address("gov"))


@dataclass(frozen=True)
class Params:
    authority: str = DEFAULT_AUTHORITY
    max_memo_characters: int = 256
    tx_sig_limit: int = 1
    tx_size_cost_per_byte: int = 10
    sig_verify_cost_secp256k1: int = 1000
    min_gas_price: int = 1_000_000_000  # avcn per unit of gas
    max_tx_bytes: int = 131_072
    max_tx_gas: int = 50_000_000

    def validate(self) -> None:
        from chain.crypto import AddressError, from_bech32

        try:
            from_bech32(self.authority)
        except AddressError as e:
            raise ErrInvalidParams(f"authority: {e}") from e
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "authority" and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ErrInvalidParams(f"{f.name} must be a non-negative integer, got {v!r}")
        if self.tx_sig_limit < 1 or self.max_tx_bytes < 256 or self.max_tx_gas < 1:
            raise ErrInvalidParams("tx_sig_limit ≥ 1, max_tx_bytes ≥ 256 and max_tx_gas ≥ 1")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "auth")
