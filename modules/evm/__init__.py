"""evm: Ethereum transactions in VCoin blocks (py-evm, Cancun rules) over the chain
store, with precompiles that bridge to the native modules."""

from modules.evm.module import build

__all__ = ["build"]
