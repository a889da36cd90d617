"""jobs: the model registry, worker registry, job lifecycle, escrow, queue and settlement.

    post ──▶ queued ──claim──▶ claimed ──submit──▶ submitted ──(verification)──▶ settled
               │ ▲                │ │                  │                        rejected
     cancel ◀──┘ └──timeout/give-back┘ │ release: failed  └─ picked: checking ──▶ settled/rejected
     claim deadline: expired          (max attempts: expired)

Every open job holds its max price in the escrow module account; every end
either consumes the agreed price (settled) or refunds the escrow.
"""

from modules.jobs.keys import NAME
from modules.jobs.module import build

__all__ = ["NAME", "build"]
