"""The artifact store's read rules, answered from the chain's committed state.

Public (anyone may GET/HEAD, no token):

* a registered model's manifest (its ``weights_sha256``), its ``config_sha256`` and
  every file its manifest lists;
* the input or output of a job whose poster made it public: the job's ``spec`` holds
  ``"public": true`` beside its ``params`` (``{"public": true, "params": {…}}``).

Any other blob needs a ``get`` token from: the account that uploaded it; the poster of
a job whose input or output it is, that job's worker, or an account the poster granted
``MsgPostJob`` through authz (the gateway that posted the job for the poster); or any
oracle with an active bond.

Finding the jobs of a digest costs no scan: the node's tx index already maps event
attributes to txs, so ``JobPosted.input_hash`` and ``ResultSubmitted.output_hash`` give
the txs, whose results name the job ids; each job is then one point read. A job the
index never saw (one imported by genesis, or on a node that state-synced past its
block) is not found: its blobs read as private to their uploader and the oracles.

Uploads need an account the chain knows (one that has received coins), so that the
per-account quota binds something that costs money to make.

Training blobs (``modules/training``): every artifact a distributed training names —
its dataset and manifest, each round's global adapter in and out, each accepted shard
update, the final adapter — may be read by the training's poster (as long as the record
exists), by an account the poster granted MsgPostTraining (the gateway that posts its
trainings: it reads the shards' losses and the adapter), by any account with an active
worker bond while the training runs (the shard and aggregate jobs are claimed by
whoever is eligible, and each needs the round's global, the dataset or the updates),
and by the oracles. The shard and aggregate jobs
are posted by the training module's account, so their poster is not the training's;
the training's record is read through the ``training/training`` query (ids are dense
from 1: a scan probes on until one is not found), cached for 2 s, and read afresh on a
miss once a height (a global aggregated a block ago is readable at once; reads of
unnamed blobs cost at most one scan a block). A training that finished
is read once: its blobs no longer change.

Garbage collection asks ``referenced()``: every model's blobs, every job's input and
output, read by paging the jobs module's queries, and every blob any training names (in
any state: the final adapter stays downloadable).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chain.crypto import to_bech32
from chain.errors import ChainError

if TYPE_CHECKING:
    from chain.nodeview import NodeView

POST_JOB_URL = "/vcoin.jobs.v1.MsgPostJob"
POST_TRAINING_URL = "/vcoin.training.v1.MsgPostTraining"
JOB_STATES = (
    "queued",
    "claimed",
    "submitted",
    "checking",
    "settled",
    "rejected",
    "cancelled",
    "expired",
    "failed",
)
_MAX_MANIFEST_BYTES = 1 << 20
_MODELS_TTL_S = 2.0
_TRAININGS_TTL_S = 2.0
TRAINING_DONE = ("completed", "failed", "cancelled")


def spec_is_public(spec: str) -> bool:
    """Whether a job's spec text makes its input and output public."""
    if not spec or '"public"' not in spec:
        return False
    try:
        doc = json.loads(spec)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("public") is True


def manifest_files(raw: bytes) -> set[str]:
    """The file digests a model manifest lists (nothing when it is not one)."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return set()
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict):
        return set()
    out = set()
    for entry in files.values():
        d = entry.get("sha256") if isinstance(entry, dict) else None
        if isinstance(d, str) and len(d) == 64:
            out.add(d)
    return out


def training_blobs(t: dict[str, Any]) -> set[str]:
    """The artifacts a ``training/training`` record names."""
    out = {str(t.get(k) or "") for k in ("dataset", "manifest", "adapter")}
    for r in t.get("rounds_detail") or []:
        out |= {str(r.get("global_in") or ""), str(r.get("global_out") or "")}
        out |= {str(s.get("output") or "") for s in r.get("shards") or []}
    return {d for d in out if len(d) == 64}


class TrainingBlobs:
    """Which trainings name which blob, from the training module's queries (see the
    module docstring); thread-safe."""

    def __init__(
        self,
        query: Callable[[str, str, dict[str, Any]], Any],
        height: Callable[[], int | None] = lambda: None,
    ) -> None:
        """``height``: the chain's committed height (None: unknown); a miss is read
        afresh only once a height, so reads of unnamed blobs cost no scan each."""
        self.query = query
        self.height = height
        self._lock = threading.Lock()
        self._at = -1e9
        self._height: int | None = None
        self._next = 1  # the first training id not yet seen
        self._records: dict[int, dict[str, Any]] = {}
        self._by_blob: dict[str, set[int]] = {}

    def _refresh(self) -> None:
        height = self.height()
        with self._lock:
            open_ids = [i for i, t in self._records.items() if t.get("state") not in TRAINING_DONE]
            nxt = self._next
        fresh: dict[int, dict[str, Any]] = {}
        for tid in open_ids:
            t = self.query("training", "training", {"id": tid})
            if isinstance(t, dict):
                fresh[tid] = t
        while True:
            t = self.query("training", "training", {"id": nxt})
            if not isinstance(t, dict):
                break
            fresh[nxt] = t
            nxt += 1
        with self._lock:
            self._records.update(fresh)
            self._next = max(self._next, nxt)
            by_blob: dict[str, set[int]] = {}
            for tid, t in self._records.items():
                for d in training_blobs(t):
                    by_blob.setdefault(d, set()).add(tid)
            self._by_blob = by_blob
            self._at = time.monotonic()
            self._height = height

    def of(self, digest: str, fresh: bool = False) -> list[dict[str, Any]]:
        """The training records that name ``digest`` (read afresh when the cache is older
        than 2 s, when asked, or when the cache knows none and a block has committed
        since it was read)."""
        height = self.height()
        with self._lock:
            stale = fresh or time.monotonic() - self._at >= _TRAININGS_TTL_S
            miss = digest not in self._by_blob and (height is None or height != self._height)
        if stale or miss:
            self._refresh()
        with self._lock:
            return [self._records[i] for i in sorted(self._by_blob.get(digest, ()))]

    def all_blobs(self) -> set[str]:
        self._refresh()
        with self._lock:
            return set(self._by_blob)


class ChainPolicy:
    """``chain.artifact_auth.ReadPolicy`` over a node's committed state."""

    def __init__(self, node: NodeView | None, read_blob: Callable[[str], bytes | None]) -> None:
        self.node = node
        self.read_blob = read_blob
        self._lock = threading.Lock()
        self._models_at = -1e9
        self._model_blobs: frozenset[str] = frozenset()
        self._manifests: dict[str, set[str]] = {}
        self._manifest_ids: list[str] = []
        self._job_ids: dict[tuple[int, int, str], int | None] = {}
        self.trainings = TrainingBlobs(self._query, self._height)

    # -- chain reads -----------------------------------------------------------------
    def _height(self) -> int | None:
        return None if self.node is None else self.node.app_info().last_block_height

    def _query(self, module: str, name: str, req: dict[str, Any]) -> Any:
        """An app query's answer; None when the chain refuses it (not found)."""
        if self.node is None:
            return None
        try:
            return self.node.custom_query(module, name, req)
        except ChainError:
            return None

    def model_blobs(self, fresh: bool = False) -> frozenset[str]:
        """Every blob of every registered model (the registry re-read at most every 2 s;
        a manifest not yet uploaded is looked for again on each call)."""
        with self._lock:
            cached = not fresh and time.monotonic() - self._models_at < _MODELS_TTL_S
            missing = [m for m in self._manifest_ids if m not in self._manifests]
            if cached and not missing:
                return self._model_blobs
        if cached:
            ids = self._manifest_ids
        else:
            models = (self._query("jobs", "models", {}) or {}).get("models") or []
            ids = [str(m.get("weights_sha256", "")) for m in models]
            ids += [str(m.get("config_sha256", "")) for m in models]
        blobs: set[str] = {d for d in ids if d}
        for manifest in ids:
            if manifest and manifest not in self._manifests:
                raw = self.read_blob(manifest)
                if raw is None:
                    continue  # not uploaded yet: look again next time
                self._manifests[manifest] = manifest_files(raw[:_MAX_MANIFEST_BYTES])
            blobs.update(self._manifests.get(manifest, ()))
        with self._lock:
            self._model_blobs = frozenset(blobs)
            self._manifest_ids = ids
            if not cached:
                self._models_at = time.monotonic()
            return self._model_blobs

    def _job_id_at(self, height: int, index: int, event: str, attr: str, digest: str) -> int | None:
        key = (height, index, event)
        if key in self._job_ids or self.node is None:
            return self._job_ids.get(key)
        res = self.node.blocks.results(height) or {}
        txs = res.get("txs_results") or []
        found = None
        if index < len(txs):
            for e in txs[index].get("events") or []:
                if e.get("type") != event:
                    continue
                attrs = {a.get("key"): a.get("value") for a in e.get("attributes") or []}
                if attrs.get(attr) == digest and str(attrs.get("job_id", "")).isdigit():
                    found = int(attrs["job_id"])
                    break
        if len(self._job_ids) > 100_000:
            self._job_ids.clear()
        self._job_ids[key] = found
        return found

    def jobs_of(self, digest: str) -> list[dict[str, Any]]:
        """The jobs (``jobs/job`` answers) whose input or output is ``digest``."""
        ids: set[int] = set()
        if self.node is None:
            return []
        for event, attr in (("JobPosted", "input_hash"), ("ResultSubmitted", "output_hash")):
            for height, index in self.node.blocks.search(f"{event}.{attr}", digest):
                job_id = self._job_id_at(height, index, event, attr, digest)
                if job_id is not None:
                    ids.add(job_id)
        jobs = []
        for job_id in sorted(ids):
            j = self._query("jobs", "job", {"id": str(job_id)})
            if j and digest in (j.get("input_hash"), j.get("output_hash")):
                jobs.append(j)
        return jobs

    def _is_oracle(self, account: bytes) -> bool:
        """Bonded as an oracle (a jailed one too: it still owes its attestations)."""
        bond = self._query("staking", "bond", {"address": to_bech32(account), "role": "oracle"})
        if not bond or bond.get("tombstoned"):
            return False
        return str(bond.get("bonded", "0")).isdigit() and int(bond["bonded"]) > 0

    def _is_worker(self, account: str) -> bool:
        """A worker with an active bond (not jailed, not banned)."""
        bond = self._query("staking", "bond", {"address": account, "role": "worker"})
        return bool(bond and bond.get("active"))

    def _training_reader(self, digest: str, account: str) -> bool:
        """The poster of a training that names ``digest``, or a bonded worker while one
        that names it runs."""
        trainings = self.trainings.of(digest)
        if any(t.get("poster") == account for t in trainings):
            return True
        posters = sorted({str(t.get("poster")) for t in trainings})
        if any(self._grantee_of(p, account, POST_TRAINING_URL) for p in posters):
            return True  # the gateway that posts trainings for their poster
        running = any(t.get("state") not in TRAINING_DONE for t in trainings)
        return running and self._is_worker(account)

    def _grantee_of(self, poster: str, account: str, url: str = POST_JOB_URL) -> bool:
        req = {"granter": poster, "grantee": account, "msg_type_url": url}
        return self._query("authz", "grant", req) is not None

    # -- ReadPolicy ------------------------------------------------------------------
    def is_public(self, digest: str) -> bool:
        if digest in self.model_blobs():
            return True
        return any(spec_is_public(str(j.get("spec") or "")) for j in self.jobs_of(digest))

    def may_read(self, digest: str, account: bytes) -> bool:
        who = to_bech32(account)
        jobs = self.jobs_of(digest)
        if any(who in (j.get("poster"), j.get("worker")) for j in jobs):
            return True
        if self._is_oracle(account):
            return True
        if any(self._grantee_of(str(j.get("poster")), who) for j in jobs):
            return True
        return self._training_reader(digest, who)

    def may_upload(self, account: bytes) -> str | None:
        if self._query("auth", "account", {"address": to_bech32(account)}) is None:
            return (
                f"account {to_bech32(account)} is unknown to the chain: an account must hold"
                " coins before it may upload"
            )
        return None

    def referenced(self) -> set[str]:
        out: set[str] = set(self.model_blobs(fresh=True))
        for state in JOB_STATES:
            after: str | None = ""
            while after is not None:
                page = self._query("jobs", "jobs", {"state": state, "after": after}) or {}
                for j in page.get("jobs") or []:
                    out.update(d for d in (j.get("input_hash"), j.get("output_hash")) if d)
                after = page.get("next_after")
        return out | self.trainings.all_blobs()

    def is_referenced(self, digest: str) -> bool:
        if digest in self.model_blobs(fresh=True) or self.jobs_of(digest):
            return True
        return bool(self.trainings.of(digest, fresh=True))
