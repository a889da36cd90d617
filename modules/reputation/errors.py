"""Errors of the reputation module (codespace ``reputation``)."""

from chain.errors import register

CODESPACE = "reputation"
ErrNotWorker = register(CODESPACE, 2, "not a bonded worker or oracle")
ErrInvalidParams = register(CODESPACE, 3, "invalid params")
ErrInvalidGenesis = register(CODESPACE, 4, "invalid genesis")
