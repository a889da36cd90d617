"""Gas metering: every state access and every byte of a tx costs gas.

Costs follow the Cosmos SDK's KV gas table so that fee estimates look familiar.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.errors import ErrOutOfGas


@dataclass(frozen=True)
class GasConfig:
    read_flat: int = 1000
    read_per_byte: int = 3
    write_flat: int = 2000
    write_per_byte: int = 30
    iter_next_flat: int = 30
    tx_size_per_byte: int = 10
    sig_verify_secp256k1: int = 1000


DEFAULT_GAS = GasConfig()


class GasMeter:
    __slots__ = ("limit", "consumed", "cfg")

    def __init__(self, limit: int | None, cfg: GasConfig = DEFAULT_GAS) -> None:
        self.limit = limit
        self.consumed = 0
        self.cfg = cfg

    def consume(self, amount: int, what: str) -> None:
        self.consumed += amount
        if self.limit is not None and self.consumed > self.limit:
            raise ErrOutOfGas(
                f"out of gas in {what}: limit {self.limit}, needed at least {self.consumed}; "
                "raise the tx's gas limit"
            )

    def charge_read(self, klen: int, vlen: int) -> None:
        c = self.cfg
        self.consume(c.read_flat + c.read_per_byte * (klen + vlen), "state read")

    def charge_write(self, klen: int, vlen: int) -> None:
        c = self.cfg
        self.consume(c.write_flat + c.write_per_byte * (klen + vlen), "state write")

    def charge_iter(self, klen: int, vlen: int) -> None:
        c = self.cfg
        self.consume(c.iter_next_flat + c.read_per_byte * (klen + vlen), "state iteration")
