"""Canaries: hidden test jobs that look like user jobs and whose answer the oracle knows.

How a canary is made (``daemon`` drives the steps, ``state`` records each):

1. **When.** For every user job the oracle sees posted, it posts a canary
   with probability ``r/(1−r) · s``, where ``r`` is the chain's
   ``canary_rate_bps`` (5 % of *all* jobs by default, hence r/(1−r)
   canaries per user job) and ``s`` this oracle's share of the active oracle
   stake (the oracles split the work). A coin flip rather than a counter, so
   canaries come at no predictable spacing.
2. **What.** A template is a *real* recent job picked at random: the canary
   copies its task type, model, price, priority, deadlines, hardware
   requirements and spec params, and gets fresh input text of the same shape
   (same input lists, the same number of items, lengths within ±20 %), inline
   when the template was inline and an uploaded artifact when it was not. So
   canaries follow the real mix of types, models, prices and sizes. Until
   ``canary_min_observed`` user jobs have been seen there is nothing to
   imitate and no canary is posted.
3. **Expected answer.** The oracle runs the job itself first, in the same
   sandbox and runtime as a worker: the output's sha256 is the expected hash.
4. **Posting.** Canaries are posted by *personas* (``canary_flow``): a
   fresh key claims its own drip from the drip pool (``modules/drip``),
   exactly as a real user's new key does, waits as long as a real poster
   waited between its drip and its first job, and posts as many canaries as
   that poster posted jobs, a real poster's gap apart; nothing the oracle
   signs names the key. (So personas keep to the rate, one starts for a
   drawn user job with the odds posters/jobs among the real posters.)
5. **Commit.** On the oracle's own schedule (``canary_commit_every`` blocks):
   one tx of ``COMMIT_SLOTS`` commitments, the canaries run locally since the
   last one and random decoys for the rest. Each is ``post_commitment(poster
   key, input hash, expected hash, salt)``, bound to the post rather than the
   job id (``modules.verification.canary``), so it lands before the canary is
   even funded, and the canary then waits a random part of the period: the
   oracle's commitment txs say nothing of when a canary is posted. With
   ``canary_commit_every`` 0 the commitment is ``canary.commitment(job id,
   expected hash, salt)``, made *before* posting for the next few job ids
   predicted from the highest id seen (``PRECOMMIT`` commitments in one tx; the
   ones that do not name the canary stay as decoys until they expire), or right
   after the post if it lands outside them; a canary claimed before that lands
   is "spoiled": it stays an ordinary paid job and is counted in the metrics.
6. **Reveal.** When the worker's ``ResultSubmitted`` appears, the oracle
   reveals (job id, expected hash, salt), signed with the poster key it
   holds (``controller_signature``: the chain takes a canary reveal only from
   whoever controls the job's poster account, so no oracle can "reveal" a
   canary on a real user's job); the chain recomputes the commitment,
   compares the expected hash with the worker's output hash and settles the
   job at once: a match passes, a mismatch is caught cheating.
7. **Sweep.** When the persona's last job is final, whatever is left on its
   key goes into the drip pool.

A training's shard jobs are posted by the ``training`` module account, so none
can be a job canary: the oracle posts whole canary trainings, whose round-0 shards
are the canaries, and reveals them with the training poster's key (the chain's
controller of a module's job is the owner of its record): ``oracle.canary_training``.

Tracing coins, timing, shape or a poster's history tells a worker nothing
(measured in ``tests/oracle/test_canary_unlinkable.py``); what is left is
listed in ``oracle/README.md``.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from typing import Any

from chain.crypto import PrivateKey, from_bech32
from modules.jobs.msgs import MsgPostJob
from modules.verification import canary as chain_canary
from modules.verification.msgs import MsgCommitCanary, MsgRevealCanary

SALT_BYTES = 32
BPS = 10_000
FIRST_INPUT = {"text-generation": "prompts", "embedding": "texts", "lora-train": "texts"}
INPUT_LISTS = {
    "text-generation": ("prompts",),
    "embedding": ("texts",),
    "lora-train": ("texts", "eval_texts"),
}
WORDS = (
    "the a an and or but if when while because after before about above across against "
    "along among around at behind below beside between beyond by during for from in into "
    "near of off on onto over past since through to toward under until up upon with within "
    "without time year people way day man woman child world life hand part place case week "
    "company system program question work government number night point home water room "
    "mother area money story fact month lot right study book eye job word business issue "
    "side kind head house service friend father power hour game line end member law car city "
    "community name president team minute idea kid body information back parent face others "
    "level office door health person art war history party result change morning reason "
    "research girl guy moment air teacher force education good new first last long great "
    "little own other old big high different small large next early young important few "
    "public bad same able make take see know get give find think tell become show leave feel "
    "bring begin keep hold write stand hear let mean set meet run pay sit speak lie lead read "
    "grow lose fall send build stay understand remember love consider appear buy wait serve "
    "die expect suggest raise pass sell require report decide pull explain hope develop carry"
).split()


@dataclass(frozen=True)
class Planned:
    """A canary ready to run locally and post: the MsgPostJob fields and its input."""

    fields: dict[str, Any]  # MsgPostJob fields except poster and the input
    input_doc: dict[str, Any] | None  # the JSON input (None when rebuilt from a record)
    inline: bytes  # the inline bytes ("" for an artifact input)
    artifact: bytes  # the artifact bytes to upload ("" for inline)

    def pseudo_job(self) -> dict[str, Any]:
        """A job record as the ``job`` query shows it, for ``runtime_spec``."""
        import hashlib

        blob = self.inline or self.artifact
        return {
            "id": "0",
            "task_type": self.fields["task_type"],
            "model": self.fields["model"],
            "spec": self.fields.get("spec", ""),
            "inline_input": base64.b64encode(self.inline).decode(),
            "input_hash": hashlib.sha256(blob).hexdigest(),
        }


def should_post(rate_bps: int, share_bps: int, rng: random.Random) -> bool:
    """One coin flip per user job: P = r/(1−r) · s, in integers."""
    if rate_bps <= 0 or share_bps <= 0 or rate_bps >= BPS:
        return False
    return rng.randrange((BPS - rate_bps) * BPS) < rate_bps * min(share_bps, BPS)


def _sentence(rng: random.Random, length: int) -> str:
    words: list[str] = []
    n = 0
    while n < max(3, length) - 1:
        w = rng.choice(WORDS)
        words.append(w)
        n += len(w) + 1
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def synth_like(rng: random.Random, template_doc: dict[str, Any], task: str) -> dict[str, Any]:
    """Fresh texts in the template input's shape: same lists, counts, ±20 % lengths."""
    out: dict[str, Any] = {}
    for name in INPUT_LISTS[task]:
        items = template_doc.get(name)
        if not isinstance(items, list) or not items:
            continue
        out[name] = [
            _sentence(rng, max(8, int(len(str(s)) * rng.uniform(0.8, 1.2)))) for s in items
        ]
    if not out:
        out[FIRST_INPUT[task]] = [_sentence(rng, 40)]
    return out


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plan_from(
    job: dict[str, Any], artifact_input: dict[str, Any] | None, rng: random.Random
) -> Planned | None:
    """A canary imitating the real ``job`` (the ``job`` query's view); None when the
    job's input is not a JSON object (such a job cannot run, so it is no model)."""
    task = job["task_type"]
    fields = {
        "task_type": task,
        "model": job["model"],
        "spec": job.get("spec", ""),
        "max_price": str(job["max_price"]),
        "priority": int(job.get("priority", 0)),
        "claim_blocks": int(job.get("claim_blocks", 0)),
        "result_blocks": int(job.get("result_blocks", 0)),
        "min_gpu_memory_mib": int(job.get("min_gpu_memory_mib", 0)),
        "min_gpu_count": int(job.get("min_gpu_count", 0)),
        "gpu_model": job.get("gpu_model", ""),
    }
    if job.get("inline_input"):
        as_json = _json_object(base64.b64decode(job["inline_input"]))
        if as_json is None:
            return None
        doc = synth_like(rng, as_json, task)
        return Planned(fields, doc, canonical(doc), b"")
    if artifact_input is None:
        return None
    doc = synth_like(rng, artifact_input, task)
    return Planned(fields, doc, b"", canonical(doc))


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


# -- messages -------------------------------------------------------------------------------
def post_msg(poster: str, fields: dict[str, Any], inline: bytes, input_hash: str) -> Any:
    return MsgPostJob(
        poster=poster,
        inline_input=inline,
        input_hash="" if inline else input_hash,
        **fields,
    )


def commitment(job_id: int, expected_hex: str, salt_hex: str, planted: bool = False) -> bytes:
    expected, salt = bytes.fromhex(expected_hex), bytes.fromhex(salt_hex)
    return chain_canary.commitment(job_id, expected, salt, planted)


def post_commitment(
    poster: str, input_hash_hex: str, expected_hex: str, salt_hex: str, planted: bool = False
) -> bytes:
    """The commitment bound to the post (poster bech32, input sha256), not the job id: it
    can be committed before the job is posted, at any time (``chain_canary.post_commitment``)."""
    return chain_canary.post_commitment(
        from_bech32(poster),
        bytes.fromhex(input_hash_hex),
        bytes.fromhex(expected_hex),
        bytes.fromhex(salt_hex),
        planted,
    )


def commit_msg(
    oracle: str, job_id: int, expected_hex: str, salt_hex: str, planted: bool = False
) -> Any:
    """A canary's commitment, or with ``planted`` a plant's: the chain cannot tell them apart."""
    c = commitment(job_id, expected_hex, salt_hex, planted)
    return MsgCommitCanary(oracle=oracle, commitment=c.hex())


def reveal_msg(
    oracle: str,
    job_id: int,
    expected_hex: str,
    salt_hex: str,
    controller: PrivateKey,
    chain_id: str,
    planted: bool = False,
    post: tuple[str, str] | None = None,
) -> Any:
    """A reveal, signed by ``controller``: the job's poster key for a canary, its worker
    key for a plant (``modules.verification.canary.reveal_sign_bytes``). ``post``: the
    job's (poster bech32, input hash hex) when it was committed bound to the post."""
    expected, salt = bytes.fromhex(expected_hex), bytes.fromhex(salt_hex)
    bound = None if post is None else (from_bech32(post[0]), bytes.fromhex(post[1]))
    sig = chain_canary.sign_reveal(
        controller, chain_id, job_id, expected, salt, planted, post=bound
    )
    return MsgRevealCanary(
        oracle=oracle,
        job_id=job_id,
        expected_output_hash=expected_hex,
        salt=salt_hex,
        planted=planted,
        controller_signature=sig,
    )
