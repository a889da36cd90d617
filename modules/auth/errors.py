"""Errors of the auth module (codespace ``auth``)."""

from chain.errors import register

CODESPACE = "auth"
ErrAccountExists = register(CODESPACE, 2, "account already exists")
ErrNotAuthority = register(CODESPACE, 3, "signer is not the platform authority")
ErrInvalidParams = register(CODESPACE, 4, "invalid params")
ErrUnknownModule = register(CODESPACE, 5, "unknown module")
