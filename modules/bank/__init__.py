"""bank: balances, total supply, transfers, module-account mint and burn."""

from modules.bank.keys import NAME
from modules.bank.module import build

__all__ = ["NAME", "build"]
