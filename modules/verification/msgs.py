"""Messages of the verification module: each one's stateless checks parse it
once into the frozen dataclass its handler takes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress, ErrorCode
from chain.proto import type_url
from modules.verification import tx_pb2
from modules.verification.canary import MAX_SALT, MIN_SALT
from modules.verification.errors import ErrInvalidAttestation, ErrInvalidCanary
from modules.verification.records import VERDICTS

# The module's messages, generated from proto/vcoin/verification/v1/tx.proto.
MsgCommitCanary = tx_pb2.MsgCommitCanary
MsgRevealCanary = tx_pb2.MsgRevealCanary
MsgAttest = tx_pb2.MsgAttest

COMMIT_CANARY_URL = type_url(MsgCommitCanary)
REVEAL_CANARY_URL = type_url(MsgRevealCanary)
ATTEST_URL = type_url(MsgAttest)

# used with fullmatch: "$" would also match before a trailing newline
_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")


def addr(text: str, what: str) -> bytes:
    try:
        return from_bech32(text)
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


def hash32(text: str, what: str, err: ErrorCode) -> bytes:
    if not isinstance(text, str) or not _HEX32.fullmatch(text):
        raise err(f"{what} must be a sha256 as 64 lowercase hex characters, got {text!r}")
    return bytes.fromhex(text)


def salt(text: str) -> bytes:
    ok = isinstance(text, str) and _HEX.fullmatch(text) is not None
    if not ok or not MIN_SALT <= len(text) // 2 <= MAX_SALT:
        raise ErrInvalidCanary(f"salt must be {MIN_SALT}..{MAX_SALT} bytes as lowercase hex")
    return bytes.fromhex(text)


@dataclass(frozen=True)
class CommitCanary:
    oracle: bytes
    sender: str  # the oracle's address as the message spells it, for error messages
    commitment: bytes


@dataclass(frozen=True)
class RevealCanary:
    oracle: bytes
    sender: str
    job_id: int
    expected_output_hash: bytes
    salt: bytes
    planted: bool = False  # a plant (an oracle canary), revealed after its verdict
    # secp256k1, by the job's poster key (canary) or worker key (plant): canary.reveal_sign_bytes
    controller_signature: bytes = b""


@dataclass(frozen=True)
class Attest:
    oracle: bytes
    sender: str
    job_id: int
    verdict: str
    similarity_bps: int
    evidence_hash: bytes
    signature: bytes


def validate_commit(msg: MsgCommitCanary) -> CommitCanary:
    oracle = addr(msg.oracle, "oracle")
    return CommitCanary(oracle, msg.oracle, hash32(msg.commitment, "commitment", ErrInvalidCanary))


def validate_reveal(msg: MsgRevealCanary) -> RevealCanary:
    oracle = addr(msg.oracle, "oracle")
    if msg.job_id == 0:
        raise ErrInvalidCanary("job_id is required (ids start at 1)")
    expected = hash32(msg.expected_output_hash, "expected_output_hash", ErrInvalidCanary)
    sig = bytes(msg.controller_signature)
    if sig and len(sig) != 64:
        raise ErrInvalidCanary(
            f"controller_signature must be a 64-byte secp256k1 signature, got {len(sig)} bytes"
        )
    return RevealCanary(
        oracle, msg.oracle, int(msg.job_id), expected, salt(msg.salt), bool(msg.planted), sig
    )


def validate_attest(msg: MsgAttest) -> Attest:
    oracle = addr(msg.oracle, "oracle")
    if msg.job_id == 0:
        raise ErrInvalidAttestation("job_id is required (ids start at 1)")
    if msg.verdict not in VERDICTS:
        raise ErrInvalidAttestation(f"verdict is one of {list(VERDICTS)}, got {msg.verdict!r}")
    if msg.similarity_bps > 10_000:
        raise ErrInvalidAttestation("similarity_bps is 0..10000 (0.00 to 1.00)")
    evidence = hash32(msg.evidence_hash, "evidence_hash", ErrInvalidAttestation)
    if len(msg.signature) != 64:
        raise ErrInvalidAttestation("signature must be a 64-byte ed25519 signature")
    return Attest(
        oracle=oracle,
        sender=msg.oracle,
        job_id=int(msg.job_id),
        verdict=msg.verdict,
        similarity_bps=int(msg.similarity_bps),
        evidence_hash=evidence,
        signature=bytes(msg.signature),
    )
