"""slashing: what caught cheating, timeouts and outvoted oracles cost."""

from modules.slashing.keys import NAME
from modules.slashing.module import build

__all__ = ["NAME", "build"]
