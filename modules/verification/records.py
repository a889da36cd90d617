"""What the verification store holds: pending results, attestations, canary commitments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Stages of a result on its way to a verdict. The first two are read off the
# jobs state index (a submitted job's height); only the last two are stored
# here, as a pending record with one timer.
DRAW = "draw"  # waits for the block after submission, whose hash draws the sample
WINDOW = "window"  # not picked: settles when the challenge window ends
CHECKING = "checking"  # picked: waits for oracle attestations until its deadline
DECIDED = "decided"  # a tx reached the verdict; end_block of the same block settles it
STAGE_BYTE = {CHECKING: b"a", DECIDED: b"v"}
BYTE_STAGE = {v: k for k, v in STAGE_BYTE.items()}

PASS = "pass"
FAIL = "fail"
VERDICTS = (PASS, FAIL)


def _dumps(d: dict[str, Any]) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Pending:
    job_id: int
    worker: bytes
    submitted_height: int
    stage: str
    due: int  # height of this stage's timer
    rate_bps: int = 0  # the sampling rate the draw used
    drawn_height: int = 0
    verdict: str = ""  # once DECIDED: the verdict, how it was reached, who accused
    how: str = ""
    accusers: tuple[bytes, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": str(self.job_id),
            "worker": self.worker.hex(),
            "submitted_height": self.submitted_height,
            "stage": self.stage,
            "due": self.due,
            "rate_bps": self.rate_bps,
            "drawn_height": self.drawn_height,
            "verdict": self.verdict,
            "how": self.how,
            "accusers": [a.hex() for a in self.accusers],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Pending:
        return cls(
            job_id=int(d["job_id"]),
            worker=bytes.fromhex(d["worker"]),
            submitted_height=int(d["submitted_height"]),
            stage=d["stage"],
            due=int(d["due"]),
            rate_bps=int(d.get("rate_bps", 0)),
            drawn_height=int(d.get("drawn_height", 0)),
            verdict=d.get("verdict", ""),
            how=d.get("how", ""),
            accusers=tuple(bytes.fromhex(a) for a in d.get("accusers", [])),
        )

    def encode(self) -> bytes:
        """Positional: every result writes its pending record two or three times."""
        return json.dumps(
            [
                self.job_id,
                self.worker.hex(),
                self.submitted_height,
                self.stage,
                self.due,
                self.rate_bps,
                self.drawn_height,
                self.verdict,
                self.how,
                [a.hex() for a in self.accusers],
            ],
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Pending:
        v = json.loads(raw)
        return cls(
            v[0],
            bytes.fromhex(v[1]),
            v[2],
            v[3],
            v[4],
            v[5],
            v[6],
            v[7],
            v[8],
            tuple(bytes.fromhex(a) for a in v[9]),
        )


@dataclass(frozen=True)
class Attestation:
    job_id: int
    oracle: bytes
    verdict: str
    similarity_bps: int
    evidence_hash: bytes
    stake: int  # the oracle's bond when it attested: its weight in the tally
    height: int
    # outvote points this attestation cost its oracle at settlement; a plant's reveal
    # gives them back to an oracle that failed the planted result (keeper.reveal_plant)
    penalty_bps: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": str(self.job_id),
            "oracle": self.oracle.hex(),
            "verdict": self.verdict,
            "similarity_bps": self.similarity_bps,
            "evidence_hash": self.evidence_hash.hex(),
            "stake": str(self.stake),
            "height": self.height,
        }
        if self.penalty_bps:
            out["penalty_bps"] = self.penalty_bps
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Attestation:
        return cls(
            job_id=int(d["job_id"]),
            oracle=bytes.fromhex(d["oracle"]),
            verdict=d["verdict"],
            similarity_bps=int(d["similarity_bps"]),
            evidence_hash=bytes.fromhex(d["evidence_hash"]),
            stake=int(d["stake"]),
            height=int(d["height"]),
            penalty_bps=int(d.get("penalty_bps", 0)),
        )

    def encode(self) -> bytes:
        return _dumps(self.to_json())

    @classmethod
    def decode(cls, raw: bytes) -> Attestation:
        return cls.from_json(json.loads(raw))


@dataclass(frozen=True)
class Canary:
    commitment: bytes
    oracle: bytes
    height: int
    expires: int

    def to_json(self) -> dict[str, Any]:
        return {
            "commitment": self.commitment.hex(),
            "oracle": self.oracle.hex(),
            "height": self.height,
            "expires": self.expires,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Canary:
        return cls(
            commitment=bytes.fromhex(d["commitment"]),
            oracle=bytes.fromhex(d["oracle"]),
            height=int(d["height"]),
            expires=int(d["expires"]),
        )

    def encode(self) -> bytes:
        return _dumps(self.to_json())

    @classmethod
    def decode(cls, raw: bytes) -> Canary:
        return cls.from_json(json.loads(raw))
