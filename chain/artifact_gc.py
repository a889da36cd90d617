"""Garbage collection of the artifact store.

``collect_garbage`` deletes what uploads left half-written an hour ago or more
(``STALE_PARTIAL_S``: a crash, a dropped client) and every blob older than the
retention (counted from its first upload, or its file time when the index has no
row) that no job, model or training round refers to. It never deletes a referenced
blob: the policy's full scan says what is, and each candidate is asked about once
more, alone, right before it goes. The node runs it in the background
(``artifact_gc_interval_s``); ``python -m chain.artifacts gc`` runs one pass now
against a running node's state.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.artifact_auth import ReadPolicy
from chain.artifact_policy import ChainPolicy
from chain.artifacts import ArtifactStore

log = logging.getLogger("vcoin.artifacts")


# an upload's temporary file untouched this long is left from a crash or a dropped client
STALE_PARTIAL_S = 3600.0


@dataclass
class GcReport:
    kept_young: int = 0
    kept_referenced: int = 0
    deleted: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    partial_deleted: int = 0  # half-written uploads (``STALE_PARTIAL_S``)


def collect_garbage(
    store: ArtifactStore, policy: ReadPolicy, retention_s: float, now: float | None = None
) -> GcReport:
    """Delete every blob older than ``retention_s`` (since its first upload) that no job,
    model or training round refers to; a referenced blob is never deleted."""
    now = time.time() if now is None else now
    report = GcReport()
    report.partial_deleted, partial_bytes = store.backend.sweep_partial(now, STALE_PARTIAL_S)
    report.freed_bytes += partial_bytes
    old: list[tuple[str, int]] = []
    for digest, mtime, size in store.backend.blobs():
        first = store.index.owner(digest) if store.index is not None else None
        born = first[1] if first is not None else mtime
        if now - born < retention_s:
            report.kept_young += 1
        else:
            old.append((digest, size))
    if not old:
        return report
    refs = policy.referenced()
    gone: list[str] = []
    for digest, size in old:
        # asked once more, alone: a job posted since the scan may name it
        if digest in refs or policy.is_referenced(digest):
            report.kept_referenced += 1
            continue
        store.backend.delete(digest)
        gone.append(digest)
        report.freed_bytes += size
    if store.index is not None:
        store.index.forget(gone)
    report.deleted = gone
    return report


def gc_loop(
    store: ArtifactStore,
    policy: ReadPolicy,
    retention_s: float,
    interval_s: float,
    stop: threading.Event,
) -> None:
    """The node's background collection: every ``interval_s`` until ``stop`` is set."""
    while not stop.wait(interval_s):
        try:
            r = collect_garbage(store, policy, retention_s)
        except Exception:  # a failed pass is retried next interval
            log.exception("artifact garbage collection failed")
            continue
        if r.deleted or r.partial_deleted:
            log.info(
                "artifact gc deleted %d blobs and %d partial uploads (%d bytes); "
                "kept %d referenced, %d young",
                len(r.deleted), r.partial_deleted, r.freed_bytes, r.kept_referenced,
                r.kept_young,
            )  # fmt: skip


def start_gc(
    store: ArtifactStore,
    policy: ReadPolicy,
    retention_s: float,
    interval_s: float,
    stop: threading.Event,
) -> threading.Thread | None:
    """Run ``gc_loop`` in a daemon thread (none when ``interval_s`` is 0)."""
    if interval_s <= 0:
        return None
    t = threading.Thread(
        target=gc_loop,
        args=(store, policy, retention_s, interval_s, stop),
        name="artifact-gc",
        daemon=True,
    )
    t.start()
    return t


class RemoteReferences(ChainPolicy):
    """What ``python -m chain.artifacts gc`` asks: the references read over a running
    node's RPC (``abci_query``), which holds the state database."""

    def __init__(self, rpc: str, read_blob: Callable[[str], bytes | None]) -> None:
        from chain.client import NodeClient

        super().__init__(None, read_blob)
        self.client = NodeClient(rpc)
        self._refs: set[str] = set()

    def _query(self, module: str, name: str, req: dict[str, Any]) -> Any:
        from chain.client import QueryFailed

        try:
            return self.client.query(module, name, req)
        except QueryFailed:
            return None

    def referenced(self) -> set[str]:
        self._refs = super().referenced()
        return self._refs

    def is_referenced(self, digest: str) -> bool:
        return digest in self._refs


def main(argv: list[str] | None = None) -> int:
    """``python -m chain.artifacts gc``: one garbage-collection pass over a node's store."""
    import argparse

    from chain.config import load_config

    ap = argparse.ArgumentParser(prog="python -m chain.artifacts gc", description=main.__doc__)
    ap.add_argument("--home", help="the node's home (default $VCOIN_HOME or ~/.vcoin)")
    ap.add_argument("--node", default="http://127.0.0.1:26657", help="the node's RPC")
    ap.add_argument("--retention-s", type=int, help="default: the node's artifact_retention_s")
    args = ap.parse_args(argv)
    cfg = load_config(args.home)
    store = ArtifactStore.local(cfg.artifact_dir, cfg.artifact_max_bytes, cfg.artifact_quota_bytes)
    retention = cfg.artifact_retention_s if args.retention_s is None else args.retention_s
    report = collect_garbage(store, RemoteReferences(args.node, store.read_small), retention)
    print(
        json.dumps(
            {
                "deleted": report.deleted,
                "freed_bytes": report.freed_bytes,
                "kept_referenced": report.kept_referenced,
                "kept_young": report.kept_young,
            },
            indent=2,
        )
    )
    return 0
