"""reputation: success ratio, stake weight, heartbeat uptime and penalties → a score."""

from modules.reputation.keys import NAME
from modules.reputation.module import build

__all__ = ["NAME", "build"]
