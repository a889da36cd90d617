"""The execution receipt: what a worker signs about a run, and its canonical bytes.

The worker signs with its account key (secp256k1, the key that signs its
txs), so a receipt is evidence that outlives the tx: whoever holds it can show
which image ran which weights on which input and produced which output.

    sign_bytes = "vcoin/receipt/v1" ‖ u8 len ‖ chain id ‖ u64 job id
                 ‖ u16 len ‖ image digest ‖ model sha256 ‖ input sha256 ‖ output sha256

The signature is the Cosmos one: 64-byte r‖s (low S) over sha256(sign_bytes).
"""

from __future__ import annotations

from chain.crypto import PrivateKey, verify_signature

DOMAIN = b"vcoin/receipt/v1"


def sign_bytes(
    chain_id: str,
    job_id: int,
    image_digest: str,
    model_hash: bytes,
    input_hash: bytes,
    output_hash: bytes,
) -> bytes:
    cid = chain_id.encode()
    img = image_digest.encode()
    if len(cid) > 255 or len(img) > 65535:
        raise ValueError("chain id or image digest too long")
    if not all(len(h) == 32 for h in (model_hash, input_hash, output_hash)):
        raise ValueError("hashes must be 32 bytes")
    return (
        DOMAIN
        + bytes([len(cid)])
        + cid
        + job_id.to_bytes(8, "big")
        + len(img).to_bytes(2, "big")
        + img
        + model_hash
        + input_hash
        + output_hash
    )


def sign(
    key: PrivateKey,
    chain_id: str,
    job_id: int,
    image_digest: str,
    model_hash: bytes,
    input_hash: bytes,
    output_hash: bytes,
) -> bytes:
    """The worker's signature over a receipt (what the worker agent calls)."""
    return key.sign(sign_bytes(chain_id, job_id, image_digest, model_hash, input_hash, output_hash))


def verify(
    pubkey: bytes,
    signature: bytes,
    chain_id: str,
    job_id: int,
    image_digest: str,
    model_hash: bytes,
    input_hash: bytes,
    output_hash: bytes,
) -> bool:
    doc = sign_bytes(chain_id, job_id, image_digest, model_hash, input_hash, output_hash)
    return verify_signature(pubkey, signature, doc)
