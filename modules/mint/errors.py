"""Errors of the mint module (codespace ``mint``)."""

from chain.errors import register

CODESPACE = "mint"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
ErrInvalidGenesis = register(CODESPACE, 3, "invalid genesis")
