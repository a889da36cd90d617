"""training: distributed LoRA fine-tuning as rounds of ordinary jobs (issue 16).

Each shard-round is a job of the jobs module, posted by this module from its
module account ``training`` out of the training's escrow, so claim, deadlines,
requeue, submit, the sampling draw, oracle checks, settlement (10 % burned, 90 %
to the treasury, the worker paid), reputation and slashing are the jobs
module's own. "Payment released per round" = each shard job of a round settles
on its own verdict. Two internal task types: ``lora-shard`` (train one shard from
the round's global adapter) and ``lora-aggregate`` (the round's FFA-LoRA mean);
only this module posts them (MsgPostJob refuses them), on a model that serves
``lora-train``. An aggregate is always checked (verification param
``always_check_tasks``).

Rules:

* Post (MsgPostTraining): rank 1..``max_rank``; shards 1..``max_shards`` and at
  most records; rounds 1..``max_rounds``; records at most 2^20; rank, alpha, steps,
  lr_micro, batch_size and max_length within the job runtime's limits
  (``msgs.CONFIG_RANGES``: a config the chain takes runs); target_modules
  non-empty, each in ``lora_targets``;
  aggregation ``ffa-mean``; both prices ≥ the jobs ``min_price``; shard_blocks
  ≤ the jobs ``max_result_blocks`` (0: its default); the model registered and
  serving ``lora-train``. Each refusal names the field and nothing is escrowed.
  Escrow rounds × (shards × price_per_shard + aggregate_price) into the module
  account (the training's ``escrow_left``), then post round 0's shard jobs.
* Every job is paid from ``escrow_left`` (its max price leaves it), and every
  refund that comes back to the module account (a settled job's unspent price,
  a failed job's whole escrow) goes back into it.
* A shard job that settles is accepted: its output hash and worker are
  recorded (the worker was paid by the jobs settlement). One rejected (caught
  cheating; its worker punished the usual way), expired, failed or cancelled is
  posted again while the shard has used fewer than ``max_shard_attempts`` posts
  and ``escrow_left`` covers it; else the shard is dropped. A rejected output is
  never in the aggregate.
* When every shard of the round is accepted or dropped: with none accepted the
  training fails; else the aggregate job is posted (its input lists the
  accepted updates, ascending shard, weight = the shard's records
  ``n // N + (1 if i < n % N else 0)``).
* The aggregate settles: its output is the round's global adapter; the next
  round starts from it, or, after the last round, the training is completed with
  ``adapter`` set and ``escrow_left`` refunded to the poster. Rejected, expired
  or failed: posted again within ``max_shard_attempts``, else the training fails
  (``escrow_left`` refunded).
* Cancel (MsgCancelTraining, the poster, while running): the round's queued jobs
  are cancelled, ``escrow_left`` is refunded, and refunds of its jobs still in
  flight go to the poster as they end (a finished training keeps no escrow).
* Deterministic: sorted iteration, integers, no wall clock.

Inline inputs (canonical JSON, written by ``records.shard_input`` and
``records.aggregate_input``) and the output formats are in the shared contract
(README, "Distributed LoRA training"; worker/README.md). Queries: ``training/training`` {"id"},
``training/trainings`` {"poster","after","limit"}, ``training/by_job``
{"job_id"}, ``training/params``. Events (each with ``training_id``):
TrainingPosted, TrainingRoundStarted, TrainingShardRequeued, TrainingShardDropped,
TrainingAggregatePosted, TrainingRoundAggregated (``global``), TrainingCompleted
(``adapter``), TrainingFailed, TrainingCancelled.
"""

from modules.training.keys import NAME
from modules.training.module import build

__all__ = ["NAME", "build"]
