"""The daemon's local state: one small JSON file, replaced atomically.

What it remembers and why:

* ``last_height``: every block up to it has been read; after a restart the
  daemon reads from ``last_height + 1`` (``block_results``), so no event is
  skipped. A block's events are recorded (new checks, canary steps) *before*
  ``last_height`` moves past it, in the same write.
* ``checks``: jobs picked for checking that this oracle still owes an
  attestation, with their deadlines. A job leaves only when its attestation
  is on chain (or the chain says it no longer takes one).
* ``attested``: jobs already attested (bounded, most recent), the local half
  of "never attest twice"; the other half is asking the chain before every
  attestation (``verification/status``), which also covers a crash between
  the broadcast and the write of this file.
* ``canaries``: each canary's stage, job id, salt, expected hash and the
  poster key's secret (the file is 0600: the keys hold only a job's price).

Writes go to a temp file that is fsynced and renamed over the old one (and
the folder fsynced), so a crash leaves either the old state or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1
MAX_ATTESTED = 10_000
MAX_MIX = 200


@dataclass
class Check:
    job_id: int
    deadline: int  # last height at which the chain takes the attestation
    seen_height: int
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CanaryRecord:
    local_id: int
    stage: str  # planned → prepared → funded → posted → committed → revealed → done
    poster_secret: str  # hex; a fresh key per canary
    poster: str  # its address
    msg: dict[str, Any]  # the MsgPostJob fields, poster aside
    input_blob: str = ""  # canonical JSON input uploaded as an artifact ("" when inline)
    salt: str = ""
    expected_output_hash: str = ""
    job_id: int = 0
    posted_height: int = 0
    commit_height: int = 0
    outcome: str = ""  # matched | mismatched | spoiled | failed: …
    template_job: int = 0
    precommitted: list[int] = field(default_factory=list)  # job ids committed before the post

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OracleState:
    chain_id: str = ""
    last_height: int = 0
    checks: dict[int, Check] = field(default_factory=dict)
    attested: dict[int, str] = field(default_factory=dict)  # job id -> verdict
    canaries: dict[int, CanaryRecord] = field(default_factory=dict)
    next_canary: int = 1
    job_mix: list[int] = field(default_factory=list)  # recent user job ids (templates)
    user_jobs_seen: int = 0
    max_job_id: int = 0  # the highest job id seen posted (to predict the next ones)

    def note_attested(self, job_id: int, verdict: str) -> None:
        self.attested[job_id] = verdict
        self.checks.pop(job_id, None)
        while len(self.attested) > MAX_ATTESTED:
            del self.attested[min(self.attested)]

    def note_job(self, job_id: int) -> None:
        self.max_job_id = max(self.max_job_id, job_id)
        self.user_jobs_seen += 1
        self.job_mix.append(job_id)
        del self.job_mix[:-MAX_MIX]

    def canary_by_job(self, job_id: int) -> CanaryRecord | None:
        for c in self.canaries.values():
            if c.job_id == job_id:
                return c
        return None

    def poster_addresses(self) -> set[str]:
        return {c.poster for c in self.canaries.values()}

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "chain_id": self.chain_id,
            "last_height": self.last_height,
            "checks": [c.to_json() for _, c in sorted(self.checks.items())],
            "attested": {str(k): v for k, v in sorted(self.attested.items())},
            "canaries": [c.to_json() for _, c in sorted(self.canaries.items())],
            "next_canary": self.next_canary,
            "job_mix": self.job_mix,
            "user_jobs_seen": self.user_jobs_seen,
            "max_job_id": self.max_job_id,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OracleState:
        if d.get("version") != VERSION:
            raise ValueError(f"state file version {d.get('version')!r}, expected {VERSION}")
        return cls(
            chain_id=str(d.get("chain_id", "")),
            last_height=int(d["last_height"]),
            checks={int(c["job_id"]): Check(**c) for c in d.get("checks", [])},
            attested={int(k): str(v) for k, v in d.get("attested", {}).items()},
            canaries={int(c["local_id"]): CanaryRecord(**c) for c in d.get("canaries", [])},
            next_canary=int(d.get("next_canary", 1)),
            job_mix=[int(x) for x in d.get("job_mix", [])],
            user_jobs_seen=int(d.get("user_jobs_seen", 0)),
            max_job_id=int(d.get("max_job_id", 0)),
        )


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> OracleState | None:
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return None
        return OracleState.from_json(json.loads(raw))

    def save(self, st: OracleState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(st.to_json(), indent=1, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
