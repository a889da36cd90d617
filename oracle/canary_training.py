"""Canary trainings: hidden shard jobs whose output the oracle knows (issue 16).

Every shard job of a training is posted by the ``training`` module account, so a
canary shard cannot be a job canary: the oracle posts a whole *canary training*,
from a persona key, and its round-0 shard jobs are the canaries. The chain takes
their reveal from the training's poster (``modules.verification``: the controller of
a job a module posted for a record is the record's owner), exactly as a job canary's:
exact output hash, a match settles the shard (the training accepts it), a mismatch
rejects it (the worker is punished, the training excludes and re-posts the shard).

1. **When.** For each real training seen posted (``TrainingPosted``) the oracle posts a
   canary training with probability ``r/(1−r) · R · s`` (capped at 1): ``r`` the
   chain's ``canary_rate_bps``, ``R`` the real training's rounds, ``s`` this oracle's
   share of the oracle stake. A real training posts N·R shard jobs and a canary N, so
   canary shard jobs are about ``r`` of all shard jobs. Not when ``canary_task_types``
   is set without ``lora-shard`` (a device class whose shard re-runs are not bit-stable
   turns it off this way), and one at a time.
2. **What.** The real training's shape: model, LoRA config, shard count, prices,
   ``shard_blocks``, and **one round** (a worker sees only its round's shard job and
   cannot tell how many rounds the training has without reading the training record;
   ``oracle/README.md`` says what this leaves). The dataset is fresh synthetic text
   ("known data") of the same record count, the same record format (``text``,
   ``prompt``/``completion`` or ``messages``) and lengths within ±20 % of the real
   records', with its manifest; both are uploaded.
3. **Expected outputs, before the post.** A shard's output depends on the training id,
   not on its job id, so the oracle predicts the id (the highest training id seen + 1)
   and runs every round-0 shard (global empty) with the runtime in its own sandbox,
   **twice**: a shard whose two runs differ is not bit-stable here and is no canary
   (it runs as an ordinary shard). Committing after the post instead would land the
   commitment only after N shard trainings, many blocks after a worker could claim
   (``tests/oracle/test_canary_training.py`` has a worker claim in the block after the
   post): precommitting loses none of those.
4. **Commit, post.** Before the post, one tx commits for each stable shard i to the
   job ids ``b + i`` for ``PRECOMMIT`` predicted bases ``b`` (the shard jobs of a
   training are consecutive ids); those that do not name a canary stay decoys until
   they expire. The persona claims its drip and posts the training. If the training id
   is not the predicted one (another training landed first) the expected hashes are
   wrong: it runs as an ordinary training, no reveal (counted ``mispredicted``). A shard
   job outside the predicted ids is committed right after the post and is spoiled if
   claimed before that commit lands.
5. **Reveal** on the shard job's ``ResultSubmitted``, signed with the persona key.
6. **The rest.** The aggregate and anything re-posted run as in any training (the
   aggregate is always checked). When the training is over (completed, failed,
   cancelled), the persona sweeps its key, the refund included, into the drip pool.

The records live in ``<home>/canary_trainings.json`` (atomic writes, as the state file).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import random
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chain.client import ChainRefused, QueryFailed
from chain.crypto import PrivateKey
from modules.drip.ante import sponsored_claim
from modules.drip.msgs import MsgFundPool
from oracle import canary
from oracle.follower import ChainEvent

if TYPE_CHECKING:
    from oracle.canary_flow import CanaryDeps

log = logging.getLogger("vcoin.oracle.canary")

LORA_SHARD = "lora-shard"
STATE_FILE = "canary_trainings.json"
PRECOMMIT = 8  # predicted job-id bases committed before the post
FEE_GAS_BUDGET = 3_000_000  # gas the persona may spend (post + sweep)
SWEEP_GAS = 120_000
KEEP_DONE = 50
BPS = canary.BPS


def should_post(rate_bps: int, share_bps: int, rounds: int, rng: random.Random) -> bool:
    """One coin flip per real training: P = r/(1−r) · R · s (capped at 1), in integers."""
    if rate_bps <= 0 or share_bps <= 0 or rate_bps >= BPS or rounds <= 0:
        return False
    return rng.randrange((BPS - rate_bps) * BPS) < rate_bps * min(share_bps, BPS) * rounds


def _like(rng: random.Random, text: str) -> str:
    return canary._sentence(rng, max(8, int(len(text) * rng.uniform(0.8, 1.2))))


def synth_record(rng: random.Random, doc: Any) -> dict[str, Any]:
    """A fresh record in ``doc``'s format with lengths within ±20 % of its texts."""
    if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        msgs = []
        for m in doc["messages"]:
            role = m.get("role") if isinstance(m, dict) else None
            content = m.get("content") if isinstance(m, dict) else None
            n = len(content) if isinstance(content, str) else 40
            msgs.append({"role": role if isinstance(role, str) else "user", "content": ""})
            msgs[-1]["content"] = _like(rng, "x" * n)
        if not any(m["role"] == "assistant" for m in msgs):
            msgs.append({"role": "assistant", "content": _like(rng, "x" * 40)})
        return {"messages": msgs}
    if isinstance(doc, dict) and set(doc) == {"prompt", "completion"}:
        return {
            "prompt": _like(rng, str(doc["prompt"])),
            "completion": " " + _like(rng, str(doc["completion"])),
        }
    text = doc.get("text") if isinstance(doc, dict) else None
    return {"text": _like(rng, text if isinstance(text, str) else "x" * 60)}


def synth_dataset(rng: random.Random, real: bytes) -> bytes:
    """A JSONL dataset like ``real``: as many records, each like the real one at its line."""
    out = []
    for line in real.rstrip(b"\n").split(b"\n"):
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        rec = synth_record(rng, doc)
        out.append(json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(out) + "\n").encode()


def shard_job(t: dict[str, Any], training_id: int, shard: int) -> dict[str, Any]:
    """The record of shard ``shard``'s round-0 job of canary training ``t`` (the fields of
    ``MsgPostTraining``) as the ``jobs/job`` query will show it, for the local run; the
    inline input is the one the chain writes (``modules.training.records.shard_input``)."""
    from modules.training.records import Config, Round, Training, shard_input

    cfg = Config(
        rank=int(t["rank"]),
        alpha=int(t["alpha"]),
        targets=tuple(t["target_modules"]),
        steps=int(t["steps"]),
        lr_micro=int(t["lr_micro"]),
        batch_size=int(t["batch_size"]),
        seed=int(t["seed"]),
        max_length=int(t["max_length"]),
    )
    rec = Training(
        id=training_id,
        poster=b"",
        model=t["model"],
        dataset=t["dataset"],
        manifest=t["manifest"],
        records=int(t["records"]),
        shards=int(t["shards"]),
        rounds=1,
        config=cfg,
        price_per_shard=0,
        aggregate_price=0,
        shard_blocks=0,
        escrow_left=0,
        posted_height=0,
    )
    inline = shard_input(rec, Round(0, "", []), shard)
    return {
        "id": "0",
        "task_type": LORA_SHARD,
        "model": t["model"],
        "spec": "",
        "inline_input": base64.b64encode(inline).decode(),
        "input_hash": hashlib.sha256(inline).hexdigest(),
    }


@dataclass
class TrainingCanary:
    local_id: int
    stage: str  # planned → prepared → funded → posted → final → done
    poster_secret: str  # hex: the persona key (posts, reveals, sweeps)
    poster: str
    fields: dict[str, Any]  # MsgPostTraining fields, poster aside
    dataset_hex: str  # the synthetic JSONL
    template: int  # the real training it imitates
    salt: str = ""
    training_id: int = 0  # predicted before the post; the chain's after it
    expected: list[str] = field(default_factory=list)  # per shard; "" not bit-stable
    bases: list[int] = field(default_factory=list)  # job-id bases committed before the post
    commit_height: int = 0
    job_ids: list[int] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)  # per shard: committed|submitted|…
    outcome: str = ""
    run_from: int = 0  # the chain height when its local runs started
    run_blocks: int = 0  # blocks they took: a commit after the post would land that late

    def escrow(self) -> int:
        f = self.fields
        return int(f["shards"]) * int(f["price_per_shard"]) + int(f["aggregate_price"])


class TrainingCanaries:
    """The canary trainings of one oracle: events in, chain steps out (``act``)."""

    def __init__(self, deps: CanaryDeps, home: Path) -> None:
        self.d = deps
        self.path = home / STATE_FILE
        self.recs: dict[int, TrainingCanary] = {}
        self.next_id = 1
        self.max_training = 0
        self.saved = ""  # the file's content as last written
        if self.path.exists():
            doc = json.loads(self.path.read_text())
            self.next_id, self.max_training = int(doc["next_id"]), int(doc["max_training"])
            for r in doc["canaries"]:
                self.recs[int(r["local_id"])] = TrainingCanary(**r)

    def save(self) -> None:
        doc = {
            "next_id": self.next_id,
            "max_training": self.max_training,
            "canaries": [asdict(r) for _, r in sorted(self.recs.items())],
        }
        raw = json.dumps(doc)
        if raw == self.saved:
            return  # the daemon saves every loop: write only what changed
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".canary_trainings.")
        with os.fdopen(fd, "w") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)  # the persona keys
        os.replace(tmp, self.path)
        self.saved = raw

    def _key(self, rec: TrainingCanary) -> PrivateKey:
        return PrivateKey(bytes.fromhex(rec.poster_secret))

    def by_job(self, job_id: int) -> tuple[TrainingCanary, int] | None:
        for r in self.recs.values():
            if job_id in r.job_ids:
                return r, r.job_ids.index(job_id)
        return None

    # -- events ------------------------------------------------------------------------
    def on_job_posted(self, job_id: int) -> None:
        """A training's job: only the next job ids move."""
        st = self.d.state()
        st.max_job_id = max(st.max_job_id, job_id)

    def on_training_posted(self, e: ChainEvent) -> None:
        tid = e.int("training_id")
        self.max_training = max(self.max_training, tid)
        if e.get("poster") in {r.poster for r in self.recs.values()}:
            return
        types = self.d.task_types
        if not self.d.enabled or (types and LORA_SHARD not in types):
            return
        if any(r.stage in ("planned", "prepared", "funded") for r in self.recs.values()):
            return  # one at a time
        rate = int(self.d.node.query("verification", "params")["canary_rate_bps"])
        rounds = e.int("rounds")
        if should_post(rate, self.share_bps(), rounds, self.d.rng):
            self.plan(tid)

    def on_result(self, job_id: int) -> None:
        found = self.by_job(job_id)
        if found is not None and found[0].shards[found[1]] == "committed":
            found[0].shards[found[1]] = "submitted"

    def on_job_final(self, job_id: int) -> None:
        found = self.by_job(job_id)
        if found is not None and found[0].shards[found[1]] in ("committed", "submitted"):
            found[0].shards[found[1]] = "settled without a reveal"

    def on_training_final(self, training_id: int) -> None:
        for r in self.recs.values():
            if r.training_id == training_id and r.stage == "posted":
                r.stage = "final"

    def share_bps(self) -> int:
        node = self.d.node
        mine = int(
            node.query("staking", "bond", {"address": self.d.address, "role": "oracle"})["bonded"]
        )
        total = int(node.query("staking", "active_set", {"role": "oracle"})["total_bonded"])
        return 0 if total <= 0 else min(BPS, mine * BPS // total)

    # -- planning and the local runs -----------------------------------------------------
    def plan(self, template_id: int) -> TrainingCanary | None:
        """A canary training shaped as real training ``template_id``; None if its dataset
        cannot be read or a drip cannot pay it."""
        try:
            t = self.d.node.query("training", "training", {"id": template_id})
            real = self.d.artifacts.download_bytes(str(t["dataset"]))  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - a template we cannot read is skipped
            log.warning("cannot imitate training %d: %s", template_id, e)
            return None
        from compute.training.manifest import build_manifest

        escrow = int(t["shards"]) * int(t["price_per_shard"]) + int(t["aggregate_price"])
        drip = int(self.d.node.query("drip", "params")["drip_amount"])
        if escrow + FEE_GAS_BUDGET * self.d.node.min_gas_price() > drip:
            log.info("training %d is priced over a drip: not imitated", template_id)
            return None
        data = synth_dataset(self.d.rng, real)
        manifest, n = build_manifest(data)
        c = t["config"]
        fields = {
            "model": t["model"],
            "dataset": hashlib.sha256(data).hexdigest(),
            "manifest": hashlib.sha256(manifest).hexdigest(),
            "records": n,
            "shards": int(t["shards"]),
            "rounds": 1,
            "steps": int(c["steps"]),
            "rank": int(c["rank"]),
            "alpha": int(c["alpha"]),
            "target_modules": list(c["targets"]),
            "lr_micro": int(c["lr_micro"]),
            "batch_size": int(c["batch_size"]),
            "seed": self.d.rng.randrange(1, 2**31),
            "max_length": int(c["max_length"]),
            "aggregation": str(t["aggregation"]),
            "price_per_shard": str(t["price_per_shard"]),
            "aggregate_price": str(t["aggregate_price"]),
            "shard_blocks": int(t["shard_blocks"]),
        }
        key = PrivateKey(secrets.token_bytes(32))
        rec = TrainingCanary(
            local_id=self.next_id,
            stage="planned",
            poster_secret=key.secret.hex(),
            poster=key.bech32,
            fields=fields,
            dataset_hex=data.hex(),
            template=template_id,
            salt=secrets.token_bytes(canary.SALT_BYTES).hex(),
        )
        self.next_id += 1
        self.recs[rec.local_id] = rec
        log.info("canary training planned", extra={"canary": rec.local_id, "template": template_id})
        return rec

    def start_next(self) -> bool:
        """Start the local runs of a planned canary training in the background."""
        for rec in sorted(self.recs.values(), key=lambda r: r.local_id):
            if rec.stage == "planned":
                rec.training_id = self.max_training + 1  # predicted
                rec.run_from = self.d.state().last_height
                job = partial(self.expected, rec.fields, bytes.fromhex(rec.dataset_hex))
                self.d.start_task("tcanary", rec.local_id, partial(job, rec.training_id))
                return True
        return False

    def expected(self, t: dict[str, Any], data: bytes, training_id: int) -> list[str]:
        """Upload the dataset and manifest, run each round-0 shard twice: its output hash,
        or "" when the two runs differ (not bit-stable here: no canary)."""
        from compute.training.manifest import build_manifest

        self.d.artifacts.upload_bytes(data)
        self.d.artifacts.upload_bytes(build_manifest(data)[0])
        model_hash = self.d.model_hash(t["model"])
        out = []
        for i in range(int(t["shards"])):
            job = shard_job(t, training_id, i)
            runs = []
            for _ in range(2):
                try:
                    with self.d.executor.local_run(job, model_hash, "tcanary") as run:
                        runs.append(str(run.output_hash))
                except RuntimeError as e:
                    raise RuntimeError(f"shard {i}: {e}") from None
            out.append(runs[0] if runs[0] == runs[1] else "")
        return out

    def prepared(self, local_id: int, result: Any, error: BaseException | None) -> None:
        rec = self.recs.get(local_id)
        if rec is None or rec.stage != "planned":
            return
        if error is not None:
            rec.stage, rec.outcome = "done", f"failed: {error}"[:300]
            self.d.metrics.canaries.labels("failed").inc()
            log.error("canary training %d: %s", local_id, rec.outcome)
        else:
            rec.expected, rec.stage = list(result), "prepared"
            rec.run_blocks = max(0, self.d.state().last_height - rec.run_from)
            if not any(rec.expected):
                rec.stage, rec.outcome = "done", "no shard is bit-stable here: not posted"
        self.save()

    # -- chain steps ---------------------------------------------------------------------
    def act(self) -> None:
        for rec in sorted(self.recs.values(), key=lambda r: r.local_id):
            if rec.stage == "done":
                continue
            try:
                self.advance(rec)
            except ChainRefused as e:
                self.d.metrics.canaries.labels("failed").inc()
                log.error("canary training %d at %s refused: %s", rec.local_id, rec.stage, e)
                rec.outcome = f"failed at {rec.stage}: {e}"[:300]
                rec.stage = "final" if rec.stage in ("funded", "posted") else "done"
            self.save()
        done = sorted(k for k, r in self.recs.items() if r.stage == "done")
        for k in done[:-KEEP_DONE]:
            del self.recs[k]

    def advance(self, rec: TrainingCanary) -> None:
        if rec.stage == "prepared":
            if rec.training_id != self.max_training + 1:  # another training took its id
                rec.stage = "planned"
                return
            if not self.fund(rec):
                return
            rec.stage = "funded"
            self.save()
        if rec.stage == "funded":
            if not rec.bases:
                self.precommit(rec)
                self.save()
            self.post(rec)
        if rec.stage == "posted":
            for i, s in enumerate(rec.shards):
                if s == "late":
                    self.commit_late(rec, i)
                if rec.shards[i] == "submitted":
                    self.reveal(rec, i)
            if not set(rec.shards) & {"late", "committed", "submitted"}:
                # its canaries are over; the training's end event may have been missed
                t = self.d.node.query("training", "training", {"id": rec.training_id})
                if t.get("state") != "running":
                    rec.stage = "final"
        if rec.stage == "final":
            self.sweep(rec)
            rec.stage = "done"

    def cost(self, rec: TrainingCanary) -> int:
        return rec.escrow() + FEE_GAS_BUDGET * self.d.node.min_gas_price()

    def fund(self, rec: TrainingCanary) -> bool:
        """The persona claims its drip (as a new user's key does); False when the block's
        drip limit is used up. A drip too small for the training's escrow ends it."""
        node, key = self.d.node, self._key(rec)
        if node.account(key.bech32) is not None:
            return True
        pool = node.query("drip", "pool")
        drip = int(pool["drip_amount"])
        if self.cost(rec) > drip:
            raise ChainRefused(
                "drip", 0, f"insufficient drip: {drip}avcn cannot pay escrow and fees"
            )
        if int(pool["drips_left"]) < 1:
            top_up = MsgFundPool(depositor=self.d.address, amount=str(4 * drip))
            node.send_tx(self.d.account, [top_up], gas="auto")
        r = node.broadcast_tx_commit(sponsored_claim(key, node.chain_id()))
        check = r.get("check_tx") or {}
        res = check if int(check.get("code") or 0) else (r.get("tx_result") or {})
        code = int(res.get("code") or 0)
        if code == 0:
            return True
        from modules.drip.errors import ErrRateLimited

        if (str(res.get("codespace") or ""), code) == ("drip", ErrRateLimited.code):
            return False
        raise ChainRefused(str(res.get("codespace") or ""), code, str(res.get("log") or ""))

    def _commit_msgs(self, rec: TrainingCanary, ids: Callable[[int], list[int]]) -> list[Any]:
        return [
            canary.commit_msg(self.d.address, j, h, rec.salt)
            for i, h in enumerate(rec.expected)
            if h
            for j in ids(i)
        ]

    def precommit(self, rec: TrainingCanary) -> None:
        """Commit each stable shard i to job ids b + i for the next PRECOMMIT bases b."""
        first = self.d.state().max_job_id + 1
        rec.bases = list(range(first, first + PRECOMMIT))
        msgs = self._commit_msgs(rec, lambda i: [b + i for b in rec.bases])
        resp = self.d.node.send_tx(self.d.account, msgs, gas="auto")
        rec.commit_height = resp.height

    def post(self, rec: TrainingCanary) -> None:
        from modules.training.msgs import MsgPostTraining

        key = self._key(rec)
        mine = self.d.node.query("training", "trainings", {"poster": key.bech32, "limit": 1})
        found = mine.get("trainings") or []
        if found:  # posted before a crash
            tid = int(found[0]["id"])
            rd = self.d.node.query("training", "training", {"id": tid})["rounds_detail"][0]
            jobs = [int(s["job_id"]) for s in rd["shards"]]
        else:
            msg = MsgPostTraining(poster=key.bech32, **rec.fields)
            resp = self.d.node.send_tx(key, [msg], gas="auto")
            tid = int(resp.attributes("TrainingPosted", "training_id")[0])
            jobs = [int(j) for j in resp.attributes("TrainingRoundStarted", "jobs")[0].split(",")]
        self.max_training = max(self.max_training, tid)
        self.on_job_posted(max(jobs))
        rec.job_ids, rec.stage = jobs, "posted"
        self.d.metrics.canaries.labels("posted").inc()
        if tid != rec.training_id:
            rec.training_id, rec.outcome = tid, "mispredicted: an ordinary training"
            rec.shards = ["none"] * len(jobs)
            self.d.metrics.canaries.labels("spoiled").inc()
            return
        ahead = {b + i for b in rec.bases for i in range(len(jobs))}
        rec.shards = [
            "none" if not h else ("committed" if j in ahead else "late")
            for h, j in zip(rec.expected, jobs, strict=True)
        ]
        log.info("canary training posted", extra={"canary": rec.local_id, "training": tid})

    def commit_late(self, rec: TrainingCanary, i: int) -> None:
        """Commit shard ``i`` after the post (its job id was not predicted): spoiled if a
        worker claimed it before the commitment landed. A commitment on chain already (sent
        before a crash) is not sent again."""
        j = rec.job_ids[i]
        c = canary.commitment(j, rec.expected[i], rec.salt).hex()
        try:
            height = int(self.d.node.query("verification", "canary", {"commitment": c})["height"])
        except QueryFailed:
            msg = canary.commit_msg(self.d.address, j, rec.expected[i], rec.salt)
            height = self.d.node.send_tx(self.d.account, [msg], gas="auto").height
        job = self.d.node.query("jobs", "job", {"id": j})
        claimed = int(job.get("claimed_height") or 0)
        if claimed and claimed < height:
            rec.shards[i] = "spoiled"
            self.d.metrics.canaries.labels("spoiled").inc()
            return
        submitted = job.get("state") in ("submitted", "checking")
        rec.shards[i] = "submitted" if submitted else "committed"

    def reveal(self, rec: TrainingCanary, i: int) -> None:
        msg = canary.reveal_msg(
            self.d.address,
            rec.job_ids[i],
            rec.expected[i],
            rec.salt,
            self._key(rec),  # the training's poster: the chain takes its shards' reveals
            self.d.node.chain_id(),
        )
        resp = self.d.node.send_tx(self.d.account, [msg], gas="auto")
        matched = resp.attributes("CanaryRevealed", "matched") == ["true"]
        rec.shards[i] = "matched" if matched else "mismatched"
        self.d.metrics.canaries.labels(rec.shards[i]).inc()
        log.info(
            "canary shard revealed: %s",
            rec.shards[i],
            extra={"canary": rec.local_id, "job_id": rec.job_ids[i]},
        )

    def sweep(self, rec: TrainingCanary) -> None:
        """The persona's leftover (the training's refund included) into the drip pool."""
        node, key = self.d.node, self._key(rec)
        bal = node.balance(key.bech32)
        fee = SWEEP_GAS * node.min_gas_price()
        if bal > fee:
            back = MsgFundPool(depositor=key.bech32, amount=str(bal - fee))
            node.send_tx(key, [back], gas=SWEEP_GAS, fee=fee)
