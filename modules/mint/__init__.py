"""mint: the only source of new coins; per-epoch emission to workers by compute units."""

from modules.mint.keys import NAME
from modules.mint.module import build

__all__ = ["NAME", "build"]
