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

Garbage collection asks ``referenced()``: every model's blobs and every job's input and
output, read by paging the jobs module's queries (no training rounds exist on chain
yet; when they do, their blobs belong here too).
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

    # -- chain reads -----------------------------------------------------------------
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

    def _grantee_of(self, poster: str, account: str) -> bool:
        req = {"granter": poster, "grantee": account, "msg_type_url": POST_JOB_URL}
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
        return any(self._grantee_of(str(j.get("poster")), who) for j in jobs)

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
        return out

    def is_referenced(self, digest: str) -> bool:
        return digest in self.model_blobs(fresh=True) or bool(self.jobs_of(digest))
