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
  poster key's secret (the file is 0600: the keys hold only a drip).
* ``personas``: the poster keys behind the canaries. A persona posts several
  canaries from one drip (as many as a real poster posted jobs), so its key,
  how many it has planned and posted, its latest post and whether it has swept
  its leftover into the pool are kept until it is swept.
* ``posters`` and ``gaps``: what real posters do (first and latest job, how
  many; the blocks between a poster's successive jobs), bounded, which the
  personas imitate.

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

VERSION = 2  # 1: one key per canary, no personas (read, each canary its own persona)
MAX_ATTESTED = 10_000
MAX_MIX = 200
MAX_POSTERS = 1_000  # real posters remembered (those idle longest are forgotten first)
MAX_GAPS = 200  # gaps between a real poster's successive jobs remembered (the latest)


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
    stage: str  # planned → prepared → funded → posted → committed → submitted → final → done
    poster_secret: str  # hex; its persona's key (the reveal is signed with it)
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
    persona: int = 0  # the persona (poster key) that posts it
    index: int = 0  # its place among the persona's canaries (0: the first, after the drip)
    wait: int = 0  # blocks after the persona's drip (index 0) or its previous post
    # committed bound to its post (poster, input) on the oracle's commit schedule, not by
    # job id just before the post; ``release_at``: the height from which it may go on
    bound_to_post: bool = False
    release_at: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Persona:
    """A canary poster key used as a real poster's key is: one drip, then ``target``
    canaries one after the other, then its leftover into the pool."""

    persona_id: int
    poster_secret: str  # hex
    poster: str
    target: int  # canaries it posts at most (a real poster's job count)
    planned: int = 0  # canaries planned so far (the next one's index)
    posted: int = 0  # canaries on chain
    last_posted: int = 0  # the height of its latest post
    last_job: int = 0  # its latest canary's job id: after a crash, posts after it are new
    ended: str = ""  # why it plans no more ("" while it may): posted all | spent | failed …
    swept: bool = False  # its leftover is back in the pool: the persona is over

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PosterSeen:
    """A real poster as the oracle saw it: the heights of its first and latest job."""

    first: int
    last: int
    jobs: int = 1

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
    personas: dict[int, Persona] = field(default_factory=dict)
    next_persona: int = 1
    posters: dict[str, PosterSeen] = field(default_factory=dict)  # real posters, by address
    gaps: list[int] = field(default_factory=list)  # blocks between a poster's jobs, latest last
    next_commit_at: int = 0  # the height of the next scheduled canary commitment tx

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

    def note_poster(self, poster: str, height: int) -> None:
        """A real job by ``poster`` at ``height``: its count, and the gap since its last."""
        seen = self.posters.get(poster)
        if seen is not None:
            self.gaps.append(max(0, height - seen.last))
            del self.gaps[:-MAX_GAPS]
            seen.last, seen.jobs = max(seen.last, height), seen.jobs + 1
            return
        self.posters[poster] = PosterSeen(height, height)
        if len(self.posters) > MAX_POSTERS:
            idle = min(self.posters, key=lambda a: (self.posters[a].last, a))
            del self.posters[idle]

    def settled_posters(self, now: int, idle_blocks: int) -> list[tuple[str, PosterSeen]]:
        """Posters that posted nothing in the last ``idle_blocks``: taken to have posted all
        they will, so their job counts are whole. In a fixed order (first job, address)."""
        out = [(a, p) for a, p in self.posters.items() if p.last <= now - idle_blocks]
        return sorted(out, key=lambda ap: (ap[1].first, ap[0]))

    def canaries_of(self, persona_id: int) -> list[CanaryRecord]:
        return sorted(
            (c for c in self.canaries.values() if c.persona == persona_id),
            key=lambda c: c.index,
        )

    def canary_by_job(self, job_id: int) -> CanaryRecord | None:
        for c in self.canaries.values():
            if c.job_id == job_id:
                return c
        return None

    def poster_addresses(self) -> set[str]:
        return {c.poster for c in self.canaries.values()} | {
            p.poster for p in self.personas.values()
        }

    def adopt_orphans(self) -> None:
        """Canaries from a version-1 state file had a key each: each becomes a persona of
        one canary (so it is posted, then swept, as it would have been)."""
        for c in sorted(self.canaries.values(), key=lambda c: c.local_id):
            if c.persona in self.personas:
                continue
            posted = c.job_id > 0
            p = Persona(
                persona_id=self.next_persona,
                poster_secret=c.poster_secret,
                poster=c.poster,
                target=1,
                planned=1,
                posted=int(posted),
                last_posted=c.posted_height,
                last_job=c.job_id,
                ended="posted all" if posted else "",
            )
            self.next_persona += 1
            self.personas[p.persona_id] = p
            c.persona, c.index = p.persona_id, 0

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
            "personas": [p.to_json() for _, p in sorted(self.personas.items())],
            "next_persona": self.next_persona,
            "posters": {a: p.to_json() for a, p in self.posters.items()},
            "gaps": self.gaps,
            "next_commit_at": self.next_commit_at,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OracleState:
        if d.get("version") not in (1, VERSION):
            raise ValueError(f"state file version {d.get('version')!r}, expected {VERSION}")
        st = cls(
            chain_id=str(d.get("chain_id", "")),
            last_height=int(d["last_height"]),
            checks={int(c["job_id"]): Check(**c) for c in d.get("checks", [])},
            attested={int(k): str(v) for k, v in d.get("attested", {}).items()},
            canaries={int(c["local_id"]): CanaryRecord(**c) for c in d.get("canaries", [])},
            next_canary=int(d.get("next_canary", 1)),
            job_mix=[int(x) for x in d.get("job_mix", [])],
            user_jobs_seen=int(d.get("user_jobs_seen", 0)),
            max_job_id=int(d.get("max_job_id", 0)),
            personas={int(p["persona_id"]): Persona(**p) for p in d.get("personas", [])},
            next_persona=int(d.get("next_persona", 1)),
            posters={str(a): PosterSeen(**p) for a, p in d.get("posters", {}).items()},
            gaps=[int(g) for g in d.get("gaps", [])],
            next_commit_at=int(d.get("next_commit_at", 0)),
        )
        st.adopt_orphans()
        return st


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
