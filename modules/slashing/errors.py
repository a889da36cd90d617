"""Errors of the slashing module (codespace ``slashing``)."""

from chain.errors import register

CODESPACE = "slashing"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
