"""jobs: the model registry, worker registry, job lifecycle, escrow, queue and settlement.

    post ──▶ queued ──claim──▶ claimed ──submit──▶ submitted ──(verification)──▶ settled
               │ ▲                │ │                  │                        rejected
     cancel ◀──┘ └──timeout/give-back┘ │ release: failed  └─ picked: checking ──▶ settled/rejected
     claim deadline: expired          (max attempts: expired)

Every open job holds its max price in the escrow module account; every end
either consumes the agreed price (settled) or refunds the escrow.

Other modules post jobs too: ``JobsKeeper.post_for_module`` escrows from a module
account (the poster, so refunds go back to it), for the internal task types
(``params.INTERNAL_TASK_TYPES``: the training module's ``lora-shard`` and
``lora-aggregate``, which MsgPostJob refuses and a model serving ``lora-train``
runs). Every final transition (settled, rejected, expired, failed, cancelled) is
told to ``JobsKeeper.hooks`` (``expected.JobHooks``) after its money moved.
"""

from modules.jobs.keys import NAME
from modules.jobs.module import build

__all__ = ["NAME", "build"]
