"""jobs: the model registry, worker registry, job lifecycle, escrow, queue and settlement."""

from modules.jobs.keys import NAME
from modules.jobs.module import build

__all__ = ["NAME", "build"]
