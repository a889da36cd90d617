"""Distributed LoRA training (issue 16): sharding, shard training, exact aggregation, checks.

A training (the chain's ``training`` module) is R rounds over N shards of one JSONL
dataset. Each shard-round is an ordinary job of the jobs module (task ``lora-shard``) and
each round's aggregate another (``lora-aggregate``), both posted by the training module
from its escrow, so claims, deadlines, requeues, sampling, oracle checks, settlement,
reputation and slashing are the jobs module's own. This package is what those two jobs
compute, and what anyone needs to recompute them:

* ``manifest``: the dataset manifest (every JSONL line's sha256), built and checked;
* ``shards``: which records shard i of round r trains on — a permutation drawn from the
  training id, the round and the manifest digest, so every oracle recomputes it;
* ``inputs``: the two tasks' inline input documents and the artifacts they name (refs);
* ``adapter``: the seeded LoRA model (A from ``config.seed``), the adapter file format,
  and ``write_peft_dir`` (a folder ``peft.PeftModel.from_pretrained`` loads);
* ``aggregate``: ``ffa-mean``, the exact aggregate;
* ``verify``: how an oracle compares a shard re-run (the lora-train metric) and an
  aggregate re-run (exact bytes).

The runtime tasks themselves are ``compute.runtime.training_tasks``.

**Why FFA-LoRA.** A LoRA update is ΔW = (α/r)·B·A. Averaging A and B separately is not
the average of the products: mean(Bᵢ)·mean(Aᵢ) ≠ mean(Bᵢ·Aᵢ). The exact options are

* FFA-LoRA (chosen): A is drawn once from the training's seed and frozen; only B trains.
  Then mean(Bᵢ·A) = mean(Bᵢ)·A exactly, the aggregate is a plain weighted mean of the B
  matrices (r × d_out floats per module), the global adapter keeps rank r, and the next
  round starts from it as it is. Cost: half the LoRA parameters train, which the FFA-LoRA
  paper (Sun et al., 2024) finds costs little quality; our quality test measures it on
  tiny-lm (``tests/compute/training/test_quality.py``).
* FLoRA-style stacking along the rank: exact, but the global rank grows by N·r a round, so
  after R rounds the adapter is R·N times larger and every shard trains a bigger model.
* Averaging ΔW = B·A and re-factorising (SVD to rank r): the truncation is not exact
  (rank r cannot hold the sum of N rank-r updates) and an SVD's bits differ between
  libraries and CPUs, so "anyone recomputes it bit for bit" would fail.

**ffa-mean** (``aggregate.aggregate``): B_global = Σ wᵢ·Bᵢ / Σ wᵢ, wᵢ the shard's record
count, accumulated in float64 in ascending shard order, then cast to float32. IEEE
float64 addition and multiplication in a fixed order are the same bits on every CPU, so
the global adapter's sha256 is a pure function of the updates' bytes and weights; the
oracle checks an aggregate by recomputing it and comparing hashes. Round 0 starts from
B = 0 (peft's own init) and the seeded A; every update's A must equal the seed's A
bit for bit, or the aggregate refuses it (a shard that trained A broke the FFA premise).

**A from the seed.** ``torch.manual_seed(config.seed)`` right before peft wraps the base
model (on CPU): peft draws each lora_A with kaiming-uniform in module order from torch's
CPU generator, so A is a function of the seed, the base model's architecture, rank and
targets, and the torch version — the same on every worker and oracle of a training.
"""
