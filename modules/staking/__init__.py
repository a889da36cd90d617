"""staking: worker / oracle / validator bonds, unbonding queue, jail and tombstone."""

from modules.staking.keys import NAME
from modules.staking.module import build

__all__ = ["NAME", "build"]
