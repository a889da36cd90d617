"""Errors of the staking module (codespace ``staking``)."""

from chain.errors import register

CODESPACE = "staking"
ErrUnknownRole = register(CODESPACE, 2, "unknown role")
ErrBelowMinimum = register(CODESPACE, 3, "bond below the role minimum")
ErrInsufficientBond = register(CODESPACE, 4, "unbond more than bonded")
ErrTombstoned = register(CODESPACE, 5, "address is tombstoned in this role")
ErrNotJailed = register(CODESPACE, 6, "address is not jailed")
ErrJailNotExpired = register(CODESPACE, 7, "jail period not over")
ErrInvalidPubKey = register(CODESPACE, 8, "invalid oracle public key")
ErrTooManyUnbonding = register(CODESPACE, 9, "too many unbonding entries")
ErrWrongDenom = register(CODESPACE, 10, "wrong bond denom")
ErrInvalidParams = register(CODESPACE, 11, "invalid params")
ErrInvalidGenesis = register(CODESPACE, 12, "invalid genesis")
