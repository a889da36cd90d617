"""Errors of the training module (codespace ``training``)."""

from chain.errors import register

CODESPACE = "training"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
ErrInvalidGenesis = register(CODESPACE, 3, "invalid genesis")
ErrInvalidTraining = register(CODESPACE, 4, "invalid training")
ErrTrainingNotFound = register(CODESPACE, 5, "training not found")
ErrNotPoster = register(CODESPACE, 6, "signer did not post this training")
ErrNotRunning = register(CODESPACE, 7, "training is not running")
