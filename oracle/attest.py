"""Attestations: the evidence document, its hash, and the signed MsgAttest.

The chain checks the ed25519 signature over
``modules.verification.attestation.sign_bytes`` (chain id, job id, verdict,
similarity, evidence hash) against the key registered with the oracle's bond;
this module signs exactly those bytes with the same function, so what the
oracle signs is what the chain verifies by construction.

The evidence document is canonical JSON (sorted keys, no spaces) of what the
oracle compared and found; its sha256 is the evidence hash. The oracle keeps a
copy under its home and uploads it to the artifact store, so anyone can fetch
the document by the hash on chain and read why an oracle voted as it did.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from modules.verification import attestation
from modules.verification.msgs import MsgAttest
from oracle.similarity import Comparison

EVIDENCE_FORMAT = "vcoin-oracle-evidence/1"


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class Evidence:
    doc: dict[str, Any]

    @property
    def raw(self) -> bytes:
        return canonical(self.doc)

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.raw).digest()


def evidence(
    chain_id: str,
    job: dict[str, Any],
    cmp: Comparison,
    oracle: str,
    runtime: dict[str, Any] | None = None,
) -> Evidence:
    """What the oracle compared: the job, both output hashes, the metric and its figures."""
    return Evidence(
        {
            "format": EVIDENCE_FORMAT,
            "chain_id": chain_id,
            "job_id": str(job["id"]),
            "task_type": job["task_type"],
            "model": job["model"],
            "worker": job.get("worker", ""),
            "worker_output_hash": job.get("output_hash", ""),
            "oracle": oracle,
            "metric": cmp.metric,
            "similarity_bps": cmp.similarity_bps,
            "verdict": cmp.verdict,
            "details": cmp.details,
            "runtime": runtime or {},
        }
    )


def attest_msg(
    key: SigningKey,
    oracle_address: str,
    chain_id: str,
    job_id: int,
    verdict: str,
    similarity_bps: int,
    evidence_hash: bytes,
) -> Any:
    """A signed MsgAttest, ready to go in a tx signed by ``oracle_address``."""
    sig = attestation.sign(key, chain_id, job_id, verdict, similarity_bps, evidence_hash)
    return MsgAttest(
        oracle=oracle_address,
        job_id=job_id,
        verdict=verdict,
        similarity_bps=similarity_bps,
        evidence_hash=evidence_hash.hex(),
        signature=sig,
    )


def attest_for(
    key: SigningKey, oracle_address: str, chain_id: str, job_id: int, cmp: Comparison, ev: Evidence
) -> Any:
    return attest_msg(
        key, oracle_address, chain_id, job_id, cmp.verdict, cmp.similarity_bps, ev.hash
    )
