"""evm: Ethereum transactions in VCoin blocks (py-evm, Cancun rules) over the chain
store, with precompiles that bridge to the native modules."""

from modules.evm.keccak import use_fastest_keccak

use_fastest_keccak()

from modules.evm.module import build  # noqa: E402  (after the keccak choice)

__all__ = ["build"]
