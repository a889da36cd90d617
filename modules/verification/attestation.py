"""What an oracle signs (ed25519) when it attests, and how the chain checks it.

    sign_bytes = "vcoin/attest/v1" ‖ u8 len ‖ chain id ‖ u64 job id
                 ‖ u8 verdict (1 pass, 2 fail) ‖ u16 similarity (bps) ‖ evidence sha256

The chain id keeps an attestation from being replayed on another chain; the
key is the oracle's ed25519 key registered with its oracle bond.
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from modules.verification.records import PASS

DOMAIN = b"vcoin/attest/v1"


def sign_bytes(
    chain_id: str, job_id: int, verdict: str, similarity_bps: int, evidence_hash: bytes
) -> bytes:
    cid = chain_id.encode()
    if len(cid) > 255 or len(evidence_hash) != 32 or not 0 <= similarity_bps <= 10_000:
        raise ValueError("chain id ≤ 255 bytes, evidence hash 32 bytes, similarity 0..10000")
    return (
        DOMAIN
        + bytes([len(cid)])
        + cid
        + job_id.to_bytes(8, "big")
        + (b"\x01" if verdict == PASS else b"\x02")
        + similarity_bps.to_bytes(2, "big")
        + evidence_hash
    )


def sign(
    key: SigningKey,
    chain_id: str,
    job_id: int,
    verdict: str,
    similarity_bps: int,
    evidence_hash: bytes,
) -> bytes:
    """The 64-byte ed25519 signature an oracle puts in MsgAttest."""
    msg = sign_bytes(chain_id, job_id, verdict, similarity_bps, evidence_hash)
    return bytes(key.sign(msg).signature)


def verify(
    pubkey: bytes,
    signature: bytes,
    chain_id: str,
    job_id: int,
    verdict: str,
    similarity_bps: int,
    evidence_hash: bytes,
) -> bool:
    if len(pubkey) != 32 or len(signature) != 64:
        return False
    msg = sign_bytes(chain_id, job_id, verdict, similarity_bps, evidence_hash)
    try:
        VerifyKey(pubkey).verify(msg, signature)
    except (BadSignatureError, ValueError):
        return False
    return True
