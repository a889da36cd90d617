"""Errors of the verification module (codespace ``verification``)."""

from chain.errors import register

CODESPACE = "verification"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
ErrNotOracle = register(CODESPACE, 3, "signer is not an active oracle")
ErrNoOracleKey = register(CODESPACE, 4, "oracle has no registered ed25519 key")
ErrJobNotFound = register(CODESPACE, 5, "job not found")
ErrNotPicked = register(CODESPACE, 6, "job is not waiting for attestations")
ErrAlreadyAttested = register(CODESPACE, 7, "oracle already attested this job")
ErrBadSignature = register(CODESPACE, 8, "attestation signature invalid")
ErrInvalidAttestation = register(CODESPACE, 9, "invalid attestation")
ErrCommitmentExists = register(CODESPACE, 10, "canary commitment already exists")
ErrNoCommitment = register(CODESPACE, 11, "no canary commitment matches the reveal")
ErrCommittedTooLate = register(CODESPACE, 12, "canary committed after the job was claimed")
ErrNotRevealable = register(CODESPACE, 13, "job has no result awaiting a verdict")
ErrInvalidCanary = register(CODESPACE, 14, "invalid canary message")
ErrNothingPlanted = register(CODESPACE, 15, "a plant whose result is the right answer")
ErrNotController = register(
    CODESPACE, 16, "reveal not signed by the job's poster (canary) or worker (plant) key"
)
