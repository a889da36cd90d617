"""verification: sampling draws, canaries, oracle attestations, quorum and verdicts."""

from modules.verification.keys import NAME
from modules.verification.module import build

__all__ = ["NAME", "build"]
