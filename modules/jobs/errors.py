"""Errors of the jobs module (codespace ``jobs``): stable codes a worker or wallet can act on."""

from chain.errors import register

CODESPACE = "jobs"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
ErrNotAuthority = register(CODESPACE, 3, "signer is not the platform authority")
ErrUnknownModel = register(CODESPACE, 4, "unknown model")
ErrInvalidJob = register(CODESPACE, 5, "invalid job")
ErrJobNotFound = register(CODESPACE, 6, "job not found")
ErrNotQueued = register(CODESPACE, 7, "job is not open for claims")
ErrNotPoster = register(CODESPACE, 8, "signer did not post this job")
ErrWorkerNotRegistered = register(CODESPACE, 9, "worker not registered")
ErrNotBonded = register(CODESPACE, 10, "worker has no active bond")
ErrJailed = register(CODESPACE, 11, "worker is jailed")
ErrBanned = register(CODESPACE, 12, "worker is banned")
ErrCapabilityMismatch = register(CODESPACE, 13, "worker capabilities do not fit the job")
ErrOverCapacity = register(CODESPACE, 14, "worker is at its concurrency limit")
ErrNotAssignee = register(CODESPACE, 15, "job is not claimed by this worker")
ErrDeadlinePassed = register(CODESPACE, 16, "result deadline passed")
ErrBadReceipt = register(CODESPACE, 17, "execution receipt invalid")
ErrSelfClaim = register(CODESPACE, 18, "a poster cannot claim its own job")
ErrInvalidWorker = register(CODESPACE, 19, "invalid worker registration")
ErrInvalidModel = register(CODESPACE, 20, "invalid model registration")
ErrInvalidResult = register(CODESPACE, 21, "invalid result")
ErrWrongState = register(CODESPACE, 22, "job is in the wrong state for this")
ErrModelTaken = register(CODESPACE, 23, "model id belongs to another account")
ErrModelFeeTooLow = register(CODESPACE, 24, "max_fee is below the model registration fee")
ErrModelTooLarge = register(CODESPACE, 25, "model is over the size limit")
