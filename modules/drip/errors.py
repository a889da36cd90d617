"""Errors of the drip module (codespace ``drip``)."""

from chain.errors import register

CODESPACE = "drip"
ErrInvalidParams = register(CODESPACE, 2, "invalid params")
ErrInvalidGenesis = register(CODESPACE, 3, "invalid genesis")
ErrInvalidAmount = register(CODESPACE, 4, "invalid amount")
ErrAlreadyDripped = register(CODESPACE, 5, "address already received its drip")
ErrRateLimited = register(CODESPACE, 6, "drip limit of this block reached")
ErrPoolEmpty = register(CODESPACE, 7, "drip pool cannot pay a drip")
ErrNotSponsored = register(CODESPACE, 8, "tx cannot be sponsored by the drip pool")
